extension CodecRegistry {
    static var rleDecoders: [any FrameDecoder] { [] }
    static var rleEncoders: [any FrameEncoder] { [] }
}
