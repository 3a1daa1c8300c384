extension CodecRegistry {
    static var losslessJPEGDecoders: [any FrameDecoder] { [] }
    static var losslessJPEGEncoders: [any FrameEncoder] { [] }
    /// A decoder for 12-bit JPEG Extended (process 4) frames, which Debian's 8-bit libjpeg cannot decode;
    /// the libjpeg decoder hands such frames here.
    static var twelveBitJPEGDecoder: (any FrameDecoder)? { nil }
}
