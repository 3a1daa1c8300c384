import Foundation
import Testing
@testable import DICOMArchive

@Suite("Forwarding: the durable queue")
struct ForwardQueueTests {
    static func entry(_ sop: String, study: String, destination: String = "CENTRE") -> ForwardEntry {
        ForwardEntry(destination: destination, sopInstanceUID: sop, sopClassUID: StoreFixtures.ctImage, studyInstanceUID: study,
                     path: "data/\(study)/1/\(sop).dcm", transferSyntaxUID: "1.2.840.10008.1.2.1")
    }

    @Test func survivesReopenWithStatesAndOrder() async throws {
        let directory = try StoreFixtures.temporaryDirectory("fwdq-reopen")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let queue = try ForwardQueue(directory: directory)
            try await queue.enqueue([Self.entry("1.1", study: "9.1"), Self.entry("1.2", study: "9.2"), Self.entry("1.3", study: "9.1")])
            try await queue.enqueue([Self.entry("1.4", study: "9.1"), Self.entry("1.4", study: "9.1", destination: "OTHER")])
            try await queue.complete(destination: "CENTRE", sopInstanceUID: "1.2")
            try await queue.fail(destination: "CENTRE", sopInstanceUID: "1.3", error: "status A900H")
            try await queue.postpone(destination: "CENTRE", sopInstanceUID: "1.1", error: "status A700H", nextAttempt: Date(timeIntervalSinceNow: 60))
            // A second opener is refused while the queue is open.
            #expect(throws: ArchiveError.self) { try ForwardQueue(directory: directory) }
            await queue.close()
        }
        let reopened = try ForwardQueue(directory: directory)
        let pending = await reopened.entries(destination: "CENTRE", state: .pending)
        #expect(pending.map(\.sopInstanceUID) == ["1.1", "1.4"])
        #expect(pending.first?.attempts == 1)
        #expect(pending.first?.lastError == "status A700H")
        let failed = await reopened.entries(state: .failed)
        #expect(failed.map(\.sopInstanceUID) == ["1.3"])
        #expect(failed.first?.lastError == "status A900H")
        #expect(await reopened.pendingCount() == 3)
        let status = await reopened.status()
        #expect(status.map(\.destination) == ["CENTRE", "OTHER"])
        #expect(status.first?.pending == 2)
        #expect(status.first?.failed == 1)
        #expect(status.first?.lastError == "status A700H")
        #expect(status.last?.pending == 1)
        // New entries after a reopen come after the old ones.
        try await reopened.enqueue([Self.entry("1.5", study: "9.1")])
        #expect(await reopened.entries(destination: "CENTRE", state: .pending).map(\.sopInstanceUID) == ["1.1", "1.4", "1.5"])
    }

    @Test func tornLastLineIsIgnored() async throws {
        let directory = try StoreFixtures.temporaryDirectory("fwdq-torn")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let queue = try ForwardQueue(directory: directory)
            try await queue.enqueue([Self.entry("2.1", study: "9.1"), Self.entry("2.2", study: "9.1")])
            await queue.close()
        }
        let journal = directory + "/journal.jsonl"
        let handle = try #require(FileHandle(forWritingAtPath: journal))
        handle.seekToEndOfFile()
        handle.write(Data("{\"op\":\"done\",\"destination\":\"CENTRE\",\"sop\":\"2.".utf8))
        try handle.close()
        let reopened = try ForwardQueue(directory: directory)
        #expect(await reopened.ignoredLines == 1)
        #expect(await reopened.entries().map(\.sopInstanceUID) == ["2.1", "2.2"])
        try await reopened.enqueue([Self.entry("2.3", study: "9.2")])
        await reopened.close()
        let again = try ForwardQueue(directory: directory)
        #expect(await again.ignoredLines == 0)
        #expect(await again.entries().map(\.sopInstanceUID) == ["2.1", "2.2", "2.3"])
    }

    @Test func orderWithinAStudyIsKeptAcrossBackoff() async throws {
        let directory = try StoreFixtures.temporaryDirectory("fwdq-order")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queue = try ForwardQueue(directory: directory)
        try await queue.enqueue([Self.entry("3.1", study: "A"), Self.entry("3.2", study: "B"), Self.entry("3.3", study: "A"),
                                 Self.entry("3.4", study: "A")])
        #expect(await queue.due(destination: "CENTRE").entries.map(\.sopInstanceUID) == ["3.1", "3.2", "3.3", "3.4"])
        let later = Date(timeIntervalSinceNow: 30)
        try await queue.postpone(destination: "CENTRE", sopInstanceUID: "3.1", error: "status A700H", nextAttempt: later)
        let blocked = await queue.due(destination: "CENTRE")
        #expect(blocked.entries.map(\.sopInstanceUID) == ["3.2"])
        #expect(blocked.nextDue == later)
        #expect(await queue.due(destination: "CENTRE", now: later.addingTimeInterval(1)).entries.map(\.sopInstanceUID) == ["3.1", "3.2", "3.3", "3.4"])
        // Two senders: each study goes to one of them, together they cover the queue.
        let first = await queue.due(destination: "CENTRE", worker: 0, of: 2, now: later.addingTimeInterval(1)).entries
        let second = await queue.due(destination: "CENTRE", worker: 1, of: 2, now: later.addingTimeInterval(1)).entries
        #expect(Set(first.map(\.sopInstanceUID)).isDisjoint(with: second.map(\.sopInstanceUID)))
        #expect(first.count + second.count == 4)
        #expect(Set(first.map(\.studyInstanceUID)).isDisjoint(with: second.map(\.studyInstanceUID)))
    }

    @Test func failedListRetryAndDrop() async throws {
        let directory = try StoreFixtures.temporaryDirectory("fwdq-failed")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queue = try ForwardQueue(directory: directory)
        try await queue.enqueue((1...4).map { Self.entry("4.\($0)", study: "S") })
        try await queue.fail(destination: "CENTRE", sopInstanceUID: "4.1", error: "status 0122H")
        try await queue.fail(destination: "CENTRE", sopInstanceUID: "4.2", error: "status 0122H")
        #expect(await queue.due(destination: "CENTRE").entries.map(\.sopInstanceUID) == ["4.3", "4.4"])
        #expect(try await queue.retry(sopInstanceUID: "4.1") == 1)
        #expect(await queue.entries(state: .pending).map(\.sopInstanceUID) == ["4.1", "4.3", "4.4"])
        #expect(await queue.entries(state: .pending).first?.attempts == 0)
        #expect(try await queue.drop() == 1)   // all failed: 4.2
        #expect(try await queue.drop(sopInstanceUID: "4.4") == 1)
        #expect(try await queue.drop(sopInstanceUID: "4.9") == 0)
        await queue.close()
        let reopened = try ForwardQueue(directory: directory)
        #expect(await reopened.entries().map(\.sopInstanceUID) == ["4.1", "4.3"])
        #expect(await reopened.entries(state: .failed).isEmpty)
        try await reopened.fail(destination: "CENTRE", sopInstanceUID: "4.3", error: "x")
        #expect(try await reopened.retry() == 1)
        #expect(await reopened.pendingCount() == 2)
    }

    /// Entries queued while their instance is being stored are not sent, and hold back their study, until released;
    /// withdrawn ones leave the queue, also across a reopen.
    @Test func heldEntriesWaitForTheirStoreAndWithdrawnOnesLeave() async throws {
        let directory = try StoreFixtures.temporaryDirectory("fwdq-held")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let early = Self.entry("3.1", study: "9.3"), later = Self.entry("3.2", study: "9.3"), other = Self.entry("3.3", study: "9.4")
        let failedStore = Self.entry("3.4", study: "9.5")
        do {
            let queue = try ForwardQueue(directory: directory)
            try await queue.enqueue([early], held: true)
            try await queue.enqueue([later, other])
            try await queue.enqueue([failedStore], held: true)
            // The held entry and what follows it in its study wait; another study goes.
            #expect(await queue.due(destination: "CENTRE").entries.map(\.sopInstanceUID) == ["3.3"])
            await queue.release([early])
            #expect(await queue.due(destination: "CENTRE").entries.map(\.sopInstanceUID) == ["3.1", "3.2", "3.3"])
            try await queue.withdraw([failedStore])
            #expect(await queue.entries(destination: "CENTRE", state: .pending).map(\.sopInstanceUID) == ["3.1", "3.2", "3.3"])
            await queue.close()
        }
        let reopened = try ForwardQueue(directory: directory)
        #expect(await reopened.entries(destination: "CENTRE", state: .pending).map(\.sopInstanceUID) == ["3.1", "3.2", "3.3"])
        await reopened.close()
    }

    /// Stores queuing at the same time share the journal's fsyncs: every call returns (none left waiting for an
    /// fsync that never comes), and every entry is there after a reopen.
    @Test(.timeLimit(.minutes(1)))
    func concurrentEnqueuesAllBecomeDurable() async throws {
        let directory = try StoreFixtures.temporaryDirectory("fwdq-group")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let queue = try ForwardQueue(directory: directory)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<32 {
                    group.addTask { try await queue.enqueue([Self.entry("4.\(n)", study: "9.\(n % 5)")], held: n % 2 == 0) }
                }
                try await group.waitForAll()
            }
            #expect(await queue.pendingCount() == 32)
            await queue.close()
        }
        let reopened = try ForwardQueue(directory: directory)
        #expect(Set(await reopened.entries(destination: "CENTRE", state: .pending).map(\.sopInstanceUID)) == Set((0..<32).map { "4.\($0)" }))
        await reopened.close()
    }

    @Test func backoffDoublesUpToTheMaximum() {
        let backoff = ForwardBackoff(initial: .seconds(1), maximum: .seconds(300))
        #expect(backoff.delay(afterFailures: 1) == .seconds(1))
        #expect(backoff.delay(afterFailures: 2) == .seconds(2))
        #expect(backoff.delay(afterFailures: 5) == .seconds(16))
        #expect(backoff.delay(afterFailures: 40) == .seconds(300))
        #expect(Forwarder.isTransient(.init(0xA700)))
        #expect(!Forwarder.isTransient(.init(0xA900)))
        #expect(!Forwarder.isTransient(.init(0x0122)))
    }
}
