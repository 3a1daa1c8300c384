import ArgumentParser
import DICOMCore
import DICOMNetwork
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
            decompressed with the built-in codecs, or reported as not sent when none decodes it. Files that are not \
            DICOM are skipped with a warning. On a terminal a progress line shows files, bytes, rate and time left; \
            otherwise each stored file is printed on its own line.
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

    @Option(name: .customLong("async"),
            help: "Propose an asynchronous operations window: up to N C-STOREs outstanding on each association, when the peer grants it (default 1: one at a time).")
    var asynchronousOperations = 1

    @Option(help: "Timeout in seconds for connecting, association and each DIMSE response.")
    var timeout = 30

    @Flag(help: "Use TLS (PS3.15 Annex B.1).")
    var tls = false

    @Option(name: .customLong("tls-ca"), help: "PEM file of certificates to trust (default: the system's roots). Implies --tls.")
    var tlsCA: String?

    @Option(name: .customLong("tls-hostname"), help: "Name to check the peer's certificate against (default: HOST). Implies --tls.")
    var tlsHostname: String?

    @Option(name: .customLong("tls-cert"), help: "PEM file of our client certificate, for peers that verify clients. Implies --tls; needs --tls-key.")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM file of the private key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "User name sent as User Identity (PS3.7 D.3.3.7).")
    var user: String?

    @Option(help: "Passcode sent with --user (or set DCMSEND_PASSWORD, which keeps it out of the process list).")
    var password: String?

    @Flag(name: .customLong("no-progress"), help: "No progress line on a terminal.")
    var noProgress = false

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("port must be 1...65535") }
        guard echo || !paths.isEmpty else { throw ValidationError("give files or directories to send, or --echo") }
        guard (1...64).contains(parallel) else { throw ValidationError("--parallel must be 1...64") }
        guard (1...256).contains(asynchronousOperations) else { throw ValidationError("--async must be 1...256") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        _ = try aeTitle(callingAE, "--aet")
        _ = try aeTitle(calledAE, "--called-aet")
        guard (tlsCertificate == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard user != nil || password == nil else { throw ValidationError("--password needs --user") }
        if let user, user.isEmpty || user.utf8.count > 0xFFFF { throw ValidationError("--user must be 1 to 65535 bytes") }
    }

    /// The User Identity to send: `--user` alone, or with the passcode from `--password` or `DCMSEND_PASSWORD`.
    var userIdentity: UserIdentity? {
        guard let user else { return nil }
        if let passcode = password ?? ProcessInfo.processInfo.environment["DCMSEND_PASSWORD"] {
            return .usernameAndPasscode(user, passcode: passcode, positiveResponseRequested: true)
        }
        return .username(user, positiveResponseRequested: true)
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
        if tls || tlsCA != nil || tlsHostname != nil || tlsCertificate != nil {
            do {
                tlsContext = try DICOMTLS.client(trustRootsPEM: tlsCA, serverHostname: tlsHostname ?? host,
                                                 certificateChainPEM: tlsCertificate, privateKeyPEM: tlsKey)
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
                                                                userIdentity: userIdentity, timeouts: timeouts, tls: tlsContext, logger: logger)
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
                                parallelAssociations: parallel, asynchronousOperations: asynchronousOperations, tls: tlsContext,
                                userIdentity: userIdentity, logger: logger)
        let progress = !json && !noProgress && isatty(STDERR_FILENO) == 1 ? SendProgress(paths: files) : nil
        let quiet = json || progress != nil
        let results = await sender.send(paths: files) { result in
            progress?.clearLine()
            defer { progress?.completed(result) }
            if result.skipped {
                printError("dcmsend: warning: skipping \(result.path): \(result.error ?? "not DICOM")")
            } else if !result.ok {
                printError("dcmsend: \(result.path): \(result.error ?? "failed")")
            } else if !quiet {
                print("\(result.path): stored \(result.sopInstanceUID ?? "") status \(result.status ?? "")")
            }
        }
        progress?.finish()
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
