import DICOMCore
import DICOMIO
import Foundation
import Testing

/// Forwarding over TLS between `dcmstore` processes (#7 part 4): one configuration line turns TLS on, the centre's
/// certificate is checked, and a node configured for TLS never falls back to plain text — not towards a plain port,
/// not towards a certificate it does not trust. The instances then stay queued with the reason.
@Suite("Forwarding over TLS between dcmstore processes", .serialized,
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "/usr/bin/openssl is needed to make test certificates"))
struct ForwardTLSTests {
    /// Store lines with success status in an archive's audit trail.
    static func storedCount(_ archive: String) -> Int {
        guard let text = try? String(contentsOfFile: archive + "/audit.jsonl", encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").filter { $0.contains(#""action":"store""#) && $0.contains(#""status":"0000""#) }.count
    }

    @Test(.timeLimit(.minutes(5)))
    func tlsLinkDeliversAndNeverFallsBackToPlainText() async throws {
        let base = try EndToEnd.temporaryDirectory("forward-tls")
        let group = ProcessGroup(logDirectory: base)
        defer { group.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let dcmstore = try #require(EndToEnd.dcmstorePath, "the dcmstore binary is not built next to the tests")
        let centreCertificate = try await DCMStoreTLSTests.makeCertificate(in: base, name: "centre")
        let stranger = try await DCMStoreTLSTests.makeCertificate(in: base, name: "stranger")

        // The centre over TLS, and a second centre in plain text.
        let tlsPort = try EndToEnd.freePort(), plainPort = try EndToEnd.freePort()
        let tlsCentre = base + "/centre-tls", plainCentre = base + "/centre-plain"
        _ = try group.start(dcmstore, ["serve", "--archive", tlsCentre, "--port", "\(tlsPort)", "--host", "127.0.0.1", "--aet", "CENTRE",
                                       "--tls-cert", centreCertificate.certificate, "--tls-key", centreCertificate.key, "--log-level", "warning"])
        _ = try group.start(dcmstore, ["serve", "--archive", plainCentre, "--port", "\(plainPort)", "--host", "127.0.0.1", "--aet", "CENTRE",
                                       "--log-level", "warning"])
        try await EndToEnd.waitForListener(port: tlsPort, timeout: .seconds(60))
        try await EndToEnd.waitForListener(port: plainPort, timeout: .seconds(60))

        // Node 1 trusts the centre's certificate and forwards to both; node 2 trusts another certificate.
        func nodeConfiguration(ca: String, destinations: [(String, Int)]) throws -> String {
            let entries = destinations.map { #""\#($0.0)": {"host": "127.0.0.1", "port": \#($0.1), "tls": true}"# }
            let path = base + "/node-\(UUID().uuidString).json"
            try Data("""
                {"forward": {"ca": "\(ca)", "callingAETitle": "NODE", "destinations": {\(entries.joined(separator: ", "))}}}
                """.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        let node1Archive = base + "/node1", node2Archive = base + "/node2"
        let node1 = try await group.startServer(archive: node1Archive, aeTitle: "NODE", arguments: [
            "--config", try nodeConfiguration(ca: centreCertificate.certificate, destinations: [("CENTRE", tlsPort), ("PLAINCENTRE", plainPort)]),
            "--forward-backoff-max", "1"])
        let node2 = try await group.startServer(archive: node2Archive, aeTitle: "NODE", arguments: [
            "--config", try nodeConfiguration(ca: stranger.certificate, destinations: [("CENTRE", tlsPort)]), "--forward-backoff-max", "1"])

        let input = base + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        let root = TestInstances.root()
        var paths: [String] = []
        for number in 1...6 {
            paths.append(try TestInstances.write(try TestInstances.make(study: root + ".1", series: root + ".1.1", sop: root + ".1.1.\(number)",
                                                                        patientID: "TLS-1", patientName: "Иманалиева^Гүлнара",
                                                                        instanceNumber: number), in: input))
        }
        let storescu = try EndToEnd.dcmtk("storescu")
        let toNode1 = try await group.run(storescu, ["-aet", "CT1", "-aec", "NODE", "127.0.0.1", "\(node1.port)"] + paths)
        #expect(toNode1.status == 0, "storescu to node 1: \(toNode1.errors)")
        let toNode2 = try await group.run(storescu, ["-aet", "CT2", "-aec", "NODE", "127.0.0.1", "\(node2.port)"] + paths)
        #expect(toNode2.status == 0, "storescu to node 2: \(toNode2.errors)")

        // Node 1's six instances arrive at the TLS centre, once each.
        let deadline = ContinuousClock.now + .seconds(90)
        while Self.storedCount(tlsCentre) < 6, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
        // Let the failing links retry a few times (backoff at most 1 s) before looking at them.
        try await Task.sleep(for: .seconds(4))
        #expect(Self.storedCount(tlsCentre) == 6, "the TLS centre stored \(Self.storedCount(tlsCentre)) of 6 (only node 1's)")
        // Nothing reached the plain centre: no association was even accepted there.
        let plainAudit = (try? String(contentsOfFile: plainCentre + "/audit.jsonl", encoding: .utf8)) ?? ""
        #expect(Self.storedCount(plainCentre) == 0)
        #expect(!plainAudit.contains(#""action":"associate""#), "the plain centre accepted an association: \(plainAudit)")

        // While node 1 runs, `dcmstore queue` asks it through the control socket: six pending for PLAINCENTRE.
        let running = try await group.dcmstore(["queue", "status", "--archive", node1Archive, "--json"])
        #expect(running.status == 0, "dcmstore queue status while the node runs: \(running.errors)")
        let runningRows = try JSONSerialization.jsonObject(with: Data(running.output.utf8)) as? [[String: Any]] ?? []
        #expect(runningRows.first { $0["destination"] as? String == "PLAINCENTRE" }?["pending"] as? Int == 6, "\(runningRows)")
        let listed = try await group.dcmstore(["queue", "list", "--archive", node1Archive, "--pending", "--json"])
        #expect(listed.status == 0, "dcmstore queue list while the node runs: \(listed.errors)")
        let listedEntries = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [Any]
        #expect(listedEntries?.count == 6, "\(listed.output.prefix(500))")

        #expect(await node1.terminate() == 0)
        #expect(await node2.terminate() == 0)
        func queue(_ command: String, _ archive: String) async throws -> [[String: Any]] {
            let result = try await group.dcmstore(["queue", command, "--archive", archive, "--json"])
            #expect(result.status == 0, "dcmstore queue \(command): \(result.errors)")
            return try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]] ?? []
        }
        // Node 1: nothing left for CENTRE; six pending for PLAINCENTRE, and the status says why.
        let entries1 = try await queue("list", node1Archive)
        #expect(entries1.filter { $0["destination"] as? String == "CENTRE" }.isEmpty)
        #expect(entries1.filter { $0["destination"] as? String == "PLAINCENTRE" && $0["state"] as? String == "pending" }.count == 6)
        let status1 = try await queue("status", node1Archive)
        let plain = try #require(status1.first { $0["destination"] as? String == "PLAINCENTRE" }, "\(status1)")
        #expect(plain["pending"] as? Int == 6)
        let plainReason = plain["lastError"] as? String ?? ""
        #expect(plainReason.contains("TLS"), "\(plain)")
        // Node 2 did not trust the centre's certificate: all six still queued, the reason names the certificate.
        let status2 = try await queue("status", node2Archive)
        let refused = try #require(status2.first { $0["destination"] as? String == "CENTRE" }, "\(status2)")
        #expect(refused["pending"] as? Int == 6)
        #expect((refused["lastError"] as? String ?? "").lowercased().contains("certificate"), "\(refused)")
    }
}
