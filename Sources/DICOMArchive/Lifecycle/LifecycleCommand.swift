import Foundation

/// A lifecycle action as a value: what `dcmstore delete|restore|purge|retention` asks for.
///
/// The same value runs in one of two places, always through ``run(on:)``: directly on the archive folder when no
/// server holds it, or inside the running server, which receives it over the archive's control socket
/// (``LifecycleControlServer``) and so sees the change at once.
public enum LifecycleCommand: Sendable, Codable, Equatable {
    /// Move a patient, study, series or instance to the trash (``ArchiveLifecycle/delete(level:uid:reason:now:)``).
    case delete(level: LifecycleLevel, uid: String, reason: String?)
    /// Bring it back from the trash (``ArchiveLifecycle/restore(level:uid:reason:now:)``).
    case restore(level: LifecycleLevel, uid: String, reason: String?)
    /// Delete for good what has been in the trash at least this many days (``ArchiveLifecycle/purge(olderThan:reason:now:)``).
    case purge(olderThanDays: Int, reason: String?)
    /// List what is past retention; with `apply`, move it to the trash (``ArchiveLifecycle/retention(now:apply:reason:)``).
    case retention(apply: Bool, reason: String?)
    /// Check every stored file against its SHA-256 (``ArchiveLifecycle/verify()``); changes nothing.
    case verify
    /// Counts and sizes (``ArchiveLifecycle/stats()``); changes nothing.
    case stats
    /// Rebuild the index from the files alone (``ArchiveLifecycle/reindex(now:)``). Inside a running server, stores go on
    /// meanwhile: an instance stored during the scan is indexed either way.
    case reindex
    /// A forwarding queue action (`dcmstore queue …`), run on the queue rather than the lifecycle (``QueueCommand``).
    case queue(QueueCommand)

    /// Whether the command changes the archive (and so is followed by an index compaction).
    public var changesArchive: Bool {
        switch self {
        case .delete, .restore, .purge, .reindex: true
        case let .retention(apply, _): apply
        case .verify, .stats, .queue: false
        }
    }

    /// The command's name as on the command line (`delete`, `restore`, `purge`, `retention`).
    public var name: String {
        switch self {
        case .delete: "delete"
        case .restore: "restore"
        case .purge: "purge"
        case .retention: "retention"
        case .verify: "verify"
        case .stats: "stats"
        case .reindex: "reindex"
        case .queue: "queue"
        }
    }

    /// Runs the command on `lifecycle`, then compacts the index when the archive changed.
    /// - Throws: what the lifecycle action throws (``ArchiveError`` `notFound`, `invalidUID`, `invalidArgument`, file
    ///   system errors).
    public func run(on lifecycle: ArchiveLifecycle) async throws -> LifecycleOutcome {
        let outcome: LifecycleOutcome
        switch self {
        case let .delete(level, uid, reason):
            outcome = .lifecycle(try await lifecycle.delete(level: level, uid: uid, reason: reason))
        case let .restore(level, uid, reason):
            outcome = .lifecycle(try await lifecycle.restore(level: level, uid: uid, reason: reason))
        case let .purge(days, reason):
            outcome = .lifecycle(try await lifecycle.purge(olderThan: days, reason: reason))
        case let .retention(apply, reason):
            outcome = .retention(try await lifecycle.retention(apply: apply, reason: reason))
        case .verify:
            outcome = .verify(await lifecycle.verify())
        case .stats:
            outcome = .stats(await lifecycle.stats())
        case .reindex:
            outcome = .reindex(try await lifecycle.reindex())
        case .queue:
            throw ArchiveError(.invalidArgument, "queue commands run on the forwarding queue (QueueCommand.run(on:)), not on the lifecycle")
        }
        if changesArchive { try await lifecycle.index.compact() }
        return outcome
    }
}

/// `dcmstore queue status|list|retry|drop` as a value, so that it runs on the running server's own queue (through the
/// control socket) as well as on the folder's.
public enum QueueCommand: Sendable, Codable, Equatable {
    /// Counts per destination (``ForwardQueue/status()``).
    case status
    /// The entries in order of arrival, optionally of one destination and state.
    case list(destination: String?, state: ForwardEntry.State?)
    /// Failed entries back to pending: one instance's, or all (``ForwardQueue/retry(sopInstanceUID:destination:)``).
    case retry(sopInstanceUID: String?, destination: String?)
    /// Entries removed: one instance's, or all failed ones (``ForwardQueue/drop(sopInstanceUID:destination:)``).
    case drop(sopInstanceUID: String?, destination: String?)

    /// Runs the command on `queue` (compacting it after a change).
    public func run(on queue: ForwardQueue) async throws -> LifecycleOutcome {
        switch self {
        case .status:
            return .queueStatus(await queue.status())
        case let .list(destination, state):
            return .queueEntries(await queue.entries(destination: destination, state: state))
        case let .retry(sopInstanceUID, destination):
            let count = try await queue.retry(sopInstanceUID: sopInstanceUID, destination: destination)
            try await queue.compact()
            return .queueCount(count)
        case let .drop(sopInstanceUID, destination):
            let count = try await queue.drop(sopInstanceUID: sopInstanceUID, destination: destination)
            try await queue.compact()
            return .queueCount(count)
        }
    }
}

/// What a ``LifecycleCommand`` reports.
public enum LifecycleOutcome: Sendable, Codable, Equatable {
    /// The report of `delete`, `restore` or `purge`.
    case lifecycle(LifecycleReport)
    /// The report of `retention`.
    case retention(RetentionReport)
    /// The report of `verify`.
    case verify(VerifyReport)
    /// The counts of `stats`.
    case stats(ArchiveStats)
    /// What `reindex` found and wrote.
    case reindex(ReindexReport)
    /// `queue status`: counts per destination.
    case queueStatus([ForwardQueueStatus])
    /// `queue list`: the entries.
    case queueEntries([ForwardEntry])
    /// `queue retry` / `queue drop`: how many entries changed.
    case queueCount(Int)

    /// The kind of report, for error messages.
    var kind: String {
        switch self {
        case .lifecycle(let report): report.action
        case .retention: "retention"
        case .verify: "verify"
        case .stats: "stats"
        case .reindex: "reindex"
        case .queueStatus, .queueEntries, .queueCount: "queue"
        }
    }

    /// The report of `delete`, `restore` or `purge`.
    /// - Throws: ``ArchiveError`` `invalidArgument` when the outcome is a retention report.
    public func lifecycleReport() throws -> LifecycleReport {
        guard case let .lifecycle(report) = self else {
            throw ArchiveError(.invalidArgument, "expected a delete, restore or purge report, got a \(kind) report")
        }
        return report
    }

    /// The report of `retention`.
    /// - Throws: ``ArchiveError`` `invalidArgument` when the outcome is a delete, restore or purge report.
    public func retentionReport() throws -> RetentionReport {
        guard case let .retention(report) = self else {
            throw ArchiveError(.invalidArgument, "expected a retention report, got a \(kind) report")
        }
        return report
    }

    /// The report of `verify`.
    /// - Throws: ``ArchiveError`` `invalidArgument` for another kind of report.
    public func verifyReport() throws -> VerifyReport {
        guard case let .verify(report) = self else { throw ArchiveError(.invalidArgument, "expected a verify report, got a \(kind) report") }
        return report
    }

    /// The per-destination counts of `queue status`.
    /// - Throws: ``ArchiveError`` `invalidArgument` for another kind of report.
    public func queueStatus() throws -> [ForwardQueueStatus] {
        guard case let .queueStatus(rows) = self else { throw ArchiveError(.invalidArgument, "expected a queue status, got a \(kind) report") }
        return rows
    }

    /// The entries of `queue list`.
    /// - Throws: ``ArchiveError`` `invalidArgument` for another kind of report.
    public func queueEntries() throws -> [ForwardEntry] {
        guard case let .queueEntries(entries) = self else { throw ArchiveError(.invalidArgument, "expected queue entries, got a \(kind) report") }
        return entries
    }

    /// How many entries `queue retry` or `queue drop` changed.
    /// - Throws: ``ArchiveError`` `invalidArgument` for another kind of report.
    public func queueCount() throws -> Int {
        guard case let .queueCount(count) = self else { throw ArchiveError(.invalidArgument, "expected a queue count, got a \(kind) report") }
        return count
    }

    /// The report of `reindex`.
    /// - Throws: ``ArchiveError`` `invalidArgument` for another kind of report.
    public func reindexReport() throws -> ReindexReport {
        guard case let .reindex(report) = self else { throw ArchiveError(.invalidArgument, "expected a reindex report, got a \(kind) report") }
        return report
    }

    /// The counts of `stats`.
    /// - Throws: ``ArchiveError`` `invalidArgument` for another kind of report.
    public func archiveStats() throws -> ArchiveStats {
        guard case let .stats(stats) = self else { throw ArchiveError(.invalidArgument, "expected stats, got a \(kind) report") }
        return stats
    }
}
