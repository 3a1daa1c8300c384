import DICOMIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What went wrong with a worklist operation, in words an operator understands; nothing was changed.
public struct WorklistError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let invalidInput = Code(rawValue: "invalid input")
        public static let notFound = Code(rawValue: "not found")
        public static let duplicate = Code(rawValue: "duplicate")
        public static let illegalTransition = Code(rawValue: "illegal status transition")
        public static let io = Code(rawValue: "I/O error")
        public static let corrupt = Code(rawValue: "corrupt worklist")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The worklist's patients, orders and reports, kept in `<archive>/worklist/worklist.json`.
///
/// Every change takes an exclusive `flock` on `worklist.lock`, reads the current file, applies the change and writes
/// the whole document atomically (temporary file, fsync, rename, fsync of the directory, ``DICOMIO/AtomicFile``),
/// so a running `dcmworklist serve`, `dcmstore` and any number of CLI calls see each other's changes and an
/// interrupted write leaves the previous version intact. Readers take a shared lock. A change that throws writes nothing.
public final class WorklistStore: Sendable {
    /// The directory holding the files: `<archive>/worklist`.
    public let directory: String
    private let cache = SnapshotCache()
    var databasePath: String { directory + "/worklist.json" }
    var lockPath: String { directory + "/worklist.lock" }

    /// The worklist directory of an archive root.
    public static func directory(inArchive root: String) -> String {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        return root + "/worklist"
    }

    /// Opens (creating the directory if needed) the worklist of the archive at `archiveRoot`.
    public convenience init(archiveRoot: String) throws {
        try self.init(directory: WorklistStore.directory(inArchive: archiveRoot))
    }

    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WorklistError(.io, "cannot create the worklist directory \(directory): \(error.localizedDescription)")
        }
        self.directory = directory
    }

    /// Runs `body` holding the lock file in mode `operation` (LOCK_SH or LOCK_EX), waiting at most 30 s for it.
    private func withLock<T>(_ operation: Int32, _ body: () throws -> T) throws -> T {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WorklistError(.io, "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let deadline = Date().addingTimeInterval(30)
        while flock(fd, operation | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw WorklistError(.io, "cannot lock \(lockPath): \(String(cString: strerror(errno)))")
            }
            guard Date() < deadline else { throw WorklistError(.io, "the worklist stayed locked by another process for 30 s (\(lockPath))") }
            usleep(2_000)
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    private func load() throws -> WorklistDatabase {
        guard FileManager.default.fileExists(atPath: databasePath) else { return WorklistDatabase() }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: databasePath)) } catch {
            throw WorklistError(.io, "cannot read \(databasePath): \(error.localizedDescription)")
        }
        let database: WorklistDatabase
        do { database = try Self.decoder.decode(WorklistDatabase.self, from: data) } catch {
            throw WorklistError(.corrupt, "\(databasePath) is not a valid worklist: \(error)")
        }
        guard database.schemaVersion <= WorklistDatabase.currentSchemaVersion else {
            throw WorklistError(.corrupt, "\(databasePath) has schema version \(database.schemaVersion); this version reads up to \(WorklistDatabase.currentSchemaVersion)")
        }
        return database
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Removes temporary files of writes that were killed before their rename. Called holding the exclusive lock, when
    /// no other write can be in progress.
    private func removeOrphanedTemporaryFiles() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(".worklist.json.") && name.hasSuffix(".tmp") {
            unlink(directory + "/" + name)
        }
    }

    /// A consistent copy of the whole worklist. The decoded document is kept while the file stays the same (same inode,
    /// size and modification time: every write renames a new file into place), so a server answering many queries
    /// decodes it once per change.
    func read() throws -> WorklistDatabase {
        // An archive without a worklist (dcmstore asks after every stored study) stays without one.
        guard FileManager.default.fileExists(atPath: databasePath) else { return WorklistDatabase() }
        return try withLock(LOCK_SH) {
            var info = stat()
            guard stat(databasePath, &info) == 0 else { return try load() }
            let key = FileIdentity(inode: UInt64(info.st_ino), size: Int64(info.st_size),
                                   modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
            if let cached = cache.value(for: key) { return cached }
            let database = try load()
            cache.store(database, for: key)
            return database
        }
    }

    /// Applies `change` under the exclusive lock and writes the result atomically; when `change` throws, nothing is written.
    @discardableResult
    func modify<T>(_ change: (inout WorklistDatabase) throws -> T) throws -> T {
        try withLock(LOCK_EX) {
            removeOrphanedTemporaryFiles()
            var database = try load()
            let result = try change(&database)
            let data: Data
            do { data = try Self.encoder.encode(database) } catch {
                throw WorklistError(.io, "cannot encode the worklist: \(error)")
            }
            do { try AtomicFile.write(data, to: databasePath) } catch {
                throw WorklistError(.io, "cannot write \(databasePath): \(error)")
            }
            return result
        }
    }

    /// ``read()`` for a server's handler: run on a thread of its own, so that waiting for the lock (another process
    /// writing) or for the disk never holds a thread of the cooperative pool that every association shares.
    func readingOffThePool() async throws -> WorklistDatabase {
        try await runBlocking { try self.read() }
    }

    /// ``modify(_:)`` for a server's handler, on a thread of its own (see ``readingOffThePool()``).
    func modifyingOffThePool<T: Sendable>(_ change: @escaping @Sendable (inout WorklistDatabase) throws -> T) async throws -> T {
        try await runBlocking { try self.modify(change) }
    }
}

/// Which version of the worklist file a decoded copy came from.
struct FileIdentity: Equatable {
    var inode: UInt64
    var size: Int64
    var modified: Int64
}

/// The last decoded worklist and the file version it came from.
final class SnapshotCache: @unchecked Sendable {
    private let lock = NSLock()
    private var key: FileIdentity?
    private var database: WorklistDatabase?

    func value(for key: FileIdentity) -> WorklistDatabase? {
        lock.lock(); defer { lock.unlock() }
        return self.key == key ? database : nil
    }

    func store(_ database: WorklistDatabase, for key: FileIdentity) {
        lock.lock(); defer { lock.unlock() }
        self.key = key
        self.database = database
    }
}
