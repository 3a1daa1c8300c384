extension CodecRegistry {
    static var libJPEGDecoders: [any FrameDecoder] { [] }
    static var libJPEGEncoders: [any FrameEncoder] { [] }
}
