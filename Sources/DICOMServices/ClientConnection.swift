import DICOMCodecs
import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Logging
import NIOCore
import NIOPosix

/// The requestor's end of an established association. A reader task receives every PDU as it arrives, so that an
/// A-RELEASE-RQ from the acceptor is answered also while no operation waits for anything (PS3.8 Table 9-10: Sta6,
/// Evt12, AR-2 → Sta8; the A-RELEASE-RP is AR-4 → Sta13, then the acceptor closes the transport, AR-5). Every other PDU
/// is handed to ``receive(timeout:what:)``: the P-DATA-TF PDUs that arrived together (one read burst) as one hand-over,
/// which the receives then take one by one without waking the reader; the reader reads on only once they were all
/// taken, so that a peer faster than us is slowed down by TCP flow control. Sends go straight to the ``PDUConnection``.
final class ClientConnection: @unchecked Sendable {
    let base: PDUConnection
    private let artim: TimeAmount
    private let logger: Logger
    private let lock = NSLock()
    /// PDUs the reader received and no receive has taken yet: `pending[pendingIndex...]`.
    private var pending: [PDU] = []
    private var pendingIndex = 0
    /// The reader, waiting until every ``pending`` PDU is taken.
    private var parkedReader: CheckedContinuation<Void, Never>?
    /// What every receive gets once the reader stopped: nil (closed) or an error.
    private var end: Result<PDU?, any Error>?
    /// The receive waiting for the next PDU.
    private var consumer: Consumer?
    private var lastConsumerID = 0
    private var cancelledConsumerID = 0
    private var released: DICOMServiceError?

    /// A receive waiting: what it waits for and how long, for the timeout's message.
    private struct Consumer {
        var id: Int
        var continuation: CheckedContinuation<PDU?, any Error>
        var what: String
        var timeout: TimeAmount
    }
    /// The timer of the waiting receive (armed and disarmed with a locked store, without a task on the event loop each).
    private var timer: ReceiveTimer?

    /// The reader's own receive timer is not ours: each ``receive(timeout:what:)`` has its own.
    private static let readerTimeout = TimeAmount.hours(24 * 365)

    init(_ base: PDUConnection, artim: TimeAmount, logger: Logger) {
        self.base = base
        self.artim = artim
        self.logger = logger
        // A request whose end a peer on a slow link is still taking is not waiting for its response yet: the DIMSE
        // timeout counts from the last write taken, as it does with DCMTK's blocking sends.
        timer = ReceiveTimer(eventLoop: base.channel.eventLoop, activity: base.writeActivity) { [weak self] in self?.expire() }
    }

    /// Set once the acceptor released the association (its A-RELEASE-RQ answered with A-RELEASE-RP).
    var releasedByPeer: DICOMServiceError? { lock.withLock { released } }

    func startReading() {
        Task { await self.read() }
    }

    private func read() async {
        // A PDU read after a batch of P-DATA-TF that is not one of them: handled on the next turn.
        var carried: Result<PDU?, any Error>?
        while true {
            var result: Result<PDU?, any Error>
            if let next = carried {
                result = next
                carried = nil
            } else {
                result = await receiveFromBase()
            }
            if case .success(.releaseRequest?) = result, base.state == .sta8 {
                // AR-2 → Sta8: answer at once (AR-4 → Sta13) and wait for the acceptor to close the transport (AR-5).
                let error = DICOMServiceError(.associationClosed, "the peer released the association (its A-RELEASE-RQ was answered with A-RELEASE-RP)")
                lock.withLock { released = error }
                logger.info("the peer released the association")
                do {
                    try await base.send(.releaseResponse)
                } catch {
                    logger.debug("cannot answer the peer's A-RELEASE-RQ", metadata: ["error": "\(error)"])
                }
                finish(.failure(error))
                await base.awaitClose(timeout: artim)
                return
            }
            switch result {
            case .success(nil), .failure:
                finish(result)
                return
            case .success(let pdu?):
                var batch = [pdu]
                if case .dataTransfer = pdu {
                    // The P-DATA-TF PDUs that came with it (already received: no waiting).
                    while base.hasBufferedPDU {
                        let next = await receiveFromBase()
                        guard case .success(let following?) = next, case .dataTransfer = following else {
                            carried = next
                            break
                        }
                        batch.append(following)
                    }
                }
                await deliver(batch)
            }
        }
    }

    private func receiveFromBase() async -> Result<PDU?, any Error> {
        do {
            return .success(try await base.receive(timeout: Self.readerTimeout, what: "PDU"))
        } catch {
            return .failure(error)
        }
    }

    /// Hands the first PDU to the waiting receive and keeps the rest, or keeps them all; when any are kept, waits
    /// (stops reading) until receives have taken them.
    private func deliver(_ batch: [PDU]) async {
        if batch.count == 1, let waiting = takeConsumer() {
            waiting.continuation.resume(returning: batch[0])
            return
        }
        await withCheckedContinuation { (parked: CheckedContinuation<Void, Never>) in
            lock.lock()
            let waiting = consumer
            consumer = nil
            let kept = waiting == nil ? batch[...] : batch.dropFirst()
            if kept.isEmpty {
                lock.unlock()
                waiting?.continuation.resume(returning: batch[0])
                parked.resume()
            } else {
                pending = Array(kept)
                pendingIndex = 0
                parkedReader = parked
                lock.unlock()
                waiting?.continuation.resume(returning: batch[0])
            }
        }
    }

    private func takeConsumer() -> Consumer? {
        lock.withLock {
            defer { consumer = nil }
            return consumer
        }
    }

    /// The reader stopped: the waiting receive and every later one get `result` (after the PDUs still pending).
    private func finish(_ result: Result<PDU?, any Error>) {
        let waiting: Consumer? = lock.withLock {
            if end == nil { end = result }
            defer { consumer = nil }
            return consumer
        }
        waiting?.continuation.resume(with: result)
    }

    /// Fails the receive waiting now, if any, with `error` (the association was aborted).
    func failWaitingReceive(_ error: any Error) {
        takeConsumer()?.continuation.resume(throwing: error)
    }

    /// The next PDU, or nil when the peer closed the connection; as ``PDUConnection/receive(timeout:what:)``, whose
    /// state machine rules apply. One receive at a time.
    ///
    /// - Throws: ``DICOMServiceError`` `timeout` when none arrives within `timeout` (the connection is then closed),
    ///   `associationClosed` once the acceptor released the association; what the connection's receive threw.
    func receive(timeout: TimeAmount, what: String) async throws -> PDU? {
        let id: Int = lock.withLock {
            lastConsumerID += 1
            return lastConsumerID
        }
        defer { timer?.disarm() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PDU?, any Error>) in
                lock.lock()
                if pendingIndex < pending.count {
                    let ready = pending[pendingIndex]
                    pendingIndex += 1
                    var reader: CheckedContinuation<Void, Never>?
                    if pendingIndex == pending.count {
                        pending = []
                        pendingIndex = 0
                        reader = parkedReader
                        parkedReader = nil
                    }
                    lock.unlock()
                    reader?.resume()
                    continuation.resume(returning: ready)
                } else if let end {
                    lock.unlock()
                    continuation.resume(with: end)
                } else if consumer != nil {
                    lock.unlock()
                    continuation.resume(throwing: DICOMServiceError(.unexpectedMessage, "two receives at once on one association"))
                } else if cancelledConsumerID == id {
                    lock.unlock()
                    continuation.resume(throwing: CancellationError())
                } else {
                    consumer = Consumer(id: id, continuation: continuation, what: what, timeout: timeout)
                    lock.unlock()
                    timer?.arm(timeout)
                }
            }
        } onCancel: {
            let waiting: CheckedContinuation<PDU?, any Error>? = lock.withLock {
                guard let current = consumer, current.id == id else {
                    cancelledConsumerID = id
                    return nil
                }
                consumer = nil
                return current.continuation
            }
            waiting?.resume(throwing: CancellationError())
        }
    }

    /// The waiting receive's timer expired: it fails and the connection closes (the reader then stops).
    private func expire() {
        guard let waiting = takeConsumer() else { return }
        base.channel.close(promise: nil)
        dropPending()
        let seconds = Double(waiting.timeout.nanoseconds) / 1e9
        waiting.continuation.resume(throwing: DICOMServiceError(.timeout, "no \(waiting.what) within \(seconds) s; connection closed"))
    }

    func send(_ pdus: [PDU], waitingForWrite: Bool = true) async throws { try await base.send(pdus, waitingForWrite: waitingForWrite) }

    func send(_ pdu: PDU) async throws { try await base.send([pdu]) }

    func sendDataSet(fromFile path: String, offset: Int, transferSyntaxUID: String, presentationContextID: UInt8,
                     fragmenter: PDataFragmenter, command: [PDU]) async throws {
        try await base.sendDataSet(fromFile: path, offset: offset, transferSyntaxUID: transferSyntaxUID,
                                   presentationContextID: presentationContextID, fragmenter: fragmenter, command: command)
    }

    /// As ``PDUConnection/abort(_:)``; nothing once the acceptor released the association.
    func abort(_ abort: AssociationAbort) async {
        guard releasedByPeer == nil else { return }
        await base.abort(abort)
        dropPending()
    }

    /// As ``PDUConnection/close()``; once the acceptor released the association the reader closes the connection when
    /// the acceptor does (or at ARTIM), so that the A-RELEASE-RP is not lost to a reset.
    func close() async {
        guard releasedByPeer == nil else { return }
        await base.close()
        dropPending()
    }

    /// The association is over (aborted, closed, timed out): PDUs no receive took are dropped and the reader, if it
    /// waits for them to be taken, goes on, to find the connection closed and stop (else it would wait for good).
    private func dropPending() {
        let reader: CheckedContinuation<Void, Never>? = lock.withLock {
            pending = []
            pendingIndex = 0
            defer { parkedReader = nil }
            return parkedReader
        }
        reader?.resume()
    }

    /// Whether the reader waits for received PDUs to be taken (for tests).
    var readerIsParked: Bool { lock.withLock { parkedReader != nil } }
}
