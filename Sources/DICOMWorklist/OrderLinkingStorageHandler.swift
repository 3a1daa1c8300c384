import DICOMArchive
import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Logging

/// Wraps an archive's C-STORE handler: after an instance is stored, the order whose Accession Number (or else Study
/// Instance UID) it carries moves to IMAGES RECEIVED with the study's instance and series counts.
///
/// Updates are batched per study: the first instance of a study schedules one update `delay` later, which counts what
/// the archive index then holds, so a 1,000-image CT costs a few worklist writes rather than a thousand. An instance of
/// a study no order knows changes nothing; the C-STORE status is the archive's in every case.
public struct OrderLinkingStorageHandler: StorageHandler {
    public let inner: StorageHandler
    let linker: OrderLinker

    /// - Parameters:
    ///   - inner: the archive's handler (stores the instance).
    ///   - index: the archive index the instances land in.
    ///   - worklist: the archive's worklist.
    public init(inner: StorageHandler, index: any ArchiveIndex, worklist: WorklistStore, delay: Duration = .milliseconds(500),
                logger: Logger = Logger(label: "dicom.worklist.link")) {
        self.inner = inner
        linker = OrderLinker(index: index, worklist: worklist, delay: delay, logger: logger)
    }

    public func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        await storeExplained(instance).status
    }

    public var usesSHA256: Bool { inner.usesSHA256 }
    public var makesFilesDurable: Bool { inner.makesFilesDurable }
    public var writesDirectly: Bool { inner.writesDirectly }

    public func storeExplained(_ instance: ReceivedInstance) async -> (status: DIMSEStatus, comment: String?) {
        let result = await inner.storeExplained(instance)
        if result.status.category != .failure {
            await linker.stored(sopInstanceUID: instance.sopInstanceUID, callingAETitle: instance.callingAETitle.value)
        }
        return result
    }

    /// Performs the updates still waiting for their delay (call before shutting down).
    public func flush() async {
        await linker.flush()
    }
}

/// Collects the studies that received instances and updates their orders.
actor OrderLinker {
    let index: any ArchiveIndex
    let worklist: WorklistStore
    let delay: Duration
    let logger: Logger
    /// Studies waiting for their update, with the accession number seen and the storing AE.
    private var pending: [String: (accession: String?, caller: String)] = [:]
    private var scheduled: Task<Void, Never>?

    init(index: any ArchiveIndex, worklist: WorklistStore, delay: Duration, logger: Logger) {
        self.index = index
        self.worklist = worklist
        self.delay = delay
        self.logger = logger
    }

    func stored(sopInstanceUID: String, callingAETitle: String) async {
        guard let record = await index.instance(sopInstanceUID: sopInstanceUID) else { return }
        let accession = record.study[.accessionNumber].flatMap { $0.isEmpty ? nil : $0 }
        pending[record.studyInstanceUID] = (accession ?? pending[record.studyInstanceUID]?.accession, callingAETitle)
        if scheduled == nil {
            let delay = self.delay
            scheduled = Task {
                try? await Task.sleep(for: delay)
                await self.flush()
            }
        }
    }

    func flush() async {
        let studies = pending
        pending = [:]
        scheduled = nil
        for (studyUID, seen) in studies {
            await update(studyUID: studyUID, accession: seen.accession, caller: seen.caller)
        }
    }

    private func update(studyUID: String, accession: String?, caller: String) async {
        var identifier = DataSet()
        identifier.setASCII(.queryRetrieveLevel, vr: .CS, "STUDY")
        identifier.setASCII(.studyInstanceUID, vr: .UI, studyUID)
        let records: [InstanceRecord]
        do { records = try await index.instances(matching: IndexQuery(identifier: identifier)) } catch {
            logger.warning("cannot count the study's instances", metadata: ["dicom.study": "\(studyUID)", "error": "\(error)"])
            return
        }
        // The report's own SR series is not an image series.
        let images = records.filter { $0.sopClassUID != WorklistSOPClass.basicTextSR }
        let instances = images.count
        let series = Set(images.map(\.seriesInstanceUID)).count
        do {
            // Most stored studies have no order: look first, under the shared lock, and write only for a match.
            let orders = try worklist.read().orders
            guard orders.contains(where: { (accession != nil && $0.accessionNumber == accession) || $0.studyInstanceUID == studyUID }) else { return }
            let moved: String? = try worklist.modify { database in
                let found = database.orders.firstIndex { order in
                    (accession != nil && order.accessionNumber == accession) || order.studyInstanceUID == studyUID
                }
                guard let found else { return nil }
                var order = database.orders[found]
                if order.status.allowedNext.contains(.imagesReceived) && order.status != .reported {
                    try WorklistStore.transition(&order, to: .imagesReceived, by: "store:\(caller)", now: Date())
                }
                order.instanceCount = instances
                order.seriesCount = series
                order.updatedAt = Date()
                database.orders[found] = order
                return order.accessionNumber
            }
            if let moved {
                logger.info("order has images", metadata: ["worklist.accession": "\(moved)", "dicom.instances": "\(instances)"])
            }
        } catch {
            logger.warning("cannot update the order of a stored study", metadata: ["dicom.study": "\(studyUID)", "error": "\(error)"])
        }
    }
}
