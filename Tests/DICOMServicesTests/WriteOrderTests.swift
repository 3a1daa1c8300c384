import DICOMCore
import DICOMNetwork
@testable import DICOMServices
import Foundation
import NIOCore
import Synchronization
import Testing

/// The PDUs reach the wire in the order the upper-layer state machine saw them, whichever thread sends them.
@Suite struct WriteOrderTests {
    /// A P-DATA-TF sent from outside the event loop is a task queued on the loop; an A-ABORT sent afterwards by a task
    /// running on the loop must not overtake it (fuzz-server found a server's A-ABORT, sent by the association's loop
    /// after an invalid PDU, on the wire before a C-GET sub-operation's C-STORE-RQ that its task had sent first).
    @Test(arguments: [true, false])
    func aWriteOnTheLoopDoesNotOvertakeAQueuedWrite(aborting: Bool) async throws {
        let (acceptor, peer, association) = try await PeerReleaseTests.establish()
        defer { peer.close(); acceptor.close() }
        let connection = await association.connection.base
        let loop = connection.channel.eventLoop
        let fragmenter = PDataFragmenter(maximumPDULength: 16_384)
        let first = try fragmenter.pdus(for: CEchoRequest(messageID: 5), presentationContextID: 1)
        let second = try fragmenter.pdus(for: CEchoRequest(messageID: 6), presentationContextID: 1)

        let onTheLoop = DispatchSemaphore(value: 0), queued = DispatchSemaphore(value: 0)
        // Runs on the loop and holds it until the first P-DATA-TF is queued behind it, then sends from the loop.
        let sending = Task(executorPreference: EventLoopTaskExecutor(loop)) {
            onTheLoop.signal()
            queued.wait()
            if aborting {
                await connection.abort(AssociationAbort(source: .serviceUser, reason: .notSpecified))
            } else {
                try? await connection.send(second)
                await connection.abort(AssociationAbort(source: .serviceUser, reason: .notSpecified))
            }
        }
        await withCheckedContinuation { continuation in
            Thread { onTheLoop.wait(); continuation.resume() }.start()
        }
        // Off the loop (this test's task runs on the cooperative pool): the write becomes a task on the held loop.
        #expect(!loop.inEventLoop)
        try await connection.send(first, waitingForWrite: false)
        queued.signal()
        await sending.value

        var received: [(type: UInt8, body: [UInt8])] = []
        while let pdu = await peer.readPDU() { received.append(pdu) }
        let types = received.map(\.type)
        #expect(types == (aborting ? [0x04, 0x07] : [0x04, 0x04, 0x07]), "on the wire: \(types.map { String($0, radix: 16) })")
        if !aborting, received.count == 3 {
            // The Message IDs (0000,0110) in order: 5, then 6.
            let ids = received.prefix(2).map { pdu in pdu.body.count > 30 ? Self.messageID(in: pdu.body) : nil }
            #expect(ids == [5, 6], "message IDs \(ids)")
        }
    }

    /// The Message ID (0000,0110) of a command in a P-DATA-TF body with one PDV (implicit VR little endian).
    static func messageID(in body: [UInt8]) -> UInt16? {
        let command = Array(body.dropFirst(6))   // PDV length (4), context ID, message control header
        var at = 0
        while at + 8 <= command.count {
            let group = UInt16(command[at]) | UInt16(command[at + 1]) << 8
            let element = UInt16(command[at + 2]) | UInt16(command[at + 3]) << 8
            let length = Int(command[at + 4]) | Int(command[at + 5]) << 8 | Int(command[at + 6]) << 16 | Int(command[at + 7]) << 24
            if group == 0x0000 && element == 0x0110 && length == 2 && at + 10 <= command.count {
                return UInt16(command[at + 8]) | UInt16(command[at + 9]) << 8
            }
            at += 8 + length
        }
        return nil
    }
}
