import Crypto
import DICOMCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A simulated write failure for tests: given the file being written and the size it would reach after the next write, an `errno`
/// to fail with (for example ENOSPC), or nil to write normally.
typealias WriteFault = @Sendable (_ path: String, _ bytesWritten: Int) -> Int32?

/// The POSIX file operations the store and the lifecycle need, each reporting failures as ``ArchiveError``
/// with the `errno` (so a full disk is told apart from other errors).
enum FileSystem {
    static let chunkSize = 1 << 20

    /// `mkdir -p`, with an fsync of each parent whose directory entries changed, so new directories survive a crash.
    static func makeDirectories(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ArchiveError(.io, "cannot create directory \(path): a file with that name exists", path: path)
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 {
            let number = errno
            if number == EEXIST { return }
            throw ArchiveError.system("cannot create directory", path: path, errno: number)
        }
        syncDirectory(parent.isEmpty ? "." : parent)
    }

    /// fsync of a directory (so a rename or a new entry in it is durable). Errors are ignored: some file systems
    /// do not support fsync on directories.
    static func syncDirectory(_ path: String) {
        try? syncDirectoryReportingErrors(path)
    }

    /// fsync of a directory, throwing ``ArchiveError`` when it cannot be opened or the fsync fails (EINVAL, meaning the
    /// file system does not sync directories, is not an error).
    static func syncDirectoryReportingErrors(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.system("cannot open directory", path: path, errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL {
            throw ArchiveError.system("cannot fsync directory", path: path, errno: errno)
        }
    }

    /// Whether two existing paths are on the same file system (so a rename between them works).
    static func sameFileSystem(_ a: String, _ b: String) -> Bool {
        var first = stat()
        var second = stat()
        return stat(a, &first) == 0 && stat(b, &second) == 0 && first.st_dev == second.st_dev
    }

    /// fsync of a file's data and metadata.
    static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.system("cannot open", path: path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ArchiveError.system("cannot fsync", path: path, errno: errno) }
    }

    /// Writes `header` and then the whole content of `inputPath` to a new file `outputPath` (which must not exist),
    /// hashing every byte written with SHA-256. On any error the output file is removed.
    /// - Returns: the output size and its SHA-256 (lowercase hexadecimal).
    static func writeConcatenation(header: Data, contentsOf inputPath: String, to outputPath: String,
                                   fault: WriteFault? = nil) throws -> (size: Int, sha256: String) {
        let input = open(inputPath, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw ArchiveError.system("cannot open received data set", path: inputPath, errno: errno) }
        defer { close(input) }
        let output = open(outputPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw ArchiveError.system("cannot create", path: outputPath, errno: errno) }
        var done = false
        defer {
            close(output)
            if !done { unlink(outputPath) }
        }
        var hasher = SHA256()
        var written = 0
        func put(_ bytes: UnsafeRawBufferPointer) throws {
            guard let base = bytes.baseAddress else { return }
            hasher.update(bufferPointer: bytes)
            var offset = 0
            while offset < bytes.count {
                if let fault, let number = fault(outputPath, written + bytes.count - offset) {
                    throw ArchiveError.system("cannot write", path: outputPath, errno: number)
                }
                let n = Glibc.write(output, base + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError.system("cannot write", path: outputPath, errno: errno)
                }
                offset += n
                written += n
            }
        }
        try header.withUnsafeBytes { try put($0) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(input, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.system("cannot read received data set", path: inputPath, errno: errno)
            }
            if n == 0 { break }
            try put(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        done = true
        return (written, lowercaseHex(hasher.finalize()))
    }

    /// The SHA-256 of a file, read in 1 MB chunks (lowercase hexadecimal), and its size.
    static func sha256(ofFileAt path: String) throws -> (size: Int, sha256: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.system("cannot open", path: path, errno: errno) }
        defer { close(fd) }
        var hasher = SHA256()
        var size = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.system("cannot read", path: path, errno: errno)
            }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            size += n
        }
        return (size, lowercaseHex(hasher.finalize()))
    }

    /// Renames `from` to `to` (same file system), creating `to`'s directories first, then fsyncs both directories.
    /// With `syncingDirectories: false` the caller makes the destination directory durable itself (the store does it
    /// alongside the index write); the source directory is then not synced either: an entry left behind in `tmp/`
    /// by a crash is removed at start-up.
    static func move(_ from: String, to destination: String, syncingDirectories: Bool = true) throws {
        let directory = (destination as NSString).deletingLastPathComponent
        try makeDirectories(directory)
        if rename(from, destination) != 0 {
            // The directory may have been removed as empty by a concurrent delete between mkdir and rename: once more.
            guard errno == ENOENT, FileSystem.fileExists(from) else {
                throw ArchiveError.system("cannot move \(from) to", path: destination, errno: errno)
            }
            try makeDirectories(directory)
            if rename(from, destination) != 0 {
                throw ArchiveError.system("cannot move \(from) to", path: destination, errno: errno)
            }
        }
        guard syncingDirectories else { return }
        syncDirectory(directory)
        let sourceDirectory = (from as NSString).deletingLastPathComponent
        if sourceDirectory != directory { syncDirectory(sourceDirectory) }
    }

    /// Takes an exclusive `flock` on `descriptor` without blocking, trying again for up to `patience` seconds before
    /// giving up. Another process holding the lock for good is reported after that time; the wait covers a process
    /// being started by this one (or by a library) that holds a copy of the descriptor between its fork and its exec,
    /// which keeps a just-released lock taken for a moment even though the descriptor is close-on-exec.
    static func lockExclusively(_ descriptor: Int32, patience: Double = 1.0) -> Bool {
        let giveUp = Date().addingTimeInterval(patience)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, Date() < giveUp else { return false }
            usleep(10_000)
        }
        return true
    }

    /// The size of a regular file, or nil.
    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// The modification time of a file, or nil.
    static func modificationTime(_ path: String) -> Date? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
    }

    /// Sets a file's modification time (the lifecycle records the trash time in it, for ``ArchiveLifecycle/reindex()``).
    static func setModificationTime(_ path: String, _ date: Date) {
        let seconds = date.timeIntervalSince1970
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9)),
                     timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    /// Removes `directory` and then its parents while they are empty, stopping at `stop` (never removed).
    static func removeEmptyDirectories(from directory: String, stoppingAt stop: String) {
        var current = directory
        while current.count > stop.count && current.hasPrefix(stop + "/") {
            if rmdir(current) != 0 { return }
            syncDirectory((current as NSString).deletingLastPathComponent)
            current = (current as NSString).deletingLastPathComponent
        }
    }
}
