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

/// Timing tests with a peer on a slow link. They run in a pass of their own (`Tools/test.sh`), not alongside the other
/// network suites: their long paced transfers and the sub-second timers of those suites disturb each other on a
/// 2-core machine.
@Suite(.serialized) struct SlowPeerTests {
    struct Outcome: Sendable {
        var final: DIMSEStatus?
        var aborted = false
        var answered = 0
        var longest = Duration.zero
        var error: String?
    }

    /// A C-GET requestor on a slow link that does read: it C-GETs `instances` CT instances of `rows` × 2048 pixels from a
    /// server whose idle time is 2 s, reading one 16 KiB PDU every `pause` microseconds, and answers each sub-operation
    /// as soon as its data set is in.
    static func getSlowly(instances: Int, rows: Int, pause: UInt32) async throws -> Outcome {
        let directory = try TestSupport.temporaryDirectory("writestall")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await WriteStallTests.startServer(in: directory, instances: instances, rows: rows)
        let peer: RawSocketPeer
        do {
            peer = try RawSocketPeer(port: server.port)
        } catch {
            await server.shutdown(gracePeriod: .seconds(1), handlerTimeout: .seconds(1))
            throw error
        }
        defer { peer.close() }
        var small: Int32 = 16384
        setsockopt(peer.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        // One thread reads at a steady pace and answers, with blocking calls (no hand-off per PDU to be delayed).
        let outcome: Outcome = await onOwnThread {
            var outcome = Outcome()
            do {
                try peer.write(try ServerFuzzFindingTests.associateRequest())
                guard peer.readPDUBlocking()?.type == 0x02 else { outcome.error = "no A-ASSOCIATE-AC"; return outcome }
                try peer.write(try ServerFuzzFindingTests.getRequest())
                var reader = CGetRequestorReader()
                var started = ContinuousClock.now
                reading: while let pdu = peer.readPDUBlocking() {
                    if pdu.type == 0x07 { outcome.aborted = true; break }
                    guard pdu.type == 0x04 else { continue }
                    for event in try reader.events(in: pdu.body) {
                        switch event {
                        case .storeStarted:
                            started = ContinuousClock.now
                        case .storeReceived(let request):
                            outcome.longest = max(outcome.longest, ContinuousClock.now - started)
                            try peer.write(try CGetRequestorReader.successResponse(to: request))
                            outcome.answered += 1
                        case .finished(let status):
                            outcome.final = status
                            break reading
                        }
                    }
                    usleep(pause)
                }
                if outcome.final != nil {
                    try peer.write(try ServerFuzzFindingTests.bytes([.releaseRequest]))
                    if peer.readPDUBlocking()?.type != 0x06 { outcome.error = "no A-RELEASE-RP" }
                }
            } catch {
                outcome.error = "\(error)"
            }
            return outcome
        }
        await server.shutdown(gracePeriod: .seconds(1), handlerTimeout: .seconds(1))
        return outcome
    }

    /// The association's receive timer saw no PDU from the requestor during a transfer (each 25 MB sub-operation takes
    /// about 3 s at one PDU every 2 ms) and closed the connection as idle after 2 s; a write the peer takes is now
    /// traffic too, so the C-GET completes. (What the sockets buffer after the server's last write, at most a few MB,
    /// drains in well under the idle time at this pace.)
    @Test(.timeLimit(.minutes(2)))
    func slowReaderOfALargeCGetIsNotIdle() async throws {
        let outcome = try await Self.getSlowly(instances: 2, rows: 6144, pause: 2_000)
        #expect(outcome.error == nil, "\(outcome.error ?? "")")
        #expect(!outcome.aborted, "the association was aborted after \(outcome.answered) sub-operation(s) read")
        #expect(outcome.final == .success, "final C-GET-RSP \(String(describing: outcome.final)) after \(outcome.answered) sub-operation(s)")
        #expect(outcome.answered == 2)
        // Otherwise the test shows nothing: each transfer must outlast the idle time.
        #expect(outcome.longest > .seconds(2), "a sub-operation took only \(outcome.longest) to read")
    }

    /// Slower still (one PDU every 10 ms, about 1.6 MB/s): the last slice of a data set (the server reads files in
    /// slices of 4 MiB; 3,071 rows make the last one nearly whole), queued at once, takes the requestor longer than the
    /// idle time to read. The C-GET's wait for the C-STORE-RSP started when that slice was queued and gave up after the
    /// idle time, aborting the association; it now counts from the last write taken.
    @Test(.timeLimit(.minutes(2)))
    func cGetWaitsWhileTheEndOfADataSetIsStillBeingRead() async throws {
        let outcome = try await Self.getSlowly(instances: 1, rows: 3071, pause: 10_000)
        #expect(outcome.error == nil, "\(outcome.error ?? "")")
        #expect(!outcome.aborted, "the association was aborted after \(outcome.answered) sub-operation(s) read")
        #expect(outcome.final == .success, "final C-GET-RSP \(String(describing: outcome.final)) after \(outcome.answered) sub-operation(s)")
        #expect(outcome.answered == 1)
        #expect(outcome.longest > .seconds(5), "the sub-operation took only \(outcome.longest) to read")
    }

    /// The requestor's side: our client sends an 8 MB instance (two slices of about 4 MiB) to an acceptor on a slow
    /// link (it reads 16 KiB every 10 ms) with a DIMSE timeout of 2 s. The wait for the C-STORE-RSP started when the
    /// last slice of the data set was queued, and timed out while the acceptor was still reading it; it now counts
    /// from the last write the acceptor took.
    @Test(.timeLimit(.minutes(2)))
    func clientWaitsWhileTheEndOfItsDataSetIsStillBeingRead() async throws {
        let directory = try TestSupport.temporaryDirectory("slowacceptor")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try WriteStallTests.makeInstances(in: directory, count: 1, rows: 2047)[0].path
        let acceptor = try FakeAcceptorSocket()
        defer { acceptor.close() }
        async let association = DICOMClient.connect(host: "127.0.0.1", port: acceptor.port, callingAE: "SCU", calledAE: "FAKE",
                                                    presentationContexts: PeerReleaseTests.contexts,
                                                    timeouts: DICOMTimeouts(connect: .seconds(10), artim: .seconds(10), dimse: .seconds(2)))
        let peer = try await acceptor.accept()
        defer { peer.close() }
        var small: Int32 = 16384
        setsockopt(peer.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        #expect(await peer.readPDU()?.type == 0x01, "A-ASSOCIATE-RQ first")
        try peer.write(try PeerReleaseTests.associateAccept())
        let client = try await association
        // The acceptor: one thread reads at a steady pace and answers the C-STORE once its data set is in.
        let reading = Task {
            await onOwnThread { () -> (read: Duration, error: String?) in
                let start = ContinuousClock.now
                var reader = CGetRequestorReader()
                while let pdu = peer.readPDUBlocking(), pdu.type == 0x04 {
                    do {
                        for case .storeReceived(let request) in try reader.events(in: pdu.body) {
                            let read = ContinuousClock.now - start
                            try peer.write(try CGetRequestorReader.successResponse(to: request))
                            return (read, nil)
                        }
                    } catch {
                        return (ContinuousClock.now - start, "\(error)")
                    }
                    usleep(UInt32(10_000 * max(1, pdu.body.count / 16384)))
                }
                return (ContinuousClock.now - start, "the connection ended before the data set")
            }
        }
        var status: DIMSEStatus?
        var failure: String?
        do {
            status = try await client.store(fileAt: file).status
        } catch {
            failure = "\(error)"
        }
        let (read, readerError) = await reading.value
        if status != nil { try? await client.release() } else { await client.abort() }
        #expect(failure == nil, "the C-STORE failed: \(failure ?? "")")
        #expect(status == .success)
        #expect(readerError == nil, "\(readerError ?? "")")
        // Otherwise the test shows nothing: the transfer must outlast the DIMSE timeout.
        #expect(read > .seconds(5), "the acceptor read the data set in only \(read)")
    }
}
