import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Logging

/// The archive's side of Storage Commitment Push Model (PS3.4 J.3): an instance is committed when the index holds
/// it visible (not in the trash) under the SOP class the requestor named and its file is on disk. Otherwise it is
/// reported failed with Failure Reason 0112H (no such object instance), 0119H (class/instance conflict) or 0110H
/// (processing failure: indexed, but the file is missing).
///
/// Each request is written to the audit trail as a `commit` line (count: committed instances; reason: the failures).
/// A result the requestor did not take on its association is delivered on a new one when its AE title is in
/// ``peers`` (we propose the SCP role for Storage Commitment, PS3.7 D.3.3.4).
public struct ArchiveStorageCommitmentHandler: StorageCommitmentHandler {
    public let index: ArchiveIndex
    /// The archive root the index's paths are relative to.
    public let root: String
    public var audit: AuditTrail?
    public var organizations: Organizations?
    /// Where requestors listen, by AE title (the C-MOVE destinations, `--peer`), for results delivered on a new association.
    public var peers: [AETitle: MoveDestination]
    /// Timers of such a delivery association.
    public var timeouts: DICOMTimeouts
    let logger: Logger

    public init(index: ArchiveIndex, root: String, audit: AuditTrail? = nil, organizations: Organizations? = nil,
                peers: [AETitle: MoveDestination] = [:], timeouts: DICOMTimeouts = DICOMTimeouts(),
                logger: Logger = Logger(label: "dicom.archive.commitment")) {
        self.index = index
        self.root = root
        self.audit = audit
        self.organizations = organizations
        self.peers = peers
        self.timeouts = timeouts
        self.logger = logger
    }

    public func deliver(_ result: StorageCommitmentResult, context: RequestContext) async -> Bool {
        guard let peer = peers[context.callingAETitle] else {
            logger.warning("storage commitment: \(context.callingAETitle) left before taking its result and is no known peer (--peer)")
            return false
        }
        do {
            let association = try await DICOMClient.connect(
                host: peer.host, port: peer.port, callingAE: context.calledAETitle, calledAE: peer.aeTitle,
                presentationContexts: [StorageCommitment.presentationContext(id: 1)],
                roleSelections: [RoleSelection(sopClassUID: StorageCommitment.sopClassUID, scuRole: false, scpRole: true)],
                timeouts: timeouts, tls: peer.tls, logger: logger)
            do {
                let status = try await association.sendStorageCommitmentResult(result)
                try? await association.release()
                guard status.isSuccessOrWarning else {
                    logger.warning("storage commitment: \(peer.aeTitle) answered the result with \(status)")
                    return false
                }
                return true
            } catch {
                await association.abort()
                throw error
            }
        } catch {
            logger.warning("storage commitment: cannot deliver the result to \(peer.aeTitle) at \(peer.host):\(peer.port): \(error)")
            return false
        }
    }

    public func commit(_ request: StorageCommitmentRequest, context: RequestContext) async -> StorageCommitmentResult {
        var committed: [SOPReference] = []
        var failed: [FailedSOPReference] = []
        var studies: Set<String> = []
        var bytes = 0
        for reference in request.references {
            guard let record = await index.instance(sopInstanceUID: reference.sopInstanceUID) else {
                failed.append(FailedSOPReference(reference: reference, failureReason: StorageCommitment.FailureReason.noSuchObjectInstance))
                continue
            }
            guard record.sopClassUID == reference.sopClassUID else {
                failed.append(FailedSOPReference(reference: reference, failureReason: StorageCommitment.FailureReason.classInstanceConflict))
                continue
            }
            guard FileManager.default.fileExists(atPath: root + "/" + record.path) else {
                logger.error("storage commitment: \(reference.sopInstanceUID) is indexed but its file \(record.path) is missing")
                failed.append(FailedSOPReference(reference: reference, failureReason: StorageCommitment.FailureReason.processingFailure))
                continue
            }
            committed.append(reference)
            studies.insert(record.studyInstanceUID)
            bytes += record.size
        }
        if let audit {
            let caller = context.callingAETitle.value
            let reasons = failed.isEmpty ? nil : failed.prefix(20).map {
                "\($0.reference.sopInstanceUID) \(String($0.failureReason, radix: 16, uppercase: true))H"
            }.joined(separator: ", ") + (failed.count > 20 ? ", …" : "")
            audit.record(AuditEntry(time: Date(), action: "commit", uid: request.transactionUID, count: committed.count, bytes: bytes,
                                    user: "", host: AuditLog.hostName, reason: reasons.map { "not committed: \($0)" }, aeTitle: caller,
                                    organization: organizations?.organization(ofAETitle: caller),
                                    studies: studies.isEmpty ? nil : studies.sorted(),
                                    status: "0000"))
        }
        return StorageCommitmentResult(transactionUID: request.transactionUID, committed: committed, failed: failed,
                                       retrieveAETitle: context.calledAETitle.value)
    }
}
