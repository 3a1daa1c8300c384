import Testing
@testable import DICOMNetwork

@Suite struct AcceptorPolicyTests {
    static let implicit = "1.2.840.10008.1.2"
    static let explicit = "1.2.840.10008.1.2.1"
    static let jpeg = "1.2.840.10008.1.2.4.50"
    static let ct = "1.2.840.10008.5.1.4.1.1.2"
    static let mr = "1.2.840.10008.5.1.4.1.1.4"

    static var policy: AcceptorPolicy {
        var policy = AcceptorPolicy(calledAETitles: .only(["STORESCP"]), callingAETitles: .any, maximumPDULength: 65536)
        policy.accept(abstractSyntax: verificationSOPClassUID, transferSyntaxes: [implicit])
        policy.accept(abstractSyntax: ct, transferSyntaxes: [explicit, implicit])  // prefers explicit
        return policy
    }

    static func request(_ contexts: [PresentationContext], called: AETitle = "STORESCP", calling: AETitle = "MODALITY") -> AssociationRequest {
        AssociationRequest(calledAETitle: called, callingAETitle: calling, presentationContexts: contexts)
    }

    @Test func asynchronousOperationsWindowIsAnsweredAsSynchronous() throws {
        var request = Self.request([PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.explicit])])
        #expect(try Self.policy.negotiate(request).get().userInformation.asynchronousOperationsWindow == nil)
        request.userInformation.asynchronousOperationsWindow = AsynchronousOperationsWindow(maximumInvoked: 8, maximumPerformed: 0)
        let window = try Self.policy.negotiate(request).get().userInformation.asynchronousOperationsWindow
        #expect(window == AsynchronousOperationsWindow(maximumInvoked: 1, maximumPerformed: 1))
    }

    @Test func userIdentityIsCheckedAgainstTheDirectory() throws {
        // SHA-256 of "s3cret" (printf %s s3cret | sha256sum).
        let digest = try UserDirectory.passcodeDigest(hex: "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0", user: "alice")
        var policy = Self.policy
        policy.users = UserDirectory(credentials: ["alice": digest, "porter": .usernameOnly])
        var request = Self.request([PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.explicit])])
        func outcome(_ identity: UserIdentity?) -> Result<AssociationAccept, AssociationReject> {
            request.userInformation.userIdentity = identity
            return policy.negotiate(request)
        }
        let accepted = try outcome(.usernameAndPasscode("alice", passcode: "s3cret", positiveResponseRequested: true)).get()
        #expect(accepted.userInformation.userIdentityServerResponse == [])
        #expect(try outcome(.usernameAndPasscode("alice", passcode: "s3cret")).get().userInformation.userIdentityServerResponse == nil)
        #expect((try? outcome(.username("porter")).get()) != nil)
        #expect((try? outcome(nil).get()) != nil, "no identity and none required")
        let noReason = AssociationReject(result: .rejectedPermanent, reason: .noReasonGiven)
        for refused: UserIdentity in [.usernameAndPasscode("alice", passcode: "guess"), .username("alice"), .username("mallory"),
                                      UserIdentity(kind: .jwt, primaryField: Array("e30.e30.".utf8))] {
            guard case .failure(let reject) = outcome(refused) else { Issue.record("\(refused.kind) \(refused.primaryText) was accepted"); continue }
            #expect(reject == noReason)
        }
        policy.users?.isIdentityRequired = true
        guard case .failure = outcome(nil) else { Issue.record("no identity was accepted although one is required"); return }
        #expect(throws: DICOMNetworkError.self) { try UserDirectory.passcodeDigest(hex: "abc", user: "bob") }
    }

    @Test func choosesAcceptorsPreferredTransferSyntax() throws {
        let request = Self.request([
            PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.implicit, Self.explicit, Self.jpeg]),
            PresentationContext(id: 3, abstractSyntax: verificationSOPClassUID, transferSyntaxes: [Self.implicit]),
        ])
        let accept = try Self.policy.negotiate(request).get()
        #expect(accept.presentationContextResults == [
            PresentationContextResult(id: 1, result: .acceptance, transferSyntax: Self.explicit),
            PresentationContextResult(id: 3, result: .acceptance, transferSyntax: Self.implicit),
        ])
        #expect(accept.userInformation.maximumLength == 65536)
        #expect(accept.userInformation.implementationClassUID == UID.implementationClassUID)
        #expect(accept.calledAETitle == "STORESCP")
    }

    @Test func rejectsUnsupportedContexts() throws {
        let request = Self.request([
            PresentationContext(id: 1, abstractSyntax: Self.mr, transferSyntaxes: [Self.implicit]),     // not accepted at all
            PresentationContext(id: 3, abstractSyntax: Self.ct, transferSyntaxes: [Self.jpeg]),         // no common transfer syntax
        ])
        let accept = try Self.policy.negotiate(request).get()
        #expect(accept.presentationContextResults.map(\.result) == [.abstractSyntaxNotSupported, .transferSyntaxesNotSupported])
        #expect(accept.presentationContextResults.allSatisfy { $0.transferSyntax == nil })
    }

    @Test func rejectsUnknownCalledAETitle() {
        let result = Self.policy.negotiate(Self.request([PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.implicit])], called: "OTHER"))
        #expect(result == .failure(AssociationReject(result: .rejectedPermanent, reason: .calledAETitleNotRecognized)))
        if case .failure(let reject) = result {
            #expect(reject.source == .serviceUser)
            #expect(reject.reason.code == 7)
        }
    }

    @Test func rejectsUnknownCallingAETitle() {
        var policy = Self.policy
        policy.callingAETitles = .only(["CT1", "CT2"])
        let request = Self.request([PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.implicit])], calling: "HACKER")
        guard case .failure(let reject) = policy.negotiate(request) else { Issue.record("accepted"); return }
        #expect(reject.reason == .callingAETitleNotRecognized)
        #expect(reject.reason.code == 3)
        let allowed = Self.request([PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.implicit])], calling: "CT2")
        #expect((try? policy.negotiate(allowed).get()) != nil)
    }

    @Test func rejectsWrongApplicationContextAndProtocolVersion() {
        var request = Self.request([PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.implicit])])
        request.applicationContextName = "1.2.3"
        guard case .failure(let reject) = Self.policy.negotiate(request) else { Issue.record("accepted"); return }
        #expect(reject.reason == .applicationContextNameNotSupported)
        request.applicationContextName = dicomApplicationContextName
        request.protocolVersion = 2  // bit 0 clear
        guard case .failure(let versionReject) = Self.policy.negotiate(request) else { Issue.record("accepted"); return }
        #expect(versionReject.reason == .protocolVersionNotSupported)
        #expect(versionReject.source == .serviceProviderACSE)
    }

    @Test func roleSelectionAnswers() throws {
        let get = "1.2.840.10008.5.1.4.1.2.2.3"
        var policy = Self.policy
        policy.accept(abstractSyntax: get, transferSyntaxes: [Self.implicit])
        policy.allowedRoles[Self.ct] = RoleSelection(sopClassUID: Self.ct, scuRole: true, scpRole: true)
        var request = Self.request([
            PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.implicit]),
            PresentationContext(id: 3, abstractSyntax: get, transferSyntaxes: [Self.implicit]),
        ])
        request.userInformation.roleSelections = [
            RoleSelection(sopClassUID: Self.ct, scuRole: false, scpRole: true),   // C-GET retriever as storage SCP: allowed
            RoleSelection(sopClassUID: get, scuRole: true, scpRole: true),       // SCP role not allowed by default
            RoleSelection(sopClassUID: Self.mr, scuRole: true, scpRole: true),   // no accepted context: not answered
        ]
        let accept = try policy.negotiate(request).get()
        #expect(accept.userInformation.roleSelections == [
            RoleSelection(sopClassUID: Self.ct, scuRole: false, scpRole: true),
            RoleSelection(sopClassUID: get, scuRole: true, scpRole: false),
        ])
        let association = NegotiatedAssociation(request: request, accept: accept, role: .acceptor)
        #expect(association.roles(for: Self.ct).scpRole)
        #expect(!association.roles(for: Self.mr).scpRole)
    }

    @Test func negotiatedAssociation() throws {
        var request = Self.request([
            PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.jpeg]),
            PresentationContext(id: 3, abstractSyntax: Self.ct, transferSyntaxes: [Self.implicit]),
            PresentationContext(id: 5, abstractSyntax: verificationSOPClassUID, transferSyntaxes: [Self.implicit]),
        ])
        request.userInformation.maximumLength = 32768
        let accept = try Self.policy.negotiate(request).get()
        let scp = NegotiatedAssociation(request: request, accept: accept, role: .acceptor)
        #expect(Set(scp.acceptedContexts.keys) == [3, 5])
        #expect(scp.peerMaximumPDULength == 32768)
        #expect(scp.localMaximumPDULength == 65536)
        #expect(scp.context(forAbstractSyntax: Self.ct)?.id == 3)
        #expect(scp.context(forAbstractSyntax: Self.ct)?.knownTransferSyntax == .implicitVRLittleEndian)
        #expect(scp.context(forAbstractSyntax: Self.ct, transferSyntax: Self.jpeg) == nil)
        let scu = NegotiatedAssociation(request: request, accept: accept, role: .requestor)
        #expect(scu.peerMaximumPDULength == 65536)
    }

    @Test func policySurvivesTheWire() throws {
        // The negotiated accept encodes and decodes to the same value.
        let request = Self.request([PresentationContext(id: 1, abstractSyntax: Self.ct, transferSyntaxes: [Self.implicit])])
        let accept = try Self.policy.negotiate(request).get()
        #expect(try decode(try bytes(of: .associateAccept(accept))) == .associateAccept(accept))
    }
}
