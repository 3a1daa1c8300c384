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
        let entries = try makeInstances(in: directory, count: instances, rows: rows)
        let handler = InMemoryQueryRetrieve(entries: entries)
        struct Discard: StorageHandler { func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .success } }
        return try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(), storageHandler: Discard(),
                                           queryHandler: handler, retrieveHandler: handler,
                                           timeouts: DICOMServerTimeouts(artim: .seconds(2), idle: .seconds(2)),
                                           temporaryDirectory: directory)
    }

    /// `count` CT instance files of `rows` × 2048 16-bit pixels (zeroed) in the study of ``ServerFuzzFindingTests/getRequest()``.
    static func makeInstances(in directory: String, count: Int, rows: Int) throws -> [InMemoryQueryRetrieve.Entry] {
        var entries: [InMemoryQueryRetrieve.Entry] = []
        for index in 1...count {
            let uid = "1.2.826.0.1.3680043.10.999.72.\(index)"
            var dataSet = try TestSupport.makeInstance(sopInstanceUID: uid, rows: 1, columns: 2048)
            // Zeroed pixels: makeInstance's pattern costs seconds of CPU per 10 MB in a debug build, and loads the
            // other suites' timers running alongside.
            try dataSet.set(Tag(0x0028, 0x0010), vr: .US, integers: [rows])
            dataSet.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OW, bytes: Data(count: rows * 2048 * 2)))
            dataSet.setASCII(Tag(0x0010, 0x0020), vr: .LO, "P1")
            dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, ServerFuzzFindingTests.study)
            let path = try TestSupport.writeInstance(dataSet, to: directory, name: "big\(index).dcm")
            entries.append(.init(patientID: "P1", studyUID: ServerFuzzFindingTests.study, sopClassUID: TestSupport.ctImageStorage,
                                 sopInstanceUID: uid, path: path))
        }
        #expect((try FileManager.default.attributesOfItem(atPath: entries[0].path)[.size] as? Int ?? 0) > rows * 4096)
        return entries
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
}
