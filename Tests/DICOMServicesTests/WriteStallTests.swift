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

/// A peer that keeps its connection open but stops reading: the server closes the connection once its writes make
/// no progress for the idle time, instead of holding the association for as long as the peer keeps the socket.
@Suite(.serialized) struct WriteStallTests {
    /// A server (idle time 2 s) with `instances` CT instances of `rows` × 2048 16-bit pixels in the study of
    /// ``ServerFuzzFindingTests/getRequest()``.
    static func startServer(in directory: String, instances: Int, rows: Int) async throws -> DICOMServer {
        var entries: [InMemoryQueryRetrieve.Entry] = []
        for index in 1...instances {
            let uid = "1.2.826.0.1.3680043.10.999.72.\(index)"
            var dataSet = try TestSupport.makeInstance(sopInstanceUID: uid, rows: rows, columns: 2048)
            dataSet.setASCII(Tag(0x0010, 0x0020), vr: .LO, "P1")
            dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, ServerFuzzFindingTests.study)
            let path = try TestSupport.writeInstance(dataSet, to: directory, name: "big\(index).dcm")
            entries.append(.init(patientID: "P1", studyUID: ServerFuzzFindingTests.study, sopClassUID: TestSupport.ctImageStorage,
                                 sopInstanceUID: uid, path: path))
        }
        #expect((try FileManager.default.attributesOfItem(atPath: entries[0].path)[.size] as? Int ?? 0) > rows * 4096)
        let handler = InMemoryQueryRetrieve(entries: entries)
        struct Discard: StorageHandler { func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .success } }
        return try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(), storageHandler: Discard(),
                                           queryHandler: handler, retrieveHandler: handler,
                                           timeouts: DICOMServerTimeouts(artim: .seconds(2), idle: .seconds(2)),
                                           temporaryDirectory: directory)
    }

    /// A C-GET of three 8 MB instances (more than the socket buffers of both ends hold) with a C-ECHO-RQ queued behind
    /// it, then nothing read. The association's loop waits for the C-GET before it handles the C-ECHO, and the C-GET
    /// waits for its write: before, neither timer ran and the association stayed open until the peer closed.
    @Test(.timeLimit(.minutes(2)))
    func peerThatStopsReadingIsDisconnected() async throws {
        let directory = try TestSupport.temporaryDirectory("writestall")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await Self.startServer(in: directory, instances: 3, rows: 2048)
        let peer = try RawSocketPeer(port: server.port)
        var small: Int32 = 4096
        setsockopt(peer.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        defer { peer.close() }
        do {
            try peer.write(try ServerFuzzFindingTests.associateRequest())
            #expect(await peer.readPDU()?.type == 0x02, "A-ASSOCIATE-AC expected")
            let echo = try ServerFuzzFindingTests.bytes(PDataFragmenter(maximumPDULength: 16384)
                .pdus(for: CEchoRequest(messageID: 2), presentationContextID: 5))
            try peer.write(try ServerFuzzFindingTests.getRequest() + echo)
            // Read nothing more; the connection stays open on our side.
            let start = ContinuousClock.now
            let closed = await ServerFuzzFindingTests.settles(server, within: .seconds(20))
            #expect(closed, "the server still held the association 20 s after the peer stopped reading (idle time 2 s)")
            if closed { #expect(ContinuousClock.now - start >= .seconds(2), "closed before the idle time") }
        } catch {
            await server.shutdown(gracePeriod: .seconds(1), handlerTimeout: .seconds(1))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(1), handlerTimeout: .seconds(1))
    }

    /// The other side: a C-GET requestor on a slow link that does read, taking each 12 MB sub-operation in well over
    /// the idle time (16 KiB PDUs, 3 ms apart). The association's receive timer saw no PDU from it during a transfer
    /// and closed the connection as idle after 2 s; a write completing is now traffic too, so the C-GET completes.
    @Test(.timeLimit(.minutes(2)))
    func slowReaderOfALargeCGetIsNotIdle() async throws {
        let directory = try TestSupport.temporaryDirectory("writestall")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await Self.startServer(in: directory, instances: 2, rows: 3072)
        var final: DIMSEStatus?
        var aborted = false
        var answered = 0
        var longest = Duration.zero
        do {
            let peer = try RawSocketPeer(port: server.port)
            var small: Int32 = 16384
            setsockopt(peer.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            defer { peer.close() }
            try peer.write(try ServerFuzzFindingTests.associateRequest())
            #expect(await peer.readPDU()?.type == 0x02, "A-ASSOCIATE-AC expected")
            try peer.write(try ServerFuzzFindingTests.getRequest())
            var command: [UInt8] = []
            var store: CStoreRequest?
            var started = ContinuousClock.now
            reading: while let pdu = await peer.readPDU() {
                if pdu.type == 0x07 { aborted = true; break }
                guard pdu.type == 0x04 else { continue }
                for value in ServerFuzzFindingTests.values(pdu.body) {
                    if value.isCommand {
                        command += value.bytes
                        guard value.isLast else { continue }
                        let set = try DataSetReader.read(Data(command), transferSyntax: .implicitVRLittleEndian)
                        command = []
                        if let request = try? CStoreRequest(commandSet: set) {
                            store = request
                            started = ContinuousClock.now
                        } else if let response = try? CGetResponse(commandSet: set), !response.status.isPending {
                            final = response.status
                            break reading
                        }
                    } else if value.isLast, let request = store {
                        store = nil
                        longest = max(longest, ContinuousClock.now - started)
                        let reply = CStoreResponse(answering: request, status: .success)
                        try peer.write(try ServerFuzzFindingTests.bytes(PDataFragmenter(maximumPDULength: 16384)
                            .pdus(for: reply, presentationContextID: 3)))
                        answered += 1
                    }
                }
                try await Task.sleep(for: .milliseconds(3))
            }
            if final != nil {
                try peer.write(try ServerFuzzFindingTests.bytes([.releaseRequest]))
                #expect(await peer.readPDU()?.type == 0x06, "A-RELEASE-RP expected")
            }
        } catch {
            await server.shutdown(gracePeriod: .seconds(1), handlerTimeout: .seconds(1))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(1), handlerTimeout: .seconds(1))
        #expect(!aborted, "the association was closed after \(answered) sub-operation(s) read")
        #expect(final == .success, "final C-GET-RSP \(String(describing: final))")
        #expect(answered == 2)
        // Otherwise the test shows nothing: each transfer must outlast the idle time.
        #expect(longest > .seconds(2), "a sub-operation took only \(longest) to read")
    }
}
