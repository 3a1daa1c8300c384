/// A transfer syntax (PS3.5 §10, Annex A): how a data set is encoded — VR explicit or implicit,
/// byte order, deflate, and whether pixel data is encapsulated.
///
/// A transfer syntax belongs to a file or a presentation context, never to a data set.
public struct TransferSyntax: Hashable, Sendable, CustomStringConvertible {
    public let uid: String
    /// Whether elements carry their VR (everything but Implicit VR Little Endian).
    public let isExplicitVR: Bool
    /// Explicit VR Big Endian (retired).
    public let isBigEndian: Bool
    /// The data set is deflated (RFC 1951) after the File Meta Information.
    public let isDeflated: Bool
    /// Pixel Data is encapsulated in fragments (every compressed syntax).
    public let isEncapsulated: Bool
    /// The compression loses information.
    public let isLossy: Bool
    /// A short readable name.
    public let name: String

    public init(uid: String, name: String, explicitVR: Bool = true, bigEndian: Bool = false,
                deflated: Bool = false, encapsulated: Bool = false, lossy: Bool = false) {
        self.uid = uid
        self.name = name
        self.isExplicitVR = explicitVR
        self.isBigEndian = bigEndian
        self.isDeflated = deflated
        self.isEncapsulated = encapsulated
        self.isLossy = lossy
    }

    public var description: String { name }

    public static func == (lhs: TransferSyntax, rhs: TransferSyntax) -> Bool { lhs.uid == rhs.uid }
    public func hash(into hasher: inout Hasher) { hasher.combine(uid) }

    /// Implicit VR Little Endian, the default transfer syntax (PS3.5 §A.1).
    public static let implicitVRLittleEndian = TransferSyntax(uid: "1.2.840.10008.1.2", name: "Implicit VR Little Endian", explicitVR: false)
    /// Explicit VR Little Endian (PS3.5 §A.2).
    public static let explicitVRLittleEndian = TransferSyntax(uid: "1.2.840.10008.1.2.1", name: "Explicit VR Little Endian")
    /// Encapsulated Uncompressed Explicit VR Little Endian (PS3.5 §A.4.11).
    public static let encapsulatedUncompressed = TransferSyntax(uid: "1.2.840.10008.1.2.1.98", name: "Encapsulated Uncompressed Explicit VR Little Endian", encapsulated: true)
    /// Deflated Explicit VR Little Endian (PS3.5 §A.5).
    public static let deflatedExplicitVRLittleEndian = TransferSyntax(uid: "1.2.840.10008.1.2.1.99", name: "Deflated Explicit VR Little Endian", deflated: true)
    /// Explicit VR Big Endian, retired (PS3.5 §A.3).
    public static let explicitVRBigEndian = TransferSyntax(uid: "1.2.840.10008.1.2.2", name: "Explicit VR Big Endian", bigEndian: true)
    public static let jpegBaseline = TransferSyntax(uid: "1.2.840.10008.1.2.4.50", name: "JPEG Baseline (Process 1)", encapsulated: true, lossy: true)
    public static let jpegExtended = TransferSyntax(uid: "1.2.840.10008.1.2.4.51", name: "JPEG Extended (Process 2 & 4)", encapsulated: true, lossy: true)
    public static let jpegLossless = TransferSyntax(uid: "1.2.840.10008.1.2.4.57", name: "JPEG Lossless, Non-Hierarchical (Process 14)", encapsulated: true)
    public static let jpegLosslessSV1 = TransferSyntax(uid: "1.2.840.10008.1.2.4.70", name: "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, SV1)", encapsulated: true)
    public static let jpegLSLossless = TransferSyntax(uid: "1.2.840.10008.1.2.4.80", name: "JPEG-LS Lossless", encapsulated: true)
    public static let jpegLSNearLossless = TransferSyntax(uid: "1.2.840.10008.1.2.4.81", name: "JPEG-LS Lossy (Near-Lossless)", encapsulated: true, lossy: true)
    public static let jpeg2000Lossless = TransferSyntax(uid: "1.2.840.10008.1.2.4.90", name: "JPEG 2000 Lossless", encapsulated: true)
    public static let jpeg2000 = TransferSyntax(uid: "1.2.840.10008.1.2.4.91", name: "JPEG 2000", encapsulated: true, lossy: true)
    public static let jpeg2000Part2Lossless = TransferSyntax(uid: "1.2.840.10008.1.2.4.92", name: "JPEG 2000 Part 2 Multi-component Lossless", encapsulated: true)
    public static let jpeg2000Part2 = TransferSyntax(uid: "1.2.840.10008.1.2.4.93", name: "JPEG 2000 Part 2 Multi-component", encapsulated: true, lossy: true)
    public static let jpipReferenced = TransferSyntax(uid: "1.2.840.10008.1.2.4.94", name: "JPIP Referenced")
    public static let jpipReferencedDeflate = TransferSyntax(uid: "1.2.840.10008.1.2.4.95", name: "JPIP Referenced Deflate", deflated: true)
    public static let mpeg2MainProfile = TransferSyntax(uid: "1.2.840.10008.1.2.4.100", name: "MPEG2 Main Profile / Main Level", encapsulated: true, lossy: true)
    public static let mpeg2MainProfileFragmentable = TransferSyntax(uid: "1.2.840.10008.1.2.4.100.1", name: "Fragmentable MPEG2 Main Profile / Main Level", encapsulated: true, lossy: true)
    public static let mpeg2HighProfile = TransferSyntax(uid: "1.2.840.10008.1.2.4.101", name: "MPEG2 Main Profile / High Level", encapsulated: true, lossy: true)
    public static let mpeg2HighProfileFragmentable = TransferSyntax(uid: "1.2.840.10008.1.2.4.101.1", name: "Fragmentable MPEG2 Main Profile / High Level", encapsulated: true, lossy: true)
    public static let mpeg4HighProfile = TransferSyntax(uid: "1.2.840.10008.1.2.4.102", name: "MPEG-4 AVC/H.264 High Profile / Level 4.1", encapsulated: true, lossy: true)
    public static let mpeg4HighProfileFragmentable = TransferSyntax(uid: "1.2.840.10008.1.2.4.102.1", name: "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1", encapsulated: true, lossy: true)
    public static let mpeg4BDCompatible = TransferSyntax(uid: "1.2.840.10008.1.2.4.103", name: "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", encapsulated: true, lossy: true)
    public static let mpeg4BDCompatibleFragmentable = TransferSyntax(uid: "1.2.840.10008.1.2.4.103.1", name: "Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", encapsulated: true, lossy: true)
    public static let mpeg4HighProfile2D = TransferSyntax(uid: "1.2.840.10008.1.2.4.104", name: "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", encapsulated: true, lossy: true)
    public static let mpeg4HighProfile2DFragmentable = TransferSyntax(uid: "1.2.840.10008.1.2.4.104.1", name: "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", encapsulated: true, lossy: true)
    public static let mpeg4HighProfile3D = TransferSyntax(uid: "1.2.840.10008.1.2.4.105", name: "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", encapsulated: true, lossy: true)
    public static let mpeg4HighProfile3DFragmentable = TransferSyntax(uid: "1.2.840.10008.1.2.4.105.1", name: "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", encapsulated: true, lossy: true)
    public static let mpeg4StereoHighProfile = TransferSyntax(uid: "1.2.840.10008.1.2.4.106", name: "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", encapsulated: true, lossy: true)
    public static let mpeg4StereoHighProfileFragmentable = TransferSyntax(uid: "1.2.840.10008.1.2.4.106.1", name: "Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", encapsulated: true, lossy: true)
    public static let hevcMainProfile = TransferSyntax(uid: "1.2.840.10008.1.2.4.107", name: "HEVC/H.265 Main Profile / Level 5.1", encapsulated: true, lossy: true)
    public static let hevcMain10Profile = TransferSyntax(uid: "1.2.840.10008.1.2.4.108", name: "HEVC/H.265 Main 10 Profile / Level 5.1", encapsulated: true, lossy: true)
    public static let jpegXLLossless = TransferSyntax(uid: "1.2.840.10008.1.2.4.110", name: "JPEG XL Lossless", encapsulated: true)
    public static let jpegXLJPEGRecompression = TransferSyntax(uid: "1.2.840.10008.1.2.4.111", name: "JPEG XL JPEG Recompression", encapsulated: true, lossy: true)
    public static let jpegXL = TransferSyntax(uid: "1.2.840.10008.1.2.4.112", name: "JPEG XL", encapsulated: true, lossy: true)
    public static let htj2kLossless = TransferSyntax(uid: "1.2.840.10008.1.2.4.201", name: "High-Throughput JPEG 2000 Image Compression (Lossless Only)", encapsulated: true)
    public static let htj2kLosslessRPCL = TransferSyntax(uid: "1.2.840.10008.1.2.4.202", name: "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)", encapsulated: true)
    public static let htj2k = TransferSyntax(uid: "1.2.840.10008.1.2.4.203", name: "High-Throughput JPEG 2000 Image Compression", encapsulated: true, lossy: true)
    public static let rleLossless = TransferSyntax(uid: "1.2.840.10008.1.2.5", name: "RLE Lossless", encapsulated: true)
    public static let smpte2110Video = TransferSyntax(uid: "1.2.840.10008.1.2.7.1", name: "SMPTE ST 2110-20 Uncompressed Progressive Active Video", encapsulated: true)

    /// Every transfer syntax this toolkit knows, in the order of the UID registry.
    public static let all: [TransferSyntax] = [
        implicitVRLittleEndian, explicitVRLittleEndian, encapsulatedUncompressed, deflatedExplicitVRLittleEndian,
        explicitVRBigEndian, jpegBaseline, jpegExtended, jpegLossless, jpegLosslessSV1, jpegLSLossless,
        jpegLSNearLossless, jpeg2000Lossless, jpeg2000, jpeg2000Part2Lossless, jpeg2000Part2, jpipReferenced,
        jpipReferencedDeflate, mpeg2MainProfile, mpeg2MainProfileFragmentable, mpeg2HighProfile,
        mpeg2HighProfileFragmentable, mpeg4HighProfile, mpeg4HighProfileFragmentable, mpeg4BDCompatible,
        mpeg4BDCompatibleFragmentable, mpeg4HighProfile2D, mpeg4HighProfile2DFragmentable, mpeg4HighProfile3D,
        mpeg4HighProfile3DFragmentable, mpeg4StereoHighProfile, mpeg4StereoHighProfileFragmentable,
        hevcMainProfile, hevcMain10Profile, jpegXLLossless, jpegXLJPEGRecompression, jpegXL,
        htj2kLossless, htj2kLosslessRPCL, htj2k, rleLossless, smpte2110Video,
    ]

    private static let byUID: [String: TransferSyntax] = Dictionary(uniqueKeysWithValues: all.map { ($0.uid, $0) })

    /// The known transfer syntax with this UID, or nil.
    public init?(uid: String) {
        let trimmed = uid.trimmingTrailingPadding()
        guard let known = TransferSyntax.byUID[trimmed] else { return nil }
        self = known
    }

    /// The uncompressed syntaxes a peer can always be expected to handle.
    public var isUncompressed: Bool { !isEncapsulated }
}

extension StringProtocol {
    /// The string without trailing spaces and NULs (DICOM padding).
    public func trimmingTrailingPadding() -> String {
        var end = endIndex
        while end > startIndex {
            let previous = index(before: end)
            let c = self[previous]
            if c == " " || c == "\0" { end = previous } else { break }
        }
        return String(self[startIndex..<end])
    }
}
