import ArgumentParser
import DICOMArchive
import DICOMCodecs
import DICOMCore
import DICOMNetwork
import DICOMServices
import DICOMToolSupport
import DICOMWorklist
import Foundation
import Logging

/// `dcmstore`: the archive node — storage, query/retrieve and the data lifecycle of one archive folder.
@main
struct DCMStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dcmstore",
        abstract: "The archive: a durable Storage and Query/Retrieve SCP over an on-disk archive with a JSON index.",
        discussion: """
            `serve` (the default) runs the SCP. delete, restore, purge, retention, verify, stats, share and unshare also work \
            while a server runs on the archive (through its owner-only control socket ARCHIVE/control.sock, so the server sees \
            the change at once), and so do queue and reindex.
            Exit status: 0 on success, 1 when the action found problems (verify) or failed, 64 for bad options.
            """,
        subcommands: [Serve.self, Delete.self, Restore.self, Purge.self, Retention.self, Verify.self, Stats.self, Reindex.self, Queue.self, Share.self, Unshare.self, Shares.self, Audit.self],
        defaultSubcommand: Serve.self)
}

/// Options every subcommand shares.
struct ArchiveOptions: ParsableArguments {
    @Option(help: "The archive folder (default ./archive, or the configuration's \"archive\").")
    var archive: String?

    @Option(help: "A configuration file, YAML (.yaml, .yml) or JSON; command-line flags override it.")
    var config: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func load() throws -> StoreConfiguration {
        guard let config else { return StoreConfiguration() }
        return try StoreConfiguration.load(config)
    }

    func archivePath(_ configuration: StoreConfiguration) -> String {
        archive ?? configuration.archive ?? ArchiveLayout.defaultRoot
    }

    /// Opens the index of an existing archive folder (the server must not be running on it).
    func open() async throws -> (ArchiveLayout, JSONArchiveIndex, StoreConfiguration) {
        let configuration = try load()
        let layout = ArchiveLayout(root: archivePath(configuration))
        try layout.createDirectories()
        let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout)
        return (layout, index, configuration)
    }

    /// The lifecycle actions on an existing archive, and its index (to compact after changes).
    func openLifecycle() async throws -> (ArchiveLifecycle, JSONArchiveIndex) {
        let (layout, index, configuration) = try await open()
        return (ArchiveLifecycle(layout: layout, index: index, retentionPolicy: retentionPolicy(configuration)), index)
    }

    func retentionPolicy(_ configuration: StoreConfiguration) -> RetentionPolicy {
        RetentionPolicy(imageYears: configuration.retention?.imageYears ?? 5, reportYears: configuration.retention?.reportYears ?? 10)
    }
}

/// Prints a report as JSON or text.
func printReport<T: Encodable>(_ report: T, json: Bool, text: () -> String) throws {
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    } else {
        print(text())
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Storage and Query/Retrieve SCP (the default subcommand).")

    @OptionGroup var options: ArchiveOptions

    @Option(help: "Port to listen on (default 11112).")
    var port: Int?

    @Option(help: "Address to listen on (default 0.0.0.0).")
    var host: String?

    @Option(help: "Our AE title (default DCMSTORE). Associations calling another title are rejected.")
    var aet: String?

    @Option(name: .customLong("peer"), help: "A C-MOVE destination AE=HOST:PORT (repeatable).")
    var peers: [String] = []

    @Option(name: .customLong("forward"), help: "Forward every stored instance to AE=HOST:PORT through the durable queue (repeatable).")
    var forwards: [String] = []

    @Option(name: .customLong("forward-associations"), help: "Associations at once per forwarding destination (default 1).")
    var forwardAssociations: Int?

    @Option(name: .customLong("forward-backoff-max"), help: "Longest wait in seconds between forwarding retries (default 300; the first wait is 1 s, doubling).")
    var forwardBackoffMax: Int?

    @Flag(name: .customLong("forward-commit"),
          help: "Ask every forwarding destination for Storage Commitment; an instance leaves the queue only when committed.")
    var forwardCommit = false

    @Option(name: .customLong("allow"), help: "Accept only this calling AE title (repeatable; default: any).")
    var allowed: [String] = []

    @Option(help: "Same SOP Instance UID with different content: keep (warning), replace or reject (default keep).")
    var duplicates: String?

    @Option(name: .customLong("org"), help: ArgumentHelp(
        "An organization NAME=AE[,AE...] (repeatable). Each caller then finds and retrieves only the studies its organization sent and those shared with it (dcmstore share).",
        valueName: "NAME=AE,..."))
    var organizationMembers: [String] = []

    @Flag(help: "Closed mode: reject associations from AE titles that belong to no organization.")
    var closed = false

    @Option(name: .customLong("store-as"), help: ArgumentHelp(
        "Store images in this lossless transfer syntax (name or UID: jpeg-ls, j2k-lossless, rle, jpeg-lossless, explicit), re-encoding them on arrival.",
        valueName: "SYNTAX"))
    var storeAs: String?

    @Flag(help: "Match Person Names in C-FIND ignoring case.")
    var caseInsensitiveNames = false

    @Flag(help: "Write received instances through the page cache instead of straight to the disk (O_DIRECT, the default where the file system supports it).")
    var bufferedWrites = false

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: accept only TLS connections.")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("tls-client-ca"), help: "PEM certificates: require TLS clients to present a certificate signed by one of them.")
    var tlsClientCA: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning or error (default info).")
    var logLevel: String = "info"

    func run() async throws {
        let configuration: StoreConfiguration
        do {
            configuration = try options.load()
        } catch {
            printError("dcmstore: \(error)")
            throw ExitCode(64)
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            printError("dcmstore: --log-level \(logLevel): expected trace, debug, info, notice, warning or error")
            throw ExitCode(64)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "dcmstore")
        do {
            try await serve(configuration, logger: logger)
        } catch let error as ConfigurationError {
            printError("dcmstore: \(error)")
            throw ExitCode(64)
        } catch {
            printError("dcmstore: \(error)")
            throw ExitCode(1)
        }
    }

    /// The organizations of the configuration plus those of `--org` (which replace one of the same name).
    func organizationTable(_ configuration: StoreConfiguration) throws -> Organizations? {
        do {
            return try Organizations.merging(options: organizationMembers, into: configuration.organizations)
        } catch {
            throw ConfigurationError("organizations: \(error)")
        }
    }

    func serve(_ configuration: StoreConfiguration, logger: Logger) async throws {
        let aeTitle = try StoreConfiguration.aeTitle(aet ?? configuration.aeTitle ?? "DCMSTORE", what: "--aet")
        let listenPort = port ?? configuration.port ?? 11112
        guard (0...65535).contains(listenPort) else { throw ConfigurationError("--port \(listenPort): expected 0 to 65535") }
        let policyName = duplicates ?? configuration.duplicates ?? "keep"
        guard let duplicatePolicy = DuplicatePolicy(rawValue: policyName) else {
            throw ConfigurationError("--duplicates \(policyName): expected keep, replace or reject")
        }
        var peerTable = configuration.peers ?? [:]
        for text in peers {
            let (title, peer) = try StoreConfiguration.parsePeer(text)
            peerTable[title] = peer
        }
        var clientTLS: DICOMTLS?
        if peerTable.values.contains(where: { $0.tls == true }) {
            clientTLS = try DICOMTLS.client(trustRootsPEM: configuration.tls?.ca, serverHostname: nil)
        }
        var destinations: [AETitle: MoveDestination] = [:]
        for (title, peer) in peerTable {
            let ae = try StoreConfiguration.aeTitle(title, what: "peer")
            destinations[ae] = MoveDestination(aeTitle: ae, host: peer.host, port: peer.port, tls: peer.tls == true ? clientTLS : nil)
        }
        let allowedTitles = allowed.isEmpty ? configuration.allowedCallingAETitles : allowed
        var serverTLS: DICOMTLS?
        let certificate = tlsCertificate ?? configuration.tls?.certificate
        let key = tlsKey ?? configuration.tls?.key
        if let certificate, let key {
            serverTLS = try DICOMTLS.server(certificateChainPEM: certificate, privateKeyPEM: key,
                                            clientCAPEM: tlsClientCA ?? configuration.tls?.clientCA)
        } else if certificate != nil || key != nil {
            throw ConfigurationError("TLS needs both a certificate (--tls-cert) and a key (--tls-key)")
        }

        let layout = ArchiveLayout(root: options.archivePath(configuration))
        try layout.createDirectories()
        let started = ContinuousClock.now
        let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout, logger: logger)
        var storeConfiguration = ArchiveStoreConfiguration(duplicatePolicy: duplicatePolicy, allowedCallingAETitles: allowedTitles.map(Set.init))
        storeConfiguration.writesDirectly = !(bufferedWrites || configuration.bufferedWrites == true)
        if let name = storeAs ?? configuration.storeAs {
            guard let syntax = TransferSyntaxNames.resolve(name) else {
                throw ConfigurationError("--store-as \(name): not a transfer syntax name or UID (\(TransferSyntaxNames.names.joined(separator: ", ")))")
            }
            do {
                storeConfiguration = try storeConfiguration.storing(in: syntax)
            } catch {
                throw ConfigurationError("--store-as \(name): \(error)")
            }
        }
        let store = try ArchiveStore(layout: layout, index: index, configuration: storeConfiguration, logger: logger)
        let organizations = try organizationTable(configuration)
        let audit = AuditTrail(path: layout.auditLogPath, logger: logger)
        var queryRetrieve = ArchiveQueryRetrieveHandler(index: index, root: layout.root, destinations: destinations,
                                                        caseInsensitiveNames: caseInsensitiveNames || configuration.caseInsensitiveNames == true,
                                                        organizations: organizations, shares: StudyShares(archiveRoot: layout.root))
        queryRetrieve.audit = audit
        let archiveHandler = ArchiveStorageHandler(store: store, audit: audit, organizations: organizations)
        var policy = DICOMServer.defaultArchivePolicy(aeTitle: aeTitle)
        // Storage Commitment Push Model SCP (PS3.4 J.3): the result goes back on the requestor's association.
        policy.accept(abstractSyntax: StorageCommitment.sopClassUID,
                      transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
        let commitment = ArchiveStorageCommitmentHandler(index: index, root: layout.root, audit: audit, organizations: organizations,
                                                         peers: destinations, logger: logger)
        policy.users = try configuration.userDirectory()
        var callers = try allowedTitles.map { Set(try $0.map { try StoreConfiguration.aeTitle($0, what: "allowed calling AE title") }) }
        if closed || configuration.closed == true {
            guard let organizations else { throw ConfigurationError("closed mode needs organizations (--org NAME=AE,...)") }
            let members = Set(try organizations.allAETitles.map { try StoreConfiguration.aeTitle($0, what: "organization AE title") })
            callers = callers.map { $0.intersection(members) } ?? members
        }
        if let callers { policy.callingAETitles = .only(callers) }
        let (rules, forwardDestinations) = try forwarding(configuration, aeTitle: aeTitle)
        var storageHandler: StorageHandler = archiveHandler
        var forwarders: [Task<Void, Never>] = []
        var forwardQueue: ForwardQueue?
        if !forwardDestinations.isEmpty {
            let queue = try ForwardQueue(directory: ForwardQueue.directory(inArchive: layout.root), logger: logger)
            forwardQueue = queue
            storageHandler = ForwardingStorageHandler(inner: archiveHandler, queue: queue, rules: rules, logger: logger)
            let maximumWait = forwardBackoffMax ?? 300
            guard maximumWait >= 1 else { throw ConfigurationError("--forward-backoff-max \(maximumWait): expected 1 or more seconds") }
            let backoff = ForwardBackoff(initial: .seconds(1), maximum: .seconds(maximumWait))
            for destination in forwardDestinations {
                forwarders.append(Forwarder(queue: queue, archiveRoot: layout.root, destination: destination, backoff: backoff,
                                            logger: logger).start())
                logger.notice("forwarding", metadata: ["destination": "\(destination.aeTitle)", "address": "\(destination.host):\(destination.port)",
                                                       "tls": "\(destination.tls != nil)", "associations": "\(destination.associations)",
                                                       "commit": "\(destination.commit)"])
            }
            let waiting = await queue.status()
            for row in waiting {
                logger.notice("forward queue", metadata: ["destination": "\(row.destination)", "pending": "\(row.pending)", "failed": "\(row.failed)"])
            }
        }
        // Instances whose Accession Number or Study Instance UID matches a worklist order move it to IMAGES RECEIVED.
        let orderLink = OrderLinkingStorageHandler(inner: storageHandler, index: index, worklist: try WorklistStore(archiveRoot: layout.root),
                                                   logger: logger)
        storageHandler = orderLink
        let server = try await DICOMServer.start(host: host ?? configuration.host ?? "0.0.0.0", port: listenPort, policy: policy,
                                                 storageHandler: storageHandler, queryHandler: queryRetrieve,
                                                 retrieveHandler: queryRetrieve,
                                                 storageCommitmentHandler: commitment,
                                                 associationObserver: { event in
                                                     let caller = event.callingAETitle.value
                                                     audit.record(AuditEntry(time: Date(), action: event.accepted ? "associate" : "reject",
                                                                             count: 0, user: event.userName ?? "", host: AuditLog.hostName,
                                                                             reason: event.rejection, aeTitle: caller,
                                                                             organization: organizations?.organization(
                                                                                 ofAETitle: caller, user: event.userName,
                                                                                 certificate: event.peerCertificateSHA256),
                                                                             peer: event.peer))
                                                 },
                                                 aeTitle: aeTitle,
                                                 temporaryDirectory: layout.temporaryDirectory, tls: serverTLS, logger: logger)
        let control = startLifecycleControl(layout: layout, index: index, queue: forwardQueue, logger: logger)
        let loadTime = ContinuousClock.now - started
        logger.notice("dcmstore ready", metadata: ["ae": "\(aeTitle)", "port": "\(server.port)", "archive": "\(layout.root)",
                                                   "startup": "\(loadTime)"])
        // One line on stdout for scripts: the port actually bound (useful with --port 0).
        // Written straight to the descriptor: print() is block-buffered when stdout is a pipe.
        FileHandle.standardOutput.write(Data("dcmstore listening on port \(server.port) as \(aeTitle), archive \(layout.root)\n".utf8))

        await waitForTermination()
        logger.notice("stopping: finishing in-flight associations")
        await server.shutdown(gracePeriod: Duration.seconds(30))
        await control?.stop()
        await orderLink.flush()
        audit.flush()
        for forwarder in forwarders { forwarder.cancel() }
        for forwarder in forwarders { await forwarder.value }
        try? await forwardQueue?.compact()
        try? await index.compact()
        logger.notice("stopped")
    }

    /// The forwarding rules and destinations of the configuration's `forward` section and the `--forward` flags.
    func forwarding(_ configuration: StoreConfiguration, aeTitle: AETitle) throws -> ([ForwardRule], [ForwardDestination]) {
        let section = configuration.forward
        var table = section?.destinations ?? [:]
        for text in forwards {
            let (title, peer) = try StoreConfiguration.parsePeer(text, flag: "--forward")
            table[title] = StoreConfiguration.Forward.Destination(host: peer.host, port: peer.port)
        }
        let defaultAssociations = forwardAssociations ?? section?.associations ?? 1
        guard defaultAssociations >= 1 else { throw ConfigurationError("--forward-associations \(defaultAssociations): expected 1 or more") }
        let callingAE = try section?.callingAETitle.map { try StoreConfiguration.aeTitle($0, what: "forward.callingAETitle") } ?? aeTitle
        var rules: [ForwardRule] = []
        var destinations: [ForwardDestination] = []
        for (title, destination) in table.sorted(by: { $0.key < $1.key }) {
            let ae = try StoreConfiguration.aeTitle(title, what: "forward destination")
            guard (1...65535).contains(destination.port) else {
                throw ConfigurationError("forward destination \(title): port \(destination.port): expected 1 to 65535")
            }
            let associations = destination.associations ?? defaultAssociations
            guard associations >= 1 else { throw ConfigurationError("forward destination \(title): associations must be 1 or more") }
            var tls: DICOMTLS?
            if destination.tls == true {
                tls = try DICOMTLS.client(trustRootsPEM: section?.ca, serverHostname: destination.host,
                                          certificateChainPEM: section?.certificate, privateKeyPEM: section?.key)
            }
            var identity: UserIdentity?
            if let user = destination.user {
                guard !user.isEmpty else { throw ConfigurationError("forward destination \(title): \"user\" is empty") }
                var passcode = destination.passcode
                if let file = destination.passcodeFile {
                    guard passcode == nil else { throw ConfigurationError("forward destination \(title): give passcode or passcodeFile, not both") }
                    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                        throw ConfigurationError("forward destination \(title): cannot read passcodeFile \(file)")
                    }
                    passcode = String(text.prefix { $0 != "\n" && $0 != "\r" })
                }
                identity = passcode.map { .usernameAndPasscode(user, passcode: $0) } ?? .username(user)
            } else if destination.passcode != nil || destination.passcodeFile != nil {
                throw ConfigurationError("forward destination \(title): a passcode needs \"user\"")
            }
            destinations.append(ForwardDestination(aeTitle: ae, host: destination.host, port: destination.port, tls: tls,
                                                   callingAE: callingAE, associations: associations,
                                                   commit: forwardCommit || destination.commit == true, userIdentity: identity))
            rules.append(ForwardRule(destination: ae.value, callingAETitles: destination.callingAETitles.map(Set.init),
                                     modalities: destination.modalities.map(Set.init), sopClassUIDs: destination.sopClasses.map(Set.init)))
        }
        return (rules, destinations)
    }

    /// Returns on SIGTERM or SIGINT.
    func waitForTermination() async {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = ResumeOnce(continuation)
            for number in [SIGTERM, SIGINT] {
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { once.resume() }
                source.resume()
                SignalSources.keep(source)
            }
        }
    }
}

/// Keeps signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    static let lock = NSLock()
    static func keep(_ source: DispatchSourceSignal) { lock.lock(); sources.append(source); lock.unlock() }
}

final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
    func resume() {
        lock.lock(); let c = continuation; continuation = nil; lock.unlock()
        c?.resume()
    }
}

/// Picks exactly one of --patient/--study/--series/--instance.
struct LevelOptions: ParsableArguments {
    @Option(help: "A Patient ID: everything of that patient.") var patient: String?
    @Option(help: "A Study Instance UID.") var study: String?
    @Option(help: "A Series Instance UID.") var series: String?
    @Option(help: "A SOP Instance UID.") var instance: String?
    @Option(help: "Why (recorded in the audit log).") var reason: String?

    func selection() throws -> (LifecycleLevel, String) {
        let given: [(LifecycleLevel, String?)] = [(.patient, patient), (.study, study), (.series, series), (.instance, instance)]
        let chosen = given.compactMap { level, value in value.map { (level, $0) } }
        guard chosen.count == 1, let only = chosen.first else {
            throw ValidationError("give exactly one of --patient, --study, --series or --instance")
        }
        return only
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Move a patient, study, series or instance to the archive's trash (restorable).")
    @OptionGroup var options: ArchiveOptions
    @OptionGroup var level: LevelOptions

    func run() async throws {
        let (chosen, uid) = try level.selection()
        let report = try await options.perform(.delete(level: chosen, uid: uid, reason: level.reason)).lifecycleReport()
        try printReport(report, json: options.json) { "\(report)" }
        if report.count == 0 { throw ExitCode(1) }
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bring a patient, study, series or instance back from the trash.")
    @OptionGroup var options: ArchiveOptions
    @OptionGroup var level: LevelOptions

    func run() async throws {
        let (chosen, uid) = try level.selection()
        let report = try await options.perform(.restore(level: chosen, uid: uid, reason: level.reason)).lifecycleReport()
        try printReport(report, json: options.json) { "\(report)" }
        if report.count == 0 { throw ExitCode(1) }
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete for good what has been in the trash longer than DAYS days.")
    @OptionGroup var options: ArchiveOptions
    @Option(name: .customLong("older-than"), help: "Days in the trash.") var olderThan: Int
    @Option(help: "Why (recorded in the audit log).") var reason: String?

    func run() async throws {
        guard olderThan >= 0 else { throw ValidationError("--older-than must be 0 or more days") }
        let report = try await options.perform(.purge(olderThanDays: olderThan, reason: reason)).lifecycleReport()
        try printReport(report, json: options.json) { "\(report)" }
    }
}

struct Retention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List what is past retention (images 5 years, reports 10 years from the study date); --apply moves it to the trash.")
    @OptionGroup var options: ArchiveOptions
    @Flag(help: "Move what is past retention to the trash.") var apply = false

    func run() async throws {
        let report = try await options.perform(.retention(apply: apply, reason: nil)).retentionReport()
        try printReport(report, json: options.json) { "\(report)" }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check every stored file against its SHA-256; report missing or damaged files.")
    @OptionGroup var options: ArchiveOptions

    func run() async throws {
        let report = try await options.perform(.verify).verifyReport()
        try printReport(report, json: options.json) { "\(report)" }
        if !report.missing.isEmpty || !report.damaged.isEmpty { throw ExitCode(1) }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print counts and sizes of the archive.")
    @OptionGroup var options: ArchiveOptions

    func run() async throws {
        let stats = try await options.perform(.stats).archiveStats()
        try printReport(stats, json: options.json) { "\(stats)" }
    }
}

struct Reindex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the index from the archive's files alone (inside the running server when one holds the archive).")
    @OptionGroup var options: ArchiveOptions

    func run() async throws {
        let report = try await options.perform(.reindex).reindexReport()
        try printReport(report, json: options.json) { "\(report)" }
    }
}
