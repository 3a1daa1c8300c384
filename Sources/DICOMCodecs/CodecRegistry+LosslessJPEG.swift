extension CodecRegistry {
    static var losslessJPEGDecoders: [any FrameDecoder] { [] }
    static var losslessJPEGEncoders: [any FrameEncoder] { [] }
}
