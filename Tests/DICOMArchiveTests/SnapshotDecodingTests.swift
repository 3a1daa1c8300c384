import DICOMCore
import Foundation
import Testing
@testable import DICOMArchive

/// The snapshot reader that replaced `JSONDecoder` at start-up reads exactly what the `Codable` encoding writes.
@Suite struct SnapshotDecodingTests {
    static func records() -> [StoredRecord] {
        var unicode = makeRecord(patientID: "PIN-001", name: "Асанбеков^Үмүт", birthDate: "19800101", sex: "M",
                                 study: "1.2.3.9", accession: "A\"1\\2/3", studyDescription: "احمدی پ چ ژ گ ک ی — \u{1F600}\n\ttab",
                                 sop: "1.2.3.9.1.1", receivedAt: Date(timeIntervalSince1970: 1_700_000_123.456))
        unicode.size = 123_456_789_012
        unicode.specificCharacterSet = ""
        return [
            StoredRecord(record: makeRecord(sop: "1.1"), trashedAt: nil),
            StoredRecord(record: unicode, trashedAt: Date(timeIntervalSince1970: 1_800_000_000.25)),
            StoredRecord(record: makeRecord(patientID: "", name: "", studyDate: nil, studyTime: nil, seriesNumber: nil,
                                            sop: "1.3", instanceNumber: nil), trashedAt: nil),
        ]
    }

    @Test func readsWhatTheEncoderWrites() throws {
        let snapshot = IndexSnapshot(schemaVersion: IndexSnapshot.currentSchemaVersion, records: Self.records())
        let data = try IndexCoding.encoder().encode(snapshot)
        let decoded = try IndexSnapshot.decode(data)
        let reference = try IndexCoding.decoder().decode(IndexSnapshot.self, from: data)
        #expect(decoded.schemaVersion == IndexSnapshot.currentSchemaVersion)
        #expect(decoded.records.map(\.record) == Self.records().map(\.record))
        #expect(decoded.records.map(\.record) == reference.records.map(\.record))
        #expect(decoded.records.map(\.trashedAt) == reference.records.map(\.trashedAt))
        #expect(decoded.records[1].trashedAt == Date(timeIntervalSince1970: 1_800_000_000.25))
    }

    @Test func ignoresUnknownMembersAndAcceptsAnExplicitNullTrashDate() throws {
        let data = try IndexCoding.encoder().encode(IndexSnapshot(schemaVersion: 1, records: [Self.records()[0]]))
        var text = try #require(String(data: data, encoding: .utf8))
        text = text.replacingOccurrences(of: "{\"record\":", with: "{\"future\":[1,{\"x\":null}],\"trashedAt\":null,\"record\":")
        let decoded = try IndexSnapshot.decode(Data(text.utf8))
        #expect(decoded.records.count == 1)
        #expect(decoded.records[0].trashedAt == nil)
        #expect(decoded.records[0].record == Self.records()[0].record)
    }

    @Test func namesWhatIsWrongInACorruptSnapshot() throws {
        let good = try String(decoding: IndexCoding.encoder().encode(IndexSnapshot(schemaVersion: 1, records: Self.records())), as: UTF8.self)
        let cases: [(String, String)] = [
            ("[]", "not a JSON object"),
            ("{\"records\":[]}", "\"schemaVersion\" is missing"),
            (good.replacingOccurrences(of: "\"size\":1000,", with: ""), "record 1: \"size\" is missing"),
            (good.replacingOccurrences(of: "\"00100010\"", with: "\"0010001X\""), "not a tag in eight hexadecimal digits"),
            (good.replacingOccurrences(of: "\"sopInstanceUID\":\"1.3\"", with: "\"sopInstanceUID\":13"), "record 3: \"sopInstanceUID\" is missing or not a string"),
            (String(good.dropLast(5)), "invalid JSON"),
        ]
        for (text, expected) in cases {
            do {
                _ = try IndexSnapshot.decode(Data(text.utf8))
                Issue.record("no error for a snapshot that should fail with \(expected)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }

    @Test func theIndexOpensFromItsSnapshot() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try await JSONArchiveIndex.open(directory: directory)
        for stored in Self.records() { try await index.add([stored.record]) }
        try await index.setTrashed(["1.2.3.9.1.1"], trashed: true, at: Date(timeIntervalSince1970: 1_800_000_000.25))
        try await index.compact()
        await index.close()
        let reopened = try await JSONArchiveIndex.open(directory: directory)
        defer { Task { await reopened.close() } }
        let all = await reopened.allRecords()
        #expect(Set(all.map(\.record.sopInstanceUID)) == ["1.1", "1.2.3.9.1.1", "1.3"])
        #expect(all.first { $0.record.sopInstanceUID == "1.2.3.9.1.1" }?.record == Self.records()[1].record)
        #expect(all.first { $0.record.sopInstanceUID == "1.2.3.9.1.1" }?.trashedAt == Date(timeIntervalSince1970: 1_800_000_000.25))
        #expect(await reopened.instance(sopInstanceUID: "1.2.3.9.1.1") == nil)
    }
}
