import Foundation
import Testing
@testable import DICOMArchive

/// ``AuditEntry/jsonLine()`` writes what `JSONEncoder` with ``AuditLog/encoder()`` writes, and ``AuditLog/entries()``
/// reads it back.
@Suite struct AuditLineTests {
    static let entries = [
        AuditEntry(time: Date(timeIntervalSince1970: 1_795_000_507), action: "store", level: "instance", uid: "1.2.3.4", count: 1,
                   bytes: 526_000, user: "", host: "node-1", reason: "a \"quoted\" reason\\with a backslash\nand a newline",
                   aeTitle: "CT_SCANNER", organization: "Бишкек №1", peer: "[IPv4]127.0.0.1/127.0.0.1:41234",
                   studies: ["1.2.3", "1.2.4"], keys: "STUDY PatientName=احمدی*", status: "0000"),
        AuditEntry(time: Date(timeIntervalSince1970: 0), action: "purge", count: 0, user: "admin", host: "h"),
        AuditEntry(time: Date(timeIntervalSince1970: 4_102_444_799), action: "delete", count: 2, user: "u", host: "h"),
    ]

    @Test func linesAreWhatTheEncoderWrites() throws {
        // A time between two seconds is written to the second, as the encoder does.
        let fractional = AuditEntry(time: Date(timeIntervalSince1970: 1_795_000_507.75), action: "query", count: 3, user: "", host: "h")
        for entry in Self.entries + [fractional] {
            let line = entry.jsonLine()
            #expect(line.last == 0x0A)
            #expect(!line.dropLast().contains(0x0A))
            let reference = try AuditLog.encoder().encode(entry)
            let written = try #require(try JSONSerialization.jsonObject(with: line.dropLast()) as? NSDictionary)
            let expected = try #require(try JSONSerialization.jsonObject(with: reference) as? NSDictionary)
            #expect(written == expected, "\(String(decoding: line, as: UTF8.self)) vs \(String(decoding: reference, as: UTF8.self))")
        }
    }

    @Test func theLogReadsBackWhatItRecorded() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let trail = AuditTrail(path: directory + "/audit.jsonl")
        for entry in Self.entries { trail.record(entry) }
        trail.flush()
        #expect(try trail.log.entries() == Self.entries)
    }
}
