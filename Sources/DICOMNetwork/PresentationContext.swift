import DICOMCore
/// A presentation context proposed in an A-ASSOCIATE-RQ (PS3.8 §9.3.2.2, §7.1.1.13): an abstract
/// syntax (usually a SOP class UID) and the transfer syntaxes the requestor can use for it.
public struct PresentationContext: Hashable, Sendable {
    /// The presentation context ID: an odd number from 1 to 255 (PS3.8 §9.3.2.2).
    public var id: UInt8
    /// The abstract syntax name: a SOP class UID or meta SOP class UID.
    public var abstractSyntax: String
    /// Proposed transfer syntax UIDs, in the requestor's order of preference.
    public var transferSyntaxes: [String]

    public init(id: UInt8, abstractSyntax: String, transferSyntaxes: [String]) {
        self.id = id
        self.abstractSyntax = abstractSyntax
        self.transferSyntaxes = transferSyntaxes
    }

    /// Whether `id` is a valid presentation context ID: odd and in 1…255.
    public static func isValidID(_ id: UInt8) -> Bool { id & 1 == 1 }

    /// Builds contexts with consecutive odd IDs (1, 3, 5…) for abstract syntaxes that share transfer syntaxes.
    /// At most 128 contexts fit in one association.
    public static func numbered(_ abstractSyntaxes: [String], transferSyntaxes: [String]) -> [PresentationContext] {
        abstractSyntaxes.prefix(128).enumerated().map {
            PresentationContext(id: UInt8(2 * $0.offset + 1), abstractSyntax: $0.element, transferSyntaxes: transferSyntaxes)
        }
    }
}

/// The acceptor's answer for one presentation context, in an A-ASSOCIATE-AC (PS3.8 §9.3.3.2, Table 9-18).
public struct PresentationContextResult: Hashable, Sendable {
    /// The Result/Reason field of the Presentation Context item (PS3.8 Table 9-18).
    public enum Result: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        case acceptance = 0
        case userRejection = 1
        /// No reason given (provider rejection).
        case noReason = 2
        /// Abstract syntax not supported (provider rejection).
        case abstractSyntaxNotSupported = 3
        /// Transfer syntaxes not supported (provider rejection).
        case transferSyntaxesNotSupported = 4

        public var description: String {
            switch self {
            case .acceptance: "acceptance"
            case .userRejection: "user-rejection"
            case .noReason: "no-reason (provider rejection)"
            case .abstractSyntaxNotSupported: "abstract-syntax-not-supported (provider rejection)"
            case .transferSyntaxesNotSupported: "transfer-syntaxes-not-supported (provider rejection)"
            }
        }
    }

    /// The ID of the proposed context this answers.
    public var id: UInt8
    public var result: Result
    /// The chosen transfer syntax UID; required when accepted, meaningless otherwise (nil when absent or empty).
    public var transferSyntax: String?

    public init(id: UInt8, result: Result, transferSyntax: String? = nil) {
        self.id = id
        self.result = result
        self.transferSyntax = transferSyntax
    }

    public var isAccepted: Bool { result == .acceptance }
}

/// SCP/SCU Role Selection (PS3.7 §D.3.3.4, sub-item 54h). In a request, the roles the requestor proposes
/// to play for the SOP class; in an accept, whether the acceptor agrees to each proposed role.
public struct RoleSelection: Hashable, Sendable {
    public var sopClassUID: String
    /// The requestor acts as SCU (proposed or accepted).
    public var scuRole: Bool
    /// The requestor acts as SCP (proposed or accepted), e.g. to receive C-GET sub-operations.
    public var scpRole: Bool

    public init(sopClassUID: String, scuRole: Bool, scpRole: Bool) {
        self.sopClassUID = sopClassUID
        self.scuRole = scuRole
        self.scpRole = scpRole
    }
}

/// Asynchronous Operations Window (PS3.7 §D.3.3.3, sub-item 53h). 0 means unlimited; 1/1 is the default
/// synchronous mode.
public struct AsynchronousOperationsWindow: Hashable, Sendable {
    public var maximumInvoked: UInt16
    public var maximumPerformed: UInt16
    public init(maximumInvoked: UInt16, maximumPerformed: UInt16) {
        self.maximumInvoked = maximumInvoked
        self.maximumPerformed = maximumPerformed
    }
}

/// SOP Class Extended Negotiation (PS3.7 §D.3.3.5, sub-item 56h): service-class-specific bytes
/// (e.g. relational query support for C-FIND, PS3.4 §C.3.5).
public struct SOPClassExtendedNegotiation: Hashable, Sendable {
    public var sopClassUID: String
    public var serviceClassApplicationInformation: [UInt8]
    public init(sopClassUID: String, serviceClassApplicationInformation: [UInt8]) {
        self.sopClassUID = sopClassUID
        self.serviceClassApplicationInformation = serviceClassApplicationInformation
    }
}

/// SOP Class Common Extended Negotiation (PS3.7 §D.3.3.6, sub-item 57h): the service class of a SOP class
/// and the general SOP classes it specializes. Request only.
public struct SOPClassCommonExtendedNegotiation: Hashable, Sendable {
    public var sopClassUID: String
    public var serviceClassUID: String
    public var relatedGeneralSOPClassUIDs: [String]
    /// The Sub-Item-version byte; 0 in the current standard.
    public var subItemVersion: UInt8

    public init(sopClassUID: String, serviceClassUID: String, relatedGeneralSOPClassUIDs: [String] = [], subItemVersion: UInt8 = 0) {
        self.sopClassUID = sopClassUID
        self.serviceClassUID = serviceClassUID
        self.relatedGeneralSOPClassUIDs = relatedGeneralSOPClassUIDs
        self.subItemVersion = subItemVersion
    }
}

/// User Identity Negotiation, request form (PS3.7 §D.3.3.7.1, sub-item 58h).
public struct UserIdentity: Hashable, Sendable {
    /// The User-Identity-Type field (PS3.7 Table D.3-14).
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let username = Kind(rawValue: 1)
        public static let usernameAndPasscode = Kind(rawValue: 2)
        public static let kerberos = Kind(rawValue: 3)
        public static let saml = Kind(rawValue: 4)
        public static let jwt = Kind(rawValue: 5)
        public var description: String {
            switch rawValue {
            case 1: "username"
            case 2: "username and passcode"
            case 3: "Kerberos service ticket"
            case 4: "SAML assertion"
            case 5: "JSON Web Token"
            default: "user identity type \(rawValue)"
            }
        }
    }

    public var kind: Kind
    /// Whether the requestor asks for a positive server response (sub-item 59h).
    public var positiveResponseRequested: Bool
    /// The username (UTF-8), Kerberos ticket, SAML assertion or JWT.
    public var primaryField: [UInt8]
    /// The passcode for ``Kind/usernameAndPasscode``; empty otherwise.
    public var secondaryField: [UInt8]

    public init(kind: Kind, positiveResponseRequested: Bool = false, primaryField: [UInt8], secondaryField: [UInt8] = []) {
        self.kind = kind
        self.positiveResponseRequested = positiveResponseRequested
        self.primaryField = primaryField
        self.secondaryField = secondaryField
    }

    public static func username(_ name: String, positiveResponseRequested: Bool = false) -> UserIdentity {
        UserIdentity(kind: .username, positiveResponseRequested: positiveResponseRequested, primaryField: Array(name.utf8))
    }

    public static func usernameAndPasscode(_ name: String, passcode: String, positiveResponseRequested: Bool = false) -> UserIdentity {
        UserIdentity(kind: .usernameAndPasscode, positiveResponseRequested: positiveResponseRequested,
                     primaryField: Array(name.utf8), secondaryField: Array(passcode.utf8))
    }

    /// The primary field read as UTF-8 text (username or JWT).
    public var primaryText: String { String(decoding: primaryField, as: UTF8.self) }
    /// The secondary field read as UTF-8 text (passcode).
    public var secondaryText: String { String(decoding: secondaryField, as: UTF8.self) }
}

/// An item or sub-item this toolkit does not interpret, kept so it can be logged or passed on.
public struct UnknownItem: Hashable, Sendable {
    public var type: UInt8
    /// The value bytes after the 4-byte item header.
    public var value: [UInt8]
    public init(type: UInt8, value: [UInt8]) {
        self.type = type
        self.value = value
    }
}

/// The User Information item (PS3.8 §9.3.2.3, item 50h) and its sub-items (PS3.7 Annex D).
public struct UserInformation: Hashable, Sendable {
    /// Maximum Length (51h, PS3.8 §D.1): the largest P-DATA-TF PDU length field the sender can receive;
    /// 0 means no limit.
    public var maximumLength: UInt32?
    /// Implementation Class UID (52h); required in every A-ASSOCIATE-RQ and -AC.
    public var implementationClassUID: String?
    /// Asynchronous Operations Window (53h).
    public var asynchronousOperationsWindow: AsynchronousOperationsWindow?
    /// SCP/SCU Role Selection (54h), one per SOP class.
    public var roleSelections: [RoleSelection]
    /// Implementation Version Name (55h), 1–16 characters.
    public var implementationVersionName: String?
    /// SOP Class Extended Negotiation (56h).
    public var extendedNegotiations: [SOPClassExtendedNegotiation]
    /// SOP Class Common Extended Negotiation (57h), request only.
    public var commonExtendedNegotiations: [SOPClassCommonExtendedNegotiation]
    /// User Identity (58h), request only.
    public var userIdentity: UserIdentity?
    /// The server response of User Identity (59h), accept only (empty when no response data).
    public var userIdentityServerResponse: [UInt8]?
    /// Sub-items of other types, carried through.
    public var unknownItems: [UnknownItem]

    public init(maximumLength: UInt32? = nil, implementationClassUID: String? = nil,
                asynchronousOperationsWindow: AsynchronousOperationsWindow? = nil, roleSelections: [RoleSelection] = [],
                implementationVersionName: String? = nil, extendedNegotiations: [SOPClassExtendedNegotiation] = [],
                commonExtendedNegotiations: [SOPClassCommonExtendedNegotiation] = [], userIdentity: UserIdentity? = nil,
                userIdentityServerResponse: [UInt8]? = nil, unknownItems: [UnknownItem] = []) {
        self.maximumLength = maximumLength
        self.implementationClassUID = implementationClassUID
        self.asynchronousOperationsWindow = asynchronousOperationsWindow
        self.roleSelections = roleSelections
        self.implementationVersionName = implementationVersionName
        self.extendedNegotiations = extendedNegotiations
        self.commonExtendedNegotiations = commonExtendedNegotiations
        self.userIdentity = userIdentity
        self.userIdentityServerResponse = userIdentityServerResponse
        self.unknownItems = unknownItems
    }

    /// This toolkit's identification (``UID/implementationClassUID``, ``UID/implementationVersionName``)
    /// with the given maximum length.
    public static func swiftDICOM(maximumLength: UInt32) -> UserInformation {
        UserInformation(maximumLength: maximumLength, implementationClassUID: UID.implementationClassUID,
                        implementationVersionName: UID.implementationVersionName)
    }
}
