import DICOMNetwork
import DICOMServices
import Foundation

/// The C-STORE handler of an archive: hands each received instance to an ``ArchiveStore`` and answers with its status.
///
/// The explanation of a refusal or warning (``StoreResult/comment``) goes to the peer as the Error Comment.
public struct ArchiveStorageHandler: StorageHandler {
    public let store: ArchiveStore

    public init(store: ArchiveStore) {
        self.store = store
    }

    public func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        await store.store(instance).status
    }

    public func storeExplained(_ instance: ReceivedInstance) async -> (status: DIMSEStatus, comment: String?) {
        let result = await store.store(instance)
        return (result.status, result.status.isSuccess ? nil : result.comment)
    }
}
