import DICOMCore
import Logging

/// What an association acceptor (SCP) agrees to, and the pure negotiation that turns an
/// ``AssociationRequest`` into an ``AssociationAccept`` or an ``AssociationReject`` (PS3.8 §7.1, PS3.7 Annex D).
///
/// ```swift
/// var policy = AcceptorPolicy(calledAETitles: .only(["STORESCP"]))
/// policy.accept(abstractSyntax: "1.2.840.10008.1.1", transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])
/// switch policy.negotiate(request) {
/// case .success(let accept): ...   // send .associateAccept(accept)
/// case .failure(let reject): ...   // send .associateReject(reject)
/// }
/// ```
public struct AcceptorPolicy: Sendable, Equatable {
    /// Which AE titles are accepted.
    public enum AETitleFilter: Sendable, Equatable {
        case any
        case only(Set<AETitle>)

        public func accepts(_ title: AETitle) -> Bool {
            switch self {
            case .any: true
            case .only(let titles): titles.contains(title)
            }
        }
    }

    /// Titles this acceptor answers to; others get reason 7, called-AE-title-not-recognized.
    public var calledAETitles: AETitleFilter
    /// Peers accepted; others get reason 3, calling-AE-title-not-recognized.
    public var callingAETitles: AETitleFilter
    /// Accepted abstract syntaxes, each with the transfer syntax UIDs accepted for it in this acceptor's
    /// order of preference: the first one the requestor also proposed is chosen.
    public var abstractSyntaxes: [String: [String]]
    /// The roles the requestor may take per SOP class (SCP/SCU Role Selection, 54H). A proposed role is
    /// accepted when it is proposed and allowed here; a SOP class not listed keeps the default roles
    /// (requestor SCU only), so its proposal of the SCP role is answered with 0.
    public var allowedRoles: [String: RoleSelection]
    /// The Maximum Length (51H) this acceptor advertises: the largest P-DATA-TF PDU it will receive (0 = no limit).
    public var maximumPDULength: UInt32
    public var implementationClassUID: String
    public var implementationVersionName: String?
    /// The users who may authenticate with User Identity Negotiation (PS3.7 §D.3.3.7). When nil, an identity is
    /// neither checked nor answered (handlers see it unverified); when set, an identity that is not accepted, or a
    /// missing one that is required, gets A-ASSOCIATE-RJ (permanent, service-user, no reason given).
    public var users: UserDirectory?
    /// How many operations (C-STOREs) this acceptor performs at once for one association: a proposed Asynchronous
    /// Operations Window (PS3.7 §D.3.3.3) is answered with Maximum Number Operations Invoked = the smaller of this and
    /// the proposal (a proposed 0, unlimited, gets this), and Maximum Number Operations Performed = 1 (the operations
    /// this acceptor invokes, C-GET's C-STOREs, go one at a time). 1, the default here, answers 1/1 (synchronous);
    /// 0 counts as 1. ``DICOMServer``'s default policies set 16.
    public var maximumOperationsPerformed: UInt16 = 1

    public init(calledAETitles: AETitleFilter = .any, callingAETitles: AETitleFilter = .any,
                abstractSyntaxes: [String: [String]] = [:], allowedRoles: [String: RoleSelection] = [:],
                maximumPDULength: UInt32 = 16384, implementationClassUID: String = UID.implementationClassUID,
                implementationVersionName: String? = UID.implementationVersionName) {
        self.calledAETitles = calledAETitles
        self.callingAETitles = callingAETitles
        self.abstractSyntaxes = abstractSyntaxes
        self.allowedRoles = allowedRoles
        self.maximumPDULength = maximumPDULength
        self.implementationClassUID = implementationClassUID
        self.implementationVersionName = implementationVersionName
    }

    /// Accepts an abstract syntax with transfer syntaxes in order of preference (replacing an earlier entry).
    public mutating func accept(abstractSyntax: String, transferSyntaxes: [String]) {
        abstractSyntaxes[abstractSyntax] = transferSyntaxes
    }

    /// Accepts several abstract syntaxes with the same transfer syntaxes.
    public mutating func accept(abstractSyntaxes uids: [String], transferSyntaxes: [String]) {
        for uid in uids { abstractSyntaxes[uid] = transferSyntaxes }
    }

    /// Negotiates an association (PS3.8 §7.1.1): checks the protocol version (bit 0), the application context
    /// name and both AE titles, then answers each presentation context with the first transfer syntax of this
    /// policy's list that the requestor proposed — result 3 (abstract-syntax-not-supported) when the abstract
    /// syntax is not accepted at all, 4 (transfer-syntaxes-not-supported) when no proposed transfer syntax is.
    ///
    /// An association whose contexts are all rejected is still accepted, as the standard allows; the requestor
    /// decides whether to release it.
    public func negotiate(_ request: AssociationRequest, logger: Logger? = nil) -> Result<AssociationAccept, AssociationReject> {
        if request.protocolVersion & 1 == 0 {
            return reject(.protocolVersionNotSupported, "protocol version \(request.protocolVersion) lacks bit 0 (version 1)", logger)
        }
        if request.applicationContextName != dicomApplicationContextName {
            return reject(.applicationContextNameNotSupported, "application context \(request.applicationContextName)", logger)
        }
        if !calledAETitles.accepts(request.calledAETitle) {
            return reject(.calledAETitleNotRecognized, "called AE title \(request.calledAETitle)", logger)
        }
        if !callingAETitles.accepts(request.callingAETitle) {
            return reject(.callingAETitleNotRecognized, "calling AE title \(request.callingAETitle)", logger)
        }
        var authenticated = false
        if let users {
            switch users.check(request.userInformation.userIdentity) {
            case .rejected(let why): return reject(.noReasonGiven, why, logger)
            case .authenticated: authenticated = true
            case .anonymous: break
            }
        }
        var results: [PresentationContextResult] = []
        var acceptedAbstractSyntaxes = Set<String>()
        for context in request.presentationContexts {
            let result: PresentationContextResult
            if let preferred = abstractSyntaxes[context.abstractSyntax] {
                if let chosen = preferred.first(where: { context.transferSyntaxes.contains($0) }) {
                    result = PresentationContextResult(id: context.id, result: .acceptance, transferSyntax: chosen)
                    acceptedAbstractSyntaxes.insert(context.abstractSyntax)
                } else {
                    result = PresentationContextResult(id: context.id, result: .transferSyntaxesNotSupported)
                }
            } else {
                result = PresentationContextResult(id: context.id, result: .abstractSyntaxNotSupported)
            }
            logger?.debug("presentation context negotiated", metadata: [
                "dicom.context.id": "\(context.id)", "dicom.abstractSyntax": "\(context.abstractSyntax)",
                "dicom.result": "\(result.result)", "dicom.transferSyntax": "\(result.transferSyntax ?? "-")",
            ])
            results.append(result)
        }
        var info = UserInformation(maximumLength: maximumPDULength, implementationClassUID: implementationClassUID,
                                   implementationVersionName: implementationVersionName)
        for proposal in request.userInformation.roleSelections where acceptedAbstractSyntaxes.contains(proposal.sopClassUID) {
            let allowed = allowedRoles[proposal.sopClassUID] ?? RoleSelection(sopClassUID: proposal.sopClassUID, scuRole: true, scpRole: false)
            info.roleSelections.append(RoleSelection(sopClassUID: proposal.sopClassUID, scuRole: proposal.scuRole && allowed.scuRole,
                                                     scpRole: proposal.scpRole && allowed.scpRole))
        }
        if let proposed = request.userInformation.asynchronousOperationsWindow {
            // PS3.7 D.3.3.3: no more than the requestor proposed (0 = unlimited) nor than we perform at once.
            let ours = max(1, maximumOperationsPerformed)
            let invoked = proposed.maximumInvoked == 0 ? ours : min(proposed.maximumInvoked, ours)
            info.asynchronousOperationsWindow = AsynchronousOperationsWindow(maximumInvoked: invoked, maximumPerformed: 1)
        }
        if authenticated, request.userInformation.userIdentity?.positiveResponseRequested == true {
            // For username and username-with-passcode identities the server response is empty (§D.3.3.7.2).
            info.userIdentityServerResponse = []
        }
        logger?.debug("association accepted", metadata: [
            "dicom.calling": "\(request.callingAETitle)", "dicom.called": "\(request.calledAETitle)",
            "dicom.contexts.accepted": "\(results.filter(\.isAccepted).count)/\(results.count)",
        ])
        return .success(AssociationAccept(calledAETitle: request.calledAETitle, callingAETitle: request.callingAETitle,
                                          presentationContextResults: results, userInformation: info))
    }

    private func reject(_ reason: AssociationReject.Reason, _ detail: String, _ logger: Logger?) -> Result<AssociationAccept, AssociationReject> {
        logger?.debug("association rejected", metadata: ["dicom.reason": "\(reason)", "dicom.detail": "\(detail)"])
        return .failure(AssociationReject(result: .rejectedPermanent, reason: reason))
    }
}

/// An established association as both sides know it: the request, the accept, and which side we are.
/// Gives the accepted presentation contexts and the PDU size limit to fragment to.
public struct NegotiatedAssociation: Sendable, Equatable {
    /// An accepted presentation context: its ID, abstract syntax and the chosen transfer syntax.
    public struct AcceptedContext: Hashable, Sendable {
        public var id: UInt8
        public var abstractSyntax: String
        public var transferSyntax: String
        /// The transfer syntax, if this toolkit knows it.
        public var knownTransferSyntax: TransferSyntax? { TransferSyntax(uid: transferSyntax) }
    }

    public let request: AssociationRequest
    public let accept: AssociationAccept
    public let role: UpperLayerStateMachine.Role
    /// Accepted contexts by ID.
    public let acceptedContexts: [UInt8: AcceptedContext]

    /// Pairs each accepted result with its proposed context; results for unknown IDs are ignored.
    public init(request: AssociationRequest, accept: AssociationAccept, role: UpperLayerStateMachine.Role) {
        self.request = request
        self.accept = accept
        self.role = role
        var contexts: [UInt8: AcceptedContext] = [:]
        for result in accept.presentationContextResults where result.isAccepted {
            guard let proposed = request.presentationContexts.first(where: { $0.id == result.id }),
                  let syntax = result.transferSyntax else { continue }
            contexts[result.id] = AcceptedContext(id: result.id, abstractSyntax: proposed.abstractSyntax, transferSyntax: syntax)
        }
        acceptedContexts = contexts
    }

    /// The Maximum Length the peer advertised: P-DATA-TF PDUs we send must not exceed it (0 = no limit).
    public var peerMaximumPDULength: UInt32 {
        (role == .requestor ? accept.userInformation.maximumLength : request.userInformation.maximumLength) ?? 0
    }

    /// How many operations the requestor may have outstanding (invoked and not yet answered) at once: the Maximum Number
    /// Operations Invoked of the Asynchronous Operations Window (PS3.7 §D.3.3.3) the acceptor answered, never more than
    /// the requestor proposed. 1 (synchronous) when either side sent no window; a 0 (unlimited) on one side leaves the
    /// other's number, on both sides ``Int/init(_:)`` of `UInt16.max`.
    public var maximumOutstandingOperations: Int {
        guard let proposed = request.userInformation.asynchronousOperationsWindow?.maximumInvoked,
              let granted = accept.userInformation.asynchronousOperationsWindow?.maximumInvoked else { return 1 }
        switch (proposed, granted) {
        case (0, 0): return Int(UInt16.max)
        case (0, let limit), (let limit, 0): return Int(limit)
        default: return Int(min(proposed, granted))
        }
    }

    /// The Maximum Length we advertised: the largest P-DATA-TF PDU we accept.
    public var localMaximumPDULength: UInt32 {
        (role == .requestor ? request.userInformation.maximumLength : accept.userInformation.maximumLength) ?? 0
    }

    /// The first accepted context for an abstract syntax, optionally with a given transfer syntax.
    public func context(forAbstractSyntax abstractSyntax: String, transferSyntax: String? = nil) -> AcceptedContext? {
        acceptedContexts.values.sorted { $0.id < $1.id }.first {
            $0.abstractSyntax == abstractSyntax && (transferSyntax == nil || $0.transferSyntax == transferSyntax)
        }
    }

    /// The negotiated role for a SOP class from SCP/SCU Role Selection, or the default (requestor is SCU only)
    /// when none was answered.
    public func roles(for sopClassUID: String) -> RoleSelection {
        accept.userInformation.roleSelections.first { $0.sopClassUID == sopClassUID }
            ?? RoleSelection(sopClassUID: sopClassUID, scuRole: true, scpRole: false)
    }
}
