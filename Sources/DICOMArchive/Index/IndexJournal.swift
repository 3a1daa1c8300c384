import DICOMIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One change to the index, as one JSON line of the journal.
struct JournalEntry: Codable, Sendable {
    enum Operation: String, Codable, Sendable {
        case add, trash, untrash, remove
    }

    var op: Operation
    var records: [InstanceRecord]?
    var uids: [String]?
    var at: Date?
    /// Set on an `add` written while the records' files were still being placed (``JSONArchiveIndex/add(_:placing:)``):
    /// a record whose file is found neither in `data/` nor in `trash/` when the journal is replayed was never
    /// acknowledged, and is skipped.
    var checkFiles: Bool?

    static func add(_ records: [InstanceRecord]) -> JournalEntry { JournalEntry(op: .add, records: records) }
}

/// The compacted index on disk: every record with its trash time, and the schema version.
struct IndexSnapshot: Codable {
    /// Version 1: this layout. A reader refuses newer versions rather than misread them.
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var records: [StoredRecord]
}

enum IndexCoding {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }
}

/// The append-only journal file: JSON lines, each appended and fsync'ed before the change it records is applied.
///
/// Used by one writer at a time (``JSONArchiveIndex`` serialises writes); the file is locked with `flock` so a second
/// process cannot open the same index.
final class JournalFile: @unchecked Sendable {
    let path: String
    private var fd: Int32
    /// The length of the journal's complete lines.
    private(set) var length: Int

    init(path: String, length: Int) throws {
        self.path = path
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ArchiveIndexError(.io, "cannot open the journal: \(String(cString: strerror(errno)))", path: path) }
        guard FileSystem.lockExclusively(fd) else {
            Glibc.close(fd)
            throw ArchiveIndexError(.io, "the index is in use by another process or index object (the journal is locked)", path: path)
        }
        self.length = length
        // Drop anything after the last complete line (a torn write).
        guard ftruncate(fd, off_t(length)) == 0, lseek(fd, off_t(length), SEEK_SET) >= 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ArchiveIndexError(.io, "cannot truncate the journal to \(length) bytes: \(message)", path: path)
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    /// Appends bytes and waits for them to reach the disk. On failure the journal is cut back to its previous length.
    func append(_ data: Data) throws {
        guard fd >= 0 else { throw ArchiveIndexError(.io, "the index is closed", path: path) }
        let start = length
        do {
            try data.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                var done = 0
                while done < raw.count {
                    let n = Glibc.write(fd, base + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ArchiveIndexError(.io, "cannot append to the journal: \(String(cString: strerror(errno)))", path: path)
                    }
                    done += n
                }
            }
            guard fsync(fd) == 0 else {
                throw ArchiveIndexError(.io, "cannot fsync the journal: \(String(cString: strerror(errno)))", path: path)
            }
            length = start + data.count
        } catch {
            _ = ftruncate(fd, off_t(start))
            _ = lseek(fd, off_t(start), SEEK_SET)
            throw error
        }
    }

    /// Empties the journal (after a snapshot holds everything it recorded).
    func truncate() throws {
        guard fd >= 0 else { throw ArchiveIndexError(.io, "the index is closed", path: path) }
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) >= 0, fsync(fd) == 0 else {
            throw ArchiveIndexError(.io, "cannot truncate the journal: \(String(cString: strerror(errno)))", path: path)
        }
        length = 0
    }

    /// Reads the journal's entries. A last line that is incomplete or does not decode (a write cut short by a crash)
    /// is dropped and reported in `diagnostics`; a bad line before the last one is corruption and throws.
    static func read(path: String, diagnostics: inout [String]) throws -> (entries: [JournalEntry], validLength: Int) {
        guard FileManager.default.fileExists(atPath: path) else { return ([], 0) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ArchiveIndexError(.io, "cannot read the journal: \(error.localizedDescription)", path: path)
        }
        let decoder = IndexCoding.decoder()
        var entries: [JournalEntry] = []
        var validLength = 0
        var lineNumber = 0
        var start = data.startIndex
        while start < data.endIndex {
            lineNumber += 1
            guard let newline = data[start...].firstIndex(of: 0x0A) else {
                diagnostics.append("\(path): dropped an incomplete last journal line (\(data.endIndex - start) bytes, line \(lineNumber)), left by an interrupted write")
                break
            }
            let line = data[start..<newline]
            let next = data.index(after: newline)
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) {
                validLength = next - data.startIndex
                start = next
                continue
            }
            do {
                entries.append(try decoder.decode(JournalEntry.self, from: line))
                validLength = next - data.startIndex
            } catch {
                if next == data.endIndex {
                    diagnostics.append("\(path): dropped an unreadable last journal line (line \(lineNumber)), left by an interrupted write")
                    break
                }
                throw ArchiveIndexError(.corrupt, "journal line \(lineNumber) is not a valid entry: \(error)", path: path)
            }
            start = next
        }
        return (entries, validLength)
    }
}
