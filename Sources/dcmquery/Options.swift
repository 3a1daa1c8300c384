import ArgumentParser
import DICOMCore
import DICOMNetwork
import DICOMServices
import DICOMToolSupport
import Foundation
import Logging

/// The peer, AE titles, timeout and TLS: shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Argument(help: "Host name or address of the Query/Retrieve SCP.")
    var host: String

    @Argument(help: "TCP port of the peer.")
    var port: Int

    @Option(name: .customLong("aet"), help: "Calling AE title (ours).")
    var callingAE = "DCMQUERY"

    @Option(name: .customLong("called-aet"), help: "Called AE title (the peer's).")
    var calledAE = "ANY-SCP"

    @Option(help: "Timeout in seconds for connecting, association and each DIMSE response.")
    var timeout = 30

    @Flag(help: "Use TLS (PS3.15 Annex B.1).")
    var tls = false

    @Option(name: .customLong("tls-ca"), help: "PEM file of certificates to trust (default: the system's roots). Implies --tls.")
    var tlsCA: String?

    @Option(name: .customLong("tls-hostname"), help: "Name to check the peer's certificate against (default: HOST). Implies --tls.")
    var tlsHostname: String?

    @Option(name: .customLong("tls-cert"), help: "Our PEM client certificate, for servers that verify clients. Implies --tls.")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "The PEM private key of --tls-cert.")
    var tlsKey: String?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("port must be 1...65535") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        _ = try aeTitle(callingAE, "--aet")
        _ = try aeTitle(calledAE, "--called-aet")
    }

    func aeTitle(_ text: String, _ option: String) throws -> AETitle {
        do { return try AETitle(text) } catch { throw ValidationError("\(option): \(error)") }
    }

    /// Opens the association, or prints why not and exits 1.
    func connect(_ contexts: [PresentationContext], roleSelections: [RoleSelection] = [], tool: String) async throws -> Association {
        var logger = Logger(label: "dcmquery")
        logger.logLevel = .warning
        let seconds = Int64(timeout)
        let timeouts = DICOMTimeouts(connect: .seconds(seconds), artim: .seconds(seconds), dimse: .seconds(seconds))
        var tlsContext: DICOMTLS?
        if tls || tlsCA != nil || tlsHostname != nil || tlsCertificate != nil {
            guard (tlsCertificate == nil) == (tlsKey == nil) else {
                printError("\(tool): --tls-cert and --tls-key go together")
                throw ExitCode(64)
            }
            do {
                tlsContext = try DICOMTLS.client(trustRootsPEM: tlsCA, serverHostname: tlsHostname ?? host,
                                                 certificateChainPEM: tlsCertificate, privateKeyPEM: tlsKey)
            } catch {
                printError("\(tool): cannot set up TLS: \(error)")
                throw ExitCode(1)
            }
        }
        do {
            return try await DICOMClient.connect(host: host, port: port, callingAE: try aeTitle(callingAE, "--aet"),
                                                 calledAE: try aeTitle(calledAE, "--called-aet"), presentationContexts: contexts,
                                                 roleSelections: roleSelections, timeouts: timeouts, tls: tlsContext, logger: logger)
        } catch {
            printError("\(tool): cannot open an association with \(calledAE) at \(host):\(port): \(error)")
            throw ExitCode(1)
        }
    }
}

/// The level, keys and information model: shared by every subcommand.
struct KeyOptions: ParsableArguments {
    @Option(help: "Query/Retrieve Level: PATIENT, STUDY, SERIES or IMAGE.")
    var level: QueryLevel = .study

    @Option(name: .customShort("k"), parsing: .singleValue,
            help: "A key: Keyword=Value or gggg,eeee=Value (wildcards * and ?, ranges a-b); an empty value asks for the attribute back. Repeatable.")
    var keys: [String] = []

    @Option(help: "Information model: study (Study Root) or patient (Patient Root).")
    var model: InformationModel = .study

    func validate() throws {
        _ = try parsedKeys()
        if model == .study && level == .patient {
            throw ValidationError("--level PATIENT needs --model patient (the Study Root model has no patient level)")
        }
    }

    func parsedKeys() throws -> [QueryKey] { try keys.map(QueryKey.init(parsing:)) }
}

/// Reads the final status of a retrieve into an exit decision and a summary line.
enum RetrieveReport {
    static func summary(_ service: String, _ result: RetrieveResult) -> String {
        let counts = result.counts
        var text = "\(service): \(result.status): \(counts.completed ?? 0) completed, \(counts.failed ?? 0) failed, \(counts.warning ?? 0) warning"
        if let comment = result.errorComment, !comment.isEmpty { text += " (\(comment))" }
        if !result.failedSOPInstanceUIDs.isEmpty { text += "; failed: " + result.failedSOPInstanceUIDs.joined(separator: ", ") }
        return text
    }

    /// Success only: a warning status means some sub-operations failed.
    static func succeeded(_ result: RetrieveResult) -> Bool {
        result.status.isSuccess && (result.counts.failed ?? 0) == 0
    }
}

/// A one-line progress bar on a terminal, plain lines otherwise (both on standard error).
final class ProgressDisplay: @unchecked Sendable {
    let label: String
    let terminal = standardErrorIsTerminal
    private let lock = NSLock()
    private var lastLine = ""

    init(label: String) { self.label = label }

    func update(_ counts: SuboperationCounts, offset: SuboperationCounts = SuboperationCounts()) {
        let done = Int(counts.completed ?? 0) + Int(counts.failed ?? 0) + Int(counts.warning ?? 0)
        let total = done + Int(counts.remaining ?? 0)
        let line: String
        if terminal && total > 0 {
            let width = 30
            let filled = width * done / total
            line = "\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                + "] \(done)/\(total), \(counts.failed ?? 0) failed"
        } else {
            line = "\(label): \(counts.completed ?? 0) completed, \(counts.failed ?? 0) failed, \(counts.warning ?? 0) warning, \(counts.remaining.map(String.init) ?? "?") remaining"
        }
        lock.lock()
        defer { lock.unlock() }
        guard line != lastLine else { return }
        lastLine = line
        FileHandle.standardError.write(Data((terminal ? line : line + "\n").utf8))
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if terminal && !lastLine.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
