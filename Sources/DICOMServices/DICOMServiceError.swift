import DICOMNetwork

/// An error of the DICOM services layer: connecting, association, DIMSE exchange or storage.
///
/// Errors from the peer's PDUs are reported as ``DICOMNetworkError``; an association rejection as
/// ``AssociationReject`` and a peer's abort as ``AssociationAbort`` (PS3.8 §7.1, §7.3).
public struct DICOMServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The transport connection could not be made or was lost.
        public static let connectionFailed = Code("connectionFailed")
        /// A timer (connect, ARTIM, DIMSE or idle) expired.
        public static let timeout = Code("timeout")
        /// The peer sent a PDU or DIMSE message that is not valid at this point.
        public static let unexpectedMessage = Code("unexpectedMessage")
        /// No accepted presentation context fits the SOP class and transfer syntax.
        public static let noPresentationContext = Code("noPresentationContext")
        /// The association is released, aborted or closed.
        public static let associationClosed = Code("associationClosed")
        /// The data to send could not be read or converted.
        public static let invalidInput = Code("invalidInput")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
