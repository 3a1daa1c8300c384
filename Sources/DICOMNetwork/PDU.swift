import DICOMCore
import NIOCore

/// The PDU type byte (PS3.8 §9.3.1, Table 9-11 to 9-26).
public enum PDUType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case associateRequest = 0x01
    case associateAccept = 0x02
    case associateReject = 0x03
    case dataTransfer = 0x04
    case releaseRequest = 0x05
    case releaseResponse = 0x06
    case abort = 0x07

    public var description: String {
        switch self {
        case .associateRequest: "A-ASSOCIATE-RQ"
        case .associateAccept: "A-ASSOCIATE-AC"
        case .associateReject: "A-ASSOCIATE-RJ"
        case .dataTransfer: "P-DATA-TF"
        case .releaseRequest: "A-RELEASE-RQ"
        case .releaseResponse: "A-RELEASE-RP"
        case .abort: "A-ABORT"
        }
    }
}

/// A DICOM upper-layer protocol data unit (PS3.8 §9.3): one case per PDU type, carrying the
/// association value types directly (no separate primitive classes).
///
/// Encode with ``encode(into:)``; decode one complete PDU with ``decode(from:)`` or let
/// ``PDUDecoder`` frame a byte stream.
public enum PDU: Hashable, Sendable {
    /// A-ASSOCIATE-RQ (01H, PS3.8 §9.3.2).
    case associateRequest(AssociationRequest)
    /// A-ASSOCIATE-AC (02H, PS3.8 §9.3.3).
    case associateAccept(AssociationAccept)
    /// A-ASSOCIATE-RJ (03H, PS3.8 §9.3.4).
    case associateReject(AssociationReject)
    /// P-DATA-TF (04H, PS3.8 §9.3.5): one or more presentation data values.
    case dataTransfer([PresentationDataValue])
    /// A-RELEASE-RQ (05H, PS3.8 §9.3.6).
    case releaseRequest
    /// A-RELEASE-RP (06H, PS3.8 §9.3.7).
    case releaseResponse
    /// A-ABORT (07H, PS3.8 §9.3.8).
    case abort(AssociationAbort)

    public var type: PDUType {
        switch self {
        case .associateRequest: .associateRequest
        case .associateAccept: .associateAccept
        case .associateReject: .associateReject
        case .dataTransfer: .dataTransfer
        case .releaseRequest: .releaseRequest
        case .releaseResponse: .releaseResponse
        case .abort: .abort
        }
    }

    /// The event this PDU raises when it arrives on the transport connection (PS3.8 Table 9-10: Evt3, 4, 6, 10, 12, 13, 16).
    public var receivedEvent: UpperLayerStateMachine.Event {
        switch self {
        case .associateAccept: .associateAcceptReceived
        case .associateReject: .associateRejectReceived
        case .associateRequest: .associateRequestReceived
        case .dataTransfer: .dataTransferReceived
        case .releaseRequest: .releaseRequestReceived
        case .releaseResponse: .releaseResponseReceived
        case .abort: .abortReceived
        }
    }
}

/// One presentation data value item of a P-DATA-TF PDU (PS3.8 §9.3.5.1 and Annex E.2): a fragment of
/// a command set or data set with its message control header.
public struct PresentationDataValue: Hashable, Sendable {
    public var presentationContextID: UInt8
    /// Bit 0 of the message control header: the fragment belongs to a command set (else a data set).
    public var isCommand: Bool
    /// Bit 1 of the message control header: the last fragment of its command set or data set.
    public var isLastFragment: Bool
    /// The fragment bytes (a slice of the received PDU, not a copy).
    public var fragment: ByteBuffer

    public init(presentationContextID: UInt8, isCommand: Bool, isLastFragment: Bool, fragment: ByteBuffer) {
        self.presentationContextID = presentationContextID
        self.isCommand = isCommand
        self.isLastFragment = isLastFragment
        self.fragment = fragment
    }

    /// The message control header byte (PS3.8 Annex E.2): bit 0 command, bit 1 last fragment, other bits 0.
    public var messageControlHeader: UInt8 { (isCommand ? 1 : 0) | (isLastFragment ? 2 : 0) }

    /// The bytes this item takes in a P-DATA-TF PDU: 4-byte item length, context ID, control header, fragment.
    public var encodedLength: Int { 6 + fragment.readableBytes }
}
