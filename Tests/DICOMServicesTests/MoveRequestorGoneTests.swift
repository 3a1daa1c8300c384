import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Logging
import Synchronization
import Testing

/// A C-MOVE whose requestor goes away: the sub-operations stop and the association to the destination ends with them.
@Suite struct MoveRequestorGoneTests {
    static let study = "1.2.826.0.1.3680043.10.999.90.1"

    /// Stores nothing, answers each C-STORE after `delay`, and counts them.
    final class SlowCountingHandler: StorageHandler, Sendable {
        let delay: Duration
        let count = Mutex(0)
        init(delay: Duration) { self.delay = delay }
        func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
            try? await Task.sleep(for: delay)
            count.withLock { $0 += 1 }
            return .success
        }
    }

    static func entries(in directory: String, count: Int) throws -> [InMemoryQueryRetrieve.Entry] {
        try (1...count).map { index in
            let uid = "1.2.826.0.1.3680043.10.999.91.\(index)"
            var dataSet = try TestSupport.makeInstance(sopInstanceUID: uid)
            dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, study)
            let path = try TestSupport.writeInstance(dataSet, to: directory, name: "m\(index).dcm")
            return .init(patientID: "P1", studyUID: study, sopClassUID: TestSupport.ctImageStorage, sopInstanceUID: uid, path: path)
        }
    }

    /// Ten sub-operations of 300 ms each; the requestor aborts after the first pending response. The source stops, says
    /// so, and aborts its association to the destination (before, it closed the connection without an A-ABORT, and
    /// logged a failed sub-operation and a failed abort).
    @Test func subOperationsStopWhenTheRequestorAborts() async throws {
        let directory = try TestSupport.temporaryDirectory("move-gone")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let handler = SlowCountingHandler(delay: .milliseconds(300))
        let destinationLog = CapturedLog(), sourceLog = CapturedLog()
        let destination = try await DICOMServer.start(port: 0, storageHandler: handler, aeTitle: "DEST",
                                                      logger: Logger(label: "test.dest") { _ in CapturingLogHandler(lines: destinationLog) })
        var backend = InMemoryQueryRetrieve(entries: try Self.entries(in: directory, count: 10))
        backend.destinations["DEST"] = MoveDestination(aeTitle: "DEST", host: "127.0.0.1", port: destination.port)
        let source = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(),
                                                 storageHandler: try DirectoryStorageHandler(directory: directory + "/in"),
                                                 queryHandler: backend, retrieveHandler: backend, aeTitle: "ARCHIVE",
                                                 logger: Logger(label: "test.source") { _ in CapturingLogHandler(lines: sourceLog) })
        let requestor = try await DICOMClient.connect(
            host: "127.0.0.1", port: source.port, callingAE: "WORKSTATION", calledAE: "ARCHIVE",
            presentationContexts: DICOMClient.queryRetrieveContexts([QueryRetrieveModel.studyRootMove]))
        var identifier = DataSet()
        identifier.setASCII(Tag(0x0008, 0x0052), vr: .CS, "STUDY")
        identifier.setASCII(Tag(0x0020, 0x000D), vr: .UI, Self.study)
        let firstPending = AsyncStream<Void>.makeStream()
        let move = Task {
            try await requestor.move(identifier, destination: "DEST") { _ in firstPending.continuation.yield() }
        }
        var waited = firstPending.stream.makeAsyncIterator()
        await waited.next()
        await requestor.abort()
        _ = try? await move.value
        #expect(handler.count.withLock { $0 } >= 1)

        // The destination's association ends soon, not after its idle time (120 s by default).
        let deadline = ContinuousClock.now + .seconds(20)
        while destination.openConnectionCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(destination.openConnectionCount == 0, "the source left its association to the destination open")
        // No further sub-operations were started (one may have been under way when the requestor left).
        let stored = handler.count.withLock { $0 }
        try await Task.sleep(for: .seconds(1))
        #expect(handler.count.withLock { $0 } == stored)
        #expect(stored < 10, "all \(stored) sub-operations ran for a requestor that had gone")
        #expect(destinationLog.all.contains("peer aborted the association"), "\(destinationLog.all)")
        #expect(sourceLog.all.contains("C-MOVE stopped: the requestor's association ended"), "\(sourceLog.all)")
        #expect(!sourceLog.all.contains { $0.hasPrefix("C-MOVE sub-operation failed") || $0.hasPrefix("aborting association") },
                "\(sourceLog.all)")
        await source.shutdown()
        await destination.shutdown()
    }
}
