import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive

/// ``ForwardingStorageHandler`` queues an instance while the archive makes it durable: the entry is released once the
/// store succeeds and taken back out when it fails.
@Suite struct ForwardWhileStoringTests {
    /// An index whose journal cannot be written: every add fails (after the files are placed, as a real one would).
    struct JournalFailingIndex: ArchiveIndex {
        let base = JSONArchiveIndex(inMemory: [])
        static let failure = ArchiveIndexError(.io, "cannot write the journal (test)")
        func add(_ records: [InstanceRecord]) async throws { throw Self.failure }
        func add(_ records: [InstanceRecord], placing placement: @escaping @Sendable () async throws -> Void) async throws {
            try await placement()
            throw Self.failure
        }
        func instance(sopInstanceUID: String) async -> InstanceRecord? { await base.instance(sopInstanceUID: sopInstanceUID) }
        func find(_ query: IndexQuery) async throws -> [DataSet] { try await base.find(query) }
        func instances(matching query: IndexQuery) async throws -> [InstanceRecord] { try await base.instances(matching: query) }
        func setTrashed(_ sopInstanceUIDs: [String], trashed: Bool, at date: Date) async throws {
            try await base.setTrashed(sopInstanceUIDs, trashed: trashed, at: date)
        }
        func remove(_ sopInstanceUIDs: [String]) async throws { try await base.remove(sopInstanceUIDs) }
        func allRecords() async -> [(record: InstanceRecord, trashedAt: Date?)] { await base.allRecords() }
        func compact() async throws { try await base.compact() }
    }

    /// A received instance (a bare data set, as the server leaves one) for the handler.
    static func received(_ sop: String, in directory: String) throws -> ReceivedInstance {
        let dataSet = try StoreFixtures.dataSet(sop: sop, pixelBytes: 2048)
        let path = try StoreFixtures.receivedFile(dataSet, in: directory)
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return ReceivedInstance(request: CStoreRequest(messageID: 1, affectedSOPClassUID: StoreFixtures.ctImage, affectedSOPInstanceUID: sop),
                                transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid, filePath: path, byteCount: size,
                                callingAETitle: try AETitle("MODALITY"), calledAETitle: try AETitle("NODE"))
    }

    static func handler(store: ArchiveStore, root: String) throws -> (ForwardingStorageHandler, ForwardQueue) {
        let queue = try ForwardQueue(directory: ForwardQueue.directory(inArchive: root))
        return (ForwardingStorageHandler(inner: ArchiveStorageHandler(store: store), queue: queue, rules: [ForwardRule(destination: "CENTRE")]),
                queue)
    }

    @Test func aStoredInstanceIsQueuedAndReleased() async throws {
        let archive = try await StoreFixtures.archive("fwd-while-ok")
        defer { archive.remove() }
        let (handler, queue) = try Self.handler(store: archive.store, root: archive.layout.root)
        let (status, _) = await handler.storeExplained(try Self.received("1.2.826.0.1.3680043.10.781.1", in: archive.incoming))
        #expect(status == .success)
        // Released: due for the forwarder at once, and its file is in place.
        let due = await queue.due(destination: "CENTRE").entries
        #expect(due.map(\.sopInstanceUID) == ["1.2.826.0.1.3680043.10.781.1"])
        #expect(FileManager.default.fileExists(atPath: archive.layout.root + "/" + (due.first?.path ?? "-")))
        // An identical re-send is queued after the store (nothing was queued alongside it).
        _ = try await queue.complete(destination: "CENTRE", sopInstanceUID: "1.2.826.0.1.3680043.10.781.1")
        let (again, _) = await handler.storeExplained(try Self.received("1.2.826.0.1.3680043.10.781.1", in: archive.incoming))
        #expect(again == .success)
        #expect(await queue.due(destination: "CENTRE").entries.count == 1)
        await queue.close()
    }

    /// The node's C-STOREs are audited as the archive's are, refusals included, with their Error Comment.
    @Test func theNodesStoresAreAuditedAndExplained() async throws {
        let archive = try await StoreFixtures.archive("fwd-while-audit")
        defer { archive.remove() }
        let audit = AuditTrail(path: archive.root + "/audit.jsonl")
        let queue = try ForwardQueue(directory: ForwardQueue.directory(inArchive: archive.layout.root))
        let handler = ForwardingStorageHandler(inner: ArchiveStorageHandler(store: archive.store, audit: audit), queue: queue,
                                               rules: [ForwardRule(destination: "CENTRE")])
        let (stored, _) = await handler.storeExplained(try Self.received("1.2.826.0.1.3680043.10.781.3", in: archive.incoming))
        #expect(stored == .success)
        // The affected SOP Instance UID differs from the data set's: refused, with the reason as the Error Comment.
        var mismatched = try Self.received("1.2.826.0.1.3680043.10.781.4", in: archive.incoming)
        mismatched.request = CStoreRequest(messageID: 2, affectedSOPClassUID: StoreFixtures.ctImage, affectedSOPInstanceUID: "1.2.826.0.1.3680043.10.781.5")
        let (refused, comment) = await handler.storeExplained(mismatched)
        #expect(!refused.isSuccess)
        #expect(comment?.contains("SOP Instance UID") == true, "\(comment ?? "")")
        audit.flush()
        let entries = try AuditLog(path: archive.root + "/audit.jsonl").entries().filter { $0.action == "store" }
        #expect(entries.map(\.uid) == ["1.2.826.0.1.3680043.10.781.3", "1.2.826.0.1.3680043.10.781.5"])
        #expect(entries.map(\.status) == ["0000", refused.hexCode])
        #expect(await queue.pendingCount() == 1)
        await queue.close()
    }

    @Test func anInstanceTheArchiveCouldNotStoreLeavesTheQueue() async throws {
        let base = try StoreFixtures.temporaryDirectory("fwd-while-fail")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let layout = ArchiveLayout(root: base + "/archive")
        try layout.createDirectories()
        let store = try ArchiveStore(layout: layout, index: JournalFailingIndex())
        let (handler, queue) = try Self.handler(store: store, root: layout.root)
        let (status, comment) = await handler.storeExplained(try Self.received("1.2.826.0.1.3680043.10.781.2", in: base))
        #expect(!status.isSuccess)
        #expect(comment?.contains("index") == true, "\(comment ?? "")")
        #expect(await queue.pendingCount() == 0)
        #expect(await queue.due(destination: "CENTRE").entries.isEmpty)
        await queue.close()
        // Nor does it come back when the queue is opened again.
        let reopened = try ForwardQueue(directory: ForwardQueue.directory(inArchive: layout.root))
        #expect(await reopened.pendingCount() == 0)
        await reopened.close()
    }
}
