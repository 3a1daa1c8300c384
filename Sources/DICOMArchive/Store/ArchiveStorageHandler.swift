import DICOMNetwork
import DICOMServices
import Foundation

/// The C-STORE handler of an archive: hands each received instance to an ``ArchiveStore`` and answers with its status.
///
/// ``StorageHandler`` returns only a status; the explanation (``StoreResult/comment``) is logged by the store.
public struct ArchiveStorageHandler: StorageHandler {
    public let store: ArchiveStore

    public init(store: ArchiveStore) {
        self.store = store
    }

    public func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        await store.store(instance).status
    }
}
