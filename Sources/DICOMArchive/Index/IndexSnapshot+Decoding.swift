import DICOMCore
import DICOMJSON
import Foundation

/// Reads the snapshot (`index.json`) without `JSONDecoder`: its keyed-container machinery made start-up of a
/// 100,000-instance archive take seconds. The JSON is parsed once into a tree and the records are built from it
/// directly. Same layout as ``IndexSnapshot``'s `Codable` encoding (which still writes it); unknown members are
/// ignored, as `JSONDecoder` did.
extension IndexSnapshot {
    /// The JSON nesting of a snapshot is 5 levels; anything deeper is not a snapshot.
    static let maximumDepth = 16

    /// Decodes a snapshot, throwing a ``SnapshotFormatError`` that names the record and member at fault.
    static func decode(_ data: Data) throws -> IndexSnapshot {
        guard case .object(let top) = try JSONParser.parse(data, maximumDepth: maximumDepth) else {
            throw SnapshotFormatError("the snapshot is not a JSON object")
        }
        var schemaVersion: Int?
        var records: [StoredRecord] = []
        for (key, value) in top {
            switch key {
            case "schemaVersion": schemaVersion = try integer(value, "schemaVersion")
            case "records":
                guard case .array(let items) = value else { throw SnapshotFormatError("\"records\" is not an array") }
                records.reserveCapacity(items.count)
                for (number, item) in items.enumerated() {
                    do {
                        records.append(try storedRecord(item))
                    } catch let error as SnapshotFormatError {
                        throw SnapshotFormatError("record \(number + 1): \(error.message)")
                    }
                }
            default: continue
            }
        }
        guard let schemaVersion else { throw SnapshotFormatError("\"schemaVersion\" is missing") }
        return IndexSnapshot(schemaVersion: schemaVersion, records: records)
    }

    private static func storedRecord(_ value: JSONValue) throws -> StoredRecord {
        guard case .object(let members) = value else { throw SnapshotFormatError("not an object") }
        var record: InstanceRecord?
        var trashedAt: Date?
        for (key, value) in members {
            switch key {
            case "record": record = try instanceRecord(value)
            case "trashedAt": if case .null = value {} else { trashedAt = Date(timeIntervalSince1970: try number(value, key)) }
            default: continue
            }
        }
        guard let record else { throw SnapshotFormatError("\"record\" is missing") }
        return StoredRecord(record: record, trashedAt: trashedAt)
    }

    private static func instanceRecord(_ value: JSONValue) throws -> InstanceRecord {
        guard case .object(let members) = value else { throw SnapshotFormatError("\"record\" is not an object") }
        // One local per member (no dictionaries per record: this runs a million times at start-up).
        var patientID, studyUID, seriesUID, sopUID, sopClassUID, path, syntax, sha256, caller, charset: String?
        var patient: [Tag: String] = [:], study: [Tag: String] = [:], series: [Tag: String] = [:], instance: [Tag: String] = [:]
        var size: Int?
        var receivedAt: Double?
        for (key, value) in members {
            switch key {
            case "patient": patient = try attributes(value, key)
            case "study": study = try attributes(value, key)
            case "series": series = try attributes(value, key)
            case "instance": instance = try attributes(value, key)
            case "size": size = try integer(value, key)
            case "receivedAt": receivedAt = try number(value, key)
            default:
                guard case .string(let text) = value else { continue }
                switch key {
                case "patientID": patientID = text
                case "studyInstanceUID": studyUID = text
                case "seriesInstanceUID": seriesUID = text
                case "sopInstanceUID": sopUID = text
                case "sopClassUID": sopClassUID = text
                case "path": path = text
                case "transferSyntaxUID": syntax = text
                case "sha256": sha256 = text
                case "callingAETitle": caller = text
                case "specificCharacterSet": charset = text
                default: continue
                }
            }
        }
        func required(_ value: String?, _ key: String) throws -> String {
            guard let value else { throw SnapshotFormatError("\"\(key)\" is missing or not a string") }
            return value
        }
        guard let size else { throw SnapshotFormatError("\"size\" is missing") }
        guard let receivedAt else { throw SnapshotFormatError("\"receivedAt\" is missing") }
        return InstanceRecord(
            patientID: try required(patientID, "patientID"), studyInstanceUID: try required(studyUID, "studyInstanceUID"),
            seriesInstanceUID: try required(seriesUID, "seriesInstanceUID"), sopInstanceUID: try required(sopUID, "sopInstanceUID"),
            sopClassUID: try required(sopClassUID, "sopClassUID"), patient: patient, study: study, series: series, instance: instance,
            path: try required(path, "path"), size: size, transferSyntaxUID: try required(syntax, "transferSyntaxUID"),
            sha256: try required(sha256, "sha256"), receivedAt: Date(timeIntervalSince1970: receivedAt),
            callingAETitle: try required(caller, "callingAETitle"), specificCharacterSet: try required(charset, "specificCharacterSet"))
    }

    /// `{"00100010": "value", …}`: tags as eight hexadecimal digits.
    private static func attributes(_ value: JSONValue, _ name: String) throws -> [Tag: String] {
        guard case .object(let members) = value else { throw SnapshotFormatError("\"\(name)\" is not an object") }
        var result: [Tag: String] = [:]
        result.reserveCapacity(members.count)
        for (key, value) in members {
            guard key.utf8.count == 8, let raw = UInt32(key, radix: 16) else {
                throw SnapshotFormatError("\"\(name)\" has a key \"\(key)\" that is not a tag in eight hexadecimal digits")
            }
            guard case .string(let text) = value else { throw SnapshotFormatError("\"\(name)\".\"\(key)\" is not a string") }
            result[Tag(rawValue: raw)] = text
        }
        return result
    }

    private static func number(_ value: JSONValue, _ name: String) throws -> Double {
        guard case .number(let text) = value, let number = Double(text) else { throw SnapshotFormatError("\"\(name)\" is not a number") }
        return number
    }

    private static func integer(_ value: JSONValue, _ name: String) throws -> Int {
        guard case .number(let text) = value, let number = Int(text) else { throw SnapshotFormatError("\"\(name)\" is not an integer") }
        return number
    }
}

/// A snapshot that is valid JSON but not a valid index.
struct SnapshotFormatError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
