extension CodecRegistry {
    static var openJPEGDecoders: [any FrameDecoder] { [] }
    static var openJPEGEncoders: [any FrameEncoder] { [] }
}
