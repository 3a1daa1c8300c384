import NIOCore
import NIOEmbedded
import Testing
@testable import DICOMNetwork

/// PDUs produced by another implementation, and the pieces working together as a service will use them.
@Suite struct InteroperabilityTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex {
            let j = text.index(i, offsetBy: 2)
            bytes.append(UInt8(text[i..<j], radix: 16)!)
            i = j
        }
        return bytes
    }

    /// An A-ASSOCIATE-AC encoded by pynetdicom 3.0.4: Maximum Length 0, role selection, user identity response,
    /// asynchronous operations window, and a rejected context that still names a transfer syntax.
    static let pynetdicomAccept = hex(
        "02000000010c000100005152534350202020202020202020202047455453435520202020202020202020" +
        "0000000000000000000000000000000000000000000000000000000000000000" +
        "10000015312e322e3834302e31303030382e332e312e312e31" +
        "2100001b0100000040000013312e322e3834302e31303030382e312e322e31" +
        "210000190300040040000011312e322e3834302e31303030382e312e32" +
        "5000006f510000040000000052000020312e322e3832362e302e312e333638303034332e392e333831312e322e302e32" +
        "5500000e50594e45544449434f4d5f323032" +
        "5400001d0019312e322e3834302e31303030382e352e312e342e312e312e32000159000004" +
        "00024f4b5300000400010001")

    /// A P-DATA-TF carrying a C-ECHO-RQ (message ID 1, context 1), encoded by pynetdicom 3.0.4.
    static let pynetdicomEcho = hex(
        "04000000004a0000004601030000000004000000380000000000020012000000312e322e3834302e31303030382e312e3100" +
        "000000010200000030000000100102000000010000000008020000000101")

    @Test func decodesPynetdicomAccept() throws {
        guard case .associateAccept(let accept) = try decode(Self.pynetdicomAccept) else { Issue.record("not an AC"); return }
        #expect(accept.calledAETitle == "QRSCP")
        #expect(accept.callingAETitle == "GETSCU")
        #expect(accept.presentationContextResults.map(\.result) == [.acceptance, .transferSyntaxesNotSupported])
        #expect(accept.presentationContextResults[0].transferSyntax == "1.2.840.10008.1.2.1")
        let info = accept.userInformation
        #expect(info.maximumLength == 0)
        #expect(info.implementationVersionName == "PYNETDICOM_202")
        #expect(info.roleSelections == [RoleSelection(sopClassUID: "1.2.840.10008.5.1.4.1.1.2", scuRole: false, scpRole: true)])
        #expect(info.userIdentityServerResponse == ascii("OK"))
        #expect(info.asynchronousOperationsWindow == AsynchronousOperationsWindow(maximumInvoked: 1, maximumPerformed: 1))
        // Re-encoding keeps every field (sub-items in type order, so compare values, not bytes).
        #expect(try decode(try bytes(of: .associateAccept(accept))) == .associateAccept(accept))
    }

    @Test func decodesPynetdicomEcho() throws {
        guard case .dataTransfer(let values) = try decode(Self.pynetdicomEcho) else { Issue.record("not P-DATA"); return }
        var assembler = DIMSEMessageAssembler(acceptedContextIDs: [1])
        #expect(try assembler.receive(values) == [.command(.cEchoRequest(CEchoRequest(messageID: 1)), presentationContextID: 1)])
        // And our C-ECHO-RQ P-DATA-TF is byte-identical to pynetdicom's.
        let ours = try PDataFragmenter(maximumPDULength: 16384).pdus(for: CEchoRequest(messageID: 1), presentationContextID: 1)
        #expect(try ours.map { try bytes(of: $0) } == [Self.pynetdicomEcho])
    }

    /// An SCP's side of a C-ECHO association on an `EmbeddedChannel`: codec, state machine, policy, assembler, fragmenter.
    @Test func verificationSCPFlow() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PDUDecoder(maximumPDULength: 65536)))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(PDUEncoder()))
        var machine = UpperLayerStateMachine()
        #expect(machine.handle(.transportConnectionIndication).name == .ae5)
        var policy = AcceptorPolicy()
        policy.accept(abstractSyntax: verificationSOPClassUID, transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])

        func send(_ pdu: PDU) throws -> PDU {
            try channel.writeInbound(try pdu.encoded())
            return try #require(try channel.readInbound(as: PDU.self))
        }
        func reply() throws -> PDU {
            let wire = try #require(try channel.readOutbound(as: ByteBuffer.self))
            var copy = wire
            return try PDU.decode(from: &copy)
        }

        // A-ASSOCIATE-RQ in, A-ASSOCIATE-AC out.
        let request = AssociationRequest(calledAETitle: "ECHOSCP", callingAETitle: "ECHOSCU", presentationContexts: [
            PresentationContext(id: 1, abstractSyntax: verificationSOPClassUID, transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid]),
        ])
        guard case .associateRequest(let received) = try send(.associateRequest(request)) else { Issue.record("no RQ"); return }
        #expect(machine.handle(received.receivedEventForTest).name == .ae6)
        let accept = try policy.negotiate(received).get()
        #expect(machine.handle(.associateAcceptPrimitive).name == .ae7)
        try channel.writeOutbound(PDU.associateAccept(accept))
        #expect(try reply() == .associateAccept(accept))
        let association = NegotiatedAssociation(request: received, accept: accept, role: .acceptor)
        var assembler = DIMSEMessageAssembler(association: association)
        let fragmenter = PDataFragmenter(maximumPDULength: association.peerMaximumPDULength)

        // C-ECHO-RQ in, C-ECHO-RSP out.
        guard case .dataTransfer(let values) = try send(try decode(Self.pynetdicomEcho)) else { Issue.record("no P-DATA"); return }
        #expect(machine.handle(.dataTransferReceived).name == .dt2)
        guard case .command(.cEchoRequest(let echo), let id)? = try assembler.receive(values).first else { Issue.record("no C-ECHO-RQ"); return }
        for pdu in try fragmenter.pdus(for: CEchoResponse(answering: echo), presentationContextID: id) {
            #expect(machine.handle(.dataRequestPrimitive).name == .dt1)
            try channel.writeOutbound(pdu)
        }
        guard case .dataTransfer(let answer) = try reply() else { Issue.record("no reply"); return }
        var peer = DIMSEMessageAssembler(acceptedContextIDs: [1])
        #expect(try peer.receive(answer) == [.command(.cEchoResponse(CEchoResponse(messageIDBeingRespondedTo: 1)), presentationContextID: 1)])

        // A-RELEASE-RQ in, A-RELEASE-RP out.
        #expect(try send(.releaseRequest) == .releaseRequest)
        #expect(machine.handle(.releaseRequestReceived).name == .ar2)
        #expect(machine.handle(.releaseResponsePrimitive).effects == [.sendReleaseResponse, .startARTIMTimer])
        try channel.writeOutbound(PDU.releaseResponse)
        #expect(try reply() == .releaseResponse)
        #expect(machine.handle(.transportClosed).nextState == .sta1)
        #expect(try channel.finish().isClean)
    }
}

extension AssociationRequest {
    var receivedEventForTest: UpperLayerStateMachine.Event { PDU.associateRequest(self).receivedEvent }
}
