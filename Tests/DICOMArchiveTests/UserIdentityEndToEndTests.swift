import DICOMCore
import DICOMIO
import Foundation
import Testing

/// User Identity Negotiation (PS3.7 D.3.3.7) at the built `dcmstore`: users from the configuration file authenticate
/// with a passcode, map to their organization whatever their AE title, and see only that organization's studies.
/// Peers: pynetdicom (C-FIND with a User Identity item) and DCMTK storescu (`--user`, `--password`).
@Suite("dcmstore user identity end to end", .serialized)
struct UserIdentityEndToEndTests {
    /// A pynetdicom C-FIND at STUDY level with an optional username/passcode; prints the Study Instance UIDs found,
    /// one per line, or `REJECTED` when the association is not accepted.
    static let findScript = """
        import sys
        from pydicom.dataset import Dataset
        from pynetdicom import AE
        from pynetdicom.pdu_primitives import UserIdentityNegotiation
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind
        port, caller, user, passcode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        ae = AE(ae_title=caller)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        negotiation = []
        if user:
            item = UserIdentityNegotiation()
            item.user_identity_type = 2 if passcode else 1
            item.primary_field = user.encode()
            if passcode:
                item.secondary_field = passcode.encode()
            item.positive_response_requested = True
            negotiation.append(item)
        assoc = ae.associate("127.0.0.1", port, ae_title="DCMSTORE", ext_neg=negotiation)
        if not assoc.is_established:
            print("REJECTED")
            sys.exit(0)
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
            if status is not None and status.Status in (0xFF00, 0xFF01) and identifier is not None:
                print(identifier.StudyInstanceUID)
        assoc.release()
        """

    @Test(.timeLimit(.minutes(5)))
    func authenticatedUsersSeeTheirOrganizationsStudies() async throws {
        let base = try EndToEnd.temporaryDirectory("users")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/archive"
        let root = TestInstances.root()
        let studyA = root + ".1", studyB = root + ".2"
        let input = base + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        let fileA = try TestInstances.write(try TestInstances.make(study: studyA, series: studyA + ".1", sop: studyA + ".1.1",
                                                                   patientID: "UID-P1", patientName: "Асанбеков^Нурлан"), in: input)
        let fileB = try TestInstances.write(try TestInstances.make(study: studyB, series: studyB + ".1", sop: studyB + ".1.1",
                                                                   patientID: "UID-P2", patientName: "Бекова^Айгүл"), in: input)
        let digest = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0" // printf %s s3cret | sha256sum
        let config = base + "/dcmstore.json"
        try Data("""
            {"organizations": {"A": ["NODEA"], "B": {"aeTitles": ["NODEB"], "users": ["dr.bekova"]}},
             "users": {"dr.bekova": {"passcodeSHA256": "\(digest)"}, "porter": {}}}
            """.utf8).write(to: URL(fileURLWithPath: config))
        let server = try await processes.startServer(archive: archive, arguments: ["--config", config])
        let port = "\(server.port)"

        // DCMTK storescu: a wrong passcode is rejected, the right one stores.
        let storescu = try EndToEnd.dcmtk("storescu")
        let wrong = try await processes.run(storescu, ["-aet", "NODEB", "-aec", "DCMSTORE", "--user", "dr.bekova", "--password", "guess",
                                                       "127.0.0.1", port, fileB])
        #expect(wrong.status != 0, "storescu with a wrong passcode: \(wrong.errors)")
        let storedB = try await processes.run(storescu, ["-aet", "NODEB", "-aec", "DCMSTORE", "--user", "dr.bekova", "--password", "s3cret",
                                                         "--pos-response", "127.0.0.1", port, fileB])
        #expect(storedB.status == 0, "storescu with the right passcode: \(storedB.errors)")
        let storedA = try await processes.run(storescu, ["-aet", "NODEA", "-aec", "DCMSTORE", "127.0.0.1", port, fileA])
        #expect(storedA.status == 0, "storescu as NODEA: \(storedA.errors)")

        func find(as caller: String, user: String = "", passcode: String = "") async throws -> [String] {
            let result = try await processes.run("/usr/bin/env", ["python3", "-c", Self.findScript, port, caller, user, passcode])
            #expect(result.status == 0, "pynetdicom find: \(result.errors)")
            return result.output.split(separator: "\n").map(String.init).sorted()
        }
        // A reading workstation whose AE title is in no organization: as dr.bekova it sees B's study only.
        #expect(try await find(as: "READING", user: "dr.bekova", passcode: "s3cret") == [studyB])
        #expect(try await find(as: "READING") == [])
        // The user decides, not the AE title: NODEA's AE title with B's user sees B's study.
        #expect(try await find(as: "NODEA", user: "dr.bekova", passcode: "s3cret") == [studyB])
        #expect(try await find(as: "NODEA") == [studyA])
        // A user in no organization falls back to the AE title's organization.
        #expect(try await find(as: "NODEA", user: "porter") == [studyA])
        // Rejected: wrong passcode, no passcode for a user who has one, unknown user.
        #expect(try await find(as: "READING", user: "dr.bekova", passcode: "guess") == ["REJECTED"])
        #expect(try await find(as: "READING", user: "dr.bekova") == ["REJECTED"])
        #expect(try await find(as: "READING", user: "mallory", passcode: "x") == ["REJECTED"])
        #expect(await server.terminate() == 0)

        // The audit trail names the user and the organization of each query.
        let audit = try String(contentsOfFile: archive + "/audit.jsonl", encoding: .utf8)
        let queries = try audit.split(separator: "\n").map { try CLIJSON.object(String($0)) }.filter { $0["action"] as? String == "query" }
        #expect(queries.count == 5)
        #expect(queries.filter { $0["user"] as? String == "dr.bekova" && $0["organization"] as? String == "B" }.count == 2)
    }

    /// A node forwards with a User Identity to a centre that requires one: the right passcode (from a passcode file)
    /// delivers; a wrong one is rejected and the instances stay queued with the reason.
    @Test(.timeLimit(.minutes(5)))
    func forwardingAuthenticatesAtTheCentre() async throws {
        let base = try EndToEnd.temporaryDirectory("users-forward")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let digest = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0" // printf %s s3cret | sha256sum
        let centreConfig = base + "/centre.json"
        try Data(#"{"users": {"node1": {"passcodeSHA256": "\#(digest)"}}, "requireUser": true}"#.utf8).write(to: URL(fileURLWithPath: centreConfig))
        let centre = try await processes.startServer(archive: base + "/centre", aeTitle: "CENTRE", arguments: ["--config", centreConfig])
        try Data("s3cret\n".utf8).write(to: URL(fileURLWithPath: base + "/passcode"))
        func nodeConfig(_ name: String, passcode: String) throws -> String {
            let path = base + "/\(name).json"
            try Data("""
                {"forward": {"destinations": {"CENTRE": {"host": "127.0.0.1", "port": \(centre.port), "user": "node1", \(passcode)}}}}
                """.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        let good = try await processes.startServer(archive: base + "/good", aeTitle: "NODE", arguments: [
            "--config", try nodeConfig("good", passcode: #""passcodeFile": "\#(base)/passcode""#), "--forward-backoff-max", "1"])
        let bad = try await processes.startServer(archive: base + "/bad", aeTitle: "NODE", arguments: [
            "--config", try nodeConfig("bad", passcode: #""passcode": "guess""#), "--forward-backoff-max", "1"])
        let input = base + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        let root = TestInstances.root()
        let files = try (1...3).map { number in
            try TestInstances.write(try TestInstances.make(study: root + ".1", series: root + ".1.1", sop: root + ".1.1.\(number)",
                                                           patientID: "FWD-U", patientName: "Токтогулова^Нуриза", instanceNumber: number), in: input)
        }
        let storescu = try EndToEnd.dcmtk("storescu")
        for node in [good, bad] {
            let sent = try await processes.run(storescu, ["-aet", "CT1", "-aec", "NODE", "127.0.0.1", "\(node.port)"] + files)
            #expect(sent.status == 0, "storescu: \(sent.errors)")
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while ForwardTLSTests.storedCount(base + "/centre") < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
        try await Task.sleep(for: .seconds(3))
        #expect(ForwardTLSTests.storedCount(base + "/centre") == 3, "only the node with the right passcode delivers")
        #expect(await good.terminate() == 0)
        #expect(await bad.terminate() == 0)
        let status = try await processes.dcmstore(["queue", "status", "--archive", base + "/bad", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [[String: Any]] ?? []
        #expect(rows.first?["pending"] as? Int == 3)
        #expect((rows.first?["lastError"] as? String ?? "").contains("rejected"), "\(rows)")
        let audit = try String(contentsOfFile: base + "/centre/audit.jsonl", encoding: .utf8)
        #expect(audit.split(separator: "\n").contains { $0.contains(#""action":"associate""#) && $0.contains(#""user":"node1""#) })
        #expect(await centre.terminate() == 0)
    }

    @Test func badUserConfigurationIsRefused() async throws {
        let base = try EndToEnd.temporaryDirectory("users-bad")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let config = base + "/dcmstore.json"
        try Data(#"{"users": {"dr.x": {"passcodeSHA256": "not-hex"}}}"#.utf8).write(to: URL(fileURLWithPath: config))
        let serve = try await processes.dcmstore(["serve", "--archive", base + "/archive", "--port", "0", "--config", config])
        #expect(serve.status == 64)
        #expect(serve.errors.contains("dr.x") && serve.errors.contains("64 hexadecimal digits"), "\(serve.errors)")
        try Data(#"{"organizations": {"B": {"aeTitles": ["NODEB"], "users": ["ghost"]}}, "users": {"dr.x": {}}}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        let ghost = try await processes.dcmstore(["serve", "--archive", base + "/archive", "--port", "0", "--config", config])
        #expect(ghost.status == 64)
        #expect(ghost.errors.contains("ghost"), "\(ghost.errors)")
    }
}
