import DICOMCore
import Foundation
import Testing
@testable import DICOMArchive


/// Persistence of ``JSONArchiveIndex``: journal replay, torn lines, compaction, group commit, trash.
@Suite struct IndexJournalTests {
    static func studyCount(_ index: JSONArchiveIndex) async throws -> Int {
        let identifier = try makeIdentifier("STUDY", [(Tags.studyUID, .UI, "")])
        return try await index.find(IndexQuery(identifier: identifier)).count
    }

    @Test func journalIsReplayedAfterReopen() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        try await index.add([makeRecord(sop: "1.1"), makeRecord(sop: "1.2")])
        try await index.add([makeRecord(patientID: "P2", study: "2", series: "2.1", sop: "2.1.1")])
        try await index.setTrashed(["1.2"], trashed: true, at: Date(timeIntervalSince1970: 1000))
        try await index.remove(["2.1.1"])
        await index.close()

        let reopened = try await JSONArchiveIndex.open(directory: directory)
        #expect(await reopened.diagnostics.isEmpty)
        #expect(await reopened.instance(sopInstanceUID: "1.1") == makeRecord(sop: "1.1"))
        #expect(await reopened.instance(sopInstanceUID: "1.2") == nil)
        #expect(await reopened.instance(sopInstanceUID: "2.1.1") == nil)
        let all = await reopened.allRecords()
        #expect(all.map(\.record.sopInstanceUID) == ["1.1", "1.2"])
        #expect(all.last?.trashedAt == Date(timeIntervalSince1970: 1000))
        #expect(try await Self.studyCount(reopened) == 1)
        let journal = try String(contentsOfFile: directory + "/journal.jsonl", encoding: .utf8)
        #expect(journal.split(separator: "\n").count == 4)
        await reopened.close()
    }

    @Test func tornLastJournalLineIsDroppedWithADiagnostic() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        try await index.add([makeRecord(sop: "1.1")])
        try await index.add([makeRecord(sop: "1.2")])
        await index.close()

        // Cut the last line in half, as a crash during the write would.
        let path = directory + "/journal.jsonl"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let firstLineEnd = try #require(data.firstIndex(of: 0x0A))
        let goodLength = firstLineEnd + 1
        data = data.prefix(goodLength + (data.count - goodLength) / 2)
        try data.write(to: URL(fileURLWithPath: path))

        let reopened = try await JSONArchiveIndex.open(directory: directory)
        let diagnostics = await reopened.diagnostics
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.contains("incomplete last journal line") == true)
        #expect(await reopened.instance(sopInstanceUID: "1.1") != nil)
        #expect(await reopened.instance(sopInstanceUID: "1.2") == nil)
        // The torn bytes are cut off, so later appends start on a clean line.
        try await reopened.add([makeRecord(sop: "1.3")])
        await reopened.close()
        let again = try await JSONArchiveIndex.open(directory: directory)
        #expect(await again.diagnostics.isEmpty)
        #expect(await again.allRecords().map(\.record.sopInstanceUID) == ["1.1", "1.3"])
        await again.close()
    }

    @Test func aBadLineBeforeTheLastIsCorruption() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        try await index.add([makeRecord(sop: "1.1")])
        await index.close()
        let path = directory + "/journal.jsonl"
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        try (Data("{not json}\n".utf8) + good).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: ArchiveIndexError.self) { _ = try await JSONArchiveIndex.open(directory: directory) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("line 1") == true)
    }

    @Test func compactionWritesASnapshotAndEmptiesTheJournal() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        for i in 0..<5 { try await index.add([makeRecord(sop: "1.\(i)", instanceNumber: String(i))]) }
        try await index.setTrashed(["1.4"], trashed: true, at: Date(timeIntervalSince1970: 77))
        try await index.remove(["1.3"])
        try await index.compact()
        let journalPath = directory + "/journal.jsonl"
        #expect(try FileManager.default.attributesOfItem(atPath: journalPath)[.size] as? Int == 0)
        let snapshot = try String(contentsOfFile: directory + "/index.json", encoding: .utf8)
        #expect(snapshot.contains("\"schemaVersion\":1"))
        // Changes after the snapshot go to the journal again.
        try await index.add([makeRecord(sop: "1.9")])
        await index.close()

        let reopened = try await JSONArchiveIndex.open(directory: directory)
        let all = await reopened.allRecords()
        #expect(all.map(\.record.sopInstanceUID) == ["1.0", "1.1", "1.2", "1.4", "1.9"])
        #expect(all.first { $0.record.sopInstanceUID == "1.4" }?.trashedAt == Date(timeIntervalSince1970: 77))
        let stats = await reopened.statistics()
        #expect(stats.instances == 4 && stats.trashed == 1 && stats.studies == 1)
        await reopened.close()
    }

    @Test func concurrentAddsAreGroupCommittedAndAllDurable() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<16 {
                group.addTask {
                    try await index.add([makeRecord(patientID: "P\(i)", study: "9.\(i)", series: "9.\(i).1", sop: "9.\(i).1.1")])
                }
            }
            try await group.waitForAll()
        }
        let writes = await index.journalWriteCount
        #expect(writes >= 1 && writes <= 16)
        await index.close()

        let reopened = try await JSONArchiveIndex.open(directory: directory)
        #expect(await reopened.allRecords().count == 16)
        #expect(try await Self.studyCount(reopened) == 16)
        await reopened.close()
    }

    @Test func concurrentAddsShareFsyncs() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        // 64 writers racing: with group commit far fewer journal writes than calls.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask { try await index.add([makeRecord(sop: "7.\(i)")]) }
            }
            try await group.waitForAll()
        }
        let writes = await index.journalWriteCount
        #expect(writes < 64, "\(writes) journal writes for 64 adds")
        #expect(await index.allRecords().count == 64)
        await index.close()
    }

    @Test func compactionRacingWithAddsLosesNothing() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        try await index.add([makeRecord(sop: "0")])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 1...12 {
                group.addTask { try await index.add([makeRecord(sop: "\(i)")]) }
                if i % 4 == 0 { group.addTask { try await index.compact() } }
            }
            try await group.waitForAll()
        }
        await index.close()
        let reopened = try await JSONArchiveIndex.open(directory: directory)
        #expect(await reopened.allRecords().count == 13)
        #expect(await reopened.diagnostics.isEmpty)
        await reopened.close()
    }

    @Test func writesAfterCloseThrow() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        // A second index object on the same directory is refused while the first holds it.
        let locked = await #expect(throws: ArchiveIndexError.self) { _ = try await JSONArchiveIndex.open(directory: directory) }
        #expect(locked?.message.contains("in use") == true)
        await index.close()
        let error = await #expect(throws: ArchiveIndexError.self) { try await index.add([makeRecord()]) }
        #expect(error?.message.contains("closed") == true)
        #expect(await index.instance(sopInstanceUID: makeRecord().sopInstanceUID) == nil)
    }

    @Test func trashedRecordsAreInvisibleToQueriesButListed() async throws {
        let index = JSONArchiveIndex(inMemory: [
            makeRecord(sop: "1.1", instanceNumber: "1"), makeRecord(sop: "1.2", instanceNumber: "2"),
            makeRecord(patientID: "P2", study: "2", series: "2.1", sop: "2.1.1"),
        ])
        try await index.setTrashed(["1.1", "2.1.1"], trashed: true, at: Date(timeIntervalSince1970: 50))
        #expect(await index.instance(sopInstanceUID: "1.1") == nil)
        #expect(try await Self.studyCount(index) == 1)
        let images = try makeIdentifier("IMAGE", [(Tags.studyUID, .UI, "1.2.3.1"), (Tags.sopUID, .UI, "")])
        #expect(try await index.find(IndexQuery(identifier: images)).compactMap { $0.string(Tags.sopUID) } == ["1.2"])
        let study = try makeIdentifier("STUDY", [(Tags.studyUID, .UI, "1.2.3.1"), (Tags.studyInstances, .IS, "")])
        #expect(try await index.find(IndexQuery(identifier: study)).first?.string(Tags.studyInstances) == "1")
        let all = await index.allRecords()
        #expect(all.count == 3)
        #expect(all.filter { $0.trashedAt != nil }.map(\.record.sopInstanceUID) == ["1.1", "2.1.1"])

        try await index.setTrashed(["2.1.1"], trashed: false, at: Date())
        #expect(try await Self.studyCount(index) == 2)
        #expect(await index.instance(sopInstanceUID: "2.1.1") != nil)
    }
}
