import DICOMCore
import Foundation

/// The four Query/Retrieve levels (PS3.4 C.6).
public enum QueryLevel: String, Sendable, Codable, CaseIterable {
    case patient = "PATIENT"
    case study = "STUDY"
    case series = "SERIES"
    case image = "IMAGE"
}

/// What the archive knows about one stored instance: its place in the patient/study/series hierarchy, the attributes
/// C-FIND matches and returns at each level, and the facts about its file.
///
/// Attribute values are kept as decoded Unicode text (multi-valued ones joined with `\`), keyed by the
/// attribute's tag, so a value written in any Specific Character Set can be matched and answered in another.
public struct InstanceRecord: Sendable, Codable, Equatable {
    public var patientID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var sopInstanceUID: String
    public var sopClassUID: String
    /// Patient-level attributes (Patient's Name, Birth Date, Sex, Issuer of Patient ID, ...).
    public var patient: [Tag: String]
    /// Study-level attributes (Study Date/Time, Accession Number, Study ID, Description, Referring Physician, Institution, ...).
    public var study: [Tag: String]
    /// Series-level attributes (Modality, Series Number, Description, Body Part Examined, ...).
    public var series: [Tag: String]
    /// Instance-level attributes (Instance Number, SOP Class UID, ...).
    public var instance: [Tag: String]
    /// The file, relative to the archive root.
    public var path: String
    public var size: Int
    public var transferSyntaxUID: String
    /// Lowercase hexadecimal SHA-256 of the file.
    public var sha256: String
    public var receivedAt: Date
    public var callingAETitle: String
    /// The Specific Character Set (0008,0005) of the stored data set, as written (empty for the default repertoire).
    public var specificCharacterSet: String

    public init(patientID: String, studyInstanceUID: String, seriesInstanceUID: String, sopInstanceUID: String,
                sopClassUID: String, patient: [Tag: String] = [:], study: [Tag: String] = [:], series: [Tag: String] = [:],
                instance: [Tag: String] = [:], path: String, size: Int, transferSyntaxUID: String, sha256: String,
                receivedAt: Date, callingAETitle: String, specificCharacterSet: String) {
        self.patientID = patientID
        self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.sopInstanceUID = sopInstanceUID
        self.sopClassUID = sopClassUID
        self.patient = patient
        self.study = study
        self.series = series
        self.instance = instance
        self.path = path
        self.size = size
        self.transferSyntaxUID = transferSyntaxUID
        self.sha256 = sha256
        self.receivedAt = receivedAt
        self.callingAETitle = callingAETitle
        self.specificCharacterSet = specificCharacterSet
    }
}

/// The archive's index: what the query, retrieve and lifecycle services ask, independent of how it is kept.
/// ``JSONArchiveIndex`` keeps it as JSON on disk; a database-backed index can replace it behind this protocol.
///
/// Only *visible* instances (not in the trash) are returned by ``find(_:)``, ``instances(matching:)`` and ``instance(sopInstanceUID:)``.
public protocol ArchiveIndex: Sendable {
    /// Adds or replaces instances (keyed by SOP Instance UID). Returns only when the change is durable on disk;
    /// concurrent callers may be committed together (group commit).
    func add(_ records: [InstanceRecord]) async throws
    /// The visible record of one instance.
    func instance(sopInstanceUID: String) async -> InstanceRecord?
    /// C-FIND: the response identifiers for a query identifier (Query/Retrieve Level in (0008,0052)) under the given model.
    /// Throws ``DICOMServices/DIMSEFailure`` for identifiers that cannot be processed.
    func find(_ query: IndexQuery) async throws -> [DataSet]
    /// C-MOVE/C-GET/lifecycle: the visible instances an identifier selects (by its level's unique keys and any other keys).
    func instances(matching query: IndexQuery) async throws -> [InstanceRecord]
    /// Moves instances to or from the trash. Trashed instances are invisible to queries but kept in the index with the time trashed.
    func setTrashed(_ sopInstanceUIDs: [String], trashed: Bool, at date: Date) async throws
    /// Forgets instances entirely (after purge).
    func remove(_ sopInstanceUIDs: [String]) async throws
    /// Every record, visible or trashed, with the time it was trashed (nil when visible).
    func allRecords() async -> [(record: InstanceRecord, trashedAt: Date?)]
    /// Writes a compact snapshot and truncates the journal.
    func compact() async throws
    /// Adds new instances whose files `placement` is making durable at the records' paths at the same time: the
    /// index may write its own change while the files are being placed, but the records become visible, and the call
    /// returns, only when both are durable. When `placement` throws, nothing is added and its error is thrown; the
    /// index may then still hold a durable note of the records, which it must ignore for any record whose file is
    /// missing (``JSONArchiveIndex`` checks those files when it opens).
    func add(_ records: [InstanceRecord], placing placement: @escaping @Sendable () async throws -> Void) async throws
}

extension ArchiveIndex {
    /// One after the other: the files, then the index.
    public func add(_ records: [InstanceRecord], placing placement: @escaping @Sendable () async throws -> Void) async throws {
        try await placement()
        try await add(records)
    }
}

/// A C-FIND/C-MOVE/C-GET identifier and how to match it.
public struct IndexQuery: Sendable {
    /// The request identifier, including Query/Retrieve Level (0008,0052).
    public var identifier: DataSet
    /// True for the Patient Root information model (patient level allowed, Patient ID required below it), false for Study Root.
    public var patientRoot: Bool
    /// Match Person Name (PN) attributes ignoring case (an option; the standard's default is case-sensitive).
    public var caseInsensitiveNames: Bool
    /// Stop after this many matches (0: no limit).
    public var limit: Int
    /// Which studies the caller may see (nil: every study). Patients, series and instances of other studies are
    /// invisible too, and counts such as Number of Patient Related Studies count only visible studies.
    public var access: StudyAccess?

    public init(identifier: DataSet, patientRoot: Bool = false, caseInsensitiveNames: Bool = false, limit: Int = 0,
                access: StudyAccess? = nil) {
        self.identifier = identifier
        self.patientRoot = patientRoot
        self.caseInsensitiveNames = caseInsensitiveNames
        self.limit = limit
        self.access = access
    }
}
