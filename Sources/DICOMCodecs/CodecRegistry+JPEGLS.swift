extension CodecRegistry {
    /// The pure-Swift JPEG-LS decoder for .80 and .81.
    static var jpegLSDecoders: [any FrameDecoder] { [JPEGLSDecoder()] }
    /// The pure-Swift JPEG-LS encoders: lossless (.80) and near-lossless (.81, NEAR from ``EncodingOptions/nearLossless``).
    static var jpegLSEncoders: [any FrameEncoder] { [JPEGLSEncoder(), JPEGLSEncoder(nearLossless: true)] }
}
