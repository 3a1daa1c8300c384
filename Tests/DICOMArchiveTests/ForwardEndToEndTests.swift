import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive

/// Refuses one SOP class with 0122H (SOP class not supported), stores the rest.
struct RefusingStorageHandler: StorageHandler {
    let inner: ArchiveStorageHandler
    let refused: String
    func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        if instance.sopClassUID == refused { return DIMSEStatus(0x0122) }
        return await inner.store(instance)
    }
}

@Suite("Forwarding: node to centre over loopback", .serialized)
struct ForwardEndToEndTests {
    /// Waits until `condition` holds, at most `seconds`.
    static func waitUntil(_ seconds: Double, _ condition: () async -> Bool) async -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return await condition()
    }

    /// Writes Part 10 files for the node to receive.
    static func files(_ archive: StoreFixtures.Archive, count: Int, studies: Int, prefix: String,
                      sopClass: (Int) -> String = { _ in StoreFixtures.ctImage }) throws -> [String] {
        try (0..<count).map { n in
            let study = "1.2.826.0.1.3680043.10.777.\(prefix).\(n % studies)"
            let dataSet = try StoreFixtures.dataSet(sop: "1.2.826.0.1.3680043.10.778.\(prefix).\(n)", study: study, series: study + ".1",
                                                    sopClass: sopClass(n), pixelBytes: 4096, seed: UInt8(n % 251))
            let path = archive.incoming + "/send-\(n).dcm"
            try DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian).encoded().write(to: URL(fileURLWithPath: path))
            return path
        }
    }

    struct Node {
        let archive: StoreFixtures.Archive
        let queue: ForwardQueue
        let server: DICOMServer
        let forwarder: Task<Void, Never>

        static func start(_ archive: StoreFixtures.Archive, centrePort: Int) async throws -> Node {
            let queue = try ForwardQueue(directory: ForwardQueue.directory(inArchive: archive.layout.root))
            let handler = ForwardingStorageHandler(inner: ArchiveStorageHandler(store: archive.store), queue: queue,
                                                   rules: [ForwardRule(destination: "CENTRE")])
            let server = try await DICOMServer.start(port: 0, storageHandler: handler, temporaryDirectory: archive.incoming)
            let destination = ForwardDestination(aeTitle: "CENTRE", host: "127.0.0.1", port: centrePort, callingAE: "NODE",
                                                 timeouts: DICOMTimeouts(connect: .seconds(2), artim: .seconds(10), dimse: .seconds(20)))
            let forwarder = Forwarder(queue: queue, archiveRoot: archive.layout.root, destination: destination,
                                      backoff: ForwardBackoff(initial: .milliseconds(100), maximum: .milliseconds(400)))
            return Node(archive: archive, queue: queue, server: server, forwarder: forwarder.start())
        }

        func stop() async {
            forwarder.cancel()
            await forwarder.value
            await server.shutdown()
            await queue.close()
        }

        func send(_ paths: [String]) async -> [SendResult] {
            await FileSender(host: "127.0.0.1", port: server.port, callingAE: "MODALITY", calledAE: "NODE").send(paths: paths)
        }
    }

    /// 50 instances stored at the node while the centre is down; the centre starts; every instance arrives once,
    /// intact, and the queue empties.
    @Test func instancesQueuedWhileTheCentreIsDownArriveOnce() async throws {
        let nodeArchive = try await StoreFixtures.archive("fwd-node")
        let centre = try await StoreFixtures.archive("fwd-centre")
        defer { nodeArchive.remove(); centre.remove() }
        let centrePort = try EndToEnd.freePort()
        let node = try await Node.start(nodeArchive, centrePort: centrePort)
        var centreServer: DICOMServer?
        do {
            let results = await node.send(try Self.files(nodeArchive, count: 50, studies: 5, prefix: "1"))
            #expect(results.count == 50)
            #expect(results.allSatisfy { $0.ok })
            // Queued durably before each C-STORE-RSP; nothing can be delivered yet.
            #expect(await node.queue.pendingCount(destination: "CENTRE") == 50)
            try await Task.sleep(for: .milliseconds(500))
            #expect(await node.queue.pendingCount() == 50)
            #expect(await centre.records().isEmpty)

            centreServer = try await DICOMServer.start(port: centrePort, storageHandler: ArchiveStorageHandler(store: centre.store),
                                                       temporaryDirectory: centre.incoming)
            let emptied = await Self.waitUntil(90) { await node.queue.entries().isEmpty }
            #expect(emptied)
            let atCentre = await centre.records()
            let atNode = await nodeArchive.records()
            #expect(atCentre.count == 50)
            #expect(Set(atCentre.keys) == Set(atNode.keys))
            // Intact: the same data set at both ends (the files differ only in the File Meta's Source AE Title).
            for (uid, record) in atCentre {
                let centreFile = try DICOMFile(contentsOf: centre.layout.absolute(record.path))
                let nodeFile = try DICOMFile(contentsOf: nodeArchive.layout.absolute(try #require(atNode[uid]).path))
                #expect(centreFile.dataSet == nodeFile.dataSet, "\(uid) differs")
            }
            #expect(atCentre.values.allSatisfy { $0.callingAETitle == "NODE" })
            #expect(centre.dataFiles().count == 50)
        } catch {
            await node.stop()
            await centreServer?.shutdown()
            throw error
        }
        await node.stop()
        await centreServer?.shutdown()
        // Reopening the queue after the run: still empty.
        #expect(try await ForwardQueue(directory: ForwardQueue.directory(inArchive: nodeArchive.layout.root)).entries().isEmpty)
    }

    /// A centre that refuses one SOP class with 0122H: those instances go to the failed list, the others arrive,
    /// nothing blocks; retry puts them back in the queue.
    @Test func refusedSOPClassGoesToTheFailedList() async throws {
        let nodeArchive = try await StoreFixtures.archive("fwd-node-refuse")
        let centre = try await StoreFixtures.archive("fwd-centre-refuse")
        defer { nodeArchive.remove(); centre.remove() }
        let centreServer = try await DICOMServer.start(
            port: 0, storageHandler: RefusingStorageHandler(inner: ArchiveStorageHandler(store: centre.store), refused: StoreFixtures.basicTextSR),
            temporaryDirectory: centre.incoming)
        let node = try await Node.start(nodeArchive, centrePort: centreServer.port)
        do {
            let paths = try Self.files(nodeArchive, count: 12, studies: 2, prefix: "2",
                                       sopClass: { $0 % 3 == 1 ? StoreFixtures.basicTextSR : StoreFixtures.ctImage })
            let results = await node.send(paths)
            #expect(results.allSatisfy { $0.ok })
            let settled = await Self.waitUntil(60) { await node.queue.pendingCount() == 0 }
            #expect(settled)
            let failed = await node.queue.entries(state: .failed)
            #expect(failed.count == 4)
            #expect(failed.allSatisfy { $0.sopClassUID == StoreFixtures.basicTextSR && $0.lastError?.contains("0122") == true })
            let atCentre = await centre.records()
            #expect(atCentre.count == 8)
            #expect(atCentre.values.allSatisfy { $0.sopClassUID == StoreFixtures.ctImage })
            // Retry: back to pending, refused again, failed again with a new attempt.
            #expect(try await node.queue.retry() == 4)
            let refusedAgain = await Self.waitUntil(60) { await node.queue.entries(state: .failed).count == 4 }
            #expect(refusedAgain)
            #expect(try await node.queue.drop() == 4)
            #expect(await node.queue.entries().isEmpty)
        } catch {
            await node.stop()
            await centreServer.shutdown()
            throw error
        }
        await node.stop()
        await centreServer.shutdown()
    }
}
