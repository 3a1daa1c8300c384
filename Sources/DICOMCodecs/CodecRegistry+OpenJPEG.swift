extension CodecRegistry {
    /// JPEG 2000 and HTJ2K decoding through OpenJPEG.
    static var openJPEGDecoders: [any FrameDecoder] { [OpenJPEGDecoder()] }
    /// JPEG 2000 Lossless Only and JPEG 2000 (lossy) encoding through OpenJPEG.
    static var openJPEGEncoders: [any FrameEncoder] { [OpenJPEGEncoder(lossless: true), OpenJPEGEncoder(lossless: false)] }
}
