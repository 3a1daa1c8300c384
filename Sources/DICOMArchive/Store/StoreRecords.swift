import DICOMCore
import Foundation

/// The identifying attributes the store checks before a file is accepted (the index record itself is built by
/// ``InstanceRecord/make(from:path:size:transferSyntaxUID:sha256:receivedAt:callingAETitle:)``).
enum StoreRecords {
    static let studyInstanceUID = Tag(0x0020, 0x000D)
    static let seriesInstanceUID = Tag(0x0020, 0x000E)
    static let sopInstanceUID = Tag(0x0008, 0x0018)
    static let sopClassUID = Tag(0x0008, 0x0016)

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
}
