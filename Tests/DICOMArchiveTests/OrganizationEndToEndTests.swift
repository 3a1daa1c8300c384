import DICOMCore
import DICOMIO
import Foundation
import Testing

/// The built `dcmstore` with two organizations, in closed mode, queried and retrieved by DCMTK as each organization;
/// `dcmstore share` / `unshare` while the server runs.
@Suite("dcmstore organizations end to end", .serialized)
struct OrganizationEndToEndTests {
    @Test(.timeLimit(.minutes(5)))
    func organizationsSeeOnlyTheirStudiesUntilShared() async throws {
        let base = try EndToEnd.temporaryDirectory("orgs")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/archive"
        let root = TestInstances.root()
        let studyA = root + ".1", studyB = root + ".2"
        let input = base + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        var pathsA: [String] = [], pathsB: [String] = []
        for number in 1...2 {
            pathsA.append(try TestInstances.write(try TestInstances.make(study: studyA, series: studyA + ".1", sop: studyA + ".1.\(number)",
                                                                         patientID: "ORG-P1", patientName: "Асанбеков^Нурлан",
                                                                         instanceNumber: number), in: input))
            pathsB.append(try TestInstances.write(try TestInstances.make(study: studyB, series: studyB + ".1", sop: studyB + ".1.\(number)",
                                                                         patientID: "ORG-P2", patientName: "احمدی^علی",
                                                                         instanceNumber: number), in: input))
        }
        let server = try await processes.startServer(archive: archive, arguments: ["--org", "A=NODEA,CTA", "--org", "B=NODEB", "--closed"])
        let port = "\(server.port)"
        let storescu = try EndToEnd.dcmtk("storescu")
        let storedA = try await processes.run(storescu, ["-aet", "CTA", "-aec", "DCMSTORE", "127.0.0.1", port] + pathsA)
        #expect(storedA.status == 0, "storescu as CTA: \(storedA.errors)")
        let storedB = try await processes.run(storescu, ["-aet", "NODEB", "-aec", "DCMSTORE", "127.0.0.1", port] + pathsB)
        #expect(storedB.status == 0, "storescu as NODEB: \(storedB.errors)")

        var runs = 0
        func findStudies(as caller: String) async throws -> Set<String> {
            runs += 1
            let directory = base + "/find\(runs)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let result = try await processes.run(try EndToEnd.dcmtk("findscu"), [
                "-S", "-aet", caller, "-aec", "DCMSTORE", "-X", "-od", directory, "-k", "QueryRetrieveLevel=STUDY",
                "-k", "StudyInstanceUID", "127.0.0.1", port])
            #expect(result.status == 0, "findscu as \(caller): \(result.errors)")
            return Set(try EndToEnd.files(under: directory).filter { $0.hasPrefix("rsp") }.compactMap {
                try DICOMFile(contentsOf: directory + "/" + $0).dataSet.string(ArchiveClient.studyUID)
            })
        }
        func getStudy(_ study: String, as caller: String) async throws -> Int {
            runs += 1
            let directory = base + "/get\(runs)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            _ = try await processes.run(try EndToEnd.dcmtk("getscu"), [
                "-S", "-aet", caller, "-aec", "DCMSTORE", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(study)",
                "-od", directory, "127.0.0.1", port])
            return EndToEnd.files(under: directory).count
        }

        // Each organization sees its own study; B cannot retrieve A's even knowing its UID.
        #expect(try await findStudies(as: "NODEA") == [studyA])
        #expect(try await findStudies(as: "NODEB") == [studyB])
        #expect(try await getStudy(studyA, as: "NODEB") == 0)
        #expect(try await getStudy(studyB, as: "NODEB") == 2)

        // Closed mode: an AE title in no organization is rejected at association time.
        let stranger = try await processes.run(try EndToEnd.dcmtk("echoscu"), ["-aet", "STRANGER", "-aec", "DCMSTORE", "127.0.0.1", port])
        #expect(stranger.status != 0)
        #expect(stranger.errors.contains("Rejected") || stranger.errors.contains("rejected"), "\(stranger.errors)")

        // Shared while the server runs: B finds and retrieves A's study at once; unshared: hidden again.
        let share = try await processes.dcmstore(["share", "--archive", archive, "--study", studyA, "--with", "B", "--reason", "remote reading"])
        #expect(share.status == 0, "dcmstore share: \(share.errors)")
        #expect(try await findStudies(as: "NODEB") == [studyA, studyB])
        #expect(try await getStudy(studyA, as: "NODEB") == 2)
        let list = try await processes.dcmstore(["shares", "--archive", archive, "--json"])
        #expect(list.status == 0 && list.output.contains(studyA), "dcmstore shares: \(list.output) \(list.errors)")
        let unshare = try await processes.dcmstore(["unshare", "--archive", archive, "--study", studyA, "--with", "B"])
        #expect(unshare.status == 0, "dcmstore unshare: \(unshare.errors)")
        #expect(try await findStudies(as: "NODEB") == [studyB])

        // Bad input: a day already over, a share that does not exist.
        let past = try await processes.dcmstore(["share", "--archive", archive, "--study", studyA, "--with", "B", "--until", "2020-01-01"])
        #expect(past.status == 64 && past.errors.contains("already over"), "\(past.errors)")
        let missing = try await processes.dcmstore(["unshare", "--archive", archive, "--study", studyA, "--with", "B"])
        #expect(missing.status == 64 && missing.errors.contains("not shared"), "\(missing.errors)")

        // The audit trail has one line per action: associations (accepted and rejected), stores, queries, retrieves,
        // the share and the unshare; `dcmstore audit --study` selects those about one study.
        let audit = try String(contentsOfFile: archive + "/audit.jsonl", encoding: .utf8)
        let entries = try audit.split(separator: "\n").map { try CLIJSON.object(String($0)) }
        func count(_ action: String, _ where: (([String: Any]) -> Bool) = { _ in true }) -> Int {
            entries.filter { $0["action"] as? String == action && `where`($0) }.count
        }
        #expect(count("store") == 4)
        #expect(count("store") { $0["aeTitle"] as? String == "CTA" && $0["organization"] as? String == "A" } == 2)
        #expect(count("reject") { $0["aeTitle"] as? String == "STRANGER" } == 1)
        #expect(count("associate") { $0["aeTitle"] as? String == "NODEB" && $0["organization"] as? String == "B" } >= 6)
        #expect(count("query") == 4)
        #expect(count("query") { ($0["keys"] as? String)?.isEmpty == true && $0["organization"] as? String == "B" } == 3)
        #expect(count("retrieve") == 3)
        #expect(count("retrieve") { ($0["keys"] as? String) == "StudyInstanceUID=\(studyA)" && $0["count"] as? Int == 0 } == 1)
        #expect(count("share") == 1 && count("unshare") == 1)
        let aboutA = try await processes.dcmstore(["audit", "--archive", archive, "--study", studyA, "--json"])
        #expect(aboutA.status == 0, "dcmstore audit: \(aboutA.errors)")
        let selected = try JSONSerialization.jsonObject(with: Data(aboutA.output.utf8)) as? [[String: Any]] ?? []
        #expect(Set(selected.compactMap { $0["action"] as? String }) == ["store", "query", "retrieve", "share", "unshare"])
        let text = try await processes.dcmstore(["audit", "--archive", archive, "--since", "2020-01-01"])
        #expect(text.status == 0 && text.output.contains("reject ae=STRANGER"), "\(text.output.prefix(2000))")
        #expect(await server.terminate() == 0)
    }
}
