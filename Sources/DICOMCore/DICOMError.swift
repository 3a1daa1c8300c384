/// An error from reading, writing or interpreting DICOM data.
///
/// A struct with a code that can grow and the context a technician needs: where in the file or
/// data set it happened and what was wrong (after `NIOSSHError` and postgres-nio's `PSQLError`).
public struct DICOMError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of problem this is. New codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The input ended inside an element, header or item.
        public static let truncated = Code("truncated")
        /// A length field points past the end of its container, or is invalid for its VR.
        public static let invalidLength = Code("invalidLength")
        /// Two bytes where a VR belongs name no VR.
        public static let invalidVR = Code("invalidVR")
        /// A structure the standard forbids (e.g. an item tag where an element belongs).
        public static let malformed = Code("malformed")
        /// Sequences nested deeper than the reader's limit.
        public static let tooDeep = Code("tooDeep")
        /// A value exceeds a configured limit.
        public static let limitExceeded = Code("limitExceeded")
        /// Not a DICOM file (no `DICM` marker and not a recognizable data set).
        public static let notDICOM = Code("notDICOM")
        /// The transfer syntax is not known or not supported for this operation.
        public static let unsupportedTransferSyntax = Code("unsupportedTransferSyntax")
        /// A value could not be converted to the requested type.
        public static let invalidValue = Code("invalidValue")
        /// Text could not be represented in the target character set.
        public static let unencodableCharacter = Code("unencodableCharacter")
        /// A Specific Character Set term is not known.
        public static let unknownCharacterSet = Code("unknownCharacterSet")
        /// A compressed stream could not be inflated or deflated.
        public static let compression = Code("compression")
        /// An operating-system I/O error.
        public static let io = Code("io")
    }

    public var code: Code
    /// What went wrong, in words a technician understands.
    public var message: String
    /// The byte offset in the input where the problem was found, if known.
    public var offset: Int?
    /// The tag path to the element concerned, e.g. `(0040,0275)[0].(0040,0009)`.
    public var tagPath: String?
    /// The file concerned, if any.
    public var file: String?

    public init(_ code: Code, _ message: String, offset: Int? = nil, tagPath: String? = nil, file: String? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.tagPath = tagPath
        self.file = file
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let offset { parts.append("offset \(offset)") }
        if let tagPath { parts.append(tagPath) }
        return parts.isEmpty ? message : parts.joined(separator: ", ") + ": " + message
    }

    /// A copy of this error that names the file.
    public func inFile(_ path: String) -> DICOMError {
        var copy = self
        copy.file = path
        return copy
    }
}
