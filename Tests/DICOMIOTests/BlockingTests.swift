import DICOMIO
import Dispatch
import Foundation
import Testing

/// ``runBlocking(_:)`` must not take threads from Swift's cooperative pool: an archive's fsyncs would then hold up every
/// association's task until they return.
@Suite struct BlockingTests {
    /// Records whether a blocked call gave up waiting for the gate.
    final class Gate: @unchecked Sendable {
        let semaphore = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var gaveUp = 0
        func wait(seconds: Double) {
            if semaphore.wait(timeout: .now() + seconds) == .timedOut { lock.withLock { gaveUp += 1 } }
        }
        var timeouts: Int { lock.withLock { gaveUp } }
    }

    @Test func aTaskRunsWhileMoreBlockingCallsThanCoresAreBlocked() async throws {
        let blockers = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
        let gate = Gate()
        // Each call blocks its thread until the gate opens, or gives up after 3 s. Had they run on the cooperative
        // pool's threads (as `DispatchQueue.global()` work does with swift-corelibs-libdispatch), the task below could
        // start only once they gave up (checked: with `DispatchQueue.global()` the pool got another thread only after
        // about 4.7 s).
        let calls = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<blockers { group.addTask { try await runBlocking { gate.wait(seconds: 3) } } }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(nanoseconds: 200_000_000)
        let ran = await Task.detached { true }.value
        for _ in 0..<blockers { gate.semaphore.signal() }
        try await calls.value
        #expect(ran)
        #expect(gate.timeouts == 0, "\(gate.timeouts) of \(blockers) blocked calls waited 3 s: the task could not run meanwhile")
    }
}
