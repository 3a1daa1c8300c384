import Foundation

/// A patient in the worklist registry, keyed by Patient ID and its issuer.
///
/// A patient with a national identifier (PIN) has it as Patient ID with the issuer that assigned it (Issuer of
/// Patient ID, (0010,0021)); a patient without one (a foreign citizen) gets a generated local ID.
public struct Patient: Codable, Sendable, Equatable {
    /// Patient ID (0010,0020).
    public var patientID: String
    /// Issuer of Patient ID (0010,0021), e.g. the national registry; nil for a generated local ID.
    public var issuer: String?
    /// Patient's Name (0010,0010) in DICOM form, `FAMILY^GIVEN^MIDDLE`, in any script (stored as UTF-8).
    public var name: String
    /// Patient's Birth Date (0010,0030), `YYYYMMDD`.
    public var birthDate: String?
    /// Patient's Sex (0010,0040): M, F or O.
    public var sex: String?
    /// True when ``patientID`` was generated here (the patient had no PIN).
    public var isLocalID: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(patientID: String, issuer: String? = nil, name: String, birthDate: String? = nil, sex: String? = nil,
                isLocalID: Bool = false, createdAt: Date = Date()) {
        self.patientID = patientID
        self.issuer = issuer
        self.name = name
        self.birthDate = birthDate
        self.sex = sex
        self.isLocalID = isLocalID
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}

/// Where an order is in its life (the status of its Requested Procedure and Scheduled Procedure Step).
public enum OrderStatus: String, Codable, Sendable, CaseIterable {
    case scheduled = "SCHEDULED"
    case inProgress = "IN PROGRESS"
    case completed = "COMPLETED"
    case discontinued = "DISCONTINUED"
    case imagesReceived = "IMAGES RECEIVED"
    case reported = "REPORTED"
    case cancelled = "CANCELLED"

    /// The statuses an order in this status may move to. Images may arrive from a scanner that sends no MPPS, so
    /// IMAGES RECEIVED follows any status before REPORTED; a report may be amended (REPORTED → REPORTED).
    public var allowedNext: Set<OrderStatus> {
        switch self {
        case .scheduled: [.inProgress, .discontinued, .imagesReceived, .cancelled]
        case .inProgress: [.completed, .discontinued, .imagesReceived]
        case .completed: [.imagesReceived]
        case .discontinued: [.imagesReceived]
        case .imagesReceived: [.imagesReceived, .reported]
        case .reported: [.reported, .imagesReceived]
        case .cancelled: []
        }
    }

    /// Parses `scheduled`, `in-progress`, `IN PROGRESS`, `images_received` and the like.
    public init?(argument: String) {
        let normalized = argument.uppercased().replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: "_", with: " ")
        self.init(rawValue: normalized)
    }

    /// The command-line spelling: `in-progress`.
    public var argument: String { rawValue.lowercased().replacingOccurrences(of: " ", with: "-") }
}

/// One status change of an order, kept as its history.
public struct StatusChange: Codable, Sendable, Equatable {
    public var status: OrderStatus
    public var at: Date
    /// Who or what made the change: `cli`, `mpps:<AE>`, `store:<AE>`, `report:<author>`.
    public var by: String
}

/// A radiologist's report on an order, kept with it; the DICOM Basic Text SR is in the archive.
public struct ReportRecord: Codable, Sendable, Equatable {
    public var description: String
    public var conclusion: String
    public var recommendations: String
    public var author: String
    public var sopInstanceUID: String
    public var seriesInstanceUID: String
    public var createdAt: Date
    /// Where the report was sent by C-STORE (AE titles), with the outcome.
    public var sentTo: [String]
}

/// An order: a Requested Procedure with its one Scheduled Procedure Step (PS3.4 Annex K), plus the patient's
/// clinical data the operator entered and what happened since.
public struct Order: Codable, Sendable, Equatable {
    /// Accession Number (0008,0050): unique, short enough to type on a scanner console.
    public var accessionNumber: String
    /// Requested Procedure ID (0040,1001).
    public var requestedProcedureID: String
    /// Scheduled Procedure Step ID (0040,0009).
    public var scheduledProcedureStepID: String
    /// Study Instance UID (0020,000D) the scanner should use.
    public var studyInstanceUID: String
    public var patientID: String
    public var issuer: String?
    /// Modality (0008,0060), e.g. CT, MR, DX.
    public var modality: String
    /// Scheduled Station AE Title (0040,0001).
    public var stationAETitle: String
    /// Scheduled Procedure Step Start Date (0040,0002), `YYYYMMDD`.
    public var scheduledDate: String
    /// Scheduled Procedure Step Start Time (0040,0003), `HHMMSS`.
    public var scheduledTime: String
    public var bodyPart: String?
    /// Requested Procedure Description (0032,1060) and Scheduled Procedure Step Description (0040,0007).
    public var procedure: String?
    /// Patient's Weight (0010,1030) in kg.
    public var weight: Double?
    /// Reason for the Requested Procedure (0040,1002): the complaints.
    public var complaints: String?
    /// Additional Patient History (0010,21B0): the anamnesis.
    public var history: String?
    /// Referring Physician's Name (0008,0090).
    public var referringPhysician: String?
    /// The referring organization, where the report goes.
    public var referringOrganization: String?
    public var status: OrderStatus
    public var history_: [StatusChange]
    /// The Performed Procedure Step SOP Instance UID of the MPPS that reported on this order.
    public var performedProcedureStepUID: String?
    /// Instances and series stored in the archive for the study.
    public var instanceCount: Int?
    public var seriesCount: Int?
    public var report: ReportRecord?
    public var createdAt: Date
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case accessionNumber, requestedProcedureID, scheduledProcedureStepID, studyInstanceUID, patientID, issuer, modality
        case stationAETitle, scheduledDate, scheduledTime, bodyPart, procedure, weight, complaints, history, referringPhysician
        case referringOrganization, status, history_ = "statusHistory", performedProcedureStepUID, instanceCount, seriesCount
        case report, createdAt, updatedAt
    }
}

/// Everything the worklist keeps, as one JSON document (`worklist.json`).
struct WorklistDatabase: Codable, Sendable {
    /// Version 1: this layout. A reader refuses newer versions rather than misread them.
    static let currentSchemaVersion = 1

    var schemaVersion = WorklistDatabase.currentSchemaVersion
    var patients: [Patient] = []
    var orders: [Order] = []
    /// The last accession sequence number used per day (`yyMMdd`).
    var accessionCounters: [String: Int] = [:]
    /// The last generated local patient number.
    var localPatientCounter = 0
    /// Modality Performed Procedure Steps received (absent in files written before the first MPPS).
    var performedSteps: [PerformedProcedureStep]?
}

/// A Modality Performed Procedure Step instance a scanner created by N-CREATE (PS3.4 F.7.2).
public struct PerformedProcedureStep: Codable, Sendable, Equatable {
    /// Affected SOP Instance UID.
    public var sopInstanceUID: String
    /// Performed Procedure Step Status (0040,0252): IN PROGRESS, COMPLETED or DISCONTINUED.
    public var status: String
    /// The orders it reports on (empty for an unscheduled procedure).
    public var accessionNumbers: [String]
    public var performedStationAETitle: String?
    public var callingAETitle: String
    public var startDate: String?
    public var startTime: String?
    public var endDate: String?
    public var endTime: String?
    public var createdAt: Date
    public var updatedAt: Date
}
