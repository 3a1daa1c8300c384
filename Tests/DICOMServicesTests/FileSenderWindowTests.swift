import DICOMCore
import DICOMIO
@testable import DICOMServices
import Foundation
import Testing

/// `FileSender` (and so `dcmsend --async N`) keeps up to the granted window of C-STOREs outstanding on an association.
@Suite struct FileSenderWindowTests {
    /// Holds the first instance until `others` later ones were stored (at most 10 s): with operations one at a time the
    /// first is answered only after the wait times out, and is then refused.
    final class HoldFirstHandler: StorageHandler, @unchecked Sendable {
        private let lock = NSLock()
        private var arrived = 0
        private var completed = 0
        private var maximumRunning = 0
        private var running = 0
        let others: Int
        init(others: Int) { self.others = others }

        var highestConcurrency: Int { lock.withLock { maximumRunning } }

        func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
            let isFirst: Bool = lock.withLock {
                arrived += 1
                running += 1
                maximumRunning = max(maximumRunning, running)
                return arrived == 1
            }
            defer { lock.withLock { running -= 1; completed += 1 } }
            guard isFirst else { return .success }
            for _ in 0..<1_000 {
                if lock.withLock({ completed >= others }) { return .success }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return .outOfResources
        }
    }

    static func files(_ count: Int, in directory: String) throws -> [String] {
        try (0..<count).map { index in
            try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.61.\(index)"),
                                          to: directory, name: "f\(index).dcm")
        }
    }

    @Test func keepsSeveralStoresOutstandingWhenTheWindowIsGranted() async throws {
        let directory = try TestSupport.temporaryDirectory("sender-window")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try Self.files(8, in: directory)
        let handler = HoldFirstHandler(others: 3)
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)
        let sender = FileSender(host: "127.0.0.1", port: server.port, callingAE: "SENDER", calledAE: "ANY-SCP",
                                asynchronousOperations: 4)
        let results = await sender.send(paths: paths)
        await server.shutdown()
        #expect(results.map(\.path) == paths)
        for result in results { #expect(result.ok, "\(result.path): \(result.error ?? "")") }
        #expect((2...4).contains(handler.highestConcurrency), "\(handler.highestConcurrency) stores at once")
    }

    @Test func sendsOneAtATimeWithoutAWindow() async throws {
        let directory = try TestSupport.temporaryDirectory("sender-no-window")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try Self.files(4, in: directory)
        // Without a window the client proposes none and the server runs one storage handler at a time.
        let handler = HoldFirstHandler(others: 0)
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)
        let results = await FileSender(host: "127.0.0.1", port: server.port, callingAE: "SENDER", calledAE: "ANY-SCP").send(paths: paths)
        await server.shutdown()
        for result in results { #expect(result.ok, "\(result.path): \(result.error ?? "")") }
        #expect(handler.highestConcurrency == 1)
    }
}
