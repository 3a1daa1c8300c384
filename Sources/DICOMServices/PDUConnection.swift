import Crypto
import DICOMCore
import DICOMNetwork
import Foundation
import Logging
import NIOCore
import NIOSSL

/// Counts the PDUs delivered but not yet taken by the consumer, and stops reading from the socket while too many
/// wait (back-pressure: a peer faster than the disk cannot fill memory; TCP flow control slows it down).
final class InboundBacklog: @unchecked Sendable {
    /// Reading pauses when this many PDUs wait, and resumes when they are down to ``resumeAt``.
    static let pauseAt = 8
    static let resumeAt = 2
    private let lock = NSLock()
    private var waiting = 0
    private var paused = false

    /// A PDU was delivered; true when reading should pause now.
    func delivered() -> Bool {
        lock.lock(); defer { lock.unlock() }
        waiting += 1
        if !paused && waiting >= Self.pauseAt { paused = true; return true }
        return false
    }

    /// A PDU was taken; true when reading should resume now.
    func taken() -> Bool {
        lock.lock(); defer { lock.unlock() }
        waiting = max(0, waiting - 1)
        if paused && waiting <= Self.resumeAt { paused = false; return true }
        return false
    }
}

/// Delivers decoded PDUs from the pipeline to an `AsyncThrowingStream`; the last handler of an association channel.
final class PDUStreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = PDU

    let continuation: AsyncThrowingStream<PDU, Error>.Continuation
    let backlog: InboundBacklog
    let failure: ConnectionFailure

    init(continuation: AsyncThrowingStream<PDU, Error>.Continuation, backlog: InboundBacklog, failure: ConnectionFailure) {
        self.continuation = continuation
        self.backlog = backlog
        self.failure = failure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
        if backlog.delivered() {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failure.record(error)
        continuation.finish(throwing: error)
    }
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

/// One TCP connection carrying PDUs: send with back-pressure, receive with a timer. Not for concurrent use:
/// the owner (an ``Association`` or the server's per-connection task) serialises calls.
final class PDUConnection: @unchecked Sendable {
    let channel: Channel
    private var iterator: AsyncThrowingStream<PDU, Error>.AsyncIterator
    private let timedOut = TimeoutFlag()
    private let backlog: InboundBacklog
    private let failure: ConnectionFailure

    /// Adds the PDU codecs and the stream handler to `channel`'s pipeline (on its event loop).
    static func install(on channel: Channel, maximumPDULength: UInt32, logger: Logger?) throws -> PDUConnection {
        let (stream, continuation) = AsyncThrowingStream<PDU, Error>.makeStream()
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(ByteToMessageHandler(PDUDecoder(maximumPDULength: maximumPDULength, logger: logger)))
        try sync.addHandler(MessageToByteHandler(PDUEncoder()))
        let backlog = InboundBacklog()
        let failure = ConnectionFailure()
        try sync.addHandler(PDUStreamHandler(continuation: continuation, backlog: backlog, failure: failure))
        return PDUConnection(channel: channel, stream: stream, backlog: backlog, failure: failure)
    }

    private init(channel: Channel, stream: AsyncThrowingStream<PDU, Error>, backlog: InboundBacklog, failure: ConnectionFailure) {
        self.channel = channel
        self.iterator = stream.makeAsyncIterator()
        self.backlog = backlog
        self.failure = failure
    }

    /// Writes PDUs and waits until the last is written (back-pressure for large data sets).
    func send(_ pdus: [PDU]) async throws {
        guard let last = pdus.last else { return }
        for pdu in pdus.dropLast() { channel.write(pdu, promise: nil) }
        do {
            try await channel.writeAndFlush(last).get()
        } catch {
            throw DICOMServiceError(.connectionFailed, "cannot send \(last.type): \(ConnectionFailure.describe(failure.error ?? error))")
        }
    }

    func send(_ pdu: PDU) async throws { try await send([pdu]) }

    /// The SHA-256 fingerprint (lower-case hexadecimal of the DER encoding) of the certificate the TLS peer presented
    /// and NIOSSL verified; nil on a plain connection or when the peer sent none.
    func peerCertificateSHA256() async -> String? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(), let der = try? certificate.toDERBytes() else {
            return nil
        }
        return SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
    }

    /// The slice of a file's data set handed to the fragmenter at a time.
    static let fileSliceLength = 4 * 1024 * 1024

    /// Sends the bytes of a file from `offset` to its end as the data set of a DIMSE message, in slices, so an instance
    /// of any size is never loaded whole.
    ///
    /// - Parameter transferSyntaxUID: the presentation context's transfer syntax. A deflated data set of odd length
    ///   (a file written by a tool that did not pad the bit stream) gets the single trailing 00H byte that PS3.5 §A.5
    ///   requires, so peers that insist on even PDV lengths accept it.
    /// - Throws: ``DICOMServiceError`` `invalidInput` when the file cannot be opened or ends early (the message is then
    ///   incomplete: the caller must abort or close the association).
    func sendDataSet(fromFile path: String, offset: Int, transferSyntaxUID: String, presentationContextID: UInt8,
                     fragmenter: PDataFragmenter) async throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DICOMServiceError(.invalidInput, "cannot open \(path)")
        }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        try handle.seek(toOffset: UInt64(offset))
        let padsOddLength = TransferSyntax(uid: transferSyntaxUID)?.isDeflated == true && (end - UInt64(offset)) % 2 == 1
        var position = UInt64(offset)
        repeat {
            var chunk = try handle.read(upToCount: Self.fileSliceLength) ?? Data()
            guard !chunk.isEmpty || position == end else {
                throw DICOMServiceError(.invalidInput, "\(path) ended early while sending it")
            }
            position += UInt64(chunk.count)
            if padsOddLength && position >= end { chunk.append(0) }
            try await send(fragmenter.pdus(for: ByteBuffer(bytes: chunk), presentationContextID: presentationContextID,
                                           isCommand: false, isLast: position >= end))
        } while position < end
    }

    /// The next PDU, or nil when the peer closed the connection. When `timeout` expires the connection is closed
    /// and ``DICOMServiceError/Code/timeout`` is thrown.
    func receive(timeout: TimeAmount, what: String) async throws -> PDU? {
        let flag = timedOut
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            flag.set()
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        let pdu: PDU?
        do {
            pdu = try await iterator.next()
        } catch {
            if flag.isSet { throw DICOMServiceError(.timeout, "no \(what) within \(Double(timeout.nanoseconds) / 1e9) s; connection closed") }
            throw error
        }
        if pdu != nil, backlog.taken() {
            channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
        if pdu == nil, flag.isSet {
            throw DICOMServiceError(.timeout, "no \(what) within \(Double(timeout.nanoseconds) / 1e9) s; connection closed")
        }
        return pdu
    }

    /// Sends an A-ABORT (best effort) and closes the connection.
    func abort(_ abort: AssociationAbort) async {
        try? await channel.writeAndFlush(PDU.abort(abort)).get()
        try? await channel.close()
    }

    func close() async {
        try? await channel.close()
    }
}
