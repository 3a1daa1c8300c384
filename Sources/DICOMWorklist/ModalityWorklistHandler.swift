import DICOMArchive
import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Logging

/// SOP classes served by `dcmworklist serve`.
public enum WorklistSOPClass {
    /// Modality Worklist Information Model – FIND (PS3.4 Annex K).
    public static let modalityWorklistFind = "1.2.840.10008.5.1.4.31"
    /// Modality Performed Procedure Step (PS3.4 Annex F).
    public static let modalityPerformedProcedureStep = "1.2.840.10008.3.1.2.3.3"
    /// Basic Text SR Storage (PS3.4 Annex B; IOD PS3.3 A.35.1).
    public static let basicTextSR = "1.2.840.10008.5.1.4.1.1.88.11"
}

/// The Modality Worklist C-FIND SCP (PS3.4 K.4.1.1): matches the identifier's keys against the orders that are
/// SCHEDULED or IN PROGRESS and answers each match with the requested return keys, written in the character set
/// configured for the calling AE (``WorklistConfiguration``), transliterating what that set cannot hold.
///
/// With ``organizations``, a caller sees only the orders scheduled on its own organization's stations: an order
/// belongs to the organization of its Scheduled Station AE Title, the caller to that of its authenticated user or
/// else its calling AE title (the archive's rule, ``StudyAccess``).
///
/// Matching keys: Scheduled Station AE Title, Modality, Scheduled Procedure Step Start Date and Time (ranges),
/// Scheduled Procedure Step Status (in the Scheduled Procedure Step Sequence); Patient's Name (wild cards,
/// case-insensitive), Patient ID, Accession Number, Requested Procedure ID, Study Instance UID.
public struct ModalityWorklistHandler: QueryHandler {
    public let store: WorklistStore
    public let configuration: WorklistConfiguration
    /// When set, each caller sees only the orders of its organization's stations.
    public var organizations: Organizations?
    let logger: Logger

    public init(store: WorklistStore, configuration: WorklistConfiguration, organizations: Organizations? = nil,
                logger: Logger = Logger(label: "dicom.worklist.mwl")) {
        self.store = store
        self.configuration = configuration
        self.organizations = organizations
        self.logger = logger
    }

    public func find(_ identifier: DataSet, context: RequestContext) async throws -> [DataSet] {
        guard context.sopClassUID == WorklistSOPClass.modalityWorklistFind else {
            throw DIMSEFailure(.sopClassNotSupported, "only Modality Worklist FIND is served here")
        }
        let characterSet: SpecificCharacterSet
        do { characterSet = try configuration.characterSet(for: context.callingAETitle.value) } catch {
            throw DIMSEFailure(.processingFailure, "character set configuration: \(error)")
        }
        let query = try WorklistQuery(identifier)
        let database: WorklistDatabase
        do { database = try await store.readingOffThePool() } catch {
            throw DIMSEFailure(.outOfResourcesUnableToCalculateMatches, "cannot read the worklist: \(error)")
        }
        // Match before sorting: a worklist holds thousands of orders, a station's day a few dozen.
        let patients = Dictionary(database.patients.map { ($0.patientID, $0) }, uniquingKeysWith: { first, _ in first })
        let callerOrganization = organizations?.organization(ofAETitle: context.callingAETitle.value, user: context.userName,
                                                             certificate: context.peerCertificateSHA256)
        var matches: [OrderEntry] = []
        for order in database.orders where order.status == .scheduled || order.status == .inProgress {
            if let organizations, organizations.organization(ofAETitle: order.stationAETitle) != callerOrganization { continue }
            guard let patient = patients[order.patientID] else { continue }
            let entry = OrderEntry(order: order, patient: patient)
            if query.matches(entry) { matches.append(entry) }
        }
        matches.sort { ($0.order.scheduledDate, $0.order.scheduledTime, $0.order.accessionNumber) < ($1.order.scheduledDate, $1.order.scheduledTime, $1.order.accessionNumber) }
        let encoder = TextEncoder(characterSet: characterSet)
        return matches.map { query.response(for: WorklistAttributes.dataSet(for: $0, encoder: encoder)) }
    }
}

/// A compiled Modality Worklist identifier.
struct WorklistQuery {
    let identifier: DataSet
    let top: [(Tag, KeyMatch)]
    let step: [(Tag, KeyMatch)]

    init(_ identifier: DataSet) throws {
        self.identifier = identifier
        top = [
            (.patientName, try KeyMatch.make(.patientName, in: identifier, name: "Patient's Name", foldCase: true)),
            (.patientID, try KeyMatch.make(.patientID, in: identifier, name: "Patient ID")),
            (.accessionNumber, try KeyMatch.make(.accessionNumber, in: identifier, name: "Accession Number")),
            (.requestedProcedureID, try KeyMatch.make(.requestedProcedureID, in: identifier, name: "Requested Procedure ID")),
            (.studyInstanceUID, try KeyMatch.make(.studyInstanceUID, in: identifier, name: "Study Instance UID")),
        ]
        if let item = identifier.items(.scheduledProcedureStepSequence)?.first {
            step = [
                (.scheduledStationAETitle, try KeyMatch.make(.scheduledStationAETitle, in: item, name: "Scheduled Station AE Title")),
                (.modality, try KeyMatch.make(.modality, in: item, name: "Modality")),
                (.scheduledProcedureStepStartDate, try KeyMatch.make(.scheduledProcedureStepStartDate, in: item, name: "Scheduled Procedure Step Start Date")),
                (.scheduledProcedureStepStartTime, try KeyMatch.make(.scheduledProcedureStepStartTime, in: item, name: "Scheduled Procedure Step Start Time")),
                (.scheduledProcedureStepStatus, try KeyMatch.make(.scheduledProcedureStepStatus, in: item, name: "Scheduled Procedure Step Status")),
                (.scheduledProcedureStepID, try KeyMatch.make(.scheduledProcedureStepID, in: item, name: "Scheduled Procedure Step ID")),
            ]
        } else {
            step = []
        }
    }

    func matches(_ entry: OrderEntry) -> Bool {
        let order = entry.order
        for (tag, match) in top {
            let value: String?
            switch tag {
            case .patientName: value = entry.patient.name
            case .patientID: value = entry.patient.patientID
            case .accessionNumber: value = order.accessionNumber
            case .requestedProcedureID: value = order.requestedProcedureID
            default: value = order.studyInstanceUID
            }
            if !match.matches(value) { return false }
        }
        for (tag, match) in step {
            let value: String?
            switch tag {
            case .scheduledStationAETitle: value = order.stationAETitle
            case .modality: value = order.modality
            case .scheduledProcedureStepStartDate: value = order.scheduledDate
            case .scheduledProcedureStepStartTime: value = order.scheduledTime
            case .scheduledProcedureStepStatus: value = WorklistAttributes.stepStatus(order.status)
            default: value = order.scheduledProcedureStepID
            }
            if !match.matches(value) { return false }
        }
        return true
    }

    /// The requested return keys of `full` (PS3.4 C.2.2.1.2): each key of the identifier with the entry's value, or empty
    /// when the entry has none; a sequence key with an item returns the sub-keys that item asks for, an empty one everything.
    func response(for full: DataSet) -> DataSet {
        var response = DataSet()
        if let characterSet = full[.specificCharacterSet] { response.set(characterSet) }
        Self.copy(requested: identifier, from: full, into: &response)
        return response
    }

    static func copy(requested: DataSet, from full: DataSet, into response: inout DataSet) {
        for element in requested where element.tag != .specificCharacterSet && element.tag.group != 0x0000 {
            guard let value = full[element.tag] else {
                response.set(element.vr == .SQ ? DataElement(tag: element.tag, items: []) : DataElement(tag: element.tag, vr: element.vr, bytes: Data()))
                continue
            }
            if let wanted = element.items?.first, !wanted.isEmpty, let items = value.items {
                response.set(DataElement(tag: element.tag, items: items.map { item in
                    var filtered = DataSet()
                    filtered.inheritedCharacterSet = item.inheritedCharacterSet
                    copy(requested: wanted, from: item, into: &filtered)
                    return filtered
                }))
            } else {
                response.set(value)
            }
        }
    }
}

/// The Modality Worklist attributes of an order (PS3.4 Table K.6-1).
enum WorklistAttributes {
    /// Scheduled Procedure Step Status (0040,0020) of an order on the worklist: SCHEDULED, or STARTED once an MPPS is in progress.
    static func stepStatus(_ status: OrderStatus) -> String { status == .inProgress ? "STARTED" : "SCHEDULED" }

    static func dataSet(for entry: OrderEntry, encoder: TextEncoder) -> DataSet {
        let order = entry.order, patient = entry.patient
        var dataSet = encoder.newDataSet(topLevel: true)
        var step = encoder.newDataSet(topLevel: false)
        encoder.set(.scheduledStationAETitle, vr: .AE, order.stationAETitle, in: &step)
        encoder.set(.scheduledProcedureStepStartDate, vr: .DA, order.scheduledDate, in: &step)
        encoder.set(.scheduledProcedureStepStartTime, vr: .TM, order.scheduledTime, in: &step)
        encoder.set(.modality, vr: .CS, order.modality, in: &step)
        encoder.set(.scheduledPerformingPhysicianName, vr: .PN, nil, in: &step)
        encoder.set(.scheduledProcedureStepDescription, vr: .LO, order.procedure ?? order.bodyPart, in: &step)
        encoder.set(.scheduledStationName, vr: .SH, nil, in: &step)
        encoder.set(.scheduledProcedureStepLocation, vr: .SH, nil, in: &step)
        encoder.set(.scheduledProcedureStepID, vr: .SH, order.scheduledProcedureStepID, in: &step)
        encoder.set(.scheduledProcedureStepStatus, vr: .CS, stepStatus(order.status), in: &step)
        encoder.set(.preMedication, vr: .LO, nil, in: &step)
        encoder.set(.requestedContrastAgent, vr: .LO, nil, in: &step)
        step.set(DataElement(tag: .scheduledProtocolCodeSequence, items: []))

        encoder.set(.accessionNumber, vr: .SH, order.accessionNumber, in: &dataSet)
        encoder.set(.referringPhysicianName, vr: .PN, order.referringPhysician, in: &dataSet)
        dataSet.set(DataElement(tag: .referencedStudySequence, items: []))
        dataSet.set(DataElement(tag: .referencedPatientSequence, items: []))
        encoder.set(.patientName, vr: .PN, patient.name, in: &dataSet)
        encoder.set(.patientID, vr: .LO, patient.patientID, in: &dataSet)
        encoder.set(.issuerOfPatientID, vr: .LO, patient.issuer, in: &dataSet)
        encoder.set(.patientBirthDate, vr: .DA, patient.birthDate, in: &dataSet)
        encoder.set(.patientSex, vr: .CS, patient.sex, in: &dataSet)
        if let weight = order.weight {
            dataSet.setASCII(.patientWeight, vr: .DS, DecimalString.format(weight))
        } else {
            encoder.set(.patientWeight, vr: .DS, nil, in: &dataSet)
        }
        encoder.set(.bodyPartExamined, vr: .CS, order.bodyPart, in: &dataSet)
        encoder.set(.medicalAlerts, vr: .LO, nil, in: &dataSet)
        encoder.set(.allergies, vr: .LO, nil, in: &dataSet)
        encoder.set(.additionalPatientHistory, vr: .LT, order.history, in: &dataSet)
        encoder.set(.studyInstanceUID, vr: .UI, order.studyInstanceUID, in: &dataSet)
        encoder.set(.requestingPhysician, vr: .PN, nil, in: &dataSet)
        encoder.set(.requestingService, vr: .LO, order.referringOrganization, in: &dataSet)
        encoder.set(.requestedProcedureDescription, vr: .LO, order.procedure, in: &dataSet)
        dataSet.set(DataElement(tag: .requestedProcedureCodeSequence, items: []))
        encoder.set(.admissionID, vr: .LO, nil, in: &dataSet)
        encoder.set(.specialNeeds, vr: .LO, nil, in: &dataSet)
        encoder.set(.currentPatientLocation, vr: .LO, nil, in: &dataSet)
        encoder.set(.patientState, vr: .LO, nil, in: &dataSet)
        dataSet.set(DataElement(tag: .scheduledProcedureStepSequence, items: [step]))
        encoder.set(.requestedProcedureID, vr: .SH, order.requestedProcedureID, in: &dataSet)
        encoder.set(.reasonForTheRequestedProcedure, vr: .LO, order.complaints.map { String($0.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: " ").prefix(64)) }, in: &dataSet)
        encoder.set(.requestedProcedurePriority, vr: .SH, nil, in: &dataSet)
        encoder.set(.patientTransportArrangements, vr: .LO, nil, in: &dataSet)
        encoder.set(.confidentialityConstraintOnPatientDataDescription, vr: .LO, nil, in: &dataSet)
        return dataSet
    }
}
