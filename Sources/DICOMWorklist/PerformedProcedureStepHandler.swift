import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Logging

/// The Modality Performed Procedure Step SCP (PS3.4 F.7.2): a scanner's N-CREATE (status IN PROGRESS) moves the
/// orders named in its Scheduled Step Attributes Sequence (by Accession Number, else Study Instance UID, else
/// Scheduled Procedure Step ID) to IN PROGRESS; an N-SET to COMPLETED or DISCONTINUED moves them on. An order that is
/// already further along (images received, reported) keeps its status. An MPPS for no known order (unscheduled) is
/// kept without moving anything.
///
/// Refusals (PS3.4 F.7.2.1.2, F.7.2.2.2): 0111H for an instance that exists, 0106H for a status other than IN PROGRESS in
/// N-CREATE or an unknown one in N-SET, 0112H for an N-SET of an unknown instance, 0110H for an N-SET of a step that is
/// already COMPLETED or DISCONTINUED or an order that was cancelled.
public struct PerformedProcedureStepHandler: ManagedObjectHandler {
    public let store: WorklistStore
    let logger: Logger

    public init(store: WorklistStore, logger: Logger = Logger(label: "dicom.worklist.mpps")) {
        self.store = store
        self.logger = logger
    }

    public var sopClassUIDs: Set<String> { [WorklistSOPClass.modalityPerformedProcedureStep] }

    public func create(sopClassUID: String, sopInstanceUID: String?, attributes: DataSet,
                       context: RequestContext) async throws -> ManagedObjectResult {
        let uid = sopInstanceUID ?? UID.make()
        guard UID.isValid(uid) else { throw DIMSEFailure(.invalidArgumentValue, "Affected SOP Instance UID '\(uid)' is not a valid UID") }
        let status = attributes.string(.performedProcedureStepStatus)?.uppercased()
        guard status == "IN PROGRESS" else {
            throw DIMSEFailure(.invalidAttributeValue, "Performed Procedure Step Status must be IN PROGRESS in N-CREATE, not '\(status ?? "")'")
        }
        let steps = attributes.items(.scheduledStepAttributesSequence) ?? []
        let caller = context.callingAETitle.value
        let now = Date()
        let accessions: [String] = try await modify { database in
            if database.performedSteps?.contains(where: { $0.sopInstanceUID == uid }) == true {
                throw DIMSEFailure(.duplicateSOPInstance, "performed procedure step \(uid) exists already")
            }
            var indices: [Int] = []
            for step in steps {
                let accession = step.string(.accessionNumber), study = step.string(.studyInstanceUID), spsID = step.string(.scheduledProcedureStepID)
                let found = database.orders.firstIndex { order in
                    if let accession { return order.accessionNumber == accession }
                    if let study { return order.studyInstanceUID == study }
                    if let spsID { return order.scheduledProcedureStepID == spsID }
                    return false
                }
                if let found, !indices.contains(found) { indices.append(found) }
            }
            for index in indices {
                let order = database.orders[index]
                if order.status == .cancelled {
                    throw DIMSEFailure(.processingFailure, "order \(order.accessionNumber) was cancelled")
                }
                if order.status.allowedNext.contains(.inProgress) {
                    try WorklistStore.transition(&database.orders[index], to: .inProgress, by: "mpps:\(caller)", now: now)
                }
                database.orders[index].performedProcedureStepUID = uid
            }
            let record = PerformedProcedureStep(sopInstanceUID: uid, status: "IN PROGRESS",
                                                accessionNumbers: indices.map { database.orders[$0].accessionNumber },
                                                performedStationAETitle: attributes.string(.performedStationAETitle), callingAETitle: caller,
                                                startDate: attributes.string(.performedProcedureStepStartDate),
                                                startTime: attributes.string(.performedProcedureStepStartTime),
                                                endDate: nil, endTime: nil, createdAt: now, updatedAt: now)
            database.performedSteps = (database.performedSteps ?? []) + [record]
            return record.accessionNumbers
        }
        logger.info("MPPS IN PROGRESS", metadata: ["dicom.sopInstance": "\(uid)", "worklist.accessions": "\(accessions)"])
        return ManagedObjectResult(sopInstanceUID: uid)
    }

    public func set(sopClassUID: String, sopInstanceUID: String, modifications: DataSet,
                    context: RequestContext) async throws -> ManagedObjectResult {
        let requested = modifications.string(.performedProcedureStepStatus)?.uppercased()
        let next: OrderStatus?
        switch requested {
        case nil, "IN PROGRESS": next = nil
        case "COMPLETED": next = .completed
        case "DISCONTINUED": next = .discontinued
        default: throw DIMSEFailure(.invalidAttributeValue, "Performed Procedure Step Status '\(requested ?? "")' is not IN PROGRESS, COMPLETED or DISCONTINUED")
        }
        let caller = context.callingAETitle.value
        let now = Date()
        try await modify { database in
            guard let stepIndex = database.performedSteps?.firstIndex(where: { $0.sopInstanceUID == sopInstanceUID }),
                  var record = database.performedSteps?[stepIndex] else {
                throw DIMSEFailure(.noSuchSOPInstance, "no performed procedure step \(sopInstanceUID)")
            }
            guard record.status == "IN PROGRESS" else {
                throw DIMSEFailure(.processingFailure, "performed procedure step \(sopInstanceUID) is already \(record.status)")
            }
            if let next {
                for accession in record.accessionNumbers {
                    guard let index = database.orders.firstIndex(where: { $0.accessionNumber == accession }) else { continue }
                    if database.orders[index].status.allowedNext.contains(next) {
                        try WorklistStore.transition(&database.orders[index], to: next, by: "mpps:\(caller)", now: now)
                    }
                }
                record.status = next.rawValue
            }
            if let date = modifications.string(.performedProcedureStepEndDate) { record.endDate = date }
            if let time = modifications.string(.performedProcedureStepEndTime) { record.endTime = time }
            record.updatedAt = now
            database.performedSteps?[stepIndex] = record
        }
        logger.info("MPPS N-SET", metadata: ["dicom.sopInstance": "\(sopInstanceUID)", "dicom.status": "\(requested ?? "-")"])
        return ManagedObjectResult(sopInstanceUID: sopInstanceUID)
    }

    /// Runs a change off the cooperative pool, turning worklist errors into DIMSE failures.
    private func modify<T: Sendable>(_ change: @escaping @Sendable (inout WorklistDatabase) throws -> T) async throws -> T {
        do {
            return try await store.modifyingOffThePool(change)
        } catch let failure as DIMSEFailure {
            throw failure
        } catch let error as WorklistError where error.code == .illegalTransition {
            throw DIMSEFailure(.processingFailure, error.message)
        } catch {
            throw DIMSEFailure(.processingFailure, "\(error)")
        }
    }
}
