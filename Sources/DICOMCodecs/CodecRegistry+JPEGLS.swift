extension CodecRegistry {
    static var jpegLSDecoders: [any FrameDecoder] { [] }
    static var jpegLSEncoders: [any FrameEncoder] { [] }
}
