import Foundation
import Testing
@testable import DICOMServices

/// ``ReadAhead``: which files are asked for while a sequence is sent.
@Suite struct ReadAheadTests {
    final class Asked: @unchecked Sendable {
        private let lock = NSLock()
        private var paths: [String] = []
        func add(_ path: String) { lock.withLock { paths.append(path) } }
        /// What was asked for so far, once the read-ahead queue has run what it was given.
        func taken() -> [String] {
            ReadAhead.queue.sync {}
            return lock.withLock { let taken = paths; paths = []; return taken }
        }
    }

    @Test func eachFileIsAskedForOnceAheadOfItsTurn() {
        let asked = Asked()
        let ahead = ReadAhead.filesAhead
        let paths = (0..<(2 * ahead + 4)).map { "/archive/f\($0).dcm" }
        var readAhead = ReadAhead(paths: paths, advise: { asked.add($0) })
        readAhead.willSend(0)
        #expect(asked.taken() == Array(paths[0...ahead]))
        readAhead.willSend(1)
        #expect(asked.taken() == [paths[ahead + 1]])
        // The same turn again (a retry) asks for nothing more.
        readAhead.willSend(1)
        #expect(asked.taken().isEmpty)
        // Files skipped by the sender (a study held back) are not asked for late; the end of the list bounds the window.
        let last = paths.count - 1
        readAhead.willSend(last - 1)
        #expect(asked.taken() == [paths[last - 1], paths[last]])
        readAhead.willSend(last)
        readAhead.willSend(last + 1)
        #expect(asked.taken().isEmpty)
    }

    /// Pages of `path` in the page cache (`mincore` over a mapping of it).
    static func residentPages(_ path: String) -> (resident: Int, total: Int) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return (0, 0) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_size > 0 else { return (0, 0) }
        let length = Int(info.st_size)
        guard let mapping = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED else { return (0, 0) }
        defer { munmap(mapping, length) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (length + pageSize - 1) / pageSize)
        guard mincore(mapping, length, &vector) == 0 else { return (0, 0) }
        return (vector.filter { $0 & 1 == 1 }.count, vector.count)
    }

    /// Writes a file of 1 MB at `path` and drops it from the page cache; the pages still there.
    static func writeEvicted(_ path: String) throws -> (resident: Int, total: Int) {
        try Data(repeating: 1, count: 1_000_000).write(to: URL(fileURLWithPath: path))
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return (0, 0) }
        fsync(descriptor)
        _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(descriptor)
        return residentPages(path)
    }

    /// Whether the temporary directory's file system lets a file leave the page cache (not tmpfs).
    static let canEvict: Bool = {
        guard let directory = try? TestSupport.temporaryDirectory("read-ahead-probe") else { return false }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard let pages = try? writeEvicted(directory + "/probe") else { return false }
        return pages.total > 0 && pages.resident < pages.total / 2
    }()

    /// A file evicted from the page cache is read back into it after the advice (bounded wait), and a missing file
    /// is passed over.
    @Test(.enabled(if: ReadAheadTests.canEvict, "the temporary directory's file system keeps files in memory (tmpfs?): nothing to read ahead"))
    func theAdviceBringsAFileIntoThePageCache() async throws {
        let directory = try TestSupport.temporaryDirectory("read-ahead")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/f.dcm"
        let before = try Self.writeEvicted(path)
        try #require(before.total > 0 && before.resident < before.total / 2, "\(before.resident) of \(before.total) pages still cached")
        ReadAhead.advise(directory + "/missing.dcm")
        ReadAhead.advise(path)
        // Read-ahead is best effort (a loaded CI run once left the last 4 of 245 pages out): most of the file, where
        // without the advice none of it comes back.
        let enough = before.total * 3 / 4
        let deadline = ContinuousClock.now + .seconds(10)
        var after = Self.residentPages(path)
        while after.resident < enough && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
            after = Self.residentPages(path)
        }
        #expect(after.resident >= enough, "\(after.resident) of \(after.total) pages in the page cache after the advice")
    }
}
