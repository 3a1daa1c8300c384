import DICOMCore
import Foundation

/// Builds the index record of a stored file from its data set.
///
/// A minimal extraction used until the index's own `InstanceRecord.make(from:...)` is available: the hierarchy
/// UIDs and the attributes C-FIND commonly matches, as decoded text.
enum StoreRecords {
    static let studyInstanceUID = Tag(0x0020, 0x000D)
    static let seriesInstanceUID = Tag(0x0020, 0x000E)
    static let sopInstanceUID = Tag(0x0008, 0x0018)
    static let sopClassUID = Tag(0x0008, 0x0016)
    static let patientID = Tag(0x0010, 0x0020)
    static let studyDate = Tag(0x0008, 0x0020)
    static let specificCharacterSet = Tag(0x0008, 0x0005)

    static let patientTags = [Tag(0x0010, 0x0010), Tag(0x0010, 0x0021), Tag(0x0010, 0x0030), Tag(0x0010, 0x0040)]
    static let studyTags = [Tag(0x0008, 0x0020), Tag(0x0008, 0x0030), Tag(0x0008, 0x0050), Tag(0x0008, 0x0090),
                            Tag(0x0008, 0x1030), Tag(0x0020, 0x0010), Tag(0x0008, 0x0080)]
    static let seriesTags = [Tag(0x0008, 0x0060), Tag(0x0020, 0x0011), Tag(0x0008, 0x103E), Tag(0x0018, 0x0015)]
    static let instanceTags = [Tag(0x0020, 0x0013), Tag(0x0008, 0x0016)]

    /// The attribute names used in error comments.
    static func name(of tag: Tag) -> String {
        switch tag {
        case studyInstanceUID: return "Study Instance UID (0020,000D)"
        case seriesInstanceUID: return "Series Instance UID (0020,000E)"
        case sopInstanceUID: return "SOP Instance UID (0008,0018)"
        case sopClassUID: return "SOP Class UID (0008,0016)"
        default: return tag.description
        }
    }

    /// The first value of a UID attribute, or an ``ArchiveError`` (`missingAttribute`) naming it.
    static func requiredUID(_ tag: Tag, in dataSet: DataSet) throws -> String {
        guard let value = dataSet.string(tag), !value.isEmpty else {
            throw ArchiveError(.missingAttribute, "the data set has no \(name(of: tag))")
        }
        return value
    }

    static func record(from dataSet: DataSet, path: String, size: Int, transferSyntaxUID: String, sha256: String,
                       receivedAt: Date, callingAETitle: String) throws -> InstanceRecord {
        func values(_ tags: [Tag]) -> [Tag: String] {
            var out: [Tag: String] = [:]
            for tag in tags { if let text = dataSet.text(tag) { out[tag] = text } }
            return out
        }
        return InstanceRecord(
            patientID: dataSet.text(patientID) ?? "",
            studyInstanceUID: try requiredUID(studyInstanceUID, in: dataSet),
            seriesInstanceUID: try requiredUID(seriesInstanceUID, in: dataSet),
            sopInstanceUID: try requiredUID(sopInstanceUID, in: dataSet),
            sopClassUID: dataSet.string(sopClassUID) ?? "",
            patient: values(patientTags), study: values(studyTags), series: values(seriesTags), instance: values(instanceTags),
            path: path, size: size, transferSyntaxUID: transferSyntaxUID, sha256: sha256, receivedAt: receivedAt,
            callingAETitle: callingAETitle, specificCharacterSet: dataSet.text(specificCharacterSet) ?? "")
    }
}
