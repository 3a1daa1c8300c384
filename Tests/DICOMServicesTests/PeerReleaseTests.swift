import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Release initiated by the acceptor, on the requestor's side (PS3.8 Table 9-10): in Sta6 an A-RELEASE-RQ is Evt12 →
/// AR-2 → Sta8; the requestor answers A-RELEASE-RP (AR-4 → Sta13) and the acceptor closes the transport. Our requestor
/// does so while idle and while it waits for a response; the operation waiting, and every later one, fails with
/// `associationClosed` saying the peer released the association. The acceptor is a raw socket that checks the bytes.
@Suite(.serialized) struct PeerReleaseTests {
    /// A-RELEASE-RQ and A-RELEASE-RP (PS3.8 Tables 9-24, 9-25): type, reserved, length 4, four reserved bytes.
    static let releaseRequest: [UInt8] = [0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]
    static let releaseResponse: [UInt8] = [0x06, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]

    static let contexts = PresentationContext.numbered([verificationSOPClassUID, TestSupport.ctImageStorage, QueryRetrieveModel.studyRootFind],
                                                       transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])

    /// An A-ASSOCIATE-AC for what our client proposes (the default storage policy's answer), granting `window` if set.
    static func associateAccept(window: UInt16? = nil) throws -> [UInt8] {
        var request = AssociationRequest(calledAETitle: "FAKE", callingAETitle: "SCU", presentationContexts: contexts)
        if let window {
            request.userInformation.asynchronousOperationsWindow = AsynchronousOperationsWindow(maximumInvoked: window, maximumPerformed: 1)
        }
        guard case .success(let accept) = DICOMServer.defaultArchivePolicy().negotiate(request) else {
            throw DICOMServiceError(.invalidInput, "the default policy rejects the test request")
        }
        var buffer = try PDU.associateAccept(accept).encoded()
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    /// Connects our client to a fresh fake acceptor and accepts the association; returns both.
    static func establish(window: UInt16? = nil) async throws -> (FakeAcceptorSocket, RawSocketPeer, Association) {
        let acceptor = try FakeAcceptorSocket()
        async let association = DICOMClient.connect(host: "127.0.0.1", port: acceptor.port, callingAE: "SCU", calledAE: "FAKE",
                                                    presentationContexts: contexts, asynchronousOperations: Int(window ?? 1),
                                                    timeouts: DICOMTimeouts(connect: .seconds(10), artim: .seconds(10), dimse: .seconds(20)))
        let peer: RawSocketPeer
        do {
            peer = try await acceptor.accept()
        } catch {
            acceptor.close()
            _ = try? await association
            throw error
        }
        #expect(await peer.readPDU()?.type == 0x01, "A-ASSOCIATE-RQ first")
        try peer.write(try associateAccept(window: window))
        return (acceptor, peer, try await association)
    }

    /// Reads what the requestor sends after our A-RELEASE-RQ up to its end: exactly an A-RELEASE-RP, then the requestor
    /// shuts its side (end of stream). Closes the peer.
    static func expectReleaseAnswered(_ peer: RawSocketPeer, sourceLocation: SourceLocation = #_sourceLocation) async {
        let (reply, eof) = await peer.readToEnd()
        #expect(reply == releaseResponse, "reply \(reply)", sourceLocation: sourceLocation)
        #expect(eof, "the requestor shuts its side after A-RELEASE-RP", sourceLocation: sourceLocation)
        peer.close()
    }

    static func expectReleasedByPeer(_ error: any Error, _ what: String) {
        guard let error = error as? DICOMServiceError else {
            Issue.record("\(what): \(error) instead of associationClosed")
            return
        }
        #expect(error.code == .associationClosed, "\(what): \(error)")
        #expect(error.message.contains("peer released"), "\(what): \(error)")
    }

    /// Idle: nobody waits for anything, yet the A-RELEASE-RQ is answered at once with exactly an A-RELEASE-RP, our side
    /// of the connection is shut after it, and the next operation fails without sending anything.
    @Test func releaseWhileIdle() async throws {
        let (acceptor, peer, association) = try await Self.establish()
        defer { peer.close(); acceptor.close() }
        try peer.write(Self.releaseRequest)
        await Self.expectReleaseAnswered(peer)
        do {
            _ = try await association.echo()
            Issue.record("C-ECHO after the peer's release must fail")
        } catch {
            Self.expectReleasedByPeer(error, "C-ECHO after release")
        }
        try await association.release()   // already released: nothing to do, no error
    }

    /// Waiting for a C-ECHO-RSP: the A-RELEASE-RQ is answered and the C-ECHO fails with the release as reason.
    @Test func releaseWhileAResponseIsAwaited() async throws {
        let (acceptor, peer, association) = try await Self.establish()
        defer { peer.close(); acceptor.close() }
        async let echo = association.echo()
        #expect(await peer.readPDU()?.type == 0x04, "C-ECHO-RQ")
        try peer.write(Self.releaseRequest)
        await Self.expectReleaseAnswered(peer)
        do {
            _ = try await echo
            Issue.record("the C-ECHO must fail")
        } catch {
            Self.expectReleasedByPeer(error, "the C-ECHO awaiting its response")
        }
        do {
            _ = try await association.store(dataSet: ByteBuffer(bytes: [0x08, 0x00, 0x00, 0x00]), sopClassUID: TestSupport.ctImageStorage,
                                            sopInstanceUID: "1.2.3", transferSyntax: .explicitVRLittleEndian)
            Issue.record("a C-STORE after the release must fail")
        } catch {
            Self.expectReleasedByPeer(error, "a C-STORE after the release")
        }
    }

    /// Waiting for the C-FIND-RSPs of a query (read by the C-FIND's own loop): the same.
    @Test func releaseDuringAQuery() async throws {
        let (acceptor, peer, association) = try await Self.establish()
        defer { peer.close(); acceptor.close() }
        var identifier = DataSet()
        identifier.setASCII(Tag(0x0008, 0x0052), vr: .CS, "STUDY")
        identifier.setASCII(Tag(0x0010, 0x0020), vr: .LO, "PID-42")
        async let find = association.find(identifier)
        #expect(await peer.readPDU()?.type == 0x04, "C-FIND-RQ command")
        #expect(await peer.readPDU()?.type == 0x04, "C-FIND-RQ identifier")
        try peer.write(Self.releaseRequest)
        await Self.expectReleaseAnswered(peer)
        do {
            _ = try await find
            Issue.record("the C-FIND must fail")
        } catch {
            Self.expectReleasedByPeer(error, "the C-FIND awaiting its responses")
        }
    }

    /// Several C-STOREs outstanding in an asynchronous operations window: all fail with the release, none hangs.
    @Test func releaseWithOperationsOutstanding() async throws {
        let (acceptor, peer, association) = try await Self.establish(window: 4)
        defer { peer.close(); acceptor.close() }
        #expect(association.maximumOutstandingOperations == 4)
        let dataSet = ByteBuffer(bytes: try DataSetWriter.encode(try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.40.1"),
                                                                 transferSyntax: .explicitVRLittleEndian))
        let outcomes = Task {
            await withTaskGroup(of: (any Error)?.self) { group in
                for index in 1...3 {
                    group.addTask {
                        do {
                            _ = try await association.store(dataSet: dataSet, sopClassUID: TestSupport.ctImageStorage,
                                                            sopInstanceUID: "1.2.826.0.1.3680043.10.999.40.\(index)",
                                                            transferSyntax: .explicitVRLittleEndian)
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                var errors: [(any Error)?] = []
                for await error in group { errors.append(error) }
                return errors
            }
        }
        // Three C-STORE-RQs, each a command PDU and a data set PDU: all outstanding before any response.
        for _ in 0..<6 { #expect(await peer.readPDU()?.type == 0x04) }
        try peer.write(Self.releaseRequest)
        await Self.expectReleaseAnswered(peer)
        let errors = await outcomes.value
        #expect(errors.count == 3)
        for error in errors {
            guard let error else { Issue.record("a C-STORE succeeded without a response"); continue }
            Self.expectReleasedByPeer(error, "an outstanding C-STORE")
        }
    }

    /// Pending C-FIND-RSPs and an A-RELEASE-RQ in one write (so in one read burst of our reader): every response
    /// reaches the C-FIND before the release is answered and the C-FIND fails with it.
    @Test func responsesThenReleaseInOneWrite() async throws {
        let (acceptor, peer, association) = try await Self.establish()
        defer { peer.close(); acceptor.close() }
        var identifier = DataSet()
        identifier.setASCII(Tag(0x0008, 0x0052), vr: .CS, "STUDY")
        identifier.setASCII(Tag(0x0010, 0x0020), vr: .LO, "")
        let received = Task {
            var ids: [String] = []
            do {
                for try await match in association.findMatches(identifier) { ids.append(match.string(Tag(0x0010, 0x0020)) ?? "?") }
                return (ids, nil as (any Error)?)
            } catch {
                return (ids, error as (any Error)?)
            }
        }
        guard let command = await peer.readPDU(), command.type == 0x04, command.body.count > 6 else {
            Issue.record("no C-FIND-RQ command")
            return
        }
        #expect(await peer.readPDU()?.type == 0x04, "C-FIND-RQ identifier")
        let request = try CommandSet.decode(ByteBuffer(bytes: command.body[6...]))
        let messageID = try #require(request.integer(Tag(0x0000, 0x0110)))
        let contextID = command.body[4]
        let fragmenter = PDataFragmenter(maximumPDULength: 16_384)
        var burst = ByteBuffer()
        for index in 0..<5 {
            var match = DataSet()
            match.setASCII(Tag(0x0008, 0x0052), vr: .CS, "STUDY")
            match.setASCII(Tag(0x0010, 0x0020), vr: .LO, "PID-\(index)")
            let response = CFindResponse(messageIDBeingRespondedTo: UInt16(messageID), affectedSOPClassUID: QueryRetrieveModel.studyRootFind,
                                         status: .pending)
            let encoded = ByteBuffer(bytes: try DataSetWriter.encode(match, transferSyntax: .explicitVRLittleEndian))
            for pdu in try fragmenter.pdus(for: response, dataSet: encoded, presentationContextID: contextID) { try pdu.encode(into: &burst) }
        }
        burst.writeBytes(Self.releaseRequest)
        try peer.write(burst.readBytes(length: burst.readableBytes) ?? [])
        await Self.expectReleaseAnswered(peer)
        let (ids, error) = await received.value
        #expect(ids == (0..<5).map { "PID-\($0)" })
        if let error { Self.expectReleasedByPeer(error, "the C-FIND after its pending responses") } else { Issue.record("the C-FIND must fail") }
    }
}
