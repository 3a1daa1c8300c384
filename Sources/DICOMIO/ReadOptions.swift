import DICOMCore

/// Limits and leniency for reading DICOM data, passed explicitly to every read (no process-wide flags).
public struct ReadOptions: Sendable {
    /// Stop at the first top-level Pixel Data, Float Pixel Data or Double Float Pixel Data element
    /// (7FE0,0008/0009/0010); it and everything after it is not read.
    public var stopBeforePixelData: Bool = false

    /// How deep sequences may nest before the reader gives up with `.tooDeep`.
    public var maximumDepth: Int = 64

    /// The largest value length accepted for one element, in bytes.
    public var maximumElementLength: Int = Int(UInt32.max - 1)

    /// The largest data set that a deflated file may inflate to, in bytes.
    public var maximumInflatedSize: Int = 4 << 30

    /// Text is decoded with this set when the top-level data set has no Specific Character Set (0008,0005).
    public var fallbackCharacterSet: SpecificCharacterSet? = nil

    /// Text is decoded with this set whatever (0008,0005) says: for files that declare one set and contain another.
    public var characterSetOverride: SpecificCharacterSet? = nil

    /// Real-world defects that are read anyway and reported as diagnostics. The rest are errors.
    public var tolerated: ToleratedDefects = .all

    public init() {}

    /// Options that read everything but the pixel data.
    public static var metadataOnly: ReadOptions {
        var options = ReadOptions()
        options.stopBeforePixelData = true
        return options
    }
}

/// Defects found in files from real devices that a reader can work around (cf. DCMTK's and pydicom's lists).
public struct ToleratedDefects: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Values with odd length (PS3.5 §7.1.1 requires even lengths).
    public static let oddLength = ToleratedDefects(rawValue: 1 << 0)
    /// No preamble or no File Meta Information: read a bare data set, guessing implicit or explicit VR.
    public static let missingFileMeta = ToleratedDefects(rawValue: 1 << 1)
    /// The data set is encoded with implicit VR although the transfer syntax says explicit, or the reverse.
    public static let vrEncodingMismatch = ToleratedDefects(rawValue: 1 << 2)
    /// Elements out of ascending tag order, or a tag repeated.
    public static let unorderedElements = ToleratedDefects(rawValue: 1 << 3)
    /// A transfer syntax UID that is not known: read as explicit VR little endian.
    public static let unknownTransferSyntax = ToleratedDefects(rawValue: 1 << 4)
    /// A defined-length sequence or item that ends with a delimitation item, or an undefined-length
    /// sequence cut short by the end of its parent.
    public static let looseDelimiters = ToleratedDefects(rawValue: 1 << 5)
    /// Trailing padding (zero bytes) after the last element.
    public static let trailingPadding = ToleratedDefects(rawValue: 1 << 6)
    /// Unknown two-letter VR codes in explicit VR: the value is read as UN when the length layout allows.
    public static let unknownVR = ToleratedDefects(rawValue: 1 << 7)

    public static let all: ToleratedDefects = [.oddLength, .missingFileMeta, .vrEncodingMismatch, .unorderedElements,
                                               .unknownTransferSyntax, .looseDelimiters, .trailingPadding, .unknownVR]
    public static let none: ToleratedDefects = []
}

/// A defect that the reader tolerated: where it is and what it was.
public struct ReadDiagnostic: Sendable, CustomStringConvertible, Equatable {
    public enum Severity: Sendable, Equatable { case warning, note }
    public var severity: Severity
    public var offset: Int
    public var tagPath: String
    public var message: String

    public var description: String { "offset \(offset)\(tagPath.isEmpty ? "" : ", " + tagPath): \(message)" }
}
