import DICOMCore

/// One attribute the archive index keeps and C-FIND can match and return: its tag, VR and Query/Retrieve level.
///
/// The list covers the required and unique keys of every level of the Patient Root and Study Root models
/// (PS3.4 C.6.1.1 and C.6.2.1, Tables C.6-1 to C.6-8) and the optional keys most SCUs ask for.
public struct IndexedAttribute: Sendable, Hashable {
    public var tag: Tag
    public var vr: VR
    public var level: QueryLevel
    /// Computed from the visible instances (counts, Modalities in Study, SOP Classes in Study), not read from files.
    public var isDerived: Bool

    init(_ group: UInt16, _ element: UInt16, _ vr: VR, _ level: QueryLevel, derived: Bool = false) {
        tag = Tag(group, element)
        self.vr = vr
        self.level = level
        isDerived = derived
    }

    /// Every attribute the index keeps, in tag order within each level.
    public static let all: [IndexedAttribute] = [
        // Patient level (PS3.4 Table C.6-1).
        IndexedAttribute(0x0010, 0x0010, .PN, .patient),   // Patient's Name (R)
        IndexedAttribute(0x0010, 0x0020, .LO, .patient),   // Patient ID (U)
        IndexedAttribute(0x0010, 0x0021, .LO, .patient),   // Issuer of Patient ID
        IndexedAttribute(0x0010, 0x0030, .DA, .patient),   // Patient's Birth Date
        IndexedAttribute(0x0010, 0x0032, .TM, .patient),   // Patient's Birth Time
        IndexedAttribute(0x0010, 0x0040, .CS, .patient),   // Patient's Sex
        IndexedAttribute(0x0010, 0x1000, .LO, .patient),   // Other Patient IDs
        IndexedAttribute(0x0010, 0x1001, .PN, .patient),   // Other Patient Names
        IndexedAttribute(0x0010, 0x2160, .SH, .patient),   // Ethnic Group
        IndexedAttribute(0x0010, 0x4000, .LT, .patient),   // Patient Comments
        IndexedAttribute(0x0020, 0x1200, .IS, .patient, derived: true), // Number of Patient Related Studies
        IndexedAttribute(0x0020, 0x1202, .IS, .patient, derived: true), // Number of Patient Related Series
        IndexedAttribute(0x0020, 0x1204, .IS, .patient, derived: true), // Number of Patient Related Instances
        // Study level (PS3.4 Tables C.6-2, C.6-5).
        IndexedAttribute(0x0008, 0x0020, .DA, .study),     // Study Date (R)
        IndexedAttribute(0x0008, 0x0030, .TM, .study),     // Study Time (R)
        IndexedAttribute(0x0008, 0x0050, .SH, .study),     // Accession Number (R)
        IndexedAttribute(0x0008, 0x0061, .CS, .study, derived: true), // Modalities in Study
        IndexedAttribute(0x0008, 0x0062, .UI, .study, derived: true), // SOP Classes in Study
        IndexedAttribute(0x0008, 0x0080, .LO, .study),     // Institution Name
        IndexedAttribute(0x0008, 0x0090, .PN, .study),     // Referring Physician's Name
        IndexedAttribute(0x0008, 0x1030, .LO, .study),     // Study Description
        IndexedAttribute(0x0008, 0x1060, .PN, .study),     // Name of Physician(s) Reading Study
        IndexedAttribute(0x0010, 0x1010, .AS, .study),     // Patient's Age
        IndexedAttribute(0x0010, 0x1020, .DS, .study),     // Patient's Size
        IndexedAttribute(0x0010, 0x1030, .DS, .study),     // Patient's Weight
        IndexedAttribute(0x0020, 0x000D, .UI, .study),     // Study Instance UID (U)
        IndexedAttribute(0x0020, 0x0010, .SH, .study),     // Study ID (R)
        IndexedAttribute(0x0020, 0x1206, .IS, .study, derived: true), // Number of Study Related Series
        IndexedAttribute(0x0020, 0x1208, .IS, .study, derived: true), // Number of Study Related Instances
        // Series level (PS3.4 Table C.6-3).
        IndexedAttribute(0x0008, 0x0021, .DA, .series),    // Series Date
        IndexedAttribute(0x0008, 0x0031, .TM, .series),    // Series Time
        IndexedAttribute(0x0008, 0x0060, .CS, .series),    // Modality (R)
        IndexedAttribute(0x0008, 0x0070, .LO, .series),    // Manufacturer
        IndexedAttribute(0x0008, 0x103E, .LO, .series),    // Series Description
        IndexedAttribute(0x0008, 0x1010, .SH, .series),    // Station Name
        IndexedAttribute(0x0018, 0x0015, .CS, .series),    // Body Part Examined
        IndexedAttribute(0x0018, 0x1030, .LO, .series),    // Protocol Name
        IndexedAttribute(0x0020, 0x000E, .UI, .series),    // Series Instance UID (U)
        IndexedAttribute(0x0020, 0x0011, .IS, .series),    // Series Number (R)
        IndexedAttribute(0x0020, 0x0060, .CS, .series),    // Laterality
        IndexedAttribute(0x0040, 0x0244, .DA, .series),    // Performed Procedure Step Start Date
        IndexedAttribute(0x0040, 0x0245, .TM, .series),    // Performed Procedure Step Start Time
        IndexedAttribute(0x0020, 0x1209, .IS, .series, derived: true), // Number of Series Related Instances
        // Instance level (PS3.4 Table C.6-4).
        IndexedAttribute(0x0008, 0x0008, .CS, .image),     // Image Type
        IndexedAttribute(0x0008, 0x0012, .DA, .image),     // Instance Creation Date
        IndexedAttribute(0x0008, 0x0013, .TM, .image),     // Instance Creation Time
        IndexedAttribute(0x0008, 0x0016, .UI, .image),     // SOP Class UID
        IndexedAttribute(0x0008, 0x0018, .UI, .image),     // SOP Instance UID (U)
        IndexedAttribute(0x0008, 0x0023, .DA, .image),     // Content Date
        IndexedAttribute(0x0008, 0x0033, .TM, .image),     // Content Time
        IndexedAttribute(0x0020, 0x0013, .IS, .image),     // Instance Number (R)
        IndexedAttribute(0x0028, 0x0008, .IS, .image),     // Number of Frames
        IndexedAttribute(0x0028, 0x0010, .US, .image),     // Rows
        IndexedAttribute(0x0028, 0x0011, .US, .image),     // Columns
    ]

    /// The indexed attribute for a tag, or nil when the index does not keep it.
    public static func named(_ tag: Tag) -> IndexedAttribute? { byTag[tag] }

    static let byTag: [Tag: IndexedAttribute] = Dictionary(all.map { ($0.tag, $0) }, uniquingKeysWith: { first, _ in first })

    /// The attributes read from files for one level (derived attributes and the hierarchy's UIDs excluded).
    static func stored(at level: QueryLevel) -> [IndexedAttribute] {
        all.filter { $0.level == level && !$0.isDerived && !hierarchyTags.contains($0.tag) }
    }

    /// Patient ID, Study/Series/SOP Instance UID and SOP Class UID: kept as ``InstanceRecord`` properties, not in its dictionaries.
    static let hierarchyTags: Set<Tag> = [Tag(0x0010, 0x0020), Tag(0x0020, 0x000D), Tag(0x0020, 0x000E), Tag(0x0008, 0x0018), Tag(0x0008, 0x0016)]

    static let patientID = Tag(0x0010, 0x0020)
    static let studyInstanceUID = Tag(0x0020, 0x000D)
    static let seriesInstanceUID = Tag(0x0020, 0x000E)
    static let sopInstanceUID = Tag(0x0008, 0x0018)
    static let sopClassUID = Tag(0x0008, 0x0016)
    static let studyDate = Tag(0x0008, 0x0020)
    static let accessionNumber = Tag(0x0008, 0x0050)
    static let studyTime = Tag(0x0008, 0x0030)
    static let patientName = Tag(0x0010, 0x0010)
    static let modality = Tag(0x0008, 0x0060)
    static let seriesNumber = Tag(0x0020, 0x0011)
    static let instanceNumber = Tag(0x0020, 0x0013)
}

extension QueryLevel {
    /// Depth in the hierarchy: PATIENT 0, STUDY 1, SERIES 2, IMAGE 3.
    var depth: Int {
        switch self {
        case .patient: return 0
        case .study: return 1
        case .series: return 2
        case .image: return 3
        }
    }
}
