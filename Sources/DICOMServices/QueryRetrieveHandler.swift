import DICOMCore
import DICOMNetwork
import Foundation

/// Who asked: the association a query or retrieve request arrived on.
public struct RequestContext: Sendable {
    /// The peer's (calling) AE title.
    public var callingAETitle: AETitle
    /// Our (called) AE title as the peer addressed it.
    public var calledAETitle: AETitle
    /// The SOP Class UID of the request: the Query/Retrieve information model (Patient Root or Study Root, FIND/MOVE/GET).
    public var sopClassUID: String
    /// The username of the association's User Identity (PS3.7 §D.3.3.7), if it sent one. It was checked against the
    /// acceptor policy's ``AcceptorPolicy/users`` when the policy has them; otherwise it is unverified.
    public var userName: String?
    /// The SHA-256 fingerprint (lower-case hexadecimal) of the TLS client certificate the peer presented and the
    /// server verified; nil without TLS or without a client certificate.
    public var peerCertificateSHA256: String?

    public init(callingAETitle: AETitle, calledAETitle: AETitle, sopClassUID: String, userName: String? = nil,
                peerCertificateSHA256: String? = nil) {
        self.callingAETitle = callingAETitle
        self.calledAETitle = calledAETitle
        self.sopClassUID = sopClassUID
        self.userName = userName
        self.peerCertificateSHA256 = peerCertificateSHA256
    }

    /// The context of a request on presentation context `contextID` of an accepted association.
    public init(negotiated: NegotiatedAssociation, contextID: UInt8, peerCertificateSHA256: String? = nil) {
        self.init(callingAETitle: negotiated.request.callingAETitle, calledAETitle: negotiated.request.calledAETitle,
                  sopClassUID: negotiated.acceptedContexts[contextID]?.abstractSyntax ?? "",
                  userName: negotiated.request.userInformation.userName, peerCertificateSHA256: peerCertificateSHA256)
    }
}

extension UserInformation {
    /// The username of a User Identity sub-item of type 1 or 2, if there is one.
    public var userName: String? {
        userIdentity.flatMap { $0.kind == .username || $0.kind == .usernameAndPasscode ? $0.primaryText : nil }
    }
}

/// A request that a handler refuses: answered with `status` and `comment` as the Error Comment (0000,0902).
public struct DIMSEFailure: Error, Sendable, CustomStringConvertible {
    public var status: DIMSEStatus
    public var comment: String?
    public init(_ status: DIMSEStatus, _ comment: String? = nil) {
        self.status = status
        self.comment = comment
    }
    public var description: String { comment.map { "\(status): \($0)" } ?? "\(status)" }
}

/// The Query/Retrieve information models (PS3.4 C.6) an SCP may serve.
public enum QueryRetrieveModel: Sendable {
    public static let patientRootFind = "1.2.840.10008.5.1.4.1.2.1.1"
    public static let patientRootMove = "1.2.840.10008.5.1.4.1.2.1.2"
    public static let patientRootGet = "1.2.840.10008.5.1.4.1.2.1.3"
    public static let studyRootFind = "1.2.840.10008.5.1.4.1.2.2.1"
    public static let studyRootMove = "1.2.840.10008.5.1.4.1.2.2.2"
    public static let studyRootGet = "1.2.840.10008.5.1.4.1.2.2.3"

    public static let findModels = [patientRootFind, studyRootFind]
    public static let moveModels = [patientRootMove, studyRootMove]
    public static let getModels = [patientRootGet, studyRootGet]

    /// True for the Patient Root models.
    public static func isPatientRoot(_ sopClassUID: String) -> Bool {
        sopClassUID.hasPrefix("1.2.840.10008.5.1.4.1.2.1.")
    }
}

/// Answers C-FIND (PS3.4 C.4.1). The server sends one pending response per returned identifier, in order,
/// then the final success (or cancel, when the peer sent C-CANCEL meanwhile).
public protocol QueryHandler: Sendable {
    /// The matches of `identifier` (the request's Query Level (0008,0052) and keys), each one a response identifier
    /// holding the requested return keys. Throw ``DIMSEFailure`` to refuse (for example 0xA900 for an identifier that
    /// does not match the SOP class, 0xC000 for one that cannot be processed).
    func find(_ identifier: DataSet, context: RequestContext) async throws -> [DataSet]

    /// The same matches as ``find(_:context:)``, already encoded in `transferSyntax` (the request's presentation
    /// context: Implicit or Explicit VR Little Endian, or another native syntax), for a handler that can write response
    /// identifiers without building ``DataSet``s first; nil to have the service call ``find(_:context:)`` and encode
    /// its answers. Each identifier must be byte for byte what encoding the corresponding ``find(_:context:)`` answer
    /// in `transferSyntax` gives. The default returns nil.
    func encodedMatches(_ identifier: DataSet, context: RequestContext, transferSyntax: TransferSyntax) async throws -> EncodedIdentifiers?
}

extension QueryHandler {
    public func encodedMatches(_ identifier: DataSet, context: RequestContext, transferSyntax: TransferSyntax) async throws -> EncodedIdentifiers? {
        nil
    }
}

/// C-FIND response identifiers encoded in a transfer syntax and laid end to end in one buffer (one allocation for a
/// whole answer instead of one per identifier): identifier `i` is `bytes[ends[i - 1]..<ends[i]]` (from 0 for the first).
public struct EncodedIdentifiers: Sendable, Equatable {
    /// The identifiers' bytes, one after another.
    public var bytes: [UInt8] = []
    /// Where each identifier ends in ``bytes``.
    public var ends: [Int] = []

    public init() {}

    /// How many identifiers there are.
    public var count: Int { ends.count }

    /// The byte range of identifier `index`.
    public func range(of index: Int) -> Range<Int> { (index == 0 ? 0 : ends[index - 1])..<ends[index] }

    /// Marks the bytes written since the previous identifier as one identifier.
    public mutating func endIdentifier() { ends.append(bytes.count) }
}

/// One stored instance that a C-MOVE or C-GET sends as a C-STORE sub-operation.
public struct RetrievableInstance: Sendable, Equatable {
    public var sopClassUID: String
    public var sopInstanceUID: String
    /// The transfer syntax the file is encoded in.
    public var transferSyntaxUID: String
    /// The Part 10 file.
    public var path: String

    public init(sopClassUID: String, sopInstanceUID: String, transferSyntaxUID: String, path: String) {
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
        self.transferSyntaxUID = transferSyntaxUID
        self.path = path
    }
}

/// A C-MOVE destination: where an AE title lives.
public struct MoveDestination: Sendable {
    public var aeTitle: AETitle
    public var host: String
    public var port: Int
    public var tls: DICOMTLS?

    public init(aeTitle: AETitle, host: String, port: Int, tls: DICOMTLS? = nil) {
        self.aeTitle = aeTitle
        self.host = host
        self.port = port
        self.tls = tls
    }
}

/// Answers C-MOVE and C-GET (PS3.4 C.4.2, C.4.3): which instances an identifier selects, and where a move goes.
public protocol RetrieveHandler: Sendable {
    /// The instances `identifier` selects (Query/Retrieve Level and unique keys). Throw ``DIMSEFailure`` to refuse.
    func instances(for identifier: DataSet, context: RequestContext) async throws -> [RetrievableInstance]
    /// The destination named by a C-MOVE's Move Destination (0000,0600), or nil when unknown (answered 0xA801).
    func destination(for aeTitle: AETitle) async -> MoveDestination?
}
