extension CodecRegistry {
    /// The libjpeg (8-bit) decoder for JPEG Baseline (.50) and JPEG Extended (.51); 12-bit frames go to
    /// ``twelveBitJPEGDecoder``.
    static var libJPEGDecoders: [any FrameDecoder] { [LibJPEGDecoder()] }
    /// The libjpeg JPEG Baseline (.50) encoder.
    static var libJPEGEncoders: [any FrameEncoder] { [LibJPEGEncoder()] }
}
