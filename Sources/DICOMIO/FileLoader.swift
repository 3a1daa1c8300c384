import DICOMCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Loads files into memory: small files are read, large ones memory-mapped so that values never
/// read (pixel data, for example) cost nothing.
enum FileLoader {
    /// Files at least this large are memory-mapped.
    static let mapThreshold = 64 * 1024

    static func load(_ path: String) throws -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("cannot stat", path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw DICOMError(.io, "not a regular file", file: path)
        }
        let size = Int(info.st_size)
        if size == 0 { return Data() }
        if size >= mapThreshold {
            guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
                throw ioError("cannot map", path)
            }
            return Data(bytesNoCopy: address, count: size, deallocator: .custom { pointer, count in
                munmap(pointer, count)
            })
        }
        var data = Data(count: size)
        let got = data.withUnsafeMutableBytes { buffer -> Int in
            var done = 0
            while done < size {
                let n = read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 { if errno == EINTR { continue }; return -1 }
                if n == 0 { break }
                done += n
            }
            return done
        }
        guard got >= 0 else { throw ioError("cannot read", path) }
        if got < size { data.removeSubrange(got..<size) }
        return data
    }

    static func ioError(_ what: String, _ path: String) -> DICOMError {
        DICOMError(.io, "\(what): \(String(cString: strerror(errno)))", file: path)
    }
}
