@testable import DICOMServices
import Foundation
import NIOCore
import NIOPosix
import Testing

/// ``ReceiveTimer``: one watching task per connection, re-armed by deadline.
@Suite struct ReceiveTimerTests {
    final class Expiries: @unchecked Sendable {
        private let lock = NSLock()
        private var times: [ContinuousClock.Instant] = []
        func record() { lock.withLock { times.append(.now) } }
        var all: [ContinuousClock.Instant] { lock.withLock { times } }
    }

    static func withTimer(_ body: (ReceiveTimer, Expiries) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let expiries = Expiries()
        let timer = ReceiveTimer(eventLoop: group.next()) { expiries.record() }
        try await body(timer, expiries)
        try await group.shutdownGracefully()
    }

    @Test func aShortTimeoutAfterALongOneExpiresOnItsOwnTime() async throws {
        try await Self.withTimer { timer, expiries in
            // A long receive leaves a task watching 20 s ahead; the next, short one must not wait for it.
            timer.arm(.seconds(20))
            timer.disarm()
            let start = ContinuousClock.now
            timer.arm(.milliseconds(200))
            let deadline = start + .seconds(15)
            while expiries.all.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let first = try #require(expiries.all.first, "the 0.2 s timeout did not expire")
            #expect(first - start >= .milliseconds(200))
            #expect(first - start < .seconds(15), "expired only when the 20 s task fired")
        }
    }

    @Test func receivesThatEndInTimeNeverExpire() async throws {
        try await Self.withTimer { timer, expiries in
            // Sixty receives of 2 s timeouts, each ending after 50 ms: 3 s in all, longer than one timeout, so a deadline
            // that did not move with each receive would have expired. They run on a thread of their own: the
            // cooperative pool can be starved for seconds when the whole suite runs on two cores.
            let overran = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                Thread {
                    var overran = false
                    for _ in 0..<60 {
                        let start = ContinuousClock.now
                        timer.arm(.seconds(2))
                        usleep(50_000)
                        timer.disarm()
                        if ContinuousClock.now - start >= .seconds(2) { overran = true }
                    }
                    continuation.resume(returning: overran)
                }.start()
            }
            try await Task.sleep(for: .milliseconds(2500))
            // A receive that itself ran over 2 s (an overloaded machine) may rightly have expired.
            if !overran { #expect(expiries.all.isEmpty) }
            let before = expiries.all.count
            // And one that runs over expires, once.
            timer.arm(.milliseconds(100))
            let deadline = ContinuousClock.now + .seconds(10)
            while expiries.all.count == before, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(expiries.all.count == before + 1)
        }
    }
}
