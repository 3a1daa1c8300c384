import DICOMIO
import Foundation
import Testing

/// `dcmstore` over mutual TLS, queried by the built `dcmquery` with and without a client certificate.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "/usr/bin/openssl is needed to make test certificates"))
struct DCMStoreTLSTests {
    static func binary(_ name: String) throws -> String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "\(name) is not built next to the tests (\(directory.path))"])
    }

    /// Runs a process to completion within 30 s; returns its exit status and what it wrote on stderr.
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errorFile = NSTemporaryDirectory() + "tls-run-\(UUID().uuidString).err"
        FileManager.default.createFile(atPath: errorFile, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
        defer { try? handle.close(); unlink(errorFile) }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return (-1, "timed out") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (process.terminationStatus, (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "")
    }

    static func makeCertificate(in directory: String, name: String) async throws -> (certificate: String, key: String) {
        let certificate = "\(directory)/\(name).pem", key = "\(directory)/\(name).key"
        let result = try await run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                                                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", certificate])
        try #require(result.status == 0, "openssl failed: \(result.errors)")
        return (certificate, key)
    }

    @Test func queryOverMutualTLS() async throws {
        let dcmstore = try Self.binary("dcmstore"), dcmquery = try Self.binary("dcmquery")
        let directory = NSTemporaryDirectory() + "dcmstore-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let server = try await Self.makeCertificate(in: directory, name: "server")
        let client = try await Self.makeCertificate(in: directory, name: "client")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: dcmstore)
        process.arguments = ["--archive", directory + "/archive", "--port", "0", "--aet", "TLSSTORE", "--host", "127.0.0.1",
                             "--tls-cert", server.certificate, "--tls-key", server.key, "--tls-client-ca", client.certificate,
                             "--log-level", "error"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        // The first stdout line names the port: "dcmstore listening on port N as AE, archive DIR".
        // Read on a thread of its own (``runBlocking(_:)``: blocking reads must hold neither the cooperative pool nor
        // `DispatchQueue.global()`, whose threads it shares), bounded by the 30 s kill below.
        let reader = pipe.fileHandleForReading
        let watchdog = DispatchWorkItem { kill(process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
        let line: String = try await runBlocking {
            var bytes = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                bytes.append(chunk)
                if chunk.contains(UInt8(ascii: "\n")) { break }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            return String(text.prefix { $0 != "\n" })
        }
        watchdog.cancel()
        let words = line.split(separator: " ")
        let port = try #require(words.firstIndex(of: "port").flatMap { Int(words[$0 + 1]) }, "unexpected first line: \(line)")

        let query = ["127.0.0.1", "\(port)", "--called-aet", "TLSSTORE", "--tls-ca", server.certificate, "--tls-hostname", "localhost",
                     "--json", "-k", "PatientID"]
        let trusted = try await Self.run(dcmquery, query + ["--tls-cert", client.certificate, "--tls-key", client.key])
        #expect(trusted.status == 0, "dcmquery with the client certificate: \(trusted.errors)")
        let refused = try await Self.run(dcmquery, query)
        #expect(refused.status == 1, "dcmquery without a client certificate must fail: \(refused.errors)")
        let usage = try await Self.run(dcmquery, query + ["--tls-cert", client.certificate])
        #expect(usage.status == 64 && usage.errors.contains("--tls-key"), "\(usage.errors)")
    }
}
