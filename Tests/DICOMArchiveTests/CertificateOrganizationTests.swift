import Foundation
import Testing

/// A TLS client certificate maps to an organization (#7 part 2): `dcmstore` with mutual TLS and organizations that
/// list certificate fingerprints; the built `dcmsend` stores and the built `dcmquery` finds, each with a client
/// certificate. The caller's AE title is in no organization, so only the certificate decides what it sees.
@Suite("dcmstore: TLS client certificates map to organizations", .serialized,
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "/usr/bin/openssl is needed to make test certificates"))
struct CertificateOrganizationTests {
    @Test(.timeLimit(.minutes(5)))
    func theClientCertificateDecidesTheOrganization() async throws {
        let base = try EndToEnd.temporaryDirectory("cert-orgs")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let dcmsend = try DCMStoreTLSTests.binary("dcmsend"), dcmquery = try DCMStoreTLSTests.binary("dcmquery")
        let server = try await DCMStoreTLSTests.makeCertificate(in: base, name: "server")
        let clientA = try await DCMStoreTLSTests.makeCertificate(in: base, name: "hospital-a")
        let clientB = try await DCMStoreTLSTests.makeCertificate(in: base, name: "hospital-b")
        let trusted = base + "/clients.pem"
        try (try String(contentsOfFile: clientA.certificate, encoding: .utf8) + String(contentsOfFile: clientB.certificate, encoding: .utf8))
            .write(toFile: trusted, atomically: true, encoding: .utf8)
        let fingerprint = try await processes.run("/usr/bin/openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", clientA.certificate])
        let fingerprintA = try #require(fingerprint.output.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        let config = base + "/dcmstore.json"
        try Data("""
            {"organizations": {"A": {"aeTitles": ["NODEA"], "certificates": ["\(fingerprintA)"]}, "B": ["NODEB"]}}
            """.utf8).write(to: URL(fileURLWithPath: config))
        let store = try await processes.startServer(archive: base + "/archive", arguments: [
            "--config", config, "--tls-cert", server.certificate, "--tls-key", server.key, "--tls-client-ca", trusted])
        let tls = ["--tls-ca", server.certificate, "--tls-hostname", "localhost"]

        let input = base + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        let root = TestInstances.root()
        let fileA = try TestInstances.write(try TestInstances.make(study: root + ".1", series: root + ".1.1", sop: root + ".1.1.1",
                                                                   patientID: "CERT-A", patientName: "Осмонова^Айпери"), in: input)
        let fileB = try TestInstances.write(try TestInstances.make(study: root + ".2", series: root + ".2.1", sop: root + ".2.1.1",
                                                                   patientID: "CERT-B", patientName: "Rahimi^Sara"), in: input)
        for (file, caller, client) in [(fileA, "NODEA", clientA), (fileB, "NODEB", clientB)] {
            let sent = try await processes.run(dcmsend, ["127.0.0.1", "\(store.port)", file, "--aet", caller,
                                                         "--called-aet", "DCMSTORE", "--tls-cert", client.certificate, "--tls-key", client.key] + tls)
            #expect(sent.status == 0, "dcmsend as \(caller): \(sent.errors)")
        }
        func studies(with client: (certificate: String, key: String)) async throws -> [String] {
            let result = try await processes.run(dcmquery, ["find", "127.0.0.1", "\(store.port)", "--aet", "READER", "--called-aet", "DCMSTORE",
                                                            "--level", "STUDY", "-k", "StudyInstanceUID", "--json",
                                                            "--tls-cert", client.certificate, "--tls-key", client.key] + tls)
            #expect(result.status == 0, "dcmquery: \(result.errors)")
            let matches = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]] ?? []
            return matches.compactMap { (($0["0020000D"] as? [String: Any])?["Value"] as? [String])?.first }.sorted()
        }
        // READER is in no organization: with A's certificate it sees A's study; with B's (not listed) it sees none.
        #expect(try await studies(with: clientA) == [root + ".1"])
        #expect(try await studies(with: clientB) == [])
        #expect(await store.terminate() == 0)
        let audit = try String(contentsOfFile: base + "/archive/audit.jsonl", encoding: .utf8)
        #expect(audit.split(separator: "\n").contains { $0.contains(#""action":"query""#) && $0.contains(#""organization":"A""#)
            && $0.contains(#""aeTitle":"READER""#) })
    }
}
