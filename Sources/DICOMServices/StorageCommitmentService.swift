import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Logging
import NIOCore

/// The acceptor side of Storage Commitment Push Model (PS3.4 J.3): answers an N-ACTION-RQ with N-ACTION-RSP, asks
/// the ``StorageCommitmentHandler`` for the result and sends it as N-EVENT-REPORT-RQ on the same association (the
/// requestor's N-EVENT-REPORT-RSP is read by the association loop and only logged).
struct StorageCommitmentService {
    let handler: StorageCommitmentHandler?
    let negotiated: NegotiatedAssociation
    let fragmenter: PDataFragmenter
    let connection: PDUConnection
    let logger: Logger
    /// Message IDs of the N-EVENT-REPORT-RQs we send (our own numbering, PS3.7 §9.1.1.1.1).
    private var nextMessageID: UInt16 = 1
    /// The reports sent (or that could not be sent) and not yet answered, by Message ID.
    private(set) var unanswered: [UInt16: StorageCommitmentResult] = [:]
    private var context: RequestContext {
        RequestContext(callingAETitle: negotiated.request.callingAETitle, calledAETitle: negotiated.request.calledAETitle,
                       sopClassUID: StorageCommitment.sopClassUID)
    }

    init(handler: StorageCommitmentHandler?, negotiated: NegotiatedAssociation, fragmenter: PDataFragmenter,
         connection: PDUConnection, logger: Logger) {
        self.handler = handler
        self.negotiated = negotiated
        self.fragmenter = fragmenter
        self.connection = connection
        self.logger = logger
    }

    /// Answers an N-ACTION-RQ (with its Action Information, nil when it had none) and, when it was accepted, sends
    /// the commitment result (a result that cannot be sent is logged). Throws when the N-ACTION-RSP cannot be sent.
    mutating func perform(_ request: NActionRequest, actionInformation bytes: ByteBuffer?, contextID: UInt8) async throws {
        let parsed: Result<StorageCommitmentRequest, DIMSEFailure> = validate(request, bytes: bytes, contextID: contextID)
        let status: DIMSEStatus
        var comment: String?
        switch parsed {
        case .success: status = .success
        case .failure(let failure):
            status = failure.status
            comment = failure.comment.map { String($0.prefix(64)) }
            logger.info("N-ACTION refused", metadata: ["dicom.status": "\(status)", "error": "\(failure.comment ?? "")"])
        }
        let response = NActionResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.requestedSOPClassUID,
                                       affectedSOPInstanceUID: request.requestedSOPInstanceUID,
                                       actionTypeID: status == .success ? request.actionTypeID : nil, status: status,
                                       errorComment: comment)
        try await connection.send(try fragmenter.pdus(for: response, presentationContextID: contextID))
        guard case .success(let commitment) = parsed, let handler else { return }

        let result = await handler.commit(commitment, context: context)
        logger.info("storage commitment", metadata: [
            "dicom.transaction": "\(result.transactionUID)", "dicom.committed": "\(result.committed.count)",
            "dicom.failed": "\(result.failed.count)",
        ])
        let syntax = negotiated.acceptedContexts[contextID]?.knownTransferSyntax ?? .implicitVRLittleEndian
        let messageID = nextMessageID
        nextMessageID = nextMessageID == UInt16.max ? 1 : nextMessageID + 1
        let report = NEventReportRequest(messageID: messageID, affectedSOPClassUID: StorageCommitment.sopClassUID,
                                         affectedSOPInstanceUID: StorageCommitment.sopInstanceUID, eventTypeID: result.eventTypeID)
        unanswered[messageID] = result
        do {
            let eventInformation = ByteBuffer(bytes: try DataSetWriter.encode(result.eventInformation, transferSyntax: syntax))
            try await connection.send(try fragmenter.pdus(for: report, dataSet: eventInformation, presentationContextID: contextID))
        } catch {
            // The connection is gone: the result stays unanswered and goes on a new association (handOffUnanswered).
            logger.warning("the storage commitment result could not be sent on the association", metadata: [
                "dicom.transaction": "\(result.transactionUID)", "error": "\(error)",
            ])
        }
    }

    /// Notes the requestor's N-EVENT-REPORT-RSP.
    mutating func received(_ response: NEventReportResponse) {
        let transaction = unanswered.removeValue(forKey: response.messageIDBeingRespondedTo)?.transactionUID
        if response.status.isSuccessOrWarning {
            logger.debug("storage commitment result acknowledged", metadata: ["dicom.transaction": "\(transaction ?? "?")"])
        } else {
            logger.warning("the requestor answered the storage commitment result with a failure", metadata: [
                "dicom.transaction": "\(transaction ?? "?")", "dicom.status": "\(response.status)",
            ])
        }
    }

    /// Hands the results the requestor did not acknowledge before the association ended to the handler's
    /// ``StorageCommitmentHandler/deliver(_:context:)``, in a task of their own; logs those it cannot deliver.
    mutating func handOffUnanswered() {
        guard let handler, !unanswered.isEmpty else { return }
        let results = unanswered.sorted { $0.key < $1.key }.map(\.value)
        unanswered = [:]
        let context = self.context
        let logger = self.logger
        Task {
            for result in results {
                if await handler.deliver(result, context: context) {
                    logger.info("storage commitment result delivered on a new association", metadata: [
                        "dicom.transaction": "\(result.transactionUID)", "dicom.calling": "\(context.callingAETitle)",
                    ])
                } else {
                    logger.warning("the storage commitment result could not be delivered", metadata: [
                        "dicom.transaction": "\(result.transactionUID)", "dicom.calling": "\(context.callingAETitle)",
                    ])
                }
            }
        }
    }

    /// The request's Action Information, or the failure to answer the N-ACTION with (PS3.4 J.3.2.1.2 and PS3.7 §10.1.4.1.10).
    private func validate(_ request: NActionRequest, bytes: ByteBuffer?, contextID: UInt8) -> Result<StorageCommitmentRequest, DIMSEFailure> {
        guard handler != nil, request.requestedSOPClassUID == StorageCommitment.sopClassUID else {
            return .failure(DIMSEFailure(.noSuchSOPClass, "N-ACTION is not served for \(request.requestedSOPClassUID)"))
        }
        guard negotiated.acceptedContexts[contextID]?.abstractSyntax == StorageCommitment.sopClassUID else {
            return .failure(DIMSEFailure(.classInstanceConflict, "the presentation context is not Storage Commitment's"))
        }
        guard request.requestedSOPInstanceUID == StorageCommitment.sopInstanceUID else {
            return .failure(DIMSEFailure(.noSuchSOPInstance, "Storage Commitment's instance is \(StorageCommitment.sopInstanceUID)"))
        }
        guard request.actionTypeID == StorageCommitment.requestActionTypeID else {
            return .failure(DIMSEFailure(.noSuchAction, "no action type \(request.actionTypeID) (only 1)"))
        }
        guard let bytes else { return .failure(DIMSEFailure(.invalidArgumentValue, "the N-ACTION has no Action Information")) }
        guard let syntax = negotiated.acceptedContexts[contextID]?.knownTransferSyntax else {
            return .failure(DIMSEFailure(.processingFailure, "presentation context \(contextID) has no known transfer syntax"))
        }
        do {
            let dataSet = try DataSetReader.read(Data(bytes.readableBytesView), transferSyntax: syntax)
            return .success(try StorageCommitmentRequest(actionInformation: dataSet))
        } catch let failure as DIMSEFailure {
            return .failure(failure)
        } catch {
            return .failure(DIMSEFailure(.invalidArgumentValue, "the Action Information cannot be decoded: \(error)"))
        }
    }
}
