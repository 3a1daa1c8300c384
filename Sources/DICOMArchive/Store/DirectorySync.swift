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
        var waiters: [(ticket: Int, resume: @Sendable (Result<Void, Error>) -> Void)] = []
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
            if request(directory, resume: { continuation.resume(with: $0) }) {
                // A thread of its own for each directory's run of fsyncs, off the cooperative pool (``runBlocking(_:)``).
                blockingQueue().async { self.run(directory) }
            }
        }
    }

    /// ``sync(_:)`` for a caller on a thread that may block (inside ``runBlocking(_:)``): when no fsync of `directory`
    /// is running, the caller runs one itself, with no hand-over to another thread; else it waits for the next one.
    /// Callers that arrived meanwhile are served by a run on another thread, so the caller returns after one fsync.
    func syncBlocking(_ directory: String) throws {
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        let leads = request(directory, resume: { outcome.result = $0; done.signal() })
        if leads { run(directory, once: true) }
        done.wait()
        try outcome.result.get()
    }

    /// The result handed from the thread that ran the fsync to a blocked caller (written before the semaphore's
    /// signal, read after its wait).
    private final class Outcome: @unchecked Sendable {
        var result: Result<Void, Error> = .success(())
    }

    /// Registers a request; true when the caller must start a run (none is running for `directory`).
    private func request(_ directory: String, resume: @escaping @Sendable (Result<Void, Error>) -> Void) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        var progress = directories[directory, default: Progress()]
        progress.requested += 1
        progress.waiters.append((progress.requested, resume))
        let start = !progress.running
        progress.running = true
        directories[directory] = progress
        return start
    }

    /// fsyncs `directory` until no request is left waiting, resuming the callers each fsync covers. `once`: after the
    /// first fsync, requests left waiting are handed to a run on another thread.
    private func run(_ directory: String, once: Bool = false) {
        var first = true
        while true {
            lock.lock()
            guard var progress = directories[directory], progress.requested > progress.durableThrough else {
                directories[directory] = nil
                lock.unlock()
                return
            }
            if once && !first {
                lock.unlock()
                blockingQueue().async { self.run(directory) }
                return
            }
            first = false
            let covers = progress.requested
            syncCount += 1
            lock.unlock()

            let result = Result { try syncPath(directory) }

            lock.lock()
            progress = directories[directory] ?? progress
            var resumed: [@Sendable (Result<Void, Error>) -> Void] = []
            switch result {
            case .success:
                progress.durableThrough = covers
                resumed = progress.waiters.filter { $0.ticket <= covers }.map(\.resume)
                progress.waiters.removeAll { $0.ticket <= covers }
            case .failure:
                // Everyone waiting now is told: their entries may not be durable.
                progress.durableThrough = progress.requested
                resumed = progress.waiters.map(\.resume)
                progress.waiters.removeAll()
            }
            directories[directory] = progress
            lock.unlock()
            for resume in resumed { resume(result) }
        }
    }
}
