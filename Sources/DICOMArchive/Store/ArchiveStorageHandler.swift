import DICOMNetwork
import DICOMServices
import Foundation

/// The C-STORE handler of an archive: hands each received instance to an ``ArchiveStore`` and answers with its status.
///
/// The explanation of a refusal or warning (``StoreResult/comment``) goes to the peer as the Error Comment.
public struct ArchiveStorageHandler: StorageHandler {
    public let store: ArchiveStore
    /// When set, every C-STORE is written to the audit trail (calling AE, organization, UIDs, status).
    public var audit: AuditTrail?
    public var organizations: Organizations?

    public init(store: ArchiveStore, audit: AuditTrail? = nil, organizations: Organizations? = nil) {
        self.store = store
        self.audit = audit
        self.organizations = organizations
    }

    public func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        await storeExplained(instance).status
    }

    /// The archive records each file's SHA-256: hashed while it arrives, it is not read back.
    public var usesSHA256: Bool { true }
    public var makesFilesDurable: Bool { true }
    public var writesDirectly: Bool { store.configuration.writesDirectly }

    public func storeExplained(_ instance: ReceivedInstance) async -> (status: DIMSEStatus, comment: String?) {
        let result = await storeRecorded(instance)
        return (result.status, result.status.isSuccess ? nil : result.comment)
    }

    /// Stores the instance and writes the audit entry; `whileCommitting` as in
    /// ``ArchiveStore/store(_:receivedAt:whileCommitting:)``.
    public func storeRecorded(_ instance: ReceivedInstance,
                              whileCommitting work: (@Sendable (InstanceRecord) async -> Void)? = nil) async -> StoreResult {
        let result = await store.store(instance, whileCommitting: work)
        if let audit {
            let caller = instance.callingAETitle.value
            audit.record(AuditEntry(time: Date(), action: "store", level: "instance", uid: instance.sopInstanceUID, count: 1,
                                    bytes: result.record?.size ?? 0, user: "", host: AuditLog.hostName,
                                    reason: result.status.isSuccess ? nil : result.comment, aeTitle: caller,
                                    organization: organizations?.organization(ofAETitle: caller),
                                    studies: result.record.map { [$0.studyInstanceUID] }, status: result.status.hexCode))
        }
        return result
    }
}

extension DIMSEStatus {
    /// The status as four uppercase hexadecimal digits ("A700").
    var hexCode: String {
        let digits = String(rawValue, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
