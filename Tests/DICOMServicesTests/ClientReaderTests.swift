import DICOMCore
import DICOMNetwork
@testable import DICOMServices
import Foundation
import NIOCore
import Testing

/// The requestor's reader task keeps PDUs that arrive while no operation waits, and waits for them to be taken. When the
/// association ends (abort, close) they are dropped and the reader goes on, finds the connection closed and stops;
/// it does not wait for good.
@Suite(.serialized) struct ClientReaderTests {
    static func waitUntil(_ condition: () -> Bool, seconds: Double = 5) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return condition()
    }

    @Test func anUnclaimedPDUDoesNotKeepTheReaderWaitingAfterAnAbort() async throws {
        let (acceptor, peer, association) = try await PeerReleaseTests.establish()
        defer { peer.close(); acceptor.close() }
        // A P-DATA-TF nobody asked for: a C-ECHO-RSP command (PS3.7 C.9.1.2) for a message never sent.
        let response = CEchoResponse(messageIDBeingRespondedTo: 999, affectedSOPClassUID: verificationSOPClassUID, status: .success)
        var bytes = ByteBuffer()
        for pdu in try PDataFragmenter(maximumPDULength: 16_384).pdus(for: response, presentationContextID: 1) { try pdu.encode(into: &bytes) }
        try peer.write(bytes.readBytes(length: bytes.readableBytes) ?? [])
        let connection = await association.connection
        #expect(await Self.waitUntil { connection.readerIsParked }, "the reader keeps the PDU until a receive takes it")
        await association.abort()
        #expect(await Self.waitUntil { !connection.readerIsParked }, "after the abort the reader no longer waits")
        #expect(await peer.readPDU()?.type == 0x07, "A-ABORT sent")
    }
}
