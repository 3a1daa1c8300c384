import DICOMCore
import Foundation
import Testing
@testable import DICOMArchive

/// ``IndexEncoding`` writes what the `Codable` conformance writes: the same JSON tree, read back by both readers.
@Suite struct IndexEncodingTests {
    /// The document as Foundation objects, so number spelling (1700000000 vs 1700000000.0) does not matter.
    static func tree(_ data: Data) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: data) as? NSDictionary)
    }

    @Test func snapshotIsTheCodableTreeAndReadsBack() throws {
        let records = SnapshotDecodingTests.records()
        let written = IndexEncoding.snapshot(records, schemaVersion: IndexSnapshot.currentSchemaVersion)
        let reference = try IndexCoding.encoder().encode(IndexSnapshot(schemaVersion: IndexSnapshot.currentSchemaVersion, records: records))
        #expect(try Self.tree(written) == Self.tree(reference))

        let decoded = try IndexSnapshot.decode(written)
        #expect(decoded.records.map(\.record) == records.map(\.record))
        #expect(decoded.records.map(\.trashedAt) == records.map(\.trashedAt))
        let viaCodable = try IndexCoding.decoder().decode(IndexSnapshot.self, from: written)
        #expect(viaCodable.records.map(\.record) == records.map(\.record))
    }

    @Test func journalLinesAreTheCodableTreeOnOneLine() throws {
        let records = SnapshotDecodingTests.records().map(\.record)
        var placed = JournalEntry.add(records)
        placed.checkFiles = true
        let entries = [
            JournalEntry.add(records),
            placed,
            JournalEntry(op: .trash, uids: ["1.1", "1.3"], at: Date(timeIntervalSince1970: 1_800_000_000.5)),
            JournalEntry(op: .remove, uids: []),
        ]
        for entry in entries {
            let line = IndexEncoding.line(entry)
            #expect(line.last == 0x0A)
            #expect(line.dropLast().contains(0x0A) == false, "a newline inside the line")
            let reference = try IndexCoding.encoder().encode(entry)
            #expect(try Self.tree(line.dropLast()) == Self.tree(reference))
            let decoded = try IndexCoding.decoder().decode(JournalEntry.self, from: line.dropLast())
            #expect(decoded.op == entry.op && decoded.records == entry.records && decoded.uids == entry.uids
                && decoded.at == entry.at && decoded.checkFiles == entry.checkFiles)
        }
    }
}
