import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Where a ``Forwarder`` sends: the destination's AE title and address, and how.
public struct ForwardDestination: Sendable {
    public var aeTitle: AETitle
    public var host: String
    public var port: Int
    /// TLS for the link (nil: plain TCP). A destination configured for TLS is never tried in plain text.
    public var tls: DICOMTLS?
    /// Our AE title on the association.
    public var callingAE: AETitle
    /// Associations used at the same time (each study goes through one of them, keeping its order). Default 1.
    public var associations: Int
    public var timeouts: DICOMTimeouts
    /// Ask the destination for Storage Commitment (PS3.4 J.3) of each study's instances after sending them on the
    /// association: an entry leaves the queue only when the destination committed it. Default false.
    public var commit: Bool
    /// The longest wait for a storage commitment result (default 60 s).
    public var commitTimeout: Duration
    /// Sent in every A-ASSOCIATE-RQ to the destination (User Identity Negotiation, PS3.7 D.3.3.7).
    public var userIdentity: UserIdentity?

    public init(aeTitle: AETitle, host: String, port: Int, tls: DICOMTLS? = nil, callingAE: AETitle = "DCMSTORE",
                associations: Int = 1, timeouts: DICOMTimeouts = DICOMTimeouts(), commit: Bool = false,
                commitTimeout: Duration = .seconds(60), userIdentity: UserIdentity? = nil) {
        self.userIdentity = userIdentity
        self.commit = commit
        self.commitTimeout = commitTimeout
        self.aeTitle = aeTitle
        self.host = host
        self.port = port
        self.tls = tls
        self.callingAE = callingAE
        self.associations = max(1, associations)
        self.timeouts = timeouts
    }
}

/// How long a ``Forwarder`` waits after a failure.
public struct ForwardBackoff: Sendable {
    /// The first wait (default 1 s); each further failure doubles it.
    public var initial: Duration
    /// The longest wait (default 5 minutes).
    public var maximum: Duration
    /// An instance answered with a transient failure status (out of resources, processing failure) this many times
    /// moves to the failed list (default 20). Connection failures are retried for ever.
    public var maximumAttempts: Int
    /// How often an idle sender looks at the queue (default 200 ms).
    public var pollInterval: Duration

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(300), maximumAttempts: Int = 20,
                pollInterval: Duration = .milliseconds(200)) {
        self.initial = initial
        self.maximum = maximum
        self.maximumAttempts = max(1, maximumAttempts)
        self.pollInterval = pollInterval
    }

    /// The wait after `failures` consecutive failures (1 for the first).
    public func delay(afterFailures failures: Int) -> Duration {
        var delay = initial
        var n = 1
        while n < failures && delay < maximum {
            delay *= 2
            n += 1
        }
        return min(delay, maximum)
    }
}

/// Delivers the queued instances of one destination by C-STORE, with at most ``ForwardDestination/associations``
/// associations, in order of arrival within each study. An entry leaves the queue only when the destination
/// answered success or warning. Connection failures (destination down, link cut, association rejected or aborted)
/// are retried with exponential backoff for ever; a permanent rejection (a failure status other than out of
/// resources / processing failure, for example A900H or 0122H, or no accepted presentation context for the
/// instance's SOP class and transfer syntax) moves the entry to the queue's failed list.
///
/// With ``ForwardDestination/commit``, the instances of each study sent in a batch are then submitted to Storage
/// Commitment on the same association; an entry leaves the queue only when committed. Instances reported not
/// committed stay queued and are sent again after a backoff, and move to the failed list after
/// ``ForwardBackoff/maximumAttempts``, as do those of a study whose result does not come (timeout, association lost).
public struct Forwarder: Sendable {
    public let queue: ForwardQueue
    /// The archive root that the entries' paths are relative to.
    public let archiveRoot: String
    public let destination: ForwardDestination
    public let backoff: ForwardBackoff
    let logger: Logger

    public init(queue: ForwardQueue, archiveRoot: String, destination: ForwardDestination, backoff: ForwardBackoff = ForwardBackoff(),
                logger: Logger = Logger(label: "dicom.archive.forward")) {
        self.queue = queue
        self.archiveRoot = archiveRoot
        self.destination = destination
        self.backoff = backoff
        self.logger = logger
    }

    /// Starts the senders in a task; cancel it to stop (the current C-STORE finishes or is aborted; anything not
    /// answered stays queued).
    public func start() -> Task<Void, Never> {
        Task { await run() }
    }

    /// Runs the senders until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<destination.associations {
                group.addTask { await self.runSender(worker) }
            }
        }
    }

    /// Whether a failure status may succeed later (out of resources, processing failure, resource limitation, cancel).
    public static func isTransient(_ status: DIMSEStatus) -> Bool {
        switch status.category {
        case .success, .warning: return false
        case .cancel, .pending: return true
        case .failure:
            return status.rawValue >> 8 == 0xA7 || status.rawValue == 0x0110 || status.rawValue == 0x0213
        }
    }

    static func contextKey(_ entry: ForwardEntry) -> String { entry.sopClassUID + "|" + entry.transferSyntaxUID }

    static func contexts(for entries: [ForwardEntry], commit: Bool = false) -> [PresentationContext] {
        var seen: Set<String> = []
        var contexts: [PresentationContext] = []
        if commit { contexts.append(StorageCommitment.presentationContext(id: 1)) }
        for entry in entries where seen.insert(contextKey(entry)).inserted && contexts.count < 128 {
            var syntaxes = [entry.transferSyntaxUID]
            for extra in [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid] where !syntaxes.contains(extra) {
                syntaxes.append(extra)
            }
            contexts.append(PresentationContext(id: UInt8(contexts.count * 2 + 1), abstractSyntax: entry.sopClassUID, transferSyntaxes: syntaxes))
        }
        return contexts
    }

    private func sleep(_ duration: Duration) async -> Bool {
        do {
            try await Task.sleep(for: duration)
            return true
        } catch {
            return false
        }
    }

    private func runSender(_ worker: Int) async {
        // The worker's task and its associations share one event loop (``EventLoopTaskExecutor``): responses resume it
        // on the thread that read them, and its sends need no hand-over.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            await send(worker, on: loop)
        }
    }

    private func send(_ worker: Int, on loop: any EventLoop) async {
        let name = destination.aeTitle.value
        var association: Association?
        var proposed: Set<String> = []
        var connectionFailures = 0
        var idleSince: ContinuousClock.Instant?
        defer {
            if let association { Task { try? await association.release() } }
        }
        while !Task.isCancelled {
            let (batch, nextDue) = await queue.due(destination: name, worker: worker, of: destination.associations, limit: 64)
            if batch.isEmpty {
                // Keep an idle association a few seconds (a modality storing one image at a time), then release it.
                if let open = association {
                    let now = ContinuousClock.now
                    if let since = idleSince, now - since > .seconds(5) {
                        try? await open.release()
                        association = nil
                        idleSince = nil
                    } else if idleSince == nil {
                        idleSince = now
                    }
                }
                var wait = backoff.pollInterval
                if let nextDue {
                    let seconds = nextDue.timeIntervalSinceNow
                    wait = min(wait, .milliseconds(Int64(max(0, seconds) * 1000)))
                }
                guard await sleep(max(wait, .milliseconds(10))) else { break }
                continue
            }
            idleSince = nil
            let keys = Set(batch.map(Self.contextKey))
            if association == nil || !keys.isSubset(of: proposed) {
                if let open = association { try? await open.release() }
                association = nil
                do {
                    association = try await DICOMClient.connect(host: destination.host, port: destination.port,
                                                                callingAE: destination.callingAE, calledAE: destination.aeTitle,
                                                                presentationContexts: Self.contexts(for: batch, commit: destination.commit),
                                                                userIdentity: destination.userIdentity, timeouts: destination.timeouts, tls: destination.tls,
                                                                eventLoopGroup: loop, logger: logger)
                    proposed = keys
                    connectionFailures = 0
                    try? await queue.noteLink(destination: name, error: nil)
                } catch {
                    connectionFailures += 1
                    let delay = backoff.delay(afterFailures: connectionFailures)
                    try? await queue.noteLink(destination: name, error: "\(error)")
                    logger.warning("forward to \(name) at \(destination.host):\(destination.port): \(error); retrying in \(delay)")
                    guard await sleep(delay) else { break }
                    continue
                }
            }
            guard let current = association else { continue }
            var blockedStudies: Set<String> = []
            // With commitment: the entries stored on this association, waiting for their commitment request.
            var stored: [ForwardEntry] = []
            var associationLost = false
            var readAhead = ReadAhead(paths: batch.map { archiveRoot + "/" + $0.path })
            for (index, entry) in batch.enumerated() where !blockedStudies.contains(entry.studyInstanceUID) {
                if Task.isCancelled { break }
                readAhead.willSend(index)
                do {
                    let (_, status) = try await current.store(fileAt: archiveRoot + "/" + entry.path)
                    if status.isSuccessOrWarning && destination.commit {
                        stored.append(entry)
                    } else if status.isSuccessOrWarning {
                        try await queue.complete(destination: name, sopInstanceUID: entry.sopInstanceUID)
                    } else if Self.isTransient(status), entry.attempts + 1 < backoff.maximumAttempts {
                        let delay = backoff.delay(afterFailures: entry.attempts + 1)
                        blockedStudies.insert(entry.studyInstanceUID)
                        try await queue.postpone(destination: name, sopInstanceUID: entry.sopInstanceUID,
                                                 error: "status \(status)", nextAttempt: Date().addingTimeInterval(Self.seconds(delay)))
                    } else {
                        logger.warning("forward to \(name): \(entry.sopInstanceUID) rejected with status \(status); moved to the failed list")
                        try await queue.fail(destination: name, sopInstanceUID: entry.sopInstanceUID, error: "status \(status)")
                    }
                } catch let error as DICOMServiceError where error.code == .noPresentationContext || error.code == .invalidInput {
                    logger.warning("forward to \(name): \(entry.sopInstanceUID) not sent: \(error.message); moved to the failed list")
                    try? await queue.fail(destination: name, sopInstanceUID: entry.sopInstanceUID, error: error.message)
                } catch let error as ArchiveError {
                    // The queue could not be written: try again later.
                    logger.error("forward queue: \(error)")
                    _ = await sleep(backoff.initial)
                    break
                } catch {
                    // The association is gone: what was not answered stays queued.
                    await current.abort()
                    association = nil
                    associationLost = true
                    connectionFailures += 1
                    let delay = backoff.delay(afterFailures: connectionFailures)
                    logger.warning("forward to \(name): \(error); retrying in \(delay)")
                    _ = await sleep(delay)
                    break
                }
            }
            if !stored.isEmpty && !associationLost && !Task.isCancelled {
                if await !requestCommitment(of: stored, on: current) {
                    await current.abort()
                    association = nil
                }
            }
        }
    }

    /// Requests Storage Commitment of `entries` (stored on `association`), one request per study, and settles the
    /// queue entries by the result. Returns false when the association is no longer usable (what was not settled
    /// stays pending and is sent again).
    func requestCommitment(of entries: [ForwardEntry], on association: Association) async -> Bool {
        let name = destination.aeTitle.value
        var studies: [String: [ForwardEntry]] = [:]
        var order: [String] = []
        for entry in entries {
            if studies[entry.studyInstanceUID] == nil { order.append(entry.studyInstanceUID) }
            studies[entry.studyInstanceUID, default: []].append(entry)
        }
        for study in order {
            guard let group = studies[study] else { continue }
            let references = group.map { SOPReference(sopClassUID: $0.sopClassUID, sopInstanceUID: $0.sopInstanceUID) }
            do {
                let result = try await association.requestStorageCommitment(references: references, timeout: destination.commitTimeout)
                let failures = Dictionary(result.failed.map { ($0.reference.sopInstanceUID, $0.failureReason) }, uniquingKeysWith: { a, _ in a })
                let committed = Set(result.committed.map(\.sopInstanceUID))
                logger.info("forward to \(name): storage commitment", metadata: [
                    "dicom.study": "\(study)", "dicom.transaction": "\(result.transactionUID)",
                    "dicom.committed": "\(committed.count)", "dicom.failed": "\(failures.count)",
                ])
                for entry in group {
                    if committed.contains(entry.sopInstanceUID) && failures[entry.sopInstanceUID] == nil {
                        try await queue.complete(destination: name, sopInstanceUID: entry.sopInstanceUID, committed: true)
                    } else {
                        let reason = failures[entry.sopInstanceUID].map { "not committed: failure reason \(String($0, radix: 16, uppercase: true))H" }
                            ?? "not committed: missing from the storage commitment result"
                        try await settleUncommitted(entry, reason: reason)
                    }
                }
            } catch let failure as DIMSEFailure {
                // The destination refused the request (for example no Storage Commitment there): try again later.
                logger.warning("forward to \(name): storage commitment refused: \(failure)")
                for entry in group { try? await settleUncommitted(entry, reason: "storage commitment refused: \(failure)") }
            } catch let error as DICOMServiceError where error.code == .noPresentationContext {
                logger.warning("forward to \(name): the destination did not accept Storage Commitment; instances stay queued")
                for entry in group { try? await settleUncommitted(entry, reason: "Storage Commitment not accepted by the destination") }
            } catch let error as ArchiveError {
                logger.error("forward queue: \(error)")
                return true
            } catch {
                // Timeout or association lost: sent again after a backoff (a destination that never answers on the
                // association moves them to the failed list after the maximum attempts).
                logger.warning("forward to \(name): no storage commitment result: \(error); the instances will be sent again")
                for entry in group { try? await settleUncommitted(entry, reason: "no storage commitment result: \(error)") }
                return false
            }
        }
        return true
    }

    /// An instance sent but not committed: retried after a backoff, or moved to the failed list after the maximum attempts.
    private func settleUncommitted(_ entry: ForwardEntry, reason: String) async throws {
        let name = destination.aeTitle.value
        if entry.attempts + 1 < backoff.maximumAttempts {
            let delay = backoff.delay(afterFailures: entry.attempts + 1)
            try await queue.postpone(destination: name, sopInstanceUID: entry.sopInstanceUID, error: reason,
                                     nextAttempt: Date().addingTimeInterval(Self.seconds(delay)))
        } else {
            logger.warning("forward to \(name): \(entry.sopInstanceUID) \(reason); moved to the failed list")
            try await queue.fail(destination: name, sopInstanceUID: entry.sopInstanceUID, error: reason)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
