import Crypto
import DICOMCore
import DICOMNetwork
import Foundation
import Logging
import NIOCore
import NIOSSL

/// Counts the batches of PDUs delivered but not yet taken by the consumer, and stops reading from the socket while too
/// many wait (back-pressure: a peer faster than the disk cannot fill memory; TCP flow control slows it down).
final class InboundBacklog: @unchecked Sendable {
    /// Reading pauses when this many batches of PDUs (each what one read burst brought, so at most about one read buffer
    /// of 1 MiB plus a PDU that spanned reads) wait, and resumes when they are down to ``resumeAt``.
    static let pauseAt = 8
    static let resumeAt = 2
    private let lock = NSLock()
    private var waiting = 0
    private var paused = false

    /// A batch was delivered; true when reading should pause now.
    func delivered() -> Bool {
        lock.lock(); defer { lock.unlock() }
        waiting += 1
        if !paused && waiting >= Self.pauseAt { paused = true; return true }
        return false
    }

    /// A batch was taken; true when reading should resume now.
    func taken() -> Bool {
        lock.lock(); defer { lock.unlock() }
        waiting = max(0, waiting - 1)
        if paused && waiting <= Self.resumeAt { paused = false; return true }
        return false
    }
}

/// Delivers decoded PDUs from the pipeline to an `AsyncThrowingStream`; the last handler of an association channel.
///
/// The PDUs decoded from one read burst go to the consumer together, as one element of the stream: a 0.5 MB data set in
/// 16 KB P-DATA-TF PDUs then costs the consumer one wake-up per read instead of one per PDU. A batch is handed over by a
/// task enqueued on the event loop when its first PDU arrives, which runs once the loop has finished the current reads
/// (whatever handlers before this one do with read-complete events), and before anything else that closes the stream:
/// an error or the end of the connection first delivers the PDUs received before it.
final class PDUStreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = PDU

    let continuation: AsyncThrowingStream<[PDU], Error>.Continuation
    let backlog: InboundBacklog
    let failure: ConnectionFailure
    /// Set (on the event loop) once an A-ABORT was sent: PDUs that still arrive are dropped (Sta13, AA-6), and reading
    /// goes on only to notice the peer's close.
    var discardsInbound = false
    /// PDUs received and not yet handed over (event loop only).
    private var batch: [PDU] = []

    init(continuation: AsyncThrowingStream<[PDU], Error>.Continuation, backlog: InboundBacklog, failure: ConnectionFailure) {
        self.continuation = continuation
        self.backlog = backlog
        self.failure = failure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if discardsInbound { return }
        if batch.isEmpty {
            let channel = context.channel
            context.eventLoop.execute { self.deliverBatch(channel: channel) }
        }
        batch.append(unwrapInboundIn(data))
    }

    /// Hands the PDUs received so far to the consumer.
    private func deliverBatch(channel: Channel) {
        guard !batch.isEmpty else { return }
        let pdus = batch
        batch = []
        if discardsInbound { return }
        continuation.yield(pdus)
        if backlog.delivered() {
            channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deliverBatch(channel: context.channel)
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if discardsInbound { return }
        deliverBatch(channel: context.channel)
        failure.record(error)
        continuation.finish(throwing: error)
    }
}

/// Closes the connection when its writes make no progress for ``limit``: a peer that keeps the connection open but
/// stops reading (a frozen workstation, a requestor that queued another request behind a C-FIND or C-GET and waits)
/// would otherwise hold a send, and with it the association, for as long as the connection stays open. The receive
/// timer does not help there: the association's task is waiting for the send, not receiving.
///
/// Writes pass through unchanged; the handler counts those not yet written and notes when one completes. It sits next
/// to the socket, where a large data set is many writes (one per P-DATA fragment of the peer's maximum PDU length), so
/// a peer on a slow link that does read keeps showing progress. One timer at a time checks, while writes are pending,
/// that one completed within ``limit``. Every connection has one: it also records in ``activity`` when the peer last took
/// a write, which the receive timers count as traffic; a client's has no limit and only records. Event loop only.
final class WriteStallHandler: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = Any

    /// Nil: writes are only observed for ``activity`` (a client's connection), never closed for stalling.
    let limit: TimeAmount?
    /// When a write last completed, for the connection's receive timers (traffic either way is not idle).
    let activity: WriteActivity
    private let logger: Logger
    /// Writes handed on and not yet completed.
    private var pending = 0
    /// When a write last completed, or when the first of the pending writes was issued.
    private var lastProgress = NIODeadline.now()
    private var checking = false

    init(limit: TimeAmount?, activity: WriteActivity = WriteActivity(), logger: Logger) {
        self.limit = limit
        self.activity = activity
        self.logger = logger
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let observed = promise ?? context.eventLoop.makePromise()
        if pending == 0 { lastProgress = .now() }
        pending += 1
        observed.futureResult.whenComplete { [self] result in
            pending -= 1
            lastProgress = .now()
            if case .success = result { activity.completed(at: lastProgress) }
        }
        context.write(data, promise: observed)
        if !checking, let limit {
            checking = true
            watch(context.channel, until: lastProgress + limit, limit: limit)
        }
    }

    private func watch(_ channel: Channel, until deadline: NIODeadline, limit: TimeAmount) {
        channel.eventLoop.scheduleTask(deadline: deadline) { [self] in
            guard pending > 0 else { checking = false; return }
            let due = lastProgress + limit
            guard NIODeadline.now() >= due else { watch(channel, until: due, limit: limit); return }
            checking = false
            logger.warning("closing the connection: the peer read nothing for \(Double(limit.nanoseconds) / 1e9) s",
                           metadata: ["dicom.pendingWrites": "\(pending)"])
            channel.close(promise: nil)
        }
    }
}

/// When the peer last took data from the connection: the time its last write completed. The receive timer counts it
/// as traffic, so that an association sending a large data set to a slow reader (a C-GET sub-operation, a long C-FIND
/// answer) is not closed as idle while the peer reads it.
final class WriteActivity: @unchecked Sendable {
    private let lock = NSLock()
    private var last: NIODeadline?

    init() {}

    func completed(at time: NIODeadline) { lock.withLock { last = time } }

    /// When a write last completed; nil before the first.
    var lastCompletion: NIODeadline? { lock.withLock { last } }
}

/// The first error the pipeline reported (a failed TLS handshake, a reset): a write that fails afterwards only
/// learns "I/O on closed channel", so it reports this cause instead.
final class ConnectionFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var first: Error?
    func record(_ error: Error) { lock.withLock { if first == nil { first = error } } }
    var error: Error? { lock.withLock { first } }

    /// Words for an error, naming TLS when the TLS layer raised it.
    static func describe(_ error: Error) -> String {
        let type = String(reflecting: Swift.type(of: error))
        return type.hasPrefix("NIOSSL.") ? "TLS: \(error)" : "\(error)"
    }
}

/// A thread-safe flag set when a receive timer closes the channel.
final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// The receive timer of a connection. A receive sets a deadline; one event-loop task at a time watches it and, when it
/// fires before the deadline (a later receive moved it), re-arms itself for the new one. Receiving a PDU then costs a
/// locked store instead of scheduling and cancelling a task, each a wake-up of the event loop from outside it.
///
/// With a ``WriteActivity``, a receive expires only when neither a PDU arrived nor a write completed for its timeout:
/// a peer busy reading what the connection sends is not idle.
final class ReceiveTimer: @unchecked Sendable {
    private let lock = NSLock()
    /// The running receive's deadline; nil between receives.
    private var deadline: NIODeadline?
    /// The running receive's timeout, to extend the deadline from the last completed write.
    private var timeout = TimeAmount.zero
    private let activity: WriteActivity?
    /// When the watching task fires; nil when none is pending.
    private var watchedUntil: NIODeadline?
    private let eventLoop: EventLoop
    private let expire: @Sendable () -> Void

    /// `expire` runs on the event loop when a deadline passes during a receive.
    init(eventLoop: EventLoop, activity: WriteActivity? = nil, expire: @escaping @Sendable () -> Void) {
        self.eventLoop = eventLoop
        self.activity = activity
        self.expire = expire
    }

    /// A receive starts: it times out `timeout` from now.
    func arm(_ timeout: TimeAmount) {
        let due = NIODeadline.now() + timeout
        let schedule: Bool = lock.withLock {
            deadline = due
            self.timeout = timeout
            if let watched = watchedUntil, watched <= due { return false }
            watchedUntil = due
            return true
        }
        if schedule { watch(until: due) }
    }

    /// The receive ended.
    func disarm() { lock.withLock { deadline = nil } }

    private func watch(until time: NIODeadline) {
        eventLoop.scheduleTask(deadline: time) { [self] in fire(scheduledFor: time) }
    }

    private func fire(scheduledFor time: NIODeadline) {
        enum Next { case expire, watch(NIODeadline), stop }
        let now = NIODeadline.now()
        let lastWrite = activity?.lastCompletion
        let next: Next = lock.withLock {
            let current = watchedUntil == time
            if current { watchedUntil = nil }
            guard var due = deadline else { return .stop }
            if due <= now, let lastWrite, lastWrite + timeout > now {
                // The peer took data within the timeout: the receive's idle time counts from then.
                due = lastWrite + timeout
                deadline = due
            }
            if due <= now {
                deadline = nil
                return .expire
            }
            // Another pending task already watches this deadline.
            if !current, let watched = watchedUntil, watched <= due { return .stop }
            watchedUntil = due
            return .watch(due)
        }
        switch next {
        case .expire: expire()
        case .watch(let due): watch(until: due)
        case .stop: break
        }
    }
}

/// One TCP connection carrying PDUs: send with back-pressure, receive with a timer. Receiving is for one task at a
/// time (the owner: the server's per-connection task or the client's reader). Sending may come from several tasks at
/// once — the server's storage handler tasks each answering their C-STORE within an asynchronous operations window, its
/// C-FIND/C-MOVE/C-GET responses, the client's reader answering an A-RELEASE-RQ: each ``send(_:)`` call is atomic (its
/// PDUs pass the state machine and are written in order under one lock), so the PDUs of one call are never interleaved
/// with another's. A message sent in several calls (a data set read from a file in slices) must not overlap with
/// another message on the same connection; its caller serialises that.
///
/// Every PDU sent or received drives the connection's ``UpperLayerStateMachine`` (PS3.8 Table 9-10). A received
/// PDU that the table answers with AA-1, AA-7 or AA-8 (out of order, or unrecognized) is answered here with an
/// A-ABORT (source service-provider, reason unexpected-PDU, unrecognized-PDU or invalid-PDU-parameter-value,
/// PS3.8 §9.3.8) and ``receive(timeout:what:)`` throws; the connection then waits in Sta13 for the peer to close, at most
/// for the ARTIM time. A PDU the local user sends in a state where the table has no cell for it is refused with
/// ``DICOMServiceError/Code/associationClosed`` (after an abort or release) or ``DICOMServiceError/Code/unexpectedMessage``.
final class PDUConnection: @unchecked Sendable {
    let channel: Channel
    private var iterator: AsyncThrowingStream<[PDU], Error>.AsyncIterator
    /// The batch taken from the stream last, and the position of its next PDU (the owner's receive only).
    private var received: [PDU] = []
    private var receivedIndex = 0
    private let timedOut: TimeoutFlag
    private let receiveTimer: ReceiveTimer
    private let backlog: InboundBacklog
    private let failure: ConnectionFailure
    private let streamHandler: PDUStreamHandler
    private let logger: Logger
    /// How long Sta13 waits for the peer to close after an A-ABORT (the ARTIM timer, PS3.8 §9.1.5).
    private let artim: TimeAmount
    /// When the peer last took data this connection wrote (for timers that count that as traffic).
    let writeActivity: WriteActivity
    /// Guards ``machine`` and ``lingers``: the owner receives while a task may send.
    private let stateLock = NSLock()
    private var machine: UpperLayerStateMachine
    /// Set once an A-ABORT was sent: the channel closes when the peer closes or when ARTIM expires.
    private var lingers = false
    /// Writes handed to the event loop as tasks and not yet in the pipeline (guarded by ``stateLock``); see
    /// ``orderedWrite(_:)``.
    private var queuedWrites = 0

    /// Adds the PDU codecs and the stream handler to `channel`'s pipeline (on its event loop).
    ///
    /// - Parameters:
    ///   - role: the acceptor's machine starts at Evt5 (AE-5, Sta2); the requestor's at Evt1 (AE-1, Sta4), and sending
    ///     its A-ASSOCIATE-RQ is AE-2 (the transport connection is already open).
    ///   - artim: the ARTIM time (PS3.8 §9.1.5) Sta13 waits for the peer to close after an A-ABORT.
    ///   - writeStallLimit: when set, the connection is closed once its writes make no progress for this long
    ///     (``WriteStallHandler``): a peer that stops reading.
    static func install(on channel: Channel, maximumPDULength: UInt32, role: UpperLayerStateMachine.Role, artim: TimeAmount,
                        writeStallLimit: TimeAmount? = nil, logger: Logger) throws -> PDUConnection {
        let (stream, continuation) = AsyncThrowingStream<[PDU], Error>.makeStream()
        let sync = channel.pipeline.syncOperations
        // Reads of up to 1 MiB: a P-DATA-TF of the usual sizes (16 to 64 KiB) then mostly lies whole in one read and is
        // handed on as slices of it, without being gathered into a buffer of its own.
        try channel.syncOptions?.setOption(ChannelOptions.recvAllocator,
                                           value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 * 1024, maximum: 1 << 20))
        // Nearest the socket (after TLS), so that it sees the parts PDUWriteHandler writes — each large P-DATA fragment
        // is one — and a slow but reading peer shows progress within a large data set, not only at its end.
        let activity = WriteActivity()
        try sync.addHandler(WriteStallHandler(limit: writeStallLimit, activity: activity, logger: logger))
        try sync.addHandler(PDUFrameHandler(maximumPDULength: maximumPDULength, logger: logger))
        try sync.addHandler(PDUWriteHandler())
        let backlog = InboundBacklog()
        let failure = ConnectionFailure()
        let handler = PDUStreamHandler(continuation: continuation, backlog: backlog, failure: failure)
        try sync.addHandler(handler)
        return PDUConnection(channel: channel, stream: stream, backlog: backlog, failure: failure, handler: handler, role: role,
                             artim: artim, writeActivity: activity, logger: logger)
    }

    private init(channel: Channel, stream: AsyncThrowingStream<[PDU], Error>, backlog: InboundBacklog, failure: ConnectionFailure,
                 handler: PDUStreamHandler, role: UpperLayerStateMachine.Role, artim: TimeAmount, writeActivity: WriteActivity,
                 logger: Logger) {
        self.channel = channel
        let flag = TimeoutFlag()
        timedOut = flag
        self.writeActivity = writeActivity
        receiveTimer = ReceiveTimer(eventLoop: channel.eventLoop, activity: writeActivity) {
            flag.set()
            channel.close(promise: nil)
        }
        self.iterator = stream.makeAsyncIterator()
        self.backlog = backlog
        self.failure = failure
        self.streamHandler = handler
        self.artim = artim
        self.logger = logger
        machine = UpperLayerStateMachine()
        let action = machine.handle(role == .acceptor ? .transportConnectionIndication : .associateRequestPrimitive)
        log(action, event: role == .acceptor ? .transportConnectionIndication : .associateRequestPrimitive)
    }

    /// The upper-layer state (PS3.8 Table 9-10).
    var state: UpperLayerStateMachine.State { stateLock.withLock { machine.state } }

    /// Applies an event to the machine.
    private func apply(_ event: UpperLayerStateMachine.Event) -> UpperLayerStateMachine.Action {
        let action = stateLock.withLock { machine.handle(event) }
        log(action, event: event)
        return action
    }

    /// Logs a state transition at debug level; data transfer that leaves the state as it was (DT-1, DT-2, AR-6, AR-7
    /// in the same state) is not logged, so the per-PDU path stays quiet and allocation-free.
    private func log(_ action: UpperLayerStateMachine.Action, event: UpperLayerStateMachine.Event) {
        if action.previousState == action.nextState {
            switch action.name {
            case .dt1, .dt2, .ar6, .ar7: return
            default: break
            }
        }
        logger.debug("upper layer \(action.name)", metadata: [
            "dicom.event": "\(event)", "dicom.state": "\(action.previousState) → \(action.nextState)",
        ])
    }

    /// The local primitive that sending a PDU carries out (PS3.8 Table 9-10). The transport connection is open before
    /// the requestor's machine exists, so sending A-ASSOCIATE-RQ is AE-2, the action of Evt2.
    private static func sendingEvent(_ pdu: PDU) -> UpperLayerStateMachine.Event {
        switch pdu {
        case .associateRequest: .transportConnectConfirmed
        case .associateAccept: .associateAcceptPrimitive
        case .associateReject: .associateRejectPrimitive
        case .dataTransfer: .dataRequestPrimitive
        case .releaseRequest: .releaseRequestPrimitive
        case .releaseResponse: .releaseResponsePrimitive
        case .abort: .abortRequestPrimitive
        }
    }

    /// Writes PDUs and waits until the last is written (back-pressure for large data sets).
    ///
    /// With `waitingForWrite` false it returns once the PDUs are queued for writing, in order, on the event loop: for the
    /// last part of a message that an answer will follow, saving the task a suspension and a wake-up. A write that then
    /// fails closes the connection, so the receive waiting for the answer fails.
    ///
    /// - Throws: ``DICOMServiceError`` `associationClosed` when the association was aborted or released (nothing is
    ///   sent), `unexpectedMessage` when the state machine does not allow the PDU now, `connectionFailed` when writing fails.
    func send(_ pdus: [PDU], waitingForWrite: Bool = true) async throws {
        guard let last = pdus.last else { return }
        // The machine and the order of writes change together, so a concurrent abort cannot be overtaken.
        let written: EventLoopFuture<Void>? = try stateLock.withLock {
            for pdu in pdus {
                let event = Self.sendingEvent(pdu)
                let previous = machine.state
                let action = machine.handle(event)
                guard !action.isInvalid else {
                    if previous == .sta13 || previous == .sta1 {
                        throw DICOMServiceError(.associationClosed, "cannot send \(pdu.type): the association is \(lingers ? "aborted" : "closed") (\(previous))")
                    }
                    throw DICOMServiceError(.unexpectedMessage, "cannot send \(pdu.type) in \(previous) (\(previous.summary)); PS3.8 Table 9-10 has no action for it")
                }
                log(action, event: event)
                if action.name == .aa2 { return nil }   // Evt15 in Sta4: nothing to send, the transport closes
            }
            // One hand-off to the event loop and one pass through the pipeline for the whole batch (a write from
            // outside the loop is a task and a wake-up each).
            return orderedWrite(pdus)
        }
        guard let written else { await close(); return }
        if !waitingForWrite {
            written.whenFailure { [channel, failure] error in
                failure.record(error)
                channel.close(promise: nil)
            }
            return
        }
        do {
            try await written.get()
        } catch {
            throw DICOMServiceError(.connectionFailed, "cannot send \(last.type): \(ConnectionFailure.describe(failure.error ?? error))")
        }
    }

    func send(_ pdu: PDU) async throws { try await send([pdu]) }

    /// Hands `pdus` to the channel's pipeline in the order of the calls, whoever makes them; call with ``stateLock``
    /// held, right after the machine's transition, so that the bytes on the wire follow the machine.
    ///
    /// A write from outside the event loop becomes a task on the loop, whereas one made on the loop enters the pipeline
    /// at once, ahead of such tasks still queued: an A-ABORT the association's loop sent after an invalid PDU went out
    /// before the C-STORE-RQ of a C-GET sub-operation that the operation's task had sent first (fuzz-server: P-DATA-TF
    /// after A-ABORT on the wire). A write on the loop therefore queues too while any task write is pending.
    private func orderedWrite(_ pdus: [PDU]) -> EventLoopFuture<Void> {
        let loop = channel.eventLoop
        if loop.inEventLoop && queuedWrites == 0 { return channel.writeAndFlush(OutboundPDUs(pdus)) }
        queuedWrites += 1
        let promise = loop.makePromise(of: Void.self)
        loop.execute { [self] in
            stateLock.withLock { queuedWrites -= 1 }
            channel.writeAndFlush(OutboundPDUs(pdus), promise: promise)
        }
        return promise.futureResult
    }

    /// The SHA-256 fingerprint (lower-case hexadecimal of the DER encoding) of the certificate the TLS peer presented
    /// and NIOSSL verified; nil on a plain connection or when the peer sent none.
    func peerCertificateSHA256() async -> String? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(), let der = try? certificate.toDERBytes() else {
            return nil
        }
        return lowercaseHex(SHA256.hash(data: der))
    }

    /// The slice of a file's data set handed to the fragmenter at a time.
    static let fileSliceLength = 4 * 1024 * 1024

    /// Sends a DIMSE request: its `command` PDUs, then the bytes of a file from `offset` to its end as its data set, in slices of
    /// ``fileSliceLength`` read (`pread`) into one reused buffer, so an instance of any size is never loaded whole. The
    /// fragments are slices of that buffer, written behind their P-DATA-TF headers without another copy
    /// (``PDUWriteHandler``).
    ///
    /// `sendfile` was measured against this on loopback, 2,000 files of 0.5 MB: it used 50 % more system CPU in the
    /// sender (a header write and a `sendfile` call per fragment, against one `pread` and gathered writes per slice).
    ///
    /// - Parameters:
    ///   - transferSyntaxUID: the presentation context's transfer syntax. A deflated data set of odd length (a file
    ///     written by a tool that did not pad the bit stream) gets the single trailing 00H byte that PS3.5 §A.5
    ///     requires, so peers that insist on even PDV lengths accept it.
    ///   - command: the request's command PDUs, written with the first slice in the same call, so that a small instance
    ///     is one hand-over to the event loop. Nothing is written when the file cannot be opened.
    ///
    /// The last slice is queued without waiting for its write (``send(_:waitingForWrite:)``): a response follows, and
    /// the caller waits for that.
    /// - Throws: ``DICOMServiceError`` `invalidInput` when the file cannot be opened or ends early (the message is then
    ///   incomplete: the caller must abort or close the association).
    func sendDataSet(fromFile path: String, offset: Int, transferSyntaxUID: String, presentationContextID: UInt8,
                     fragmenter: PDataFragmenter, command: [PDU]) async throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw DICOMServiceError(.invalidInput, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw DICOMServiceError(.invalidInput, "cannot read the size of \(path): \(String(cString: strerror(errno)))")
        }
        let end = Int(status.st_size)
        guard offset <= end else {
            throw DICOMServiceError(.invalidInput, "\(path) ended early while sending it")
        }
        let padsOddLength = TransferSyntax(uid: transferSyntaxUID)?.isDeflated == true && (end - offset) % 2 == 1
        var slice = channel.allocator.buffer(capacity: min(Self.fileSliceLength, max(end - offset, 1)) + 1)
        var position = offset
        var leading = command
        repeat {
            // The previous slice's writes have completed, so this is again the only reference and is reused, not copied.
            slice.clear()
            let count = min(Self.fileSliceLength, end - position)
            let read = try slice.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
                try Self.readFully(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: pointer.prefix(count)), at: position,
                                   path: path)
            }
            guard read == count else {
                throw DICOMServiceError(.invalidInput, "\(path) ended early while sending it (\(position - offset + read) of \(end - offset) data set bytes read)")
            }
            position += count
            if padsOddLength && position >= end { slice.writeInteger(UInt8(0)) }
            let pdus = fragmenter.pdus(for: slice, presentationContextID: presentationContextID, isCommand: false, isLast: position >= end)
            try await send(leading.isEmpty ? pdus : leading + pdus, waitingForWrite: position < end)
            leading = []
        } while position < end
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end of the file.
    private static func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DICOMServiceError(.invalidInput, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// The next PDU the upper-layer state machine lets through, or nil when the peer closed the connection.
    ///
    /// Each received PDU is an event of PS3.8 Table 9-10. PDUs the table ignores (AA-6, in Sta13) are skipped; an
    /// A-ASSOCIATE-RQ in Sta13 is answered with an A-ABORT and skipped (AA-7). A PDU out of order (AA-1, AA-8) or one
    /// that cannot be decoded (Evt19) is answered with an A-ABORT from the service-provider (reason unexpected-PDU,
    /// unrecognized-PDU or invalid-PDU-parameter-value), after which the connection waits in Sta13 for the peer to close
    /// (at most ARTIM), and this throws. Every other PDU is returned, including A-ABORT (AA-2, AA-3), A-ASSOCIATE-RJ
    /// (AE-4) and A-RELEASE-RP (AR-3) whose transport close is the caller's.
    ///
    /// AA-1 names the service-user as the source of its A-ABORT; when a received PDU causes it (in Sta2) the
    /// service-provider is named instead, because it is the provider that found the error and only that source carries
    /// a reason (PS3.8 §9.3.8).
    ///
    /// - Throws: ``DICOMServiceError`` `unexpectedMessage` for a PDU out of order, `timeout` when `timeout` expires (the
    ///   connection is then closed); ``DICOMNetworkError`` (with its ``DICOMNetworkError/state``) for a PDU that cannot be
    ///   decoded; transport errors as they come.
    func receive(timeout: TimeAmount, what: String) async throws -> PDU? {
        let flag = timedOut
        receiveTimer.arm(timeout)
        defer { receiveTimer.disarm() }
        func timeoutError() -> DICOMServiceError {
            DICOMServiceError(.timeout, "no \(what) within \(Double(timeout.nanoseconds) / 1e9) s; connection closed")
        }
        while true {
            let pdu: PDU?
            do {
                pdu = try await nextPDU()
            } catch {
                if flag.isSet {
                    transportClosed(byTimer: true)
                    throw timeoutError()
                }
                guard var invalid = error as? DICOMNetworkError else {
                    transportClosed(byTimer: false)
                    throw error
                }
                // Evt19: an unrecognized or invalid PDU.
                let action = apply(.invalidPDUReceived)
                if invalid.state == nil { invalid.state = action.previousState }
                if action.name == .aa1 || action.name == .aa7 || action.name == .aa8 {
                    let reason: AssociationAbort.Reason = invalid.code == .unknownPDUType ? .unrecognizedPDU : .invalidPDUParameterValue
                    await sendAbortAndLinger(AssociationAbort(source: .serviceProvider, reason: reason))
                }
                throw invalid
            }
            guard let pdu else {
                transportClosed(byTimer: flag.isSet)
                if flag.isSet { throw timeoutError() }
                return nil
            }
            let action = apply(pdu.receivedEvent)
            switch action.name {
            case .aa6:
                continue
            case .aa7:
                await sendAbort(AssociationAbort(source: .serviceProvider, reason: .unexpectedPDU))
                continue
            case .aa1, .aa8:
                await sendAbortAndLinger(AssociationAbort(source: .serviceProvider, reason: .unexpectedPDU))
                let state = action.previousState
                throw DICOMServiceError(.unexpectedMessage, "\(pdu.type) received in \(state) (\(state.summary)); "
                                        + "A-ABORT sent (PS3.8 Table 9-10 \(action.name), unexpected-PDU)")
            default:
                return pdu
            }
        }
    }

    /// Whether a PDU of the batch at hand is still to be returned: ``receive(timeout:what:)`` then returns it without
    /// waiting. For the owner (the receiving task) only.
    var hasBufferedPDU: Bool { receivedIndex < received.count }

    /// The next PDU from the batch at hand, or from the next batch the stream delivers (nil at its end).
    private func nextPDU() async throws -> PDU? {
        if receivedIndex < received.count {
            defer { receivedIndex += 1 }
            return received[receivedIndex]
        }
        received = []
        receivedIndex = 0
        while true {
            guard let batch = try await iterator.next() else { return nil }
            if backlog.taken() {
                channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            }
            guard let first = batch.first else { continue }
            received = batch
            receivedIndex = 1
            return first
        }
    }

    /// The transport connection closed (Evt17), or the receive timer closed it (Evt18 where ARTIM runs: Sta2, Sta13).
    private func transportClosed(byTimer: Bool) {
        let state = self.state
        _ = apply(byTimer && (state == .sta2 || state == .sta13) ? .artimTimerExpired : .transportClosed)
    }

    /// Writes an A-ABORT, best effort.
    private func sendAbort(_ abort: AssociationAbort) async {
        logger.debug("sending A-ABORT", metadata: ["dicom.abort": "\(abort)"])
        let written = stateLock.withLock { orderedWrite([.abort(abort)]) }
        try? await written.get()
    }

    /// Writes an A-ABORT and waits in Sta13 (PS3.8 Table 9-9, AA-1, AA-8): our side of the connection is shut after the
    /// A-ABORT (so the peer reads it, then end of stream), PDUs that still arrive are dropped, and the connection closes
    /// when the peer closes it or when ARTIM expires. Closing at once could reset the connection and lose the A-ABORT.
    private func sendAbortAndLinger(_ abort: AssociationAbort) async {
        let alreadyLingering = stateLock.withLock {
            defer { lingers = true }
            return lingers
        }
        await sendAbort(abort)
        guard !alreadyLingering else { return }
        let channel = self.channel
        let handler = streamHandler
        let artim = self.artim
        channel.eventLoop.execute {
            handler.discardsInbound = true
            channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
            let expiry = channel.eventLoop.scheduleTask(in: artim) { channel.close(promise: nil) }
            channel.closeFuture.whenComplete { _ in expiry.cancel() }
        }
    }

    /// Waits in Sta13, after sending A-ASSOCIATE-RJ (AE-8) or A-RELEASE-RP (AR-4), for the peer to close the transport
    /// (AR-5), at most `timeout` (the ARTIM timer; AA-2 on expiry), then closes. Our side's output is shut first, so a
    /// peer reading to the end of the stream sees it; PDUs that arrive meanwhile are ignored (AA-6), or answered with an
    /// A-ABORT when the table says so (AA-7). Waiting instead of closing at once keeps unread PDUs from resetting the
    /// connection under the answer just sent.
    func awaitClose(timeout: TimeAmount) async {
        channel.close(mode: .output).whenFailure { _ in }
        // In Sta13 receive returns only at the close (AR-5), at an A-ABORT (AA-2) or when the timer closes the connection.
        _ = try? await receive(timeout: timeout, what: "the peer to close the connection")
        await close()
    }

    /// Aborts the association (A-ABORT request primitive, Evt15). In Sta3 to Sta12 this sends `abort` (AA-1) and waits
    /// in Sta13 for the peer to close, at most ARTIM; in any other state (already aborted, released or closed, or no
    /// A-ASSOCIATE-RQ yet) nothing is sent and the connection is closed unless it is already waiting to close.
    func abort(_ abort: AssociationAbort) async {
        if apply(.abortRequestPrimitive).name == .aa1 {
            await sendAbortAndLinger(abort)
        } else {
            await close()
        }
    }

    /// Closes the connection, unless it is waiting in Sta13 after an A-ABORT (it closes when the peer does, or at ARTIM).
    func close() async {
        if stateLock.withLock({ lingers }) { return }
        try? await channel.close()
    }
}

