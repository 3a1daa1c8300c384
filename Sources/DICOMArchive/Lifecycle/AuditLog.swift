import DICOMIO
import DICOMJSON
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One line of `audit.jsonl`: who did what to which part of the archive, when and why.
public struct AuditEntry: Sendable, Codable, Equatable {
    /// When the action ran.
    public var time: Date
    /// `delete`, `restore`, `purge`, `retention`, `reindex`, `share`, `unshare` (operators); `associate`, `reject`,
    /// `store`, `query`, `retrieve`, `commit` (the network, written by the server; `commit` is a Storage Commitment
    /// request: `uid` its Transaction UID, `count` the instances committed, `reason` those that were not).
    public var action: String
    /// `patient`, `study`, `series` or `instance`, when the action was aimed at one.
    public var level: String?
    /// The UID (or Patient ID) the action was aimed at.
    public var uid: String?
    /// How many instances it affected.
    public var count: Int
    /// How many bytes those instances hold.
    public var bytes: Int
    /// The user that ran it.
    public var user: String
    /// The host it ran on.
    public var host: String
    /// Why, as given by the operator or the rule that triggered it (for `reject`: the A-ASSOCIATE-RJ reason).
    public var reason: String?
    /// The calling AE title of a network action.
    public var aeTitle: String?
    /// The caller's organization, when the archive has organizations.
    public var organization: String?
    /// The peer's address of a network action.
    public var peer: String?
    /// The Study Instance UIDs concerned.
    public var studies: [String]?
    /// The keys of a query or retrieve ("STUDY PatientName=Иван*").
    public var keys: String?
    /// The DIMSE status answered, four hexadecimal digits.
    public var status: String?

    public init(time: Date, action: String, level: String? = nil, uid: String? = nil, count: Int, bytes: Int = 0,
                user: String, host: String, reason: String? = nil, aeTitle: String? = nil, organization: String? = nil,
                peer: String? = nil, studies: [String]? = nil, keys: String? = nil, status: String? = nil) {
        self.aeTitle = aeTitle
        self.organization = organization
        self.peer = peer
        self.studies = studies
        self.keys = keys
        self.status = status
        self.time = time
        self.action = action
        self.level = level
        self.uid = uid
        self.count = count
        self.bytes = bytes
        self.user = user
        self.host = host
        self.reason = reason
    }
}

/// The server's audit trail of network actions (association, store, query, retrieve), appended to the same
/// `audit.jsonl` as operator actions. Lines are written at once (O_APPEND, one write each) and fsynced together at
/// most 200 ms later, so auditing does not add an fsync to every C-STORE; ``flush()`` makes everything durable.
public final class AuditTrail: @unchecked Sendable {
    public let log: AuditLog
    private let lock = NSLock()
    private var descriptor: Int32 = -1
    private var syncScheduled = false
    private var failureReported = false
    let logger: Logger

    public init(path: String, logger: Logger = Logger(label: "dicom.archive.audit")) {
        log = AuditLog(path: path)
        self.logger = logger
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Appends one entry; a write failure is logged once (the action itself is not refused).
    public func record(_ entry: AuditEntry) {
        let line = entry.jsonLine()
        lock.lock()
        defer { lock.unlock() }
        if descriptor < 0 { descriptor = open(log.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644) }
        let written = descriptor >= 0 ? line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } : -1
        if written != line.count {
            if !failureReported { logger.error("cannot write the audit log \(log.path): \(String(cString: strerror(errno)))") }
            failureReported = true
            return
        }
        if !syncScheduled {
            syncScheduled = true
            // The fsync on a thread of its own, not on one of the cooperative pool's (``runBlocking(_:)``).
            blockingQueue().asyncAfter(deadline: .now() + .milliseconds(200)) { [self] in sync() }
        }
    }

    private func sync() {
        lock.lock()
        let fd = descriptor
        syncScheduled = false
        lock.unlock()
        if fd >= 0 { _ = fsync(fd) }
    }

    /// Makes every recorded entry durable.
    public func flush() {
        lock.lock()
        defer { lock.unlock() }
        if descriptor >= 0 { _ = fsync(descriptor) }
    }
}

/// The archive's append-only audit trail: one JSON object per line, each appended with fsync.
public struct AuditLog: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    static let lock = NSLock()

    /// The user running this process, for audit entries: `$USER`, or the numeric user ID.
    public static var currentUser: String { ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())" }

    /// The host name from gethostname(2) (no DNS lookup, unlike `ProcessInfo.hostName`), for audit entries.
    public static var hostName: String { ArchiveLifecycle.hostName() }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Appends one line and makes it durable.
    /// - Throws: ``ArchiveError`` when the log cannot be written.
    public func append(_ entry: AuditEntry) throws {
        let line = entry.jsonLine()
        Self.lock.lock()
        defer { Self.lock.unlock() }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ArchiveError.system("cannot open audit log", path: path, errno: errno) }
        defer { close(fd) }
        try line.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = write(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError.system("cannot write audit log", path: path, errno: errno)
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw ArchiveError.system("cannot fsync audit log", path: path, errno: errno) }
    }

    /// Every entry in the log, oldest first (lines that do not parse are skipped).
    public func entries() throws -> [AuditEntry] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ArchiveError(.io, "cannot read audit log \(path): \(error)", path: path)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return data.split(separator: 0x0A).compactMap { try? decoder.decode(AuditEntry.self, from: Data($0)) }
    }
}

extension AuditEntry {
    /// The entry as one line of `audit.jsonl` (ending with a newline), as ``AuditLog/encoder()`` would write it: sorted
    /// member names, the time in ISO 8601 UTC to the second, absent optionals left out. Written directly, as the server
    /// writes one for every C-STORE.
    func jsonLine() -> Data {
        var writer = JSONWriter(prettyPrinted: false, capacity: 512)
        func optional(_ key: String, _ value: String?) {
            if let value { writer.key(key); writer.string(value) }
        }
        writer.beginObject()
        writer.key("action"); writer.string(action)
        optional("aeTitle", aeTitle)
        writer.key("bytes"); writer.number(bytes)
        writer.key("count"); writer.number(count)
        writer.key("host"); writer.string(host)
        optional("keys", keys)
        optional("level", level)
        optional("organization", organization)
        optional("peer", peer)
        optional("reason", reason)
        optional("status", status)
        if let studies {
            writer.key("studies")
            writer.beginArray()
            for study in studies { writer.string(study) }
            writer.endArray()
        }
        writer.key("time"); writer.string(Self.iso8601(time))
        optional("uid", uid)
        writer.key("user"); writer.string(user)
        writer.endObject()
        var line = Data(writer.bytes)
        line.append(0x0A)
        return line
    }

    /// `2026-11-24T03:55:07Z`: what `JSONEncoder`'s `.iso8601` strategy writes (UTC, whole seconds).
    static func iso8601(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = Int(parts.tm_year) + 1900
        let yearText = year < 1000 ? String(repeating: "0", count: 4 - String(year).count) + String(year) : String(year)
        return "\(yearText)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
