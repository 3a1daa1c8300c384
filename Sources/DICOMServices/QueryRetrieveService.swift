import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Logging
import NIOCore

/// What the acceptor's receive loop hands to a running C-FIND, C-MOVE or C-GET: a C-CANCEL for it, and (for C-GET)
/// the C-STORE-RSPs of its sub-operations. Thread-safe; the operation runs in its own task while the loop keeps reading.
final class OperationMailbox: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var responses: [CStoreResponse] = []
    private var waiter: CheckedContinuation<CStoreResponse?, Never>?
    private var closed = false

    var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }

    /// Whether the association's loop closed the mailbox (no response can arrive any more).
    var isClosed: Bool { lock.lock(); defer { lock.unlock() }; return closed }

    func cancel() {
        lock.lock(); cancelled = true; lock.unlock()
    }

    func deliver(_ response: CStoreResponse) {
        lock.lock()
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume(returning: response)
            return
        }
        responses.append(response)
        lock.unlock()
    }

    /// Ends waiting: the association is gone or the wait timed out.
    func close() {
        lock.lock()
        closed = true
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: nil)
    }

    /// The next C-STORE-RSP, or nil when none arrives within `timeout` or the association ended.
    func nextStoreResponse(timeout: Duration) async -> CStoreResponse? {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self?.expireWaiter() }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            lock.lock()
            if !responses.isEmpty {
                let first = responses.removeFirst()
                lock.unlock()
                continuation.resume(returning: first)
            } else if closed {
                lock.unlock()
                continuation.resume(returning: nil)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }

    private func expireWaiter() {
        lock.lock()
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: nil)
    }
}

/// The Query/Retrieve side of an acceptor (PS3.4 Annex C): answers C-FIND through a ``QueryHandler`` and C-MOVE and
/// C-GET through a ``RetrieveHandler``, sending pending responses as it goes and honouring C-CANCEL.
struct QueryRetrieveService: Sendable {
    let queryHandler: QueryHandler?
    let retrieveHandler: RetrieveHandler?
    /// Our AE title as the calling AE of C-MOVE sub-associations.
    let aeTitle: AETitle?
    let connection: PDUConnection
    let negotiated: NegotiatedAssociation
    let fragmenter: PDataFragmenter
    let timeouts: DICOMServerTimeouts
    let logger: Logger
    /// The verified TLS client certificate's SHA-256 fingerprint, for ``RequestContext``.
    var peerCertificateSHA256: String? = nil

    var context: (UInt8) -> RequestContext {
        { [negotiated, peerCertificateSHA256] id in
            RequestContext(negotiated: negotiated, contextID: id, peerCertificateSHA256: peerCertificateSHA256)
        }
    }

    /// Decodes a request identifier in its presentation context's transfer syntax.
    func decodeIdentifier(_ bytes: ByteBuffer, contextID: UInt8) throws -> DataSet {
        guard let syntax = negotiated.acceptedContexts[contextID]?.knownTransferSyntax else {
            throw DIMSEFailure(.cannotUnderstand, "presentation context \(contextID) has no known transfer syntax")
        }
        do {
            return try DataSetReader.read(Data(bytes.readableBytesView), transferSyntax: syntax)
        } catch {
            throw DIMSEFailure(DIMSEStatus(0xA900), "the identifier cannot be decoded: \(error)")
        }
    }

    private func encode(_ dataSet: DataSet, contextID: UInt8) throws -> ByteBuffer {
        let syntax = negotiated.acceptedContexts[contextID]?.knownTransferSyntax ?? .implicitVRLittleEndian
        return ByteBuffer(bytes: try DataSetWriter.encode(dataSet, transferSyntax: syntax))
    }

    // MARK: C-FIND

    /// Pending C-FIND responses written per flush, at most: a small first batch so the requestor starts reading
    /// early, then larger ones (fewer flushes and hand-offs to the event loop).
    static let findFirstBatchSize = 16
    static let findBatchSize = 64
    /// Identifier bytes written per flush, at most (a batch ends after the response that reaches it).
    static let findBatchBytes = 256 * 1024

    func find(_ request: CFindRequest, identifier bytes: ByteBuffer, contextID: UInt8, mailbox: OperationMailbox) async throws {
        func respond(_ status: DIMSEStatus, _ identifier: DataSet? = nil, comment: String? = nil) async throws {
            let response = CFindResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID,
                                         status: status, hasDataSet: identifier != nil, errorComment: comment)
            try await connection.send(try fragmenter.pdus(for: response, dataSet: try identifier.map { try encode($0, contextID: contextID) },
                                                          presentationContextID: contextID))
        }
        guard let queryHandler else {
            try await respond(.sopClassNotSupported, comment: "C-FIND is not served here")
            return
        }
        let syntax = negotiated.acceptedContexts[contextID]?.knownTransferSyntax ?? .implicitVRLittleEndian
        // The handler answers either with identifiers it encoded itself, or with data sets encoded here batch by batch.
        var encoded: EncodedIdentifiers?
        var matches: [DataSet] = []
        do {
            let identifier = try decodeIdentifier(bytes, contextID: contextID)
            let requestContext = context(contextID)
            encoded = try await queryHandler.encodedMatches(identifier, context: requestContext, transferSyntax: syntax)
            if encoded == nil { matches = try await queryHandler.find(identifier, context: requestContext) }
        } catch let failure as DIMSEFailure {
            logger.info("C-FIND refused", metadata: ["dicom.status": "\(failure.status)", "error": "\(failure.comment ?? "")"])
            try await respond(failure.status, comment: failure.comment.map { String($0.prefix(64)) })
            return
        } catch {
            logger.warning("C-FIND failed", metadata: ["error": "\(error)"])
            try await respond(.cannotUnderstand, comment: String("\(error)".prefix(64)))
            return
        }
        let count = encoded?.count ?? matches.count
        // Pending responses go out in batches with one flush each (one system call and one hand-off per batch rather
        // than per match); a C-CANCEL is honoured between batches. The pending command set is the same for every
        // match, so it is encoded once; identifiers are sent as slices of one buffer (the handler's, or a batch's).
        let pending = CFindResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID,
                                    status: .pending, hasDataSet: true)
        let pendingCommand = try CommandSet.encode(pending.commandSet)
        let answer = encoded.map { ByteBuffer(bytes: $0.bytes) }
        var sent = 0
        var batchBytes: [UInt8] = []
        var ends: [Int] = []
        var pdus: [PDU] = []
        while sent < count {
            if mailbox.isCancelled {
                try await respond(.cancel)
                logger.info("C-FIND cancelled", metadata: ["dicom.matches": "\(count)", "dicom.sent": "\(sent)"])
                return
            }
            pdus.removeAll(keepingCapacity: true)
            var next = sent
            let batchSize = sent == 0 ? Self.findFirstBatchSize : Self.findBatchSize
            if let encoded, let answer {
                var size = 0
                while next < count && next - sent < batchSize && size < Self.findBatchBytes {
                    let range = encoded.range(of: next)
                    size += range.count
                    let identifier = answer.getSlice(at: range.lowerBound, length: range.count) ?? ByteBuffer()
                    pdus += Self.messagePDUs(command: pendingCommand, dataSet: identifier, contextID: contextID, fragmenter: fragmenter)
                    next += 1
                }
            } else {
                batchBytes.removeAll(keepingCapacity: true)
                ends.removeAll(keepingCapacity: true)
                while next < count && next - sent < batchSize && batchBytes.count < Self.findBatchBytes {
                    try DataSetWriter.encode(matches[next], transferSyntax: syntax, into: &batchBytes)
                    ends.append(batchBytes.count)
                    next += 1
                }
                let identifiers = ByteBuffer(bytes: batchBytes)
                var start = 0
                for end in ends {
                    let identifier = identifiers.getSlice(at: start, length: end - start) ?? ByteBuffer()
                    start = end
                    pdus += Self.messagePDUs(command: pendingCommand, dataSet: identifier, contextID: contextID, fragmenter: fragmenter)
                }
            }
            try await connection.send(pdus)
            sent = next
        }
        try await respond(mailbox.isCancelled ? .cancel : .success)
        logger.info("C-FIND", metadata: ["dicom.matches": "\(count)"])
    }

    /// The P-DATA-TF PDUs of one DIMSE message whose command set and data set are already encoded: a single PDU
    /// holding the command PDV and the data set PDV when both fit the peer's Maximum Length (a P-DATA-TF carries one
    /// or more PDVs, PS3.8 §9.3.5; each PDV holds either command or data set bytes, PS3.8 Annex E.2), else the
    /// command set and data set fragmented separately as ``PDataFragmenter`` does.
    static func messagePDUs(command: ByteBuffer, dataSet: ByteBuffer, contextID: UInt8, fragmenter: PDataFragmenter) -> [PDU] {
        let body = 12 + command.readableBytes + dataSet.readableBytes
        let fits = fragmenter.maximumPDULength == 0 ? body - 6 <= fragmenter.maximumFragmentLength
                                                    : body <= Int(fragmenter.maximumPDULength)
        guard fits else {
            return fragmenter.pdus(for: command, presentationContextID: contextID, isCommand: true)
                + fragmenter.pdus(for: dataSet, presentationContextID: contextID, isCommand: false)
        }
        return [.dataTransfer([
            PresentationDataValue(presentationContextID: contextID, isCommand: true, isLastFragment: true, fragment: command),
            PresentationDataValue(presentationContextID: contextID, isCommand: false, isLastFragment: true, fragment: dataSet),
        ])]
    }

    // MARK: C-MOVE and C-GET

    /// Counts of sub-operations and the instances that failed.
    struct Progress {
        var remaining: Int
        var completed = 0
        var failed = 0
        var warning = 0
        var failedUIDs: [String] = []

        var counts: SuboperationCounts {
            SuboperationCounts(remaining: UInt16(clamping: remaining), completed: UInt16(clamping: completed),
                               failed: UInt16(clamping: failed), warning: UInt16(clamping: warning))
        }

        mutating func record(_ status: DIMSEStatus?, uid: String) {
            remaining -= 1
            if let status, status.isSuccess { completed += 1 }
            else if let status, status.isWarning { warning += 1 }
            else { failed += 1; failedUIDs.append(uid) }
        }

        /// The final status (PS3.4 C.4.2.1.5): success, warning when some sub-operations failed, failure when all did.
        var finalStatus: DIMSEStatus {
            if failed == 0 && warning == 0 { return .success }
            if completed == 0 && warning == 0 { return .outOfResourcesUnableToPerformSuboperations }
            return DIMSEStatus(0xB000)
        }

        /// The identifier of a final response with failures: the Failed SOP Instance UID List (0008,0058).
        var failureIdentifier: DataSet? {
            guard !failedUIDs.isEmpty else { return nil }
            var dataSet = DataSet()
            try? dataSet.set(Tag(0x0008, 0x0058), vr: .UI, strings: failedUIDs)
            return dataSet
        }
    }

    enum RetrieveKind { case move(CMoveRequest), get(CGetRequest) }

    private func respond(_ kind: RetrieveKind, status: DIMSEStatus, counts: SuboperationCounts, identifier: DataSet? = nil,
                         comment: String? = nil, contextID: UInt8) async throws {
        let data = try identifier.map { try encode($0, contextID: contextID) }
        switch kind {
        case .move(let request):
            let response = CMoveResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID,
                                         status: status, suboperations: counts, hasDataSet: data != nil, errorComment: comment)
            try await connection.send(try fragmenter.pdus(for: response, dataSet: data, presentationContextID: contextID))
        case .get(let request):
            let response = CGetResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID,
                                        status: status, suboperations: counts, hasDataSet: data != nil, errorComment: comment)
            try await connection.send(try fragmenter.pdus(for: response, dataSet: data, presentationContextID: contextID))
        }
    }

    func retrieve(_ kind: RetrieveKind, identifier bytes: ByteBuffer, contextID: UInt8, mailbox: OperationMailbox) async throws {
        let name: String
        switch kind { case .move: name = "C-MOVE"; case .get: name = "C-GET" }
        guard let retrieveHandler else {
            try await respond(kind, status: .sopClassNotSupported, counts: .init(), comment: "\(name) is not served here", contextID: contextID)
            return
        }
        var destination: MoveDestination?
        if case .move(let request) = kind {
            guard let title = try? AETitle(request.moveDestination), let found = await retrieveHandler.destination(for: title) else {
                logger.info("C-MOVE to an unknown destination", metadata: ["dicom.destination": "\(request.moveDestination)"])
                try await respond(kind, status: .moveDestinationUnknown, counts: .init(),
                                  comment: String("unknown destination \(request.moveDestination)".prefix(64)), contextID: contextID)
                return
            }
            destination = found
        }
        let instances: [RetrievableInstance]
        do {
            let identifier = try decodeIdentifier(bytes, contextID: contextID)
            instances = try await retrieveHandler.instances(for: identifier, context: context(contextID))
        } catch let failure as DIMSEFailure {
            try await respond(kind, status: failure.status, counts: .init(), comment: failure.comment.map { String($0.prefix(64)) },
                              contextID: contextID)
            return
        } catch {
            try await respond(kind, status: .cannotUnderstand, counts: .init(), comment: String("\(error)".prefix(64)), contextID: contextID)
            return
        }
        var progress = Progress(remaining: instances.count)
        var cancelled = false
        switch kind {
        case .move(let request):
            cancelled = try await moveSuboperations(instances, to: destination!, request: request, progress: &progress,
                                                    contextID: contextID, mailbox: mailbox)
        case .get(let request):
            cancelled = try await getSuboperations(instances, request: request, progress: &progress, contextID: contextID,
                                                   mailbox: mailbox)
        }
        if cancelled {
            try await respond(kind, status: .cancel, counts: progress.counts, identifier: progress.failureIdentifier, contextID: contextID)
        } else {
            var counts = progress.counts
            counts.remaining = nil   // the final response omits Number of Remaining Sub-operations
            try await respond(kind, status: progress.finalStatus, counts: counts, identifier: progress.failureIdentifier,
                              contextID: contextID)
        }
        logger.info("\(name)", metadata: ["dicom.completed": "\(progress.completed)", "dicom.failed": "\(progress.failed)",
                                          "dicom.warning": "\(progress.warning)", "dicom.cancelled": "\(cancelled)"])
    }

    /// Sends the instances to the destination over a new association; returns true when cancelled.
    private func moveSuboperations(_ instances: [RetrievableInstance], to destination: MoveDestination, request: CMoveRequest,
                                   progress: inout Progress, contextID: UInt8, mailbox: OperationMailbox) async throws -> Bool {
        guard !instances.isEmpty else { return false }
        var contexts: [PresentationContext] = []
        var seen = Set<String>()
        for instance in instances where seen.insert(instance.sopClassUID + "|" + instance.transferSyntaxUID).inserted {
            guard contexts.count < 128 else { break }
            var syntaxes = [instance.transferSyntaxUID]
            for native in [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid] where !syntaxes.contains(native) {
                syntaxes.append(native)
            }
            contexts.append(PresentationContext(id: UInt8(contexts.count * 2 + 1), abstractSyntax: instance.sopClassUID, transferSyntaxes: syntaxes))
        }
        let calling = aeTitle ?? negotiated.request.calledAETitle
        let association: Association
        do {
            association = try await DICOMClient.connect(host: destination.host, port: destination.port, callingAE: calling,
                                                        calledAE: destination.aeTitle, presentationContexts: contexts,
                                                        tls: destination.tls, logger: logger)
        } catch {
            logger.warning("C-MOVE destination unreachable", metadata: ["dicom.destination": "\(destination.aeTitle)", "error": "\(error)"])
            for instance in instances { progress.record(nil, uid: instance.sopInstanceUID) }
            return false
        }
        var cancelled = false
        // Set when the requestor's association ended (the server cancels the operation's task, or a pending response
        // cannot be sent): nobody is left to report to.
        var requestorGone = false
        var sendError: (any Error)?
        var readAhead = ReadAhead(paths: instances.map(\.path))
        for (index, instance) in instances.enumerated() {
            if mailbox.isCancelled { cancelled = true; break }
            if Task.isCancelled { requestorGone = true; break }
            readAhead.willSend(index)
            var status: DIMSEStatus?
            do {
                status = try await association.store(fileAt: instance.path).status
            } catch where Task.isCancelled {
                requestorGone = true
                break
            } catch {
                logger.warning("C-MOVE sub-operation failed", metadata: ["dicom.sopInstance": "\(instance.sopInstanceUID)", "error": "\(error)"])
            }
            progress.record(status, uid: instance.sopInstanceUID)
            if progress.remaining > 0 {
                do {
                    try await respond(.move(request), status: .pending, counts: progress.counts, contextID: contextID)
                } catch {
                    (requestorGone, sendError) = (true, error)
                    break
                }
            }
        }
        if requestorGone {
            // A-ABORT to the destination rather than leaving it to notice the closed connection; the sub-operation
            // under way, if any, is not answered.
            await association.abort()
            let attempted = progress.completed + progress.failed + progress.warning
            var metadata: Logger.Metadata = ["dicom.destination": "\(destination.aeTitle)", "dicom.attempted": "\(attempted)",
                                             "dicom.total": "\(instances.count)"]
            if let sendError { metadata["error"] = "\(sendError)" }
            logger.info("C-MOVE stopped: the requestor's association ended", metadata: metadata)
            throw DICOMServiceError(.associationClosed,
                                    "the C-MOVE requestor's association ended after \(attempted) of \(instances.count) sub-operations")
        }
        if cancelled {
            // The instances not attempted count as neither completed nor failed (PS3.4 C.4.2.3.1).
            await association.abort()
        } else {
            try? await association.release()
        }
        return cancelled
    }

    /// Sends the instances as C-STORE sub-operations on this association; returns true when cancelled.
    private func getSuboperations(_ instances: [RetrievableInstance], request: CGetRequest, progress: inout Progress,
                                  contextID: UInt8, mailbox: OperationMailbox) async throws -> Bool {
        var messageID: UInt16 = 1
        var readAhead = ReadAhead(paths: instances.map(\.path))
        for (index, instance) in instances.enumerated() {
            if mailbox.isCancelled { return true }
            readAhead.willSend(index)
            var status: DIMSEStatus?
            do {
                status = try await storeOnThisAssociation(instance, messageID: messageID, request: request, mailbox: mailbox)
            } catch let error as DICOMServiceError where error.code == .noPresentationContext || error.code == .invalidInput {
                logger.warning("C-GET sub-operation not possible", metadata: ["dicom.sopInstance": "\(instance.sopInstanceUID)", "error": "\(error)"])
            }
            messageID = messageID == UInt16.max ? 1 : messageID + 1
            progress.record(status, uid: instance.sopInstanceUID)
            if progress.remaining > 0 {
                try await respond(.get(request), status: .pending, counts: progress.counts, contextID: contextID)
            }
        }
        return false
    }

    /// One C-STORE sub-operation of a C-GET: the requestor plays the Storage SCP role on a context it proposed.
    private func storeOnThisAssociation(_ instance: RetrievableInstance, messageID: UInt16, request: CGetRequest,
                                        mailbox: OperationMailbox) async throws -> DIMSEStatus? {
        let fileSyntax = TransferSyntax(uid: instance.transferSyntaxUID)
        let chosen = fileSyntax.flatMap { OutgoingDataSet.context(in: negotiated, sopClassUID: instance.sopClassUID, transferSyntax: $0) }
            ?? negotiated.context(forAbstractSyntax: instance.sopClassUID, transferSyntax: instance.transferSyntaxUID)
        guard let context = chosen, let contextSyntax = context.knownTransferSyntax else {
            throw DICOMServiceError(.noPresentationContext, "the C-GET requestor accepted no context for \(instance.sopClassUID) in \(instance.transferSyntaxUID)")
        }
        let store = CStoreRequest(messageID: messageID, affectedSOPClassUID: instance.sopClassUID, affectedSOPInstanceUID: instance.sopInstanceUID,
                                  priority: request.priority, moveOriginatorAETitle: nil, moveOriginatorMessageID: nil)
        if contextSyntax.uid == instance.transferSyntaxUID, let offset = Part10Layout.dataSetOffset(ofFileAt: instance.path),
           FileManager.default.isReadableFile(atPath: instance.path) {
            do {
                // The command goes with the first part of the data set; the last part is not waited for, the response is.
                try await connection.sendDataSet(fromFile: instance.path, offset: offset, transferSyntaxUID: contextSyntax.uid,
                                                 presentationContextID: context.id, fragmenter: fragmenter,
                                                 command: try fragmenter.pdus(for: store, presentationContextID: context.id))
            } catch let error as DICOMServiceError where error.code == .invalidInput {
                // The C-STORE-RQ may be out with its data set incomplete: the association cannot go on.
                throw DICOMServiceError(.connectionFailed, "\(error.message); aborting")
            }
        } else {
            let data = try OutgoingDataSet.encoded(fileAt: instance.path, in: contextSyntax)
            try await connection.send(try fragmenter.pdus(for: store, dataSet: ByteBuffer(bytes: data), presentationContextID: context.id))
        }
        // The whole idle time (truncated to seconds, an idle timer under a second gave no time at all), counted from
        // the later of now and the last write the requestor took: the end of a large data set may still be on its
        // way to a requestor on a slow link.
        var answer = await mailbox.nextStoreResponse(timeout: .nanoseconds(timeouts.idle.nanoseconds))
        while answer == nil, !mailbox.isClosed, let taken = connection.writeActivity.lastCompletion {
            let remaining = taken + timeouts.idle - NIODeadline.now()
            guard remaining > .zero else { break }
            answer = await mailbox.nextStoreResponse(timeout: .nanoseconds(remaining.nanoseconds))
        }
        guard let response = answer else {
            throw DICOMServiceError(.timeout, "no C-STORE-RSP from the C-GET requestor (none within the idle time, or it "
                                    + "sent another request or A-RELEASE-RQ before answering the sub-operation)")
        }
        return response.status
    }
}
