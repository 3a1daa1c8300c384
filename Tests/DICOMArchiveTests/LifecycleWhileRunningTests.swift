import DICOMArchive
import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `dcmstore delete|restore|retention --apply|purge` while `dcmstore serve` runs on the same archive: the command goes
/// through the server's control socket and C-FIND on the running server sees the change at once. With the server
/// killed (its socket left behind), the same commands work on the folder directly.
@Suite("dcmstore lifecycle while the server runs", .serialized)
struct LifecycleWhileRunningTests {
    @Test(.timeLimit(.minutes(6)))
    func deleteRestoreRetentionAndPurgeWhileServing() async throws {
        let base = try EndToEnd.temporaryDirectory("running")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/archive"
        let root = TestInstances.root()
        let old = root + ".1", kept = root + ".2", deleted = root + ".3"
        var instances: [TestInstance] = []
        for (study, date) in [(old, "19900101"), (kept, "20250601"), (deleted, "20250602")] {
            for n in 1...2 {
                instances.append(try TestInstances.make(study: study, series: study + ".1", sop: study + ".1.\(n)", patientID: "E2E-RUN",
                                                        patientName: "Running^Server", studyDate: date, instanceNumber: n))
            }
        }
        func cli(_ arguments: [String]) async throws -> [String: Any] {
            let result = try await processes.dcmstore(arguments + ["--archive", archive, "--json"])
            #expect(result.status == 0, "dcmstore \(arguments): \(result.output.prefix(1000)) \(result.errors)")
            return try CLIJSON.object(result.output)
        }

        let server = try await processes.startServer(archive: archive)
        func studiesFound() async throws -> Set<String> {
            let found = try await ArchiveClient.allInstances(port: server.port)
            return Set(instances.filter { found.contains($0.sop) }.map(\.study))
        }
        let association = try await ArchiveClient.connect(port: server.port)
        for instance in instances { #expect(try await ArchiveClient.store(instance, on: association) == .success) }
        try await association.release()
        #expect(try await studiesFound() == [old, kept, deleted])

        var status = stat()
        try #require(lstat(archive + "/control.sock", &status) == 0, "the server made no control socket")
        #expect(status.st_mode & 0o777 == 0o600, "control.sock mode \(String(status.st_mode & 0o777, radix: 8))")

        // Delete while serving: the running server no longer finds the study.
        let deletion = try await cli(["delete", "--study", deleted, "--reason", "deleted while serving"])
        #expect(deletion["count"] as? Int == 2)
        #expect(try await studiesFound() == [old, kept])

        // Restore while serving: found again.
        let restoration = try await cli(["restore", "--study", deleted])
        #expect(restoration["count"] as? Int == 2)
        #expect(try await studiesFound() == [old, kept, deleted])

        // Stats and verify while serving: answered by the server from its own index.
        let stats = try await cli(["stats"])
        #expect(stats["studies"] as? Int == 3 && stats["instances"] as? Int == 6, "stats: \(stats)")
        let verification = try await cli(["verify"])
        #expect(verification["checked"] as? Int == 6, "verify: \(verification)")
        #expect((verification["damaged"] as? [Any])?.isEmpty == true && (verification["missing"] as? [Any])?.isEmpty == true)

        // Reindex while serving: a file put into data/ by hand is indexed, one removed by hand is forgotten, and the
        // running server answers from the rebuilt index at once.
        let added = try TestInstances.make(study: kept, series: kept + ".9", sop: kept + ".9.1", patientID: "E2E-RUN",
                                           patientName: "Running^Server", studyDate: "20250601", instanceNumber: 1)
        let addedDirectory = archive + "/data/\(kept)/\(kept).9"
        try FileManager.default.createDirectory(atPath: addedDirectory, withIntermediateDirectories: true)
        try DICOMFile(dataSet: added.dataSet, transferSyntax: .explicitVRLittleEndian).write(to: addedDirectory + "/\(added.sop).dcm")
        let removed = instances[3]
        let removedPath = archive + "/" + (try #require(EndToEnd.files(under: archive).first { $0.hasSuffix("/\(removed.sop).dcm") }))
        try FileManager.default.removeItem(atPath: removedPath)
        let reindexed = try await cli(["reindex"])
        #expect(reindexed["indexed"] as? Int == 6 && reindexed["removedFromIndex"] as? Int == 1, "reindex: \(reindexed)")
        let afterReindex = try await ArchiveClient.allInstances(port: server.port)
        #expect(afterReindex.contains(added.sop) && !afterReindex.contains(removed.sop), "found after reindex: \(afterReindex)")
        // Put the removed instance back the same way, so the rest of the test sees its six instances.
        try FileManager.default.removeItem(atPath: addedDirectory + "/\(added.sop).dcm")
        try DICOMFile(dataSet: removed.dataSet, transferSyntax: .explicitVRLittleEndian).write(to: removedPath)
        let restoredByReindex = try await cli(["reindex"])
        #expect(restoredByReindex["indexed"] as? Int == 6, "reindex: \(restoredByReindex)")
        #expect(try await studiesFound() == [old, kept, deleted])

        // Errors are those of a direct run: nothing to restore exits 1 with the message.
        let nothing = try await processes.dcmstore(["restore", "--study", deleted, "--archive", archive])
        #expect(nothing.status == 1, "restore of nothing: \(nothing.output) \(nothing.errors)")
        #expect(nothing.errors.contains("no study \(deleted) in the trash"), "stderr: \(nothing.errors)")

        // Retention: listed, then applied while serving.
        let retention = try await cli(["retention"])
        let listed = Set((retention["items"] as? [[String: Any]] ?? []).compactMap { $0["studyInstanceUID"] as? String })
        #expect(listed == [old], "retention listed \(listed)")
        let applied = try await cli(["retention", "--apply"])
        #expect(applied["instances"] as? Int == 2)
        #expect(try await studiesFound() == [kept, deleted])

        // Purge while serving: the files are gone.
        let purge = try await cli(["purge", "--older-than", "0"])
        #expect(purge["count"] as? Int == 2)
        let remaining = EndToEnd.files(under: archive)
        for instance in instances where instance.study == old {
            #expect(!remaining.contains { $0.contains(instance.sop + ".dcm") }, "\(instance.sop) still on disk after purge")
        }
        #expect(try await studiesFound() == [kept, deleted])
        #expect(server.process.isRunning)

        // Killed without cleanup, the server leaves its socket: the CLI then works on the folder directly.
        server.process.stop()
        #expect(lstat(archive + "/control.sock", &status) == 0, "expected the killed server's socket to remain")
        let direct = try await cli(["delete", "--study", deleted, "--reason", "server down"])
        #expect(direct["count"] as? Int == 2)

        // A new server replaces the stale socket and sees the direct delete.
        let second = try await processes.startServer(archive: archive)
        let foundBySecond = try await ArchiveClient.allInstances(port: second.port)
        #expect(Set(instances.filter { foundBySecond.contains($0.sop) }.map(\.study)) == [kept])
        let restoredAgain = try await cli(["restore", "--study", deleted])
        #expect(restoredAgain["count"] as? Int == 2)
        let foundAfterRestore = try await ArchiveClient.allInstances(port: second.port)
        #expect(Set(instances.filter { foundAfterRestore.contains($0.sop) }.map(\.study)) == [kept, deleted])
        #expect(await second.terminate() == 0)
        #expect(lstat(archive + "/control.sock", &status) != 0, "the socket is still there after SIGTERM")

        let lines = try String(contentsOfFile: archive + "/audit.jsonl", encoding: .utf8).split(separator: "\n")
        let entries = try lines.map { try CLIJSON.object(String($0)) }
        func count(_ action: String, _ uid: String?) -> Int {
            entries.filter { $0["action"] as? String == action && (uid == nil || $0["uid"] as? String == uid) }.count
        }
        #expect(entries.contains { $0["action"] as? String == "delete" && $0["uid"] as? String == deleted
            && $0["reason"] as? String == "deleted while serving" && $0["count"] as? Int == 2
            && $0["user"] as? String == AuditLog.currentUser })
        #expect(count("delete", deleted) == 2)
        #expect(count("restore", deleted) == 2)
        #expect(count("retention", old) == 1)
        #expect(count("purge", nil) == 1)
    }
}
