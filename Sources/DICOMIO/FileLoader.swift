import DICOMCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Loads files into memory: small files are read, large ones memory-mapped so that values never
/// read (pixel data, for example) cost nothing. A metadata-only read of a large file first reads a prefix.
enum FileLoader {
    /// Files at least this large are memory-mapped.
    static let mapThreshold = 64 * 1024

    /// How much of a large file a metadata-only read tries, in turn, before it maps the whole file. A CT or MR
    /// header is a few KB (DCMTK's `dcmdump -M` reads about 20 KB of such a file); headers with large private
    /// blocks or many frames' functional groups need more.
    static let metadataPrefixes = [16 * 1024, 256 * 1024]

    /// Loads the whole file: read when small, memory-mapped when large.
    static func load(_ path: String) throws -> Data {
        try load(path, tryPrefixes: []) { data, _ in data }
    }

    /// Hands `parse` the file's contents and returns its result.
    ///
    /// For each of `tryPrefixes` (ascending) smaller than the file, `parse` first gets only that many bytes from the
    /// start (read with `pread`, the kernel's read-ahead turned off) and `isWhole == false`; it returns nil when the
    /// prefix is not enough to decide, or throws, and is then tried with the next prefix and at last with the whole
    /// file (memory-mapped when large).
    /// A memory map's first page fault reads up to the device's read-ahead window — whole files on this
    /// project's VM (8 MiB) — while a metadata read needs the first few KB; hence the prefix.
    /// When `isWhole` is true, `parse` must return a value or throw.
    static func load<T>(_ path: String, tryPrefixes: [Int], _ parse: (_ data: Data, _ isWhole: Bool) throws -> T?) throws -> T {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("cannot stat", path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw DICOMError(.io, "not a regular file", file: path)
        }
        let size = Int(info.st_size)
        let prefixes = tryPrefixes.filter { $0 > 0 && $0 < size }
        if !prefixes.isEmpty {
            // Read exactly each prefix: no read-ahead into the pixel data.
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_RANDOM))
            for prefix in prefixes {
                let head = try readFully(fd, count: prefix, path: path)
                if let result = try? parse(head, false) { return result }
            }
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_NORMAL))
        }
        let data: Data
        if size == 0 {
            data = Data()
        } else if size >= mapThreshold {
            guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
                throw ioError("cannot map", path)
            }
            data = Data(bytesNoCopy: address, count: size, deallocator: .custom { pointer, count in
                munmap(pointer, count)
            })
        } else {
            data = try readFully(fd, count: size, path: path)
        }
        guard let result = try parse(data, true) else {
            throw DICOMError(.io, "the file could not be interpreted", file: path)
        }
        return result
    }

    /// Reads up to `count` bytes from the start of the file; fewer when the file is shorter.
    /// The buffer is not zero-filled first: `pread` writes it.
    static func readFully(_ fd: Int32, count: Int, path: String) throws -> Data {
        guard count > 0 else { return Data() }
        guard let base = malloc(count) else { throw DICOMError(.io, "cannot allocate \(count) bytes to read the file", file: path) }
        var done = 0
        while done < count {
            let n = pread(fd, base + done, count - done, off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                let error = ioError("cannot read", path)
                free(base)
                throw error
            }
            if n == 0 { break }
            done += n
        }
        return Data(bytesNoCopy: base, count: done, deallocator: .free)
    }

    static func ioError(_ what: String, _ path: String) -> DICOMError {
        DICOMError(.io, "\(what): \(String(cString: strerror(errno)))", file: path)
    }
}
