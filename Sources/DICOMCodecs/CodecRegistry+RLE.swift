extension CodecRegistry {
    /// The pure-Swift RLE Lossless (PS3.5 Annex G) decoder.
    static var rleDecoders: [any FrameDecoder] { [RLEDecoder()] }
    /// The pure-Swift RLE Lossless encoder.
    static var rleEncoders: [any FrameEncoder] { [RLEEncoder()] }
}
