import NIOCore
import NIOPosix

/// Runs a task's jobs on one event loop: the server runs each association's task on its channel's loop, so that the
/// PDUs the channel reads resume the task on the thread that read them, and the task's writes reach the socket without
/// a hand-over to another thread. A client does the same with `withTaskExecutorPreference(EventLoopTaskExecutor(loop))`
/// around its work and ``DICOMClient/connect(host:port:callingAE:calledAE:presentationContexts:roleSelections:userIdentity:asynchronousOperations:maximumPDULength:timeouts:tls:eventLoopGroup:logger:)``
/// with `eventLoopGroup: loop`, as the archive's forwarder does. Work on the loop must not block. Structured child tasks (`async let`, task groups) and the default actors the task
/// calls inherit the preference (SE-0417); blocking file work goes to threads of its own either way
/// (``runBlocking(_:)``, the direct writer's queue).
///
/// Measured with the archive and DCMTK `storescu` (interleaved pairs, medians): one association 1.11× and 1.13× the
/// instances/s of the cooperative pool; four associations 1.03× with ``DICOMServer/associationEventLoops``, but 0.93×
/// when they shared the two loops of `MultiThreadedEventLoopGroup.singleton` on the 2-core machine.
public final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension DICOMServer {
    /// The event loops a server's associations run on unless the caller gives others: as many as the machine has
    /// cores, and at least 8, so that a few associations each get a thread of their own (their tasks run on their
    /// loops, see ``EventLoopTaskExecutor``) even on a machine with two cores. Created on first use, never shut down
    /// (like `MultiThreadedEventLoopGroup.singleton`).
    public static let associationEventLoops: MultiThreadedEventLoopGroup =
        MultiThreadedEventLoopGroup(numberOfThreads: max(8, System.coreCount))
}
