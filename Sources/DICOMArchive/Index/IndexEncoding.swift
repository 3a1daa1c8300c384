import DICOMCore
import DICOMJSON
import Foundation

/// Writes the index's JSON (journal lines and snapshots) directly with ``DICOMJSON/JSONWriter``, in the form the
/// records' `Codable` conformance reads: the same member names in sorted order, tags as eight hexadecimal digits,
/// dates as seconds since 1970, absent optionals left out. `JSONEncoder` spent about 5 % of the archive's CPU time
/// per stored instance on the journal line alone, and most of a compaction's time on a large index.
enum IndexEncoding {
    /// One journal entry as one JSON line (ending with a newline).
    static func line(_ entry: JournalEntry) -> Data {
        var writer = JSONWriter(prettyPrinted: false, capacity: 1024)
        writer.beginObject()
        if let at = entry.at { writer.key("at"); writer.number(seconds(at)) }
        if let checkFiles = entry.checkFiles { writer.key("checkFiles"); writer.bool(checkFiles) }
        writer.key("op"); writer.string(entry.op.rawValue)
        if let records = entry.records {
            writer.key("records")
            writer.beginArray()
            for record in records { write(record, into: &writer) }
            writer.endArray()
        }
        if let uids = entry.uids {
            writer.key("uids")
            writer.beginArray()
            for uid in uids { writer.string(uid) }
            writer.endArray()
        }
        writer.endObject()
        var data = Data(writer.bytes)
        data.append(0x0A)
        return data
    }

    /// A snapshot of `records` (in the order given).
    static func snapshot(_ records: [StoredRecord], schemaVersion: Int) -> Data {
        var writer = JSONWriter(prettyPrinted: false, capacity: max(4096, records.count * 900))
        writer.beginObject()
        writer.key("records")
        writer.beginArray()
        for stored in records {
            writer.beginObject()
            writer.key("record")
            write(stored.record, into: &writer)
            if let trashedAt = stored.trashedAt { writer.key("trashedAt"); writer.number(seconds(trashedAt)) }
            writer.endObject()
        }
        writer.endArray()
        writer.key("schemaVersion")
        writer.number(schemaVersion)
        writer.endObject()
        return Data(writer.bytes)
    }

    static func write(_ record: InstanceRecord, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("callingAETitle"); writer.string(record.callingAETitle)
        writer.key("instance"); write(record.instance, into: &writer)
        writer.key("path"); writer.string(record.path)
        writer.key("patient"); write(record.patient, into: &writer)
        writer.key("patientID"); writer.string(record.patientID)
        writer.key("receivedAt"); writer.number(seconds(record.receivedAt))
        writer.key("series"); write(record.series, into: &writer)
        writer.key("seriesInstanceUID"); writer.string(record.seriesInstanceUID)
        writer.key("sha256"); writer.string(record.sha256)
        writer.key("size"); writer.number(record.size)
        writer.key("sopClassUID"); writer.string(record.sopClassUID)
        writer.key("sopInstanceUID"); writer.string(record.sopInstanceUID)
        writer.key("specificCharacterSet"); writer.string(record.specificCharacterSet)
        writer.key("study"); write(record.study, into: &writer)
        writer.key("studyInstanceUID"); writer.string(record.studyInstanceUID)
        writer.key("transferSyntaxUID"); writer.string(record.transferSyntaxUID)
        writer.endObject()
    }

    /// Attributes keyed by tag, in tag order (which is the order of their eight-digit keys).
    private static func write(_ attributes: [Tag: String], into writer: inout JSONWriter) {
        writer.beginObject()
        for (tag, value) in attributes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            writer.key(tag.hexKey)
            writer.string(value)
        }
        writer.endObject()
    }

    /// Seconds since 1970 as a JSON number (the shortest text that reads back as the same `Double`).
    private static func seconds(_ date: Date) -> String {
        let value = date.timeIntervalSince1970
        return value.isFinite ? "\(value)" : "0"
    }
}
