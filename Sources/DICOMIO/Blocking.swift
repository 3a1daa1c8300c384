import Dispatch

/// Runs blocking file work (reads, writes, fsyncs, `flock`) on a Dispatch queue, so that the cooperative thread pool,
/// which every association's task shares, stays free for network I/O meanwhile.
package func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}
