import DICOMCore
/// An error from the DICOM upper layer, ACSE or DIMSE: a malformed PDU, an over-long frame,
/// a P-DATA value that breaks the message rules, or a command set that cannot be read.
///
/// A struct with a code that can grow and the context a technician needs (after `NIOSSHError` and
/// postgres-nio's `PSQLError`): the PDU type, the byte offset inside the PDU, and the upper-layer
/// state when known. Services answer most of these with an A-ABORT (PS3.8 §9.2, AA-8) and a log line.
public struct DICOMNetworkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem this is. New codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The PDU or an item ended before its declared length.
        public static let truncated = Code("truncated")
        /// A length field disagrees with its container (overruns it, or leaves bytes unread).
        public static let invalidLength = Code("invalidLength")
        /// A PDU is longer than the configured maximum; it was rejected before being buffered.
        public static let pduTooLarge = Code("pduTooLarge")
        /// The PDU type byte names none of the seven PDU types of PS3.8 §9.3.
        public static let unknownPDUType = Code("unknownPDUType")
        /// An item or sub-item of an A-ASSOCIATE PDU is malformed, missing or repeated.
        public static let malformedItem = Code("malformedItem")
        /// A field holds a value the standard does not allow.
        public static let invalidValue = Code("invalidValue")
        /// An AE title is empty, longer than 16 characters or contains characters outside ISO 646 G0.
        public static let invalidAETitle = Code("invalidAETitle")
        /// A presentation context ID is even, zero, or repeated (PS3.8 §9.3.2.2).
        public static let invalidPresentationContextID = Code("invalidPresentationContextID")
        /// The peer sent a TLS record to a plain DICOM port.
        public static let tlsOnPlainPort = Code("tlsOnPlainPort")
        /// The peer sent plain DICOM to a TLS port.
        public static let plainOnTLSPort = Code("plainOnTLSPort")
        /// P-DATA values break the DIMSE message rules (PS3.8 Annex E, PS3.7 §9.3.1).
        public static let protocolError = Code("protocolError")
        /// A DIMSE command set is malformed, lacks a required element or has an unknown command field.
        public static let invalidCommandSet = Code("invalidCommandSet")
        /// A message exceeds a configured limit (command set size, accumulated data set size).
        public static let limitExceeded = Code("limitExceeded")
    }

    public var code: Code
    /// What went wrong, in words a technician understands.
    public var message: String
    /// The PDU type byte of the PDU concerned (01h…07h), if any.
    public var pduType: UInt8?
    /// The byte offset from the start of the PDU (its type byte) where the problem was found, if known.
    public var offset: Int?
    /// The upper-layer state (PS3.8 Table 9-10) when the problem was found, if known.
    public var state: UpperLayerStateMachine.State?

    public init(_ code: Code, _ message: String, pduType: UInt8? = nil, offset: Int? = nil,
                state: UpperLayerStateMachine.State? = nil) {
        self.code = code
        self.message = message
        self.pduType = pduType
        self.offset = offset
        self.state = state
    }

    public var description: String {
        var parts: [String] = []
        if let pduType { parts.append("PDU \(PDUType(rawValue: pduType)?.description ?? "type " + hexString(pduType, digits: 2) + "H")") }
        if let offset { parts.append("offset \(offset)") }
        if let state { parts.append("state \(state)") }
        return parts.isEmpty ? message : parts.joined(separator: ", ") + ": " + message
    }
}
