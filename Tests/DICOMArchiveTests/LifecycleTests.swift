import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Testing
@testable import DICOMArchive
#if canImport(Glibc)
import Glibc
#endif

@Suite("Lifecycle: delete, restore, purge, retention, verify, stats, reindex")
struct LifecycleTests {
    static let studyA = "1.2.826.0.1.3680043.10.999.1"
    static let studyB = "1.2.826.0.1.3680043.10.999.2"

    /// Two studies: A with two series (2 + 1 instances), B with one instance.
    func populated(_ name: String) async throws -> StoreFixtures.Archive {
        let archive = try await StoreFixtures.archive(name)
        for (sop, series) in [("1.2.3.1", "\(Self.studyA).1"), ("1.2.3.2", "\(Self.studyA).1"), ("1.2.3.3", "\(Self.studyA).2")] {
            let result = try await archive.store(try StoreFixtures.dataSet(sop: sop, study: Self.studyA, series: series))
            try #require(result.status == .success)
        }
        let b = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4", study: Self.studyB, series: "\(Self.studyB).1",
                                                                  patientID: "PID-2"))
        try #require(b.status == .success)
        return archive
    }

    @Test func deleteRestoreAndAudit() async throws {
        let archive = try await populated("delete")
        defer { archive.remove() }
        let lifecycle = archive.lifecycle()
        let now = Date(timeIntervalSince1970: 1_800_000_000)

        let deleted = try await lifecycle.delete(level: .study, uid: Self.studyA, reason: "wrong patient", now: now)
        #expect(deleted.count == 3)
        #expect(deleted.problems.isEmpty)
        #expect(Set(deleted.sopInstanceUIDs) == ["1.2.3.1", "1.2.3.2", "1.2.3.3"])
        #expect(archive.dataFiles() == ["data/\(Self.studyB)/\(Self.studyB).1/1.2.3.4.dcm"])
        #expect(archive.trashFiles().count == 3)
        #expect(!FileManager.default.fileExists(atPath: archive.layout.dataDirectory + "/" + Self.studyA))
        #expect(await archive.index.instance(sopInstanceUID: "1.2.3.1") == nil)
        #expect(await archive.trashedAt("1.2.3.1") == now)
        let trashedFile = archive.layout.absolute("trash/\(Self.studyA)/\(Self.studyA).1/1.2.3.1.dcm")
        #expect(FileSystem.modificationTime(trashedFile).map { abs($0.timeIntervalSince(now)) < 1 } == true)

        // Nothing visible left to delete.
        await #expect(throws: ArchiveError.self) { try await lifecycle.delete(level: .study, uid: Self.studyA) }
        await #expect(throws: ArchiveError.self) { try await lifecycle.delete(level: .series, uid: "1.2/../3") }

        let restored = try await lifecycle.restore(level: .series, uid: "\(Self.studyA).1", reason: "mistake", now: now)
        #expect(restored.count == 2)
        #expect(archive.dataFiles().count == 3)
        #expect(archive.trashFiles() == ["trash/\(Self.studyA)/\(Self.studyA).2/1.2.3.3.dcm"])
        #expect(await archive.index.instance(sopInstanceUID: "1.2.3.2") != nil)

        let instance = try await lifecycle.delete(level: .instance, uid: "1.2.3.4", now: now)
        #expect(instance.count == 1)
        let patient = try await lifecycle.restore(level: .patient, uid: "PID-2", now: now)
        #expect(patient.sopInstanceUIDs == ["1.2.3.4"])

        let entries = try lifecycle.audit.entries()
        #expect(entries.map(\.action) == ["delete", "restore", "delete", "restore"])
        #expect(entries[0] == AuditEntry(time: now, action: "delete", level: "study", uid: Self.studyA, count: 3,
                                         bytes: deleted.bytes, user: "tester", host: "testhost", reason: "wrong patient"))
        #expect(entries[1].level == "series")
        #expect(entries[1].count == 2)
        let raw = try String(contentsOfFile: archive.layout.auditLogPath, encoding: .utf8)
        #expect(raw.split(separator: "\n").count == 4)
        #expect(raw.contains("\"action\":\"delete\""))
    }

    @Test func purgeHonoursTrashAge() async throws {
        let archive = try await populated("purge")
        defer { archive.remove() }
        let lifecycle = archive.lifecycle()
        let trashedAt = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try await lifecycle.delete(level: .study, uid: Self.studyA, now: trashedAt)

        let early = try await lifecycle.purge(olderThan: 30, now: trashedAt.addingTimeInterval(10 * 86_400))
        #expect(early.count == 0)
        #expect(archive.trashFiles().count == 3)

        let late = try await lifecycle.purge(olderThan: 30, now: trashedAt.addingTimeInterval(31 * 86_400))
        #expect(late.count == 3)
        #expect(late.problems.isEmpty)
        #expect(archive.trashFiles().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: archive.layout.trashDirectory + "/" + Self.studyA))
        #expect(await archive.records().count == 1)
        #expect(archive.dataFiles().count == 1)
        await #expect(throws: ArchiveError.self) { try await lifecycle.purge(olderThan: -1) }
        let entries = try lifecycle.audit.entries()
        #expect(entries.map(\.action) == ["delete", "purge", "purge"])
        #expect(entries.last?.count == 3)
    }

    @Test func retentionByKindFromStudyDate() async throws {
        let archive = try await StoreFixtures.archive("retention")
        defer { archive.remove() }
        let received = Date(timeIntervalSince1970: 1_600_000_000)   // 2020-09-13
        let cases: [(sop: String, study: String, sopClass: String, date: String?)] = [
            ("1.2.4.1", "1.2.40.1", StoreFixtures.ctImage, "20180301"),        // image, 2018 + 5 → 2023: expired
            ("1.2.4.2", "1.2.40.1", StoreFixtures.basicTextSR, "20180301"),    // report, 2018 + 10 → 2028: kept
            ("1.2.4.3", "1.2.40.2", StoreFixtures.encapsulatedPDF, "20100101"), // report, 2010 + 10 → 2020: expired
            ("1.2.4.4", "1.2.40.3", StoreFixtures.ctImage, "20230101"),        // image, 2028: kept
            ("1.2.4.5", "1.2.40.4", StoreFixtures.ctImage, nil),               // image, received 2020 + 5 → 2025: expired
            ("1.2.4.6", "1.2.40.5", "1.2.840.10008.5.1.4.1.1.88.59", "20150101"), // KOS report, 2025: expired
        ]
        for c in cases {
            let dataSet = try StoreFixtures.dataSet(sop: c.sop, study: c.study, series: c.study + ".1", sopClass: c.sopClass, studyDate: c.date)
            #expect(try await archive.store(dataSet, receivedAt: received).status == .success)
        }
        let lifecycle = archive.lifecycle()
        let now = Date(timeIntervalSince1970: 1_780_000_000)  // 2026-05-28

        let listed = try await lifecycle.retention(now: now)
        #expect(!listed.applied)
        #expect(listed.instances == 4)
        let expired = Set(listed.items.map { "\($0.studyInstanceUID)/\($0.kind.rawValue)" })
        #expect(expired == ["1.2.40.1/image", "1.2.40.2/report", "1.2.40.4/image", "1.2.40.5/report"])
        let noDate = try #require(listed.items.first { $0.studyInstanceUID == "1.2.40.4" })
        #expect(!noDate.fromStudyDate)
        #expect(noDate.referenceDate == received)
        #expect(archive.trashFiles().isEmpty)
        #expect(try lifecycle.audit.entries().isEmpty)

        let applied = try await lifecycle.retention(now: now, apply: true)
        #expect(applied.applied)
        #expect(applied.instances == 4)
        #expect(archive.trashFiles().count == 4)
        #expect(Set(archive.dataFiles().map { ($0 as NSString).lastPathComponent }) == ["1.2.4.2.dcm", "1.2.4.4.dcm"])
        let entries = try lifecycle.audit.entries()
        #expect(entries.count == 4)
        #expect(entries.allSatisfy { $0.action == "retention" && $0.level == "study" })
        #expect(try await lifecycle.retention(now: now).instances == 0)

        // Parsing of dates and kinds.
        #expect(RetentionPolicy.parseDA("2018.03.01") == RetentionPolicy.parseDA("20180301"))
        #expect(RetentionPolicy.parseDA("20180231") == nil)
        #expect(RetentionPolicy.parseDA("garbage") == nil)
        #expect(RetentionPolicy().kind(ofSOPClass: "1.2.840.10008.5.1.4.1.1.88.59") == .report)
        #expect(RetentionPolicy().kind(ofSOPClass: "1.2.840.10008.5.1.4.1.1.104.2") == .image)
    }

    @Test func verifyFindsDamagedMissingAndUnindexed() async throws {
        let archive = try await populated("verify")
        defer { archive.remove() }
        let lifecycle = archive.lifecycle()
        #expect(await lifecycle.verify().ok)
        _ = try await lifecycle.delete(level: .instance, uid: "1.2.3.4")
        #expect(await lifecycle.verify().ok)   // the trashed file is checked in trash/

        let damaged = archive.layout.absolute("data/\(Self.studyA)/\(Self.studyA).1/1.2.3.1.dcm")
        let handle = try #require(FileHandle(forUpdatingAtPath: damaged))
        try handle.seek(toOffset: 400)
        let byte = try #require(try handle.read(upToCount: 1)).first ?? 0
        try handle.seek(toOffset: 400)
        try handle.write(contentsOf: Data([byte ^ 0xFF]))
        try handle.close()
        unlink(archive.layout.absolute("data/\(Self.studyA)/\(Self.studyA).2/1.2.3.3.dcm"))
        unlink(archive.layout.absolute("trash/\(Self.studyB)/\(Self.studyB).1/1.2.3.4.dcm"))
        let stray = archive.layout.dataDirectory + "/stray.dcm"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: stray))

        let report = await lifecycle.verify()
        #expect(!report.ok)
        #expect(report.checked == 4)
        #expect(report.damaged.map(\.sopInstanceUID) == ["1.2.3.1"])
        #expect(report.damaged.first?.message.contains("SHA-256") == true)
        #expect(Set(report.missing.map(\.sopInstanceUID)) == ["1.2.3.3", "1.2.3.4"])
        #expect(report.unindexed == ["data/stray.dcm"])
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(json.contains("\"ok\":false"))
    }

    @Test func statsCountVisibleAndTrashed() async throws {
        let archive = try await populated("stats")
        defer { archive.remove() }
        let lifecycle = archive.lifecycle()
        let before = await lifecycle.stats()
        #expect(before.patients == 2)
        #expect(before.studies == 2)
        #expect(before.series == 3)
        #expect(before.instances == 4)
        #expect(before.bytes == archive.dataFiles().reduce(0) { $0 + ((try? FileSystem.sha256(ofFileAt: archive.layout.absolute($1)).size) ?? 0) })
        #expect(before.trashedInstances == 0)
        _ = try await lifecycle.delete(level: .series, uid: "\(Self.studyA).1")
        let after = await lifecycle.stats()
        #expect(after.instances == 2)
        #expect(after.series == 2)
        #expect(after.trashedInstances == 2)
        #expect(after.trashedStudies == 1)
        #expect(after.trashedBytes + after.bytes == before.bytes)
    }

    @Test func reportsPrintAsText() async throws {
        let archive = try await populated("text")
        defer { archive.remove() }
        let lifecycle = archive.lifecycle()
        let deleted = try await lifecycle.delete(level: .study, uid: Self.studyB)
        #expect(deleted.description.hasPrefix("delete study \(Self.studyB): 1 instance moved to trash"))
        let stats = await lifecycle.stats()
        #expect(stats.description.contains("instances: 3, "))
        #expect(stats.description.contains("trash:     1 instance in 1 study, "))
        #expect(await lifecycle.verify().description.contains("OK"))
        let retention = try await lifecycle.retention(now: Date(timeIntervalSince1970: 2_000_000_000))
        #expect(retention.description.contains("3 instances past retention"))
        #expect(retention.description.contains("; listed only (--apply moves them to the trash)"))
        var single = retention
        single.items = Array(retention.items.prefix(1))
        if !single.items.isEmpty { single.items[0].instances = 1 }
        #expect(single.description.contains(" image: 1 instance, "), "\(single.description)")
        #expect(ArchiveStats.formatBytes(1_572_864) == "1.5 MiB (1572864 bytes)")
        let json = try JSONEncoder().encode(stats)
        #expect(try JSONDecoder().decode(ArchiveStats.self, from: json) == stats)
    }

    @Test func defaultUserAndHostAreRecorded() async throws {
        let archive = try await populated("default-user")
        defer { archive.remove() }
        let lifecycle = ArchiveLifecycle(layout: archive.layout, index: archive.index)
        #expect(!lifecycle.user.isEmpty)
        #expect(!lifecycle.host.isEmpty && lifecycle.host != "unknown")
        _ = try await lifecycle.delete(level: .instance, uid: "1.2.3.1", reason: "test")
        let entry = try #require(try lifecycle.audit.entries().last)
        #expect(entry.user == lifecycle.user)
        #expect(entry.host == lifecycle.host)
        #expect(entry.reason == "test")
    }

    @Test func reindexRebuildsTheIndexFromFiles() async throws {
        let archive = try await populated("reindex")
        defer { archive.remove() }
        let lifecycle = archive.lifecycle()
        let trashedAt = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try await lifecycle.delete(level: .instance, uid: "1.2.3.2", now: trashedAt)
        let original = await archive.index.allRecords().sorted { $0.record.sopInstanceUID < $1.record.sopInstanceUID }

        // The index is lost: a fresh, empty one is rebuilt from the files alone.
        await archive.index.close()
        try FileManager.default.removeItem(atPath: archive.layout.indexDirectory)
        let empty = try await JSONArchiveIndex.open(directory: archive.layout.indexDirectory)
        #expect(await empty.allRecords().isEmpty)
        let fresh = ArchiveLifecycle(layout: archive.layout, index: empty, user: "tester", host: "testhost")
        let report = try await fresh.reindex()
        #expect(report.filesScanned == 4)
        #expect(report.indexed == 4)
        #expect(report.trashed == 1)
        #expect(report.unreadable.isEmpty)
        let rebuilt = await empty.allRecords().sorted { $0.record.sopInstanceUID < $1.record.sopInstanceUID }
        #expect(rebuilt.count == original.count)
        for (old, new) in zip(original, rebuilt) {
            var expected = old.record
            expected.receivedAt = new.record.receivedAt   // from the file's time when the old index is gone
            #expect(new.record == expected)
            #expect((new.trashedAt == nil) == (old.trashedAt == nil))
        }
        #expect(rebuilt.first { $0.record.sopInstanceUID == "1.2.3.2" }?.trashedAt.map { abs($0.timeIntervalSince(trashedAt)) < 1 } == true)
        #expect(await empty.instance(sopInstanceUID: "1.2.3.2") == nil)
        #expect(await empty.instance(sopInstanceUID: "1.2.3.1") != nil)

        // Over an existing index: same records (receive times kept), a removed file is dropped, a bad file reported.
        unlink(archive.layout.absolute("data/\(Self.studyB)/\(Self.studyB).1/1.2.3.4.dcm"))
        try Data("not dicom".utf8).write(to: URL(fileURLWithPath: archive.layout.dataDirectory + "/junk.dcm"))
        let again = try await fresh.reindex()
        #expect(again.removedFromIndex == 1)
        #expect(again.indexed == 3)
        #expect(again.unreadable.map(\.path) == ["data/junk.dcm"])
        let kept = await empty.allRecords().sorted { $0.record.sopInstanceUID < $1.record.sopInstanceUID }
        #expect(kept.map(\.record) == rebuilt.map(\.record).filter { $0.sopInstanceUID != "1.2.3.4" })
        #expect(try fresh.audit.entries().last?.action == "reindex")

        // The rebuilt index is on disk: reopening gives the same records.
        await empty.close()
        let reopened = try await JSONArchiveIndex.open(directory: archive.layout.indexDirectory)
        let reread = await reopened.allRecords().sorted { $0.record.sopInstanceUID < $1.record.sopInstanceUID }
        #expect(reread.map(\.record) == kept.map(\.record))
        #expect(reread.map(\.trashedAt) == kept.map(\.trashedAt))
        await reopened.close()
    }
}
