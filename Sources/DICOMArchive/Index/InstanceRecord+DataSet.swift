import DICOMCore
import Foundation

/// Why the archive index refused a record or could not read or write its files.
public struct ArchiveIndexError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A data set lacks an attribute the index needs (Study, Series or SOP Instance UID).
        case missingAttribute
        /// The index directory, snapshot or journal could not be read or written.
        case io
        /// The snapshot or a journal line (other than a torn last line) is not what this index writes.
        case corrupt
    }

    public var code: Code
    public var message: String
    /// The file concerned, when there is one.
    public var path: String?

    public init(_ code: Code, _ message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}

extension InstanceRecord {
    /// A record for a stored instance, with the attributes of ``IndexedAttribute/all`` read from `dataSet` as decoded
    /// Unicode text (decoded by the data set's Specific Character Set; multiple values joined with `\`).
    ///
    /// Study Instance UID, Series Instance UID and SOP Instance UID are required; a missing Patient ID becomes the
    /// empty string (PS3.3 makes it Type 2). SOP Class UID falls back to an empty string.
    /// Throws ``ArchiveIndexError`` (`.missingAttribute`) naming the attribute that is missing.
    public static func make(from dataSet: DataSet, path: String, size: Int, transferSyntaxUID: String, sha256: String,
                            receivedAt: Date, callingAETitle: String) throws -> InstanceRecord {
        func uid(_ tag: Tag, _ name: String) throws -> String {
            guard let value = dataSet.string(tag), !value.isEmpty else {
                throw ArchiveIndexError(.missingAttribute, "the data set has no \(name) \(tag)", path: path)
            }
            return value
        }
        let study = try uid(IndexedAttribute.studyInstanceUID, "Study Instance UID")
        let series = try uid(IndexedAttribute.seriesInstanceUID, "Series Instance UID")
        let sop = try uid(IndexedAttribute.sopInstanceUID, "SOP Instance UID")
        let characterSet = dataSet.strings(.specificCharacterSet)?.joined(separator: "\\") ?? ""

        func attributes(_ level: QueryLevel) -> [Tag: String] {
            var result: [Tag: String] = [:]
            for attribute in IndexedAttribute.stored(at: level) {
                if let value = InstanceRecord.textValue(of: attribute.tag, in: dataSet), !value.isEmpty {
                    result[attribute.tag] = value
                }
            }
            return result
        }
        return InstanceRecord(patientID: dataSet.text(IndexedAttribute.patientID) ?? "",
                              studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop,
                              sopClassUID: dataSet.string(IndexedAttribute.sopClassUID) ?? "",
                              patient: attributes(.patient), study: attributes(.study), series: attributes(.series),
                              instance: attributes(.image), path: path, size: size, transferSyntaxUID: transferSyntaxUID,
                              sha256: sha256, receivedAt: receivedAt, callingAETitle: callingAETitle,
                              specificCharacterSet: characterSet)
    }

    /// The value of one element as text: decoded text for string VRs, decimal numbers for binary integers.
    static func textValue(of tag: Tag, in dataSet: DataSet) -> String? {
        guard let element = dataSet[tag] else { return nil }
        switch element.vr {
        case .US, .SS, .UL, .SL, .SV, .UV:
            return dataSet.integers(tag).map { $0.map(String.init).joined(separator: "\\") }
        case .FL, .FD:
            return dataSet.doubles(tag).map { $0.map(DecimalString.format).joined(separator: "\\") }
        case .SQ, .OB, .OW, .OD, .OF, .OL, .OV, .UN:
            return nil
        default:
            return dataSet.text(tag)
        }
    }

    /// The value this record holds for a tag at a level: the hierarchy's UIDs and Patient ID, then the level's dictionary.
    func value(_ tag: Tag, level: QueryLevel) -> String? {
        switch tag {
        case IndexedAttribute.patientID: return patientID
        case IndexedAttribute.studyInstanceUID: return studyInstanceUID
        case IndexedAttribute.seriesInstanceUID: return seriesInstanceUID
        case IndexedAttribute.sopInstanceUID: return sopInstanceUID
        case IndexedAttribute.sopClassUID: return sopClassUID
        default: break
        }
        switch level {
        case .patient: return patient[tag]
        case .study: return study[tag]
        case .series: return series[tag]
        case .image: return instance[tag]
        }
    }
}
