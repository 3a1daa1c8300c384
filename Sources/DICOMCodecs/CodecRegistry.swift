import DICOMCore

/// The built-in codecs, looked up by transfer syntax UID.
///
/// Each codec family contributes its list from its own file (`CodecRegistry+<Family>.swift`).
public enum CodecRegistry {
    /// Every built-in decoder.
    public static var decoders: [any FrameDecoder] { rleDecoders + libJPEGDecoders + losslessJPEGDecoders + jpegLSDecoders + openJPEGDecoders }

    /// Every built-in encoder.
    public static var encoders: [any FrameEncoder] { rleEncoders + libJPEGEncoders + losslessJPEGEncoders + jpegLSEncoders + openJPEGEncoders }

    /// The decoder for a transfer syntax, or nil when none is built in.
    public static func decoder(for transferSyntaxUID: String) -> (any FrameDecoder)? {
        decoders.first { $0.transferSyntaxUIDs.contains(transferSyntaxUID) }
    }

    /// The encoder producing a transfer syntax, or nil when none is built in.
    public static func encoder(for transferSyntaxUID: String) -> (any FrameEncoder)? {
        encoders.first { $0.transferSyntaxUID == transferSyntaxUID }
    }
}
