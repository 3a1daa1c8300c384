import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMArchive

/// ``JSONArchiveIndex/add(_:placing:)``: the journal entry is written while the files are placed, the records appear
/// only when both are durable, and replay skips records whose files never arrived.
@Suite struct ConcurrentPlacementTests {
    /// A record under `layout`'s data area and a writer for its file.
    static func placedRecord(_ sop: String, in layout: ArchiveLayout) throws -> InstanceRecord {
        var record = makeRecord(sop: sop)
        record.path = try layout.relativePath(studyInstanceUID: record.studyInstanceUID, seriesInstanceUID: record.seriesInstanceUID,
                                              sopInstanceUID: sop)
        return record
    }

    static func writeFile(of record: InstanceRecord, in layout: ArchiveLayout) throws {
        let path = layout.absolute(record.path)
        try FileSystem.makeDirectories((path as NSString).deletingLastPathComponent)
        try Data(repeating: 7, count: record.size).write(to: URL(fileURLWithPath: path))
    }

    static func archive() throws -> (root: String, layout: ArchiveLayout) {
        let root = try makeTemporaryDirectory()
        let layout = ArchiveLayout(root: root)
        try layout.createDirectories()
        return (root, layout)
    }

    @Test func recordsAppearOnlyOnceTheirFilesArePlaced() async throws {
        let (root, layout) = try Self.archive()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        let record = try Self.placedRecord("1.2.3.1.1.7", in: layout)
        try await index.add([record], placing: {
            // Still placing: a query must not see the record yet.
            #expect(await index.instance(sopInstanceUID: "1.2.3.1.1.7") == nil)
            try Self.writeFile(of: record, in: layout)
        })
        #expect(await index.instance(sopInstanceUID: "1.2.3.1.1.7") == record)
        let journal = try String(contentsOfFile: layout.indexDirectory + "/journal.jsonl", encoding: .utf8)
        #expect(journal.contains("\"checkFiles\":true"))
        await index.close()

        let reopened = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        #expect(await reopened.diagnostics.isEmpty)
        #expect(await reopened.instance(sopInstanceUID: "1.2.3.1.1.7") == record)
        await reopened.close()
    }

    @Test func aFailedPlacementAddsNothingAndIsSkippedOnReplay() async throws {
        let (root, layout) = try Self.archive()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        let record = try Self.placedRecord("1.2.3.1.1.8", in: layout)
        await #expect(throws: ArchiveError.self) {
            try await index.add([record], placing: { throw ArchiveError(.outOfSpace, "disk full (test)") })
        }
        #expect(await index.instance(sopInstanceUID: "1.2.3.1.1.8") == nil)
        #expect(await index.allRecords().isEmpty)
        await index.close()

        // The journal may hold the entry (it was written alongside); replay checks the file and skips the record.
        let reopened = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        #expect(await reopened.allRecords().isEmpty)
        let diagnostics = await reopened.diagnostics
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.contains("skipped instance 1.2.3.1.1.8") == true)
        await reopened.close()

        // Without a layout to check against, the record is kept as written.
        let unchecked = try await JSONArchiveIndex.open(directory: layout.indexDirectory)
        #expect(await unchecked.instance(sopInstanceUID: "1.2.3.1.1.8") == record)
        await unchecked.close()
    }

    @Test func aRecordWhoseFileWasLaterTrashedIsKeptOnReplay() async throws {
        let (root, layout) = try Self.archive()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        let record = try Self.placedRecord("1.2.3.1.1.9", in: layout)
        try await index.add([record], placing: { try Self.writeFile(of: record, in: layout) })
        // What `dcmstore delete` does: the file moves to trash/, the index marks the record trashed.
        let trashPath = layout.absolute(try layout.relativePath(record.path, movedTo: .trash))
        try FileSystem.move(layout.absolute(record.path), to: trashPath)
        try await index.setTrashed([record.sopInstanceUID], trashed: true, at: Date(timeIntervalSince1970: 5000))
        await index.close()

        let reopened = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        #expect(await reopened.diagnostics.isEmpty)
        let all = await reopened.allRecords()
        #expect(all.count == 1)
        #expect(all.first?.trashedAt == Date(timeIntervalSince1970: 5000))
        await reopened.close()
    }

    @Test func aKnownInstanceIsIndexedOnlyAfterItsFileIsPlaced() async throws {
        let (root, layout) = try Self.archive()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        let record = try Self.placedRecord("1.2.3.1.1.10", in: layout)
        try await index.add([record], placing: { try Self.writeFile(of: record, in: layout) })
        let writesBefore = await index.journalWriteCount
        var changed = record
        changed.sha256 = String(repeating: "1", count: 64)
        let replacement = changed
        try await index.add([replacement], placing: {
            // A replacement must not be journalled before its file is in place: nothing written yet.
            #expect(await index.journalWriteCount == writesBefore)
            try Self.writeFile(of: replacement, in: layout)
        })
        #expect(await index.journalWriteCount == writesBefore + 1)
        #expect(await index.instance(sopInstanceUID: "1.2.3.1.1.10")?.sha256 == replacement.sha256)
        let lines = try String(contentsOfFile: layout.indexDirectory + "/journal.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.last?.contains("checkFiles") == false)
        await index.close()
    }

    /// A file at the record's path that is not the record's (another size: left by an earlier store of the UID that
    /// the index never took) does not make the record placed.
    @Test func aFileOfAnotherSizeAtTheRecordsPathIsNotItsFile() async throws {
        let (root, layout) = try Self.archive()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        let record = try Self.placedRecord("1.2.3.1.1.11", in: layout)
        var earlier = record
        earlier.size = record.size + 7
        try Self.writeFile(of: earlier, in: layout)
        await #expect(throws: ArchiveError.self) {
            try await index.add([record], placing: { throw ArchiveError(.outOfSpace, "disk full (test)") })
        }
        await index.close()
        let reopened = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        #expect(await reopened.allRecords().isEmpty)
        #expect(await reopened.diagnostics.first?.contains("skipped instance 1.2.3.1.1.11") == true)
        await reopened.close()
    }

    @Test func directorySyncServesEveryCallerAndNamesAMissingDirectory() async throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sync = DirectorySync()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<16 {
                group.addTask {
                    try Data([UInt8(n)]).write(to: URL(fileURLWithPath: root + "/f\(n)"))
                    try await sync.sync(root)
                }
            }
            try await group.waitForAll()
        }
        #expect((1...16).contains(sync.syncCount))
        // Another round after the first has drained.
        try await sync.sync(root)
        let missing = root + "/no-such-directory"
        do {
            try await sync.sync(missing)
            Issue.record("a missing directory was reported as synced")
        } catch let error as ArchiveError {
            #expect(error.path == missing)
        }
    }

    @Test func blockingDirectorySyncsAreGroupedAndEachCallerReturnsAfterItsOwn() async throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sync = DirectorySync()
        let callers = 24
        // Blocking callers on threads of their own (as inside runBlocking), mixed with suspending ones.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<callers {
                group.addTask {
                    try Data([UInt8(n)]).write(to: URL(fileURLWithPath: root + "/f\(n)"))
                    if n % 3 == 0 {
                        try await sync.sync(root)
                    } else {
                        try await runBlocking { try sync.syncBlocking(root) }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect((1...callers).contains(sync.syncCount))
        // Nothing left running: a later call is served at once by a new fsync.
        let before = sync.syncCount
        try await runBlocking { try sync.syncBlocking(root) }
        #expect(sync.syncCount == before + 1)
        let missing = root + "/no-such-directory"
        #expect(throws: ArchiveError.self) { try sync.syncBlocking(missing) }
    }
}
