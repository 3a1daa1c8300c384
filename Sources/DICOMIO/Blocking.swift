import Dispatch

/// Runs blocking file work (reads, writes, fsyncs, `flock`) on a thread of its own, so that the cooperative thread
/// pool, which every association's task shares, stays free for network I/O meanwhile.
///
/// Each call gets a new serial queue: with swift-corelibs-libdispatch, a serial queue runs on the overcommitting
/// pool, which starts another thread when its threads are busy, whereas `DispatchQueue.global()` shares its few
/// threads (about one per core) with Swift's cooperative pool, so that a blocked fsync there held up every task
/// waiting to run (measured: a task enqueued while four `DispatchQueue.global()` blocks slept ran only after them).
package func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        blockingQueue().async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// A queue for one piece of blocking work (see ``runBlocking(_:)``).
package func blockingQueue() -> DispatchQueue {
    DispatchQueue(label: "dicom.blocking")
}
