import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import NIOCore

extension Association {
    /// Asks the peer to commit to storing `references` (Storage Commitment Push Model, PS3.4 J.3): sends N-ACTION-RQ
    /// (Action Type 1), then waits on this association for the result, an N-EVENT-REPORT-RQ, answers it with
    /// N-EVENT-REPORT-RSP and returns it. Results of other transactions arriving meanwhile are answered and skipped.
    ///
    /// The association must have an accepted context for ``StorageCommitment/sopClassUID`` (see
    /// ``StorageCommitment/presentationContext(id:)``). An SCP that delivers results only on a new association is
    /// not served: the wait then ends with a timeout.
    ///
    /// - Parameters:
    ///   - transactionUID: Transaction UID (0008,1195); a new UID by default.
    ///   - timeout: the longest wait for the N-ACTION-RSP and the result together.
    /// - Throws: ``DICOMServiceError`` `noPresentationContext` when the context was not accepted, `timeout` when no
    ///   result came in time (the association is then closed), ``DIMSEFailure`` when the N-ACTION was refused (the
    ///   association stays usable), ``AssociationAbort`` when the peer aborted.
    public func requestStorageCommitment(references: [SOPReference], transactionUID: String = UID.make(),
                                         timeout: Duration = .seconds(60)) async throws -> StorageCommitmentResult {
        guard let context = negotiated.context(forAbstractSyntax: StorageCommitment.sopClassUID),
              let syntax = context.knownTransferSyntax else {
            throw DICOMServiceError(.noPresentationContext, "the peer did not accept the Storage Commitment Push Model SOP class")
        }
        let outcome: Result<StorageCommitmentResult, DIMSEFailure> = try await exclusive {
            let request = NActionRequest(messageID: takeMessageID(), requestedSOPClassUID: StorageCommitment.sopClassUID,
                                         requestedSOPInstanceUID: StorageCommitment.sopInstanceUID,
                                         actionTypeID: StorageCommitment.requestActionTypeID)
            let information = StorageCommitmentRequest(transactionUID: transactionUID, references: references).actionInformation
            let bytes = ByteBuffer(bytes: try DataSetWriter.encode(information, transferSyntax: syntax))
            try await connection.send(try fragmenter.pdus(for: request, dataSet: bytes, presentationContextID: context.id))
            return try await awaitCommitment(messageID: request.messageID, transactionUID: transactionUID,
                                             deadline: ContinuousClock.now + timeout)
        }
        return try outcome.get()
    }

    /// Sends a Storage Commitment result as N-EVENT-REPORT-RQ (PS3.4 J.3.3) and returns the N-EVENT-REPORT-RSP status:
    /// the SCP's side, on an association it opened to the requestor to deliver a result the requestor did not take on
    /// its own association. Propose ``StorageCommitment/presentationContext(id:)`` with the SCP role
    /// (`RoleSelection(sopClassUID: StorageCommitment.sopClassUID, scuRole: false, scpRole: true)`).
    public func sendStorageCommitmentResult(_ result: StorageCommitmentResult) async throws -> DIMSEStatus {
        guard let context = negotiated.context(forAbstractSyntax: StorageCommitment.sopClassUID),
              let syntax = context.knownTransferSyntax else {
            throw DICOMServiceError(.noPresentationContext, "the peer did not accept the Storage Commitment Push Model SOP class")
        }
        return try await exclusive {
            let request = NEventReportRequest(messageID: takeMessageID(), affectedSOPClassUID: StorageCommitment.sopClassUID,
                                              affectedSOPInstanceUID: StorageCommitment.sopInstanceUID, eventTypeID: result.eventTypeID)
            let bytes = ByteBuffer(bytes: try DataSetWriter.encode(result.eventInformation, transferSyntax: syntax))
            try await connection.send(try fragmenter.pdus(for: request, dataSet: bytes, presentationContextID: context.id))
            var status: DIMSEStatus?
            var unexpected: String?
            try await receiveResponses(storage: nil) { command, _ in
                if case .nEventReportResponse(let response) = command, response.messageIDBeingRespondedTo == request.messageID {
                    status = response.status
                } else {
                    unexpected = "\(command.commandField)"
                }
                return true
            }
            if let unexpected { throw await fail("expected N-EVENT-REPORT-RSP for message \(request.messageID), received \(unexpected)") }
            guard let status else { throw DICOMServiceError(.associationClosed, "no N-EVENT-REPORT-RSP was received") }
            return status
        }
    }

    /// Reads until the N-ACTION-RSP and the N-EVENT-REPORT-RQ of `transactionUID` arrived (in either order).
    private func awaitCommitment(messageID: UInt16, transactionUID: String,
                                 deadline: ContinuousClock.Instant) async throws -> Result<StorageCommitmentResult, DIMSEFailure> {
        var assembler = DIMSEMessageAssembler(association: negotiated, logger: logger)
        var actionAnswered = false
        var result: StorageCommitmentResult?
        var pendingReport: (request: NEventReportRequest, contextID: UInt8, bytes: ByteBuffer)?
        while !(actionAnswered && result != nil) {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                await connection.close()
                throw DICOMServiceError(.timeout, "no storage commitment result for transaction \(transactionUID) in time; connection closed")
            }
            let (seconds, attoseconds) = remaining.components
            let wait = TimeAmount.nanoseconds(max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
            guard let pdu = try await connection.receive(timeout: wait, what: "storage commitment result") else {
                throw DICOMServiceError(.associationClosed, "the peer closed the connection before sending the storage commitment result")
            }
            switch pdu {
            case .dataTransfer(let values):
                let events = try await assemble(values, with: &assembler)
                for event in events {
                    switch event {
                    case .command(.nActionResponse(let response), _):
                        guard response.messageIDBeingRespondedTo == messageID else {
                            throw await fail("N-ACTION-RSP for message \(response.messageIDBeingRespondedTo), expected \(messageID)")
                        }
                        guard response.status.isSuccessOrWarning else {
                            return .failure(DIMSEFailure(response.status, response.errorComment ?? "storage commitment request refused"))
                        }
                        actionAnswered = true
                    case .command(.nEventReportRequest(let report), let id):
                        guard report.hasDataSet else {
                            try await answer(report, contextID: id, status: .invalidArgumentValue)
                            continue
                        }
                        pendingReport = (report, id, ByteBuffer())
                    case .command(let other, _):
                        throw await fail("\(other.commandField) received while a storage commitment result was awaited")
                    case .dataSetFragment(var bytes, _, let isLast):
                        guard var pending = pendingReport else {
                            throw await fail("a data set without a command while a storage commitment result was awaited")
                        }
                        guard pending.bytes.readableBytes + bytes.readableBytes <= Self.maximumIdentifierLength else {
                            throw await fail("a storage commitment result longer than \(Self.maximumIdentifierLength) bytes")
                        }
                        pending.bytes.writeBuffer(&bytes)
                        pendingReport = isLast ? nil : pending
                        guard isLast else { continue }
                        let parsed = parseReport(pending.request, bytes: pending.bytes, contextID: pending.contextID)
                        switch parsed {
                        case .success(let report):
                            try await answer(pending.request, contextID: pending.contextID, status: .success)
                            if report.transactionUID == transactionUID {
                                result = report
                            } else {
                                logger.info("storage commitment result of another transaction skipped",
                                            metadata: ["dicom.transaction": "\(report.transactionUID)"])
                            }
                        case .failure(let failure):
                            try await answer(pending.request, contextID: pending.contextID, status: failure.status,
                                             comment: failure.comment)
                        }
                    }
                }
            case .abort(let abort):
                throw abort
            default:
                throw await fail("\(pdu.type) received while a storage commitment result was awaited")
            }
        }
        guard let result else { throw DICOMServiceError(.associationClosed, "no storage commitment result") }
        return .success(result)
    }

    private func parseReport(_ request: NEventReportRequest, bytes: ByteBuffer, contextID: UInt8) -> Result<StorageCommitmentResult, DIMSEFailure> {
        guard request.affectedSOPClassUID == StorageCommitment.sopClassUID else {
            return .failure(DIMSEFailure(.noSuchSOPClass, "N-EVENT-REPORT for \(request.affectedSOPClassUID)"))
        }
        guard request.eventTypeID == StorageCommitment.successEventTypeID || request.eventTypeID == StorageCommitment.failuresEventTypeID else {
            return .failure(DIMSEFailure(.noSuchEventType, "event type \(request.eventTypeID)"))
        }
        guard let syntax = negotiated.acceptedContexts[contextID]?.knownTransferSyntax else {
            return .failure(DIMSEFailure(.processingFailure, "presentation context \(contextID) has no known transfer syntax"))
        }
        do {
            let dataSet = try DataSetReader.read(Data(bytes.readableBytesView), transferSyntax: syntax)
            return .success(try StorageCommitmentResult(eventInformation: dataSet))
        } catch let failure as DIMSEFailure {
            return .failure(failure)
        } catch {
            return .failure(DIMSEFailure(.invalidArgumentValue, "the Event Information cannot be decoded: \(error)"))
        }
    }

    private func answer(_ request: NEventReportRequest, contextID: UInt8, status: DIMSEStatus, comment: String? = nil) async throws {
        let response = NEventReportResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID,
                                            affectedSOPInstanceUID: request.affectedSOPInstanceUID,
                                            eventTypeID: status == .success ? request.eventTypeID : nil, status: status,
                                            errorComment: comment.map { String($0.prefix(64)) })
        try await connection.send(try fragmenter.pdus(for: response, presentationContextID: contextID))
    }
}
