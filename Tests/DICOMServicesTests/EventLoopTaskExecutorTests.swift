import Dispatch
@testable import DICOMServices
import NIOCore
import NIOPosix
import Testing

/// An association's task runs on its channel's event loop (``EventLoopTaskExecutor``), also after resuming from work
/// done on other threads, and so do its structured child tasks.
@Suite struct EventLoopTaskExecutorTests {
    @Test func aTaskAndItsChildrenRunOnTheLoopAcrossSuspensions() async throws {
        let loop = DICOMServer.associationEventLoops.next()
        let observed = try await Task(executorPreference: EventLoopTaskExecutor(loop)) { () -> [Bool] in
            var onLoop = [loop.inEventLoop]
            // Resumed from a Dispatch thread.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue(label: "elsewhere").async { continuation.resume() }
            }
            onLoop.append(loop.inEventLoop)
            async let child = loop.inEventLoop
            onLoop.append(await child)
            let grouped = await withTaskGroup(of: Bool.self) { tasks in
                for _ in 0..<4 { tasks.addTask { loop.inEventLoop } }
                return await tasks.reduce(true) { $0 && $1 }
            }
            onLoop.append(grouped)
            return onLoop
        }.value
        #expect(observed == [true, true, true, true])
        // Not on the loop without the preference.
        #expect(await Task { loop.inEventLoop }.value == false)
    }

    @Test func theServersAssociationLoopsAreAtLeastEight() {
        #expect(DICOMServer.associationEventLoops.makeIterator().reduce(0) { count, _ in count + 1 } >= 8)
    }
}
