import DICOMIO
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Makes new directory entries durable with as few directory fsyncs as possible: callers that ask while an fsync of
/// the same directory is running are served together by the next one (group commit per directory), so concurrent
/// stores into one series directory share their fsyncs.
///
/// An fsync covers every entry created before it started; a caller waits for an fsync that starts after its request.
///
/// With `syncing: FileSystem.syncFile` it groups the fsyncs of a file the same way: the forward queue's journal, appended
/// to by concurrent stores.
final class DirectorySync: @unchecked Sendable {
    private struct Progress {
        /// Requests made so far (each request gets the next ticket).
        var requested = 0
        /// Every ticket up to this one is durable.
        var durableThrough = 0
        var running = false
        var waiters: [(ticket: Int, continuation: CheckedContinuation<Void, Error>)] = []
    }

    private let lock = NSLock()
    private var directories: [String: Progress] = [:]
    /// fsyncs performed, for tests of the grouping.
    private(set) var syncCount = 0
    private let syncPath: @Sendable (String) throws -> Void

    /// `syncing`: the fsync of one path, by default a directory's.
    init(syncing: @escaping @Sendable (String) throws -> Void = FileSystem.syncDirectoryReportingErrors) {
        syncPath = syncing
    }

    /// Returns once every entry created in `directory` before this call is durable.
    /// - Throws: ``ArchiveError`` when the directory cannot be opened or its fsync fails (EINVAL, meaning the file
    ///   system does not sync directories, is not an error).
    func sync(_ directory: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            lock.lock()
            var progress = directories[directory, default: Progress()]
            progress.requested += 1
            progress.waiters.append((progress.requested, continuation))
            let start = !progress.running
            progress.running = true
            directories[directory] = progress
            lock.unlock()
            // A thread of its own for each directory's run of fsyncs, off the cooperative pool (``runBlocking(_:)``).
            if start { blockingQueue().async { self.run(directory) } }
        }
    }

    /// fsyncs `directory` until no request is left waiting, resuming the callers each fsync covers.
    private func run(_ directory: String) {
        while true {
            lock.lock()
            guard var progress = directories[directory], progress.requested > progress.durableThrough else {
                directories[directory] = nil
                lock.unlock()
                return
            }
            let covers = progress.requested
            syncCount += 1
            lock.unlock()

            let result = Result { try syncPath(directory) }

            lock.lock()
            progress = directories[directory] ?? progress
            var resumed: [CheckedContinuation<Void, Error>] = []
            switch result {
            case .success:
                progress.durableThrough = covers
                resumed = progress.waiters.filter { $0.ticket <= covers }.map(\.continuation)
                progress.waiters.removeAll { $0.ticket <= covers }
            case .failure:
                // Everyone waiting now is told: their entries may not be durable.
                progress.durableThrough = progress.requested
                resumed = progress.waiters.map(\.continuation)
                progress.waiters.removeAll()
            }
            directories[directory] = progress
            lock.unlock()
            for continuation in resumed { continuation.resume(with: result) }
        }
    }
}
