import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One instance waiting to be forwarded to one destination.
public struct ForwardEntry: Sendable, Codable, Equatable {
    /// Pending entries are sent; failed ones wait for `dcmstore queue retry` or `drop`.
    public enum State: String, Sendable, Codable {
        case pending, failed
    }

    /// Order of arrival (monotonic within a queue); entries of a study are delivered in this order.
    public var sequence: UInt64
    /// The destination's AE title.
    public var destination: String
    public var sopInstanceUID: String
    public var sopClassUID: String
    public var studyInstanceUID: String
    /// The stored file, relative to the archive root.
    public var path: String
    /// The transfer syntax of the stored file.
    public var transferSyntaxUID: String
    public var enqueuedAt: Date
    public var state: State
    /// Delivery attempts so far.
    public var attempts: Int
    /// Why the last attempt did not succeed.
    public var lastError: String?
    /// Not sent before this time (backoff after a transient failure).
    public var nextAttempt: Date?

    public init(destination: String, sopInstanceUID: String, sopClassUID: String, studyInstanceUID: String, path: String,
                transferSyntaxUID: String, enqueuedAt: Date = Date()) {
        self.sequence = 0
        self.destination = destination
        self.sopInstanceUID = sopInstanceUID
        self.sopClassUID = sopClassUID
        self.studyInstanceUID = studyInstanceUID
        self.path = path
        self.transferSyntaxUID = transferSyntaxUID
        self.enqueuedAt = enqueuedAt
        self.state = .pending
        self.attempts = 0
    }

    var key: ForwardQueue.Key { ForwardQueue.Key(destination: destination, sopInstanceUID: sopInstanceUID) }
}

/// Counts of one destination's queue.
public struct ForwardQueueStatus: Sendable, Codable, Equatable {
    public var destination: String
    public var pending: Int
    public var failed: Int
    /// The oldest pending entry's enqueue time.
    public var oldestPending: Date?
    /// The last error recorded on a pending entry, if any.
    public var lastError: String?
    /// Instances the destination confirmed by Storage Commitment since the queue was created (destinations with
    /// `commit` only).
    public var committed: Int = 0
}

/// The durable forwarding queue of an archive: a journal of JSON lines in `ARCHIVE/queue/journal.jsonl`.
///
/// Every change is appended as one event line (`add`, `done`, `attempt`, `fail`, `retry`, `drop`) and, for the
/// changes that must survive a crash (`add`, `done`, `fail`, `retry`, `drop`), fsynced before the call returns, so
/// an instance enqueued before its C-STORE-RSP is never lost, even on SIGKILL or power loss. Opening replays the
/// journal (a torn last line, from a crash in the middle of a write, is ignored) and rewrites it compacted (one
/// `add` line per live entry, written to a temporary file, fsynced and renamed); the journal is compacted again
/// whenever it holds many more events than live entries.
///
/// Only one queue object may have a queue directory open at a time (an exclusive `flock` on `queue/lock`): the
/// `dcmstore queue` commands refuse to run while a server has the archive's queue open.
public actor ForwardQueue {
    struct Key: Hashable, Sendable {
        var destination: String
        var sopInstanceUID: String
    }

    struct Event: Codable {
        var op: String
        var entry: ForwardEntry?
        var destination: String?
        var sop: String?
        var error: String?
        var attempts: Int?
        var next: Date?
        /// `done` after a Storage Commitment confirmed the instance.
        var committed: Bool?
        /// `committed`: the destination's count of committed instances carried over a compaction.
        var count: Int?
    }

    /// The queue's directory.
    public nonisolated let directory: String
    nonisolated var journalPath: String { directory + "/journal.jsonl" }
    private var table: [Key: ForwardEntry] = [:]
    /// Entries queued while their instance is still being stored (``enqueue(_:held:)``): not sent, and holding back the
    /// rest of their study, until ``release(_:)``. Kept in memory only.
    private var held: Set<Key> = []
    /// Instances committed per destination (``ForwardQueueStatus/committed``).
    private var committedCounts: [String: Int] = [:]
    /// Why the link to a destination is down (cannot connect, TLS refused…), until it works again.
    private var linkErrors: [String: String] = [:]
    private var nextSequence: UInt64 = 1
    private var fd: Int32 = -1
    private var lockFD: Int32 = -1
    private var eventsSinceCompaction = 0
    /// fsyncs of ``enqueue(_:held:)``, grouped for concurrent stores and run off the actor.
    private let journalSync = DirectorySync(syncing: FileSystem.syncFile)
    /// Those in progress: the journal is not compacted meanwhile (its rewrite, from the entries table, would leave out
    /// the entries being made durable).
    private var syncsInFlight = 0
    private let logger: Logger
    private let encoder = ForwardQueue.makeEncoder()
    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
    /// Lines of the journal that could not be read when it was opened (a torn last line after a crash).
    public private(set) var ignoredLines = 0

    /// The queue directory of an archive: `ROOT/queue`.
    public static func directory(inArchive root: String) -> String { root + "/queue" }

    /// Opens (creating if needed) the queue in `directory`, usually ``ForwardQueue/directory(inArchive:)`` (`ARCHIVE/queue`).
    /// - Throws: ``ArchiveError`` when the directory or journal cannot be created, read or written.
    public init(directory: String, logger: Logger = Logger(label: "dicom.archive.forward")) throws {
        self.directory = directory
        self.logger = logger
        try FileSystem.makeDirectories(directory)
        let lockPath = directory + "/lock"
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw ArchiveError.system("cannot open", path: lockPath, errno: errno) }
        guard FileSystem.lockExclusively(lock) else {
            Glibc.close(lock)
            throw ArchiveError(.io, "the forwarding queue \(directory) is in use by another process (a running dcmstore serve?); stop it first",
                               path: directory)
        }
        lockFD = lock
        let path = directory + "/journal.jsonl"
        var loaded: [Key: ForwardEntry] = [:]
        var counts: [String: Int] = [:]
        var links: [String: String] = [:]
        var sequence: UInt64 = 1
        var ignored = 0
        if let data = FileManager.default.contents(atPath: path) {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .millisecondsSince1970
            for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
                guard let event = try? decoder.decode(Event.self, from: Data(line)) else { ignored += 1; continue }
                Self.apply(event, to: &loaded, sequence: &sequence, committed: &counts, linkErrors: &links)
            }
        }
        table = loaded
        committedCounts = counts
        linkErrors = links
        nextSequence = sequence
        ignoredLines = ignored
        if ignored > 0 { logger.warning("forward queue: ignored \(ignored) unreadable journal line(s) in \(path)") }
        do {
            fd = try Self.writeJournal(Array(loaded.values), committed: counts, linkErrors: links, directory: directory,
                                       encoder: Self.makeEncoder())
        } catch {
            Glibc.close(lock)
            throw error
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        if lockFD >= 0 { Glibc.close(lockFD) }
    }

    /// Closes the journal and releases the lock; later changes throw. (Dropping the last reference does the same.)
    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        if lockFD >= 0 { Glibc.close(lockFD); lockFD = -1 }
    }

    static func apply(_ event: Event, to table: inout [Key: ForwardEntry], sequence: inout UInt64, committed: inout [String: Int],
                      linkErrors: inout [String: String]) {
        switch event.op {
        case "link":
            guard let destination = event.destination else { return }
            linkErrors[destination] = event.error
        case "add":
            guard let entry = event.entry else { return }
            table[entry.key] = entry
            sequence = max(sequence, entry.sequence + 1)
        case "committed":
            guard let destination = event.destination, let count = event.count, count > 0 else { return }
            committed[destination, default: 0] += count
        default:
            guard let destination = event.destination, let sop = event.sop else { return }
            let key = Key(destination: destination, sopInstanceUID: sop)
            switch event.op {
            case "done", "drop":
                if event.op == "done", event.committed == true, table[key] != nil { committed[destination, default: 0] += 1 }
                table[key] = nil
            case "attempt":
                guard var entry = table[key] else { return }
                entry.attempts = event.attempts ?? entry.attempts
                entry.lastError = event.error
                entry.nextAttempt = event.next
                table[key] = entry
            case "fail":
                guard var entry = table[key] else { return }
                entry.state = .failed
                entry.attempts = event.attempts ?? entry.attempts
                entry.lastError = event.error
                entry.nextAttempt = nil
                table[key] = entry
            case "retry":
                table[key]?.state = .pending
                table[key]?.attempts = 0
                table[key]?.nextAttempt = nil
            default:
                return
            }
        }
    }

    // MARK: - Journal

    /// Writes the live entries to a new journal and swaps it in atomically.
    private func rewriteJournal() throws {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        fd = try Self.writeJournal(Array(table.values), committed: committedCounts, linkErrors: linkErrors, directory: directory,
                                   encoder: encoder)
        eventsSinceCompaction = 0
    }

    /// Writes `entries` (and the committed counts) as a new journal (temporary file, fsync, rename, directory fsync);
    /// returns it open for appending.
    private static func writeJournal(_ entries: [ForwardEntry], committed: [String: Int], linkErrors: [String: String],
                                     directory: String, encoder: JSONEncoder) throws -> Int32 {
        let journalPath = directory + "/journal.jsonl"
        let temporary = directory + "/journal.jsonl.tmp"
        var data = Data()
        for (destination, count) in committed.sorted(by: { $0.key < $1.key }) where count > 0 {
            data += try encoder.encode(Event(op: "committed", destination: destination, count: count))
            data.append(UInt8(ascii: "\n"))
        }
        for (destination, error) in linkErrors.sorted(by: { $0.key < $1.key }) {
            data += try encoder.encode(Event(op: "link", destination: destination, error: error))
            data.append(UInt8(ascii: "\n"))
        }
        for entry in entries.sorted(by: { $0.sequence < $1.sequence }) {
            data += try encoder.encode(Event(op: "add", entry: entry))
            data.append(UInt8(ascii: "\n"))
        }
        unlink(temporary)
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw ArchiveError.system("cannot create", path: temporary, errno: errno) }
        do {
            try Self.writeAll(data, to: out, path: temporary)
            guard fsync(out) == 0 else { throw ArchiveError.system("cannot fsync", path: temporary, errno: errno) }
            Glibc.close(out)
        } catch {
            Glibc.close(out)
            throw error
        }
        guard rename(temporary, journalPath) == 0 else { throw ArchiveError.system("cannot rename", path: temporary, errno: errno) }
        FileSystem.syncDirectory(directory)
        let fd = open(journalPath, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.system("cannot open", path: journalPath, errno: errno) }
        return fd
    }

    private static func writeAll(_ data: Data, to fd: Int32, path: String) throws {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            guard var base = buffer.baseAddress else { return }
            var remaining = buffer.count
            while remaining > 0 {
                let written = write(fd, base, remaining)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError.system("cannot write", path: path, errno: errno)
                }
                remaining -= written
                base += written
            }
        }
    }

    /// Appends events; fsyncs when `durable`. Compacts when the journal holds many more events than live entries.
    private func append(_ events: [Event], durable: Bool) throws {
        guard fd >= 0 else { throw ArchiveError(.io, "the forward queue journal is not open", path: journalPath) }
        var data = Data()
        for event in events {
            data += try encoder.encode(event)
            data.append(UInt8(ascii: "\n"))
        }
        try Self.writeAll(data, to: fd, path: journalPath)
        if durable, fsync(fd) != 0 { throw ArchiveError.system("cannot fsync", path: journalPath, errno: errno) }
        eventsSinceCompaction += events.count
        if syncsInFlight == 0 && eventsSinceCompaction > 10_000 && eventsSinceCompaction > 4 * table.count {
            do { try rewriteJournal() } catch { logger.warning("forward queue: compaction failed: \(error)") }
        }
    }

    // MARK: - Changes

    /// Adds entries durably (an entry for a destination and SOP Instance UID already queued is replaced and made
    /// pending again). Returns after the journal is fsynced.
    ///
    /// `held`: the instance is still being stored (the queue is written alongside the store); the entries are not sent
    /// until ``release(_:)``, or are taken back with ``withdraw(_:)`` if the store fails. If the process stops in
    /// between, they are pending when the queue is next opened; an entry whose file never arrived goes to the failed
    /// list when it is sent, and the sender's new attempt at the store queues it again.
    public func enqueue(_ newEntries: [ForwardEntry], held holding: Bool = false) async throws {
        guard !newEntries.isEmpty else { return }
        var events: [Event] = []
        var added: [ForwardEntry] = []
        for var entry in newEntries {
            if let existing = table[entry.key], existing.state == .pending, existing.path == entry.path {
                continue   // already waiting: keep its place in the order
            }
            entry.sequence = nextSequence
            nextSequence += 1
            entry.state = .pending
            events.append(Event(op: "add", entry: entry))
            added.append(entry)
        }
        guard !events.isEmpty else { return }
        // Written here, in order with every other change; fsynced on a thread of its own, so that the queue (and the
        // cooperative thread it runs on) serves other stores meanwhile.
        try append(events, durable: false)
        syncsInFlight += 1
        defer { syncsInFlight -= 1 }
        try await journalSync.sync(journalPath)
        for entry in added {
            table[entry.key] = entry
            if holding { held.insert(entry.key) }
        }
    }

    /// The instances of entries queued with `held` are stored: they may be sent.
    public func release(_ entries: [ForwardEntry]) {
        for entry in entries { held.remove(entry.key) }
    }

    /// The instances of entries queued with `held` were not stored: the entries leave the queue (not fsynced: an entry
    /// that comes back after a power failure goes to the failed list when its file is not found).
    public func withdraw(_ entries: [ForwardEntry]) throws {
        var events: [Event] = []
        for entry in entries {
            held.remove(entry.key)
            guard let queued = table[entry.key], queued.state == .pending, queued.path == entry.path else { continue }
            table[entry.key] = nil
            events.append(Event(op: "drop", destination: entry.destination, sop: entry.sopInstanceUID))
        }
        if !events.isEmpty { try append(events, durable: false) }
    }

    /// The destination answered success (or warning), or, with `committed`, confirmed the instance by Storage
    /// Commitment (counted in ``ForwardQueueStatus/committed``): the entry leaves the queue.
    ///
    /// Not fsynced (the next durable change fsyncs it with the rest): a record lost with the machine's power only makes
    /// the instance go again, and the destination answers an identical copy without storing it twice. An fsync per
    /// instance sent was a wait for the disk between two C-STOREs.
    public func complete(destination: String, sopInstanceUID: String, committed: Bool = false) throws {
        let key = Key(destination: destination, sopInstanceUID: sopInstanceUID)
        guard table[key] != nil else { return }
        try append([Event(op: "done", destination: destination, sop: sopInstanceUID, committed: committed ? true : nil)], durable: false)
        table[key] = nil
        if committed { committedCounts[destination, default: 0] += 1 }
    }

    /// Records why the link to `destination` is down (nil: it works again), for ``status()``. Written to the journal
    /// only when the reason changes, so a long outage does not grow it; not fsynced.
    public func noteLink(destination: String, error: String?) throws {
        guard linkErrors[destination] != error else { return }
        try append([Event(op: "link", destination: destination, error: error)], durable: false)
        linkErrors[destination] = error
    }

    /// A transient failure: the entry stays pending and is not tried again before `nextAttempt`.
    public func postpone(destination: String, sopInstanceUID: String, error: String, nextAttempt: Date) throws {
        let key = Key(destination: destination, sopInstanceUID: sopInstanceUID)
        guard var entry = table[key] else { return }
        entry.attempts += 1
        entry.lastError = error
        entry.nextAttempt = nextAttempt
        // Not fsynced: losing an attempt count in a crash only makes the next attempt come sooner.
        try append([Event(op: "attempt", destination: destination, sop: sopInstanceUID, error: error, attempts: entry.attempts,
                          next: nextAttempt)], durable: false)
        table[key] = entry
    }

    /// The destination rejected the instance for good: the entry moves to the failed list.
    public func fail(destination: String, sopInstanceUID: String, error: String) throws {
        let key = Key(destination: destination, sopInstanceUID: sopInstanceUID)
        guard var entry = table[key] else { return }
        entry.attempts += 1
        entry.state = .failed
        entry.lastError = error
        entry.nextAttempt = nil
        try append([Event(op: "fail", destination: destination, sop: sopInstanceUID, error: error, attempts: entry.attempts)],
                   durable: true)
        table[key] = entry
    }

    /// Moves failed entries back to pending: those of `sopInstanceUID` (any destination unless `destination` is
    /// given), or all failed ones when `sopInstanceUID` is nil. Returns how many moved.
    @discardableResult
    public func retry(sopInstanceUID: String? = nil, destination: String? = nil) throws -> Int {
        let chosen = table.values.filter {
            $0.state == .failed && (sopInstanceUID == nil || $0.sopInstanceUID == sopInstanceUID)
                && (destination == nil || $0.destination == destination)
        }
        guard !chosen.isEmpty else { return 0 }
        try append(chosen.map { Event(op: "retry", destination: $0.destination, sop: $0.sopInstanceUID) }, durable: true)
        for entry in chosen {
            table[entry.key]?.state = .pending
            table[entry.key]?.attempts = 0
            table[entry.key]?.nextAttempt = nil
        }
        return chosen.count
    }

    /// Removes entries: those of `sopInstanceUID` (pending or failed), or, when it is nil, all failed entries.
    /// Returns how many were removed.
    @discardableResult
    public func drop(sopInstanceUID: String? = nil, destination: String? = nil) throws -> Int {
        let chosen = table.values.filter {
            (sopInstanceUID == nil ? $0.state == .failed : $0.sopInstanceUID == sopInstanceUID)
                && (destination == nil || $0.destination == destination)
        }
        guard !chosen.isEmpty else { return 0 }
        try append(chosen.map { Event(op: "drop", destination: $0.destination, sop: $0.sopInstanceUID) }, durable: true)
        for entry in chosen { table[entry.key] = nil }
        return chosen.count
    }

    /// Rewrites the journal with only the live entries.
    public func compact() throws {
        try rewriteJournal()
    }

    // MARK: - Reading

    /// All entries (optionally of one destination and state), in order of arrival.
    public func entries(destination: String? = nil, state: ForwardEntry.State? = nil) -> [ForwardEntry] {
        table.values.filter { (destination == nil || $0.destination == destination) && (state == nil || $0.state == state) }
            .sorted { $0.sequence < $1.sequence }
    }

    /// Counts per destination (destinations with no entry and nothing committed are not listed).
    public func status() -> [ForwardQueueStatus] {
        var rows: [String: ForwardQueueStatus] = [:]
        for (destination, count) in committedCounts where count > 0 {
            rows[destination] = ForwardQueueStatus(destination: destination, pending: 0, failed: 0, committed: count)
        }
        for entry in table.values.sorted(by: { $0.sequence < $1.sequence }) {
            var row = rows[entry.destination] ?? ForwardQueueStatus(destination: entry.destination, pending: 0, failed: 0)
            if entry.state == .pending {
                row.pending += 1
                if row.oldestPending == nil { row.oldestPending = entry.enqueuedAt }
                if let error = linkErrors[entry.destination] ?? entry.lastError { row.lastError = error }
            } else {
                row.failed += 1
            }
            rows[entry.destination] = row
        }
        return rows.values.sorted { $0.destination < $1.destination }
    }

    /// Number of pending entries (of one destination when given).
    public func pendingCount(destination: String? = nil) -> Int {
        table.values.count(where: { $0.state == .pending && (destination == nil || $0.destination == destination) })
    }

    /// The pending entries of `destination` that may be sent now by sender `worker` of `workers`, in order of
    /// arrival, at most `limit`. A study belongs to one sender (by a hash of its UID), and a study whose earliest
    /// pending entry is waiting out a backoff contributes nothing, so the order within a study is kept.
    /// Also returns the earliest time a waiting entry becomes due.
    public func due(destination: String, worker: Int = 0, of workers: Int = 1, now: Date = Date(), limit: Int = 64)
        -> (entries: [ForwardEntry], nextDue: Date?) {
        var blockedStudies: Set<String> = []
        var out: [ForwardEntry] = []
        var nextDue: Date?
        for entry in table.values.sorted(by: { $0.sequence < $1.sequence })
        where entry.destination == destination && entry.state == .pending
            && Self.worker(forStudy: entry.studyInstanceUID, of: workers) == worker {
            if blockedStudies.contains(entry.studyInstanceUID) { continue }
            if held.contains(entry.key) {
                blockedStudies.insert(entry.studyInstanceUID)
                continue
            }
            if let next = entry.nextAttempt, next > now {
                blockedStudies.insert(entry.studyInstanceUID)
                nextDue = min(nextDue ?? next, next)
                continue
            }
            out.append(entry)
            if out.count >= limit { break }
        }
        return (out, nextDue)
    }

    /// The sender of a study: a stable hash (FNV-1a) of its UID modulo the number of senders.
    static func worker(forStudy study: String, of workers: Int) -> Int {
        guard workers > 1 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in study.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(hash % UInt64(workers))
    }
}
