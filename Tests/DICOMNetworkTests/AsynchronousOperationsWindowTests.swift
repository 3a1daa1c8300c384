import Testing
@testable import DICOMNetwork

/// Negotiation of the Asynchronous Operations Window (PS3.7 §D.3.3.3, sub-item 53H): the acceptor answers Maximum
/// Number Operations Invoked = min(proposed, what it performs at once), a proposed 0 (unlimited) gets its own number,
/// and Maximum Number Operations Performed = 1; without a proposal it answers nothing (synchronous, 1/1).
@Suite struct AsynchronousOperationsWindowTests {
    static let ct = "1.2.840.10008.5.1.4.1.1.2"
    static let explicit = "1.2.840.10008.1.2.1"

    static func policy(performing: UInt16) -> AcceptorPolicy {
        var policy = AcceptorPolicy(maximumPDULength: 65536)
        policy.accept(abstractSyntax: ct, transferSyntaxes: [explicit])
        policy.maximumOperationsPerformed = performing
        return policy
    }

    static func request(proposing window: AsynchronousOperationsWindow?) -> AssociationRequest {
        var request = AssociationRequest(calledAETitle: "SCP", callingAETitle: "SCU",
                                         presentationContexts: [PresentationContext(id: 1, abstractSyntax: ct, transferSyntaxes: [explicit])])
        request.userInformation.asynchronousOperationsWindow = window
        return request
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var proposedInvoked: UInt16
        var proposedPerformed: UInt16
        var policy: UInt16
        var answeredInvoked: UInt16
        var outstanding: Int
        var testDescription: String { "proposed \(proposedInvoked)/\(proposedPerformed), policy \(policy)" }
    }

    static let cases: [Case] = [
        Case(proposedInvoked: 4, proposedPerformed: 1, policy: 16, answeredInvoked: 4, outstanding: 4),
        Case(proposedInvoked: 32, proposedPerformed: 1, policy: 16, answeredInvoked: 16, outstanding: 16),
        Case(proposedInvoked: 16, proposedPerformed: 16, policy: 16, answeredInvoked: 16, outstanding: 16),
        Case(proposedInvoked: 0, proposedPerformed: 0, policy: 16, answeredInvoked: 16, outstanding: 16),   // unlimited asked
        Case(proposedInvoked: 8, proposedPerformed: 0, policy: 1, answeredInvoked: 1, outstanding: 1),     // synchronous acceptor
        Case(proposedInvoked: 8, proposedPerformed: 1, policy: 0, answeredInvoked: 1, outstanding: 1),     // 0 counts as 1
        Case(proposedInvoked: 1, proposedPerformed: 1, policy: 16, answeredInvoked: 1, outstanding: 1),
    ]

    @Test(arguments: cases)
    func windowIsTheSmallerOfProposalAndPolicy(_ testCase: Case) throws {
        let request = Self.request(proposing: AsynchronousOperationsWindow(maximumInvoked: testCase.proposedInvoked,
                                                                           maximumPerformed: testCase.proposedPerformed))
        let accept = try Self.policy(performing: testCase.policy).negotiate(request).get()
        #expect(accept.userInformation.asynchronousOperationsWindow
                == AsynchronousOperationsWindow(maximumInvoked: testCase.answeredInvoked, maximumPerformed: 1))
        // Both sides derive the same number of outstanding operations from the exchange.
        #expect(NegotiatedAssociation(request: request, accept: accept, role: .acceptor).maximumOutstandingOperations == testCase.outstanding)
        #expect(NegotiatedAssociation(request: request, accept: accept, role: .requestor).maximumOutstandingOperations == testCase.outstanding)
    }

    @Test func noProposalNoWindow() throws {
        let request = Self.request(proposing: nil)
        let accept = try Self.policy(performing: 16).negotiate(request).get()
        #expect(accept.userInformation.asynchronousOperationsWindow == nil)
        #expect(NegotiatedAssociation(request: request, accept: accept, role: .requestor).maximumOutstandingOperations == 1)
    }

    /// The default of a hand-made policy stays synchronous (1/1), as before the window was implemented.
    @Test func defaultPolicyAnswersSynchronous() throws {
        var policy = AcceptorPolicy()
        policy.accept(abstractSyntax: Self.ct, transferSyntaxes: [Self.explicit])
        #expect(policy.maximumOperationsPerformed == 1)
        let accept = try policy.negotiate(Self.request(proposing: AsynchronousOperationsWindow(maximumInvoked: 8, maximumPerformed: 1))).get()
        #expect(accept.userInformation.asynchronousOperationsWindow == AsynchronousOperationsWindow(maximumInvoked: 1, maximumPerformed: 1))
    }

    /// A requestor never has more outstanding than it proposed, even when an acceptor answers more (or 0) against the rule.
    @Test func outstandingNeverExceedsTheProposal() {
        let request = Self.request(proposing: AsynchronousOperationsWindow(maximumInvoked: 4, maximumPerformed: 1))
        for granted: UInt16 in [0, 8] {
            var accept = AssociationAccept(calledAETitle: "SCP", callingAETitle: "SCU",
                                           presentationContextResults: [PresentationContextResult(id: 1, result: .acceptance, transferSyntax: Self.explicit)])
            accept.userInformation.asynchronousOperationsWindow = AsynchronousOperationsWindow(maximumInvoked: granted, maximumPerformed: 1)
            #expect(NegotiatedAssociation(request: request, accept: accept, role: .requestor).maximumOutstandingOperations == 4)
        }
        // An acceptor that answers without the sub-item: synchronous.
        let silent = AssociationAccept(calledAETitle: "SCP", callingAETitle: "SCU",
                                       presentationContextResults: [PresentationContextResult(id: 1, result: .acceptance, transferSyntax: Self.explicit)])
        #expect(NegotiatedAssociation(request: request, accept: silent, role: .requestor).maximumOutstandingOperations == 1)
        // Both unlimited.
        var unlimited = silent
        unlimited.userInformation.asynchronousOperationsWindow = AsynchronousOperationsWindow(maximumInvoked: 0, maximumPerformed: 0)
        let unlimitedRequest = Self.request(proposing: AsynchronousOperationsWindow(maximumInvoked: 0, maximumPerformed: 0))
        #expect(NegotiatedAssociation(request: unlimitedRequest, accept: unlimited, role: .requestor).maximumOutstandingOperations == Int(UInt16.max))
    }
}
