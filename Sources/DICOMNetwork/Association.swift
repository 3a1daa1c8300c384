/// The DICOM Application Context Name (PS3.7 Annex A.2.1), the only one defined.
public let dicomApplicationContextName = "1.2.840.10008.3.1.1.1"

/// An association request: the content of an A-ASSOCIATE-RQ PDU (PS3.8 §9.3.2, Table 9-11)
/// and of the A-ASSOCIATE request primitive (PS3.8 §7.1.1).
public struct AssociationRequest: Hashable, Sendable {
    /// Protocol-version: bit 0 set for version 1, the only version (PS3.8 Table 9-11).
    public var protocolVersion: UInt16
    /// The AE title of the acceptor the requestor wants to reach.
    public var calledAETitle: AETitle
    /// The requestor's own AE title.
    public var callingAETitle: AETitle
    public var applicationContextName: String
    /// Proposed presentation contexts, 1 to 128 of them, each with a distinct odd ID.
    public var presentationContexts: [PresentationContext]
    public var userInformation: UserInformation
    /// Variable items of unknown type, carried through.
    public var unknownItems: [UnknownItem]

    public init(calledAETitle: AETitle, callingAETitle: AETitle, presentationContexts: [PresentationContext],
                userInformation: UserInformation = .swiftDICOM(maximumLength: 16384),
                applicationContextName: String = dicomApplicationContextName, protocolVersion: UInt16 = 1,
                unknownItems: [UnknownItem] = []) {
        self.protocolVersion = protocolVersion
        self.calledAETitle = calledAETitle
        self.callingAETitle = callingAETitle
        self.applicationContextName = applicationContextName
        self.presentationContexts = presentationContexts
        self.userInformation = userInformation
        self.unknownItems = unknownItems
    }
}

/// An association accept: the content of an A-ASSOCIATE-AC PDU (PS3.8 §9.3.3, Table 9-17).
public struct AssociationAccept: Hashable, Sendable {
    public var protocolVersion: UInt16
    /// Reserved field sent with the called AE title of the request, not tested on receipt (nil when not a valid title).
    public var calledAETitle: AETitle?
    /// Reserved field sent with the calling AE title of the request, not tested on receipt (nil when not a valid title).
    public var callingAETitle: AETitle?
    public var applicationContextName: String
    /// One result per proposed presentation context.
    public var presentationContextResults: [PresentationContextResult]
    public var userInformation: UserInformation
    public var unknownItems: [UnknownItem]

    public init(calledAETitle: AETitle?, callingAETitle: AETitle?, presentationContextResults: [PresentationContextResult],
                userInformation: UserInformation = .swiftDICOM(maximumLength: 16384),
                applicationContextName: String = dicomApplicationContextName, protocolVersion: UInt16 = 1,
                unknownItems: [UnknownItem] = []) {
        self.protocolVersion = protocolVersion
        self.calledAETitle = calledAETitle
        self.callingAETitle = callingAETitle
        self.applicationContextName = applicationContextName
        self.presentationContextResults = presentationContextResults
        self.userInformation = userInformation
        self.unknownItems = unknownItems
    }
}

/// An association reject: the content of an A-ASSOCIATE-RJ PDU (PS3.8 §9.3.4, Table 9-21).
public struct AssociationReject: Hashable, Sendable, Error, CustomStringConvertible {
    /// The Result field.
    public enum Result: UInt8, Sendable, CaseIterable {
        case rejectedPermanent = 1
        case rejectedTransient = 2
    }

    /// The Source field.
    public enum Source: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// DICOM UL service-user.
        case serviceUser = 1
        /// DICOM UL service-provider (ACSE related function).
        case serviceProviderACSE = 2
        /// DICOM UL service-provider (Presentation related function).
        case serviceProviderPresentation = 3

        public var description: String {
            switch self {
            case .serviceUser: "service-user"
            case .serviceProviderACSE: "service-provider (ACSE)"
            case .serviceProviderPresentation: "service-provider (presentation)"
            }
        }
    }

    /// The Reason/Diag. field, whose meaning depends on the source (PS3.8 Table 9-21).
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        public var source: Source
        public var code: UInt8
        public init(source: Source, code: UInt8) {
            self.source = source
            self.code = code
        }

        public static let noReasonGiven = Reason(source: .serviceUser, code: 1)
        public static let applicationContextNameNotSupported = Reason(source: .serviceUser, code: 2)
        public static let callingAETitleNotRecognized = Reason(source: .serviceUser, code: 3)
        public static let calledAETitleNotRecognized = Reason(source: .serviceUser, code: 7)
        public static let providerNoReasonGiven = Reason(source: .serviceProviderACSE, code: 1)
        public static let protocolVersionNotSupported = Reason(source: .serviceProviderACSE, code: 2)
        public static let temporaryCongestion = Reason(source: .serviceProviderPresentation, code: 1)
        public static let localLimitExceeded = Reason(source: .serviceProviderPresentation, code: 2)

        public var description: String {
            switch (source, code) {
            case (.serviceUser, 1), (.serviceProviderACSE, 1): "no-reason-given"
            case (.serviceUser, 2): "application-context-name-not-supported"
            case (.serviceUser, 3): "calling-AE-title-not-recognized"
            case (.serviceUser, 7): "called-AE-title-not-recognized"
            case (.serviceProviderACSE, 2): "protocol-version-not-supported"
            case (.serviceProviderPresentation, 1): "temporary-congestion"
            case (.serviceProviderPresentation, 2): "local-limit-exceeded"
            default: "reserved reason \(code)"
            }
        }
    }

    public var result: Result
    public var reason: Reason
    public var source: Source { reason.source }

    public init(result: Result, reason: Reason) {
        self.result = result
        self.reason = reason
    }

    public var description: String {
        "association rejected (\(result == .rejectedPermanent ? "permanent" : "transient")) by \(source): \(reason)"
    }
}

/// An abort: the content of an A-ABORT PDU (PS3.8 §9.3.8, Table 9-26).
public struct AssociationAbort: Hashable, Sendable, Error, CustomStringConvertible {
    /// The Source field: 0 service-user, 2 service-provider (1 is reserved).
    public struct Source: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let serviceUser = Source(rawValue: 0)
        public static let reserved = Source(rawValue: 1)
        public static let serviceProvider = Source(rawValue: 2)
    }

    /// The Reason/Diag. field, significant when the source is the service-provider.
    public struct Reason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let notSpecified = Reason(rawValue: 0)
        public static let unrecognizedPDU = Reason(rawValue: 1)
        public static let unexpectedPDU = Reason(rawValue: 2)
        public static let unrecognizedPDUParameter = Reason(rawValue: 4)
        public static let unexpectedPDUParameter = Reason(rawValue: 5)
        public static let invalidPDUParameterValue = Reason(rawValue: 6)

        public var description: String {
            switch rawValue {
            case 0: "reason-not-specified"
            case 1: "unrecognized-PDU"
            case 2: "unexpected-PDU"
            case 4: "unrecognized-PDU-parameter"
            case 5: "unexpected-PDU-parameter"
            case 6: "invalid-PDU-parameter-value"
            default: "reserved reason \(rawValue)"
            }
        }
    }

    public var source: Source
    public var reason: Reason

    public init(source: Source, reason: Reason = .notSpecified) {
        self.source = source
        self.reason = reason
    }

    /// An abort from the service user (the application), reason not significant.
    public static let serviceUser = AssociationAbort(source: .serviceUser)

    public var description: String {
        source == .serviceProvider ? "association aborted by the service provider: \(reason)" : "association aborted by the service user"
    }
}
