import Foundation

/// An asynchronous mutual exclusion per key: tasks holding different keys run at once, tasks with the same key
/// one after another in arrival order. Used so two associations storing the same SOP Instance UID cannot interleave.
final class KeyedLock: @unchecked Sendable {
    private let lock = NSLock()
    private var held: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    func acquire(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if held.contains(key) {
                waiters[key, default: []].append(continuation)
                lock.unlock()
            } else {
                held.insert(key)
                lock.unlock()
                continuation.resume()
            }
        }
    }

    /// Releases `key`; the next waiter, if any, now holds it.
    func release(_ key: String) {
        lock.lock()
        if var queue = waiters[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[key] = queue.isEmpty ? nil : queue
            lock.unlock()
            next.resume()
        } else {
            held.remove(key)
            lock.unlock()
        }
    }

    func withLock<T: Sendable>(_ key: String, _ body: () async throws -> T) async rethrows -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }
}
