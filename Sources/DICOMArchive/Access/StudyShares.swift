import DICOMIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One study made visible to another organization, for a remote reading.
public struct StudyShare: Sendable, Codable, Equatable {
    public var studyInstanceUID: String
    /// The organization it is shared with.
    public var organization: String
    /// The end of the share (nil: until unshared).
    public var until: Date?
    public var sharedAt: Date
    /// Who shared it (the operator's user name).
    public var sharedBy: String

    public init(studyInstanceUID: String, organization: String, until: Date?, sharedAt: Date, sharedBy: String) {
        self.studyInstanceUID = studyInstanceUID
        self.organization = organization
        self.until = until
        self.sharedAt = sharedAt
        self.sharedBy = sharedBy
    }

    /// Whether the share is in force at `date`.
    public func isActive(at date: Date) -> Bool { until.map { date < $0 } ?? true }
}

/// The shares of an archive, kept in `shares.json` in the archive folder.
///
/// `dcmstore share` and `unshare` change the file (under an exclusive `flock` of `shares.lock`, written to a temporary
/// file, fsynced and renamed) while the server runs; the server rereads it when its modification time, size or
/// inode changed, so a share takes effect on the next query.
public final class StudyShares: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var cached: [StudyShare] = []
    private var cachedStamp: FileStamp?

    public init(archiveRoot: String) {
        path = (archiveRoot as NSString).appendingPathComponent("shares.json")
    }

    /// Every share, expired ones included.
    /// - Throws: ``ArchiveError`` when the file exists but cannot be read or is not a list of shares.
    public func all() throws -> [StudyShare] {
        lock.lock()
        defer { lock.unlock() }
        let stamp = FileStamp(path: path)
        if stamp == cachedStamp { return cached }
        let shares = try Self.read(path)
        cached = shares
        cachedStamp = stamp
        return shares
    }

    /// The studies shared with `organization` at `date` (none for a caller without an organization).
    public func sharedStudies(with organization: String?, at date: Date = Date()) throws -> Set<String> {
        guard let organization else { return [] }
        return Set(try all().filter { $0.organization == organization && $0.isActive(at: date) }.map(\.studyInstanceUID))
    }

    /// Adds a share, replacing one of the same study with the same organization.
    public func share(_ share: StudyShare) throws {
        try modify { shares in
            shares.removeAll { $0.studyInstanceUID == share.studyInstanceUID && $0.organization == share.organization }
            shares.append(share)
        }
    }

    /// Removes the share of a study with an organization; returns whether there was one.
    @discardableResult
    public func unshare(studyInstanceUID: String, organization: String) throws -> Bool {
        var removed = false
        try modify { shares in
            let before = shares.count
            shares.removeAll { $0.studyInstanceUID == studyInstanceUID && $0.organization == organization }
            removed = shares.count != before
        }
        return removed
    }

    private func modify(_ change: (inout [StudyShare]) -> Void) throws {
        let lockPath = (path as NSString).deletingLastPathComponent + "/shares.lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ArchiveError.system("cannot open", path: lockPath, errno: errno) }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw ArchiveError.system("cannot lock", path: lockPath, errno: errno) }
        var shares = try Self.read(path)
        change(&shares)
        shares.sort { ($0.studyInstanceUID, $0.organization) < ($1.studyInstanceUID, $1.organization) }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try AtomicFile.write(try encoder.encode(shares), to: path)
        } catch {
            throw ArchiveError(.io, "cannot write the shares: \(error)", path: path)
        }
    }

    private static func read(_ path: String) throws -> [StudyShare] {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw ArchiveError(.io, "cannot read the shares", path: path) }
            return []
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode([StudyShare].self, from: data)
        } catch {
            throw ArchiveError(.io, "the shares file is not a list of shares: \(error)", path: path)
        }
    }
}

/// Identifies a version of a file cheaply: inode, size and modification time.
private struct FileStamp: Equatable {
    var inode: UInt64
    var size: Int64
    var seconds: Int
    var nanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        seconds = info.st_mtim.tv_sec
        nanoseconds = info.st_mtim.tv_nsec
    }
}
