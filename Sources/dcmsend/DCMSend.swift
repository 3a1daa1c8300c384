import ArgumentParser
import DICOMCore
import DICOMServices
import DICOMToolSupport
import Foundation
import Logging

@main
struct DCMSend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dcmsend",
        abstract: "Send DICOM files to a storage SCP (C-STORE), or verify a peer (C-ECHO).",
        discussion: """
            Directories are searched recursively. Each file's own transfer syntax is proposed together with \
            Explicit and Implicit VR Little Endian; a compressed file whose syntax the peer does not accept is \
            reported as not sent. Files that are not DICOM are skipped with a warning.
            Exit codes: 0 every DICOM file was stored with a success or warning status (or the C-ECHO succeeded); \
            1 at least one file was not stored, or the association failed; 64 bad usage.
            """)

    @Argument(help: "Host name or address of the peer.")
    var host: String

    @Argument(help: "TCP port of the peer.")
    var port: Int

    @Argument(help: "DICOM files or directories (searched recursively).")
    var paths: [String] = []

    @Option(name: .customLong("aet"), help: "Calling AE title (ours).")
    var callingAE = "DCMSEND"

    @Option(name: .customLong("called-aet"), help: "Called AE title (the peer's).")
    var calledAE = "ANY-SCP"

    @Flag(help: "Only verify the peer with C-ECHO.")
    var echo = false

    @Flag(help: "Print one JSON result per file (path, sopInstanceUID, status, ok) on stdout.")
    var json = false

    @Option(help: "Number of associations to use at the same time.")
    var parallel = 1

    @Option(help: "Timeout in seconds for connecting, association and each DIMSE response.")
    var timeout = 30

    @Flag(help: "Use TLS (PS3.15 Annex B.1).")
    var tls = false

    @Option(name: .customLong("tls-ca"), help: "PEM file of certificates to trust (default: the system's roots). Implies --tls.")
    var tlsCA: String?

    @Option(name: .customLong("tls-hostname"), help: "Name to check the peer's certificate against (default: HOST). Implies --tls.")
    var tlsHostname: String?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("port must be 1...65535") }
        guard echo || !paths.isEmpty else { throw ValidationError("give files or directories to send, or --echo") }
        guard (1...64).contains(parallel) else { throw ValidationError("--parallel must be 1...64") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        _ = try aeTitle(callingAE, "--aet")
        _ = try aeTitle(calledAE, "--called-aet")
    }

    func aeTitle(_ text: String, _ option: String) throws -> AETitle {
        do { return try AETitle(text) } catch { throw ValidationError("\(option): \(error)") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "dcmsend")
        logger.logLevel = .warning
        let seconds = Int64(timeout)
        let timeouts = DICOMTimeouts(connect: .seconds(seconds), artim: .seconds(seconds), dimse: .seconds(seconds))
        var tlsContext: DICOMTLS?
        if tls || tlsCA != nil || tlsHostname != nil {
            do {
                tlsContext = try DICOMTLS.client(trustRootsPEM: tlsCA, serverHostname: tlsHostname ?? host)
            } catch {
                printError("dcmsend: cannot set up TLS: \(error)")
                throw ExitCode(1)
            }
        }
        let calling = try aeTitle(callingAE, "--aet")
        let called = try aeTitle(calledAE, "--called-aet")
        if echo {
            do {
                let association = try await DICOMClient.connect(host: host, port: port, callingAE: calling, calledAE: called,
                                                                presentationContexts: DICOMClient.verificationContexts,
                                                                timeouts: timeouts, tls: tlsContext, logger: logger)
                let status = try await association.echo()
                try? await association.release()
                print(json ? #"{"echo":true,"status":"\#(String(format: "%04X", status.rawValue))","ok":\#(status.isSuccess)}"# : "C-ECHO: \(status)")
                if !status.isSuccess { throw ExitCode(1) }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                printError("dcmsend: C-ECHO to \(host):\(port) failed: \(error)")
                throw ExitCode(1)
            }
            return
        }
        let (files, missing) = InputFiles.expand(paths, recursive: true)
        for path in missing { printError("dcmsend: \(path): no such file or directory") }
        let sender = FileSender(host: host, port: port, callingAE: calling, calledAE: called, timeouts: timeouts,
                                parallelAssociations: parallel, tls: tlsContext, logger: logger)
        let quiet = json
        let results = await sender.send(paths: files) { result in
            if result.skipped {
                printError("dcmsend: warning: skipping \(result.path): \(result.error ?? "not DICOM")")
            } else if !result.ok {
                printError("dcmsend: \(result.path): \(result.error ?? "failed")")
            } else if !quiet {
                print("\(result.path): stored \(result.sopInstanceUID ?? "") status \(result.status ?? "")")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(results))
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
        let failed = results.filter { !$0.skipped && !$0.ok }.count
        if failed > 0 || !missing.isEmpty || results.allSatisfy(\.skipped) { throw ExitCode(1) }
    }
}
