extension CodecRegistry {
    /// The pure-Swift JPEG Lossless (process 14) decoder for .57 and .70.
    static var losslessJPEGDecoders: [any FrameDecoder] { [JPEGLosslessDecoder()] }
    /// The pure-Swift JPEG Lossless SV1 (.70) encoder with optimal Huffman tables.
    static var losslessJPEGEncoders: [any FrameEncoder] { [JPEGLosslessEncoder()] }
    /// A decoder for 12-bit JPEG Extended (process 4) frames, which Debian's 8-bit libjpeg cannot decode;
    /// the libjpeg decoder hands such frames here. The pure-Swift ``JPEGExtendedDecoder``.
    static var twelveBitJPEGDecoder: (any FrameDecoder)? { JPEGExtendedDecoder() }
}
