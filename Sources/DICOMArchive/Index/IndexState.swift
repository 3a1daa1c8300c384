import DICOMCore
import Foundation

/// One record as the index keeps it: the instance and when it went to the trash (nil when visible).
struct StoredRecord: Codable, Sendable {
    var record: InstanceRecord
    var trashedAt: Date?
}

/// A patient with visible instances, keyed by Patient ID (an empty ID is one patient, as DCMTK and Orthanc treat it).
final class PatientNode {
    let patientID: String
    /// Patient-level attributes of the most recently added instance (after that instance goes, of another one).
    ///
    /// Always the ``StudyNode/patientAttributes`` of one of the patient's studies, the one holding `source` (whose
    /// own source is `source` too): a patient-level query by name finds the patient through the study name index.
    var attributes: [Tag: String]
    /// The instance `attributes` came from (the ``StudyNode/source`` of its study).
    var source: String
    var studies: Set<String> = []

    init(patientID: String, attributes: [Tag: String], source: String) {
        self.patientID = patientID
        self.attributes = attributes
        self.source = source
    }
}

/// A study with visible instances.
final class StudyNode {
    let studyInstanceUID: String
    let patientID: String
    /// Patient-level attributes as this study's instances carry them (they answer study-level queries).
    var patientAttributes: [Tag: String]
    var attributes: [Tag: String]
    var source: String
    var series: Set<String> = []
    var instanceCount = 0
    /// Visible instances per SOP Class UID.
    var sopClasses: [String: Int] = [:]
    /// Visible instances per calling AE title that sent them (who owns the study, see ``StudyAccess``).
    var senders: [String: Int] = [:]
    /// Study Date as one complete date, normalised ("" when absent, partial, multi-valued or not a date): the order of
    /// study responses.
    var dateKey: String
    /// The dates the date index lists the study under, sorted and unique: for each value of Study Date, the normalised
    /// date a range key compares it by (``TemporalRange/contains(stored:)``: a partial date by its first day). Empty
    /// when no value is a date.
    var dateKeys: [String]

    init(studyInstanceUID: String, patientID: String, patientAttributes: [Tag: String], attributes: [Tag: String], source: String) {
        self.studyInstanceUID = studyInstanceUID
        self.patientID = patientID
        self.patientAttributes = patientAttributes
        self.attributes = attributes
        self.source = source
        dateKey = StudyNode.dateKey(attributes[IndexedAttribute.studyDate])
        dateKeys = StudyNode.dateKeys(attributes[IndexedAttribute.studyDate])
    }

    static func dateKey(_ value: String?) -> String {
        guard let value, let date = TemporalRange.normalizedDate(value) else { return "" }
        return date
    }

    /// The date index keys of a stored Study Date: exactly the dates ``KeyCondition/matches(_:)`` compares with a range
    /// (the whole value when it parses, else each backslash-separated value, trimmed), each by its lower bound.
    static func dateKeys(_ value: String?) -> [String] {
        guard let value, !value.isEmpty else { return [] }
        // The usual stored date, "yyyymmdd" and valid, is its own key.
        if TemporalRange.isValidCompactDate(value) { return [value] }
        if let bounds = TemporalRange.bounds(of: value, kind: .date) { return [bounds.lower] }
        guard value.utf8.contains(0x5C) else { return [] }
        var keys: [String] = []
        for part in value.split(separator: "\\") {
            if let bounds = TemporalRange.bounds(of: part.trimmingCharacters(in: .whitespaces), kind: .date) { keys.append(bounds.lower) }
        }
        return Array(Set(keys)).sorted()
    }
}

/// A series with visible instances.
final class SeriesNode {
    let seriesInstanceUID: String
    let studyInstanceUID: String
    var attributes: [Tag: String]
    var source: String
    var instances: Set<String> = []

    init(seriesInstanceUID: String, studyInstanceUID: String, attributes: [Tag: String], source: String) {
        self.seriesInstanceUID = seriesInstanceUID
        self.studyInstanceUID = studyInstanceUID
        self.attributes = attributes
        self.source = source
    }
}

/// The in-memory index: every record, and per-level maps of the visible ones with the secondary indexes queries use.
///
/// Not thread-safe; ``JSONArchiveIndex`` owns one inside its actor isolation.
final class IndexState {
    /// Every record, visible or trashed, by SOP Instance UID.
    private(set) var records: [String: StoredRecord] = [:]
    private(set) var patients: [String: PatientNode] = [:]
    private(set) var studies: [String: StudyNode] = [:]
    private(set) var series: [String: SeriesNode] = [:]
    /// Studies by each of their ``StudyNode/dateKeys``, sorted by (date, Study Instance UID), with their nodes (a query
    /// reads them without looking each UID up again). A study with several keys is listed once per key.
    private(set) var studiesByDate: [(date: String, uid: String, node: StudyNode)] = []
    /// How many visible studies have more than one date key (while none has, a range of the date index lists each
    /// study at most once).
    private(set) var multiDatedStudyCount = 0

    init() {}

    /// While true, the sorted secondary indexes are not maintained; ``endBulkLoad()`` rebuilds them in one sort.
    /// Loading in random order would otherwise cost an array insertion (a memmove) per study.
    private var bulkLoading = false

    func beginBulkLoad() { bulkLoading = true }

    func endBulkLoad() {
        bulkLoading = false
        var byDate: [(date: String, uid: String, node: StudyNode)] = []
        var byName: [(key: [UInt8], uid: String, node: StudyNode)] = []
        byDate.reserveCapacity(studies.count)
        byName.reserveCapacity(studies.count * 2)
        for study in studies.values {
            for date in study.dateKeys { byDate.append((date, study.studyInstanceUID, study)) }
            for key in IndexState.nameKeys(study.patientAttributes[IndexedAttribute.patientName]) {
                byName.append((key, study.studyInstanceUID, study))
            }
        }
        studiesByDate = byDate.sorted { $0.date != $1.date ? $0.date < $1.date : $0.uid < $1.uid }
        studiesByName = byName.sorted { $0.key != $1.key ? $0.key.lexicographicallyPrecedes($1.key) : $0.uid < $1.uid }
    }

    var visibleInstanceCount: Int { studies.values.reduce(0) { $0 + $1.instanceCount } }

    /// The visible record of an instance.
    func visibleRecord(_ sopInstanceUID: String) -> InstanceRecord? {
        guard let stored = records[sopInstanceUID], stored.trashedAt == nil else { return nil }
        return stored.record
    }

    // MARK: Changes

    /// Adds or replaces a record; an added record is visible.
    func upsert(_ record: InstanceRecord) {
        if let old = records[record.sopInstanceUID], old.trashedAt == nil { detach(old.record) }
        records[record.sopInstanceUID] = StoredRecord(record: record, trashedAt: nil)
        attach(record)
    }

    /// Restores a record as it was stored (snapshot loading), visible or trashed.
    func restore(_ stored: StoredRecord) {
        if let old = records[stored.record.sopInstanceUID], old.trashedAt == nil { detach(old.record) }
        records[stored.record.sopInstanceUID] = stored
        if stored.trashedAt == nil { attach(stored.record) }
    }

    /// Moves records to the trash (`date` non-nil) or back out of it (`date` nil). Unknown UIDs are ignored.
    func setTrashed(_ uids: [String], at date: Date?) {
        for uid in uids {
            guard var stored = records[uid] else { continue }
            let wasVisible = stored.trashedAt == nil
            stored.trashedAt = date
            records[uid] = stored
            if wasVisible && date != nil { detach(stored.record) }
            if !wasVisible && date == nil { attach(stored.record) }
        }
    }

    /// Forgets records entirely.
    func remove(_ uids: [String]) {
        for uid in uids {
            guard let stored = records.removeValue(forKey: uid) else { continue }
            if stored.trashedAt == nil { detach(stored.record) }
        }
    }

    private func attach(_ record: InstanceRecord) {
        let sop = record.sopInstanceUID
        let seriesNode: SeriesNode
        if let existing = series[record.seriesInstanceUID] {
            seriesNode = existing
            seriesNode.attributes = record.series
            seriesNode.source = sop
        } else {
            seriesNode = SeriesNode(seriesInstanceUID: record.seriesInstanceUID, studyInstanceUID: record.studyInstanceUID,
                                    attributes: record.series, source: sop)
            series[record.seriesInstanceUID] = seriesNode
        }
        seriesNode.instances.insert(sop)

        let studyNode: StudyNode
        if let existing = studies[seriesNode.studyInstanceUID] {
            studyNode = existing
            updateAccessionIndex(studyNode, from: studyNode.attributes[IndexedAttribute.accessionNumber],
                                 to: record.study[IndexedAttribute.accessionNumber])
            studyNode.attributes = record.study
            let oldName = studyNode.patientAttributes[IndexedAttribute.patientName]
            studyNode.patientAttributes = record.patient
            updateNameIndex(studyNode, from: oldName, to: record.patient[IndexedAttribute.patientName])
            studyNode.source = sop
            updateDates(studyNode, record.study[IndexedAttribute.studyDate])
        } else {
            studyNode = StudyNode(studyInstanceUID: seriesNode.studyInstanceUID, patientID: record.patientID,
                                  patientAttributes: record.patient, attributes: record.study, source: sop)
            studies[studyNode.studyInstanceUID] = studyNode
            insertIntoDateIndex(studyNode)
            updateAccessionIndex(studyNode, from: nil, to: record.study[IndexedAttribute.accessionNumber])
            updateNameIndex(studyNode, from: nil, to: record.patient[IndexedAttribute.patientName])
        }
        studyNode.series.insert(seriesNode.seriesInstanceUID)
        studyNode.instanceCount += 1
        studyNode.sopClasses[record.sopClassUID, default: 0] += 1
        studyNode.senders[record.callingAETitle, default: 0] += 1

        if let patient = patients[studyNode.patientID] {
            patient.attributes = record.patient
            patient.source = sop
            patient.studies.insert(studyNode.studyInstanceUID)
        } else {
            let patient = PatientNode(patientID: studyNode.patientID, attributes: record.patient, source: sop)
            patient.studies.insert(studyNode.studyInstanceUID)
            patients[studyNode.patientID] = patient
        }
    }

    private func detach(_ record: InstanceRecord) {
        let sop = record.sopInstanceUID
        guard let seriesNode = series[record.seriesInstanceUID], seriesNode.instances.remove(sop) != nil,
              let studyNode = studies[seriesNode.studyInstanceUID] else { return }
        studyNode.instanceCount -= 1
        if let count = studyNode.sopClasses[record.sopClassUID] {
            studyNode.sopClasses[record.sopClassUID] = count > 1 ? count - 1 : nil
        }
        if let count = studyNode.senders[record.callingAETitle] {
            studyNode.senders[record.callingAETitle] = count > 1 ? count - 1 : nil
        }
        if seriesNode.instances.isEmpty {
            series[seriesNode.seriesInstanceUID] = nil
            studyNode.series.remove(seriesNode.seriesInstanceUID)
        } else if seriesNode.source == sop, let other = anyRecord(in: seriesNode) {
            seriesNode.attributes = other.series
            seriesNode.source = other.sopInstanceUID
        }
        let patient = patients[studyNode.patientID]
        if studyNode.series.isEmpty {
            studies[studyNode.studyInstanceUID] = nil
            removeFromDateIndex(studyNode)
            updateAccessionIndex(studyNode, from: studyNode.attributes[IndexedAttribute.accessionNumber], to: nil)
            updateNameIndex(studyNode, from: studyNode.patientAttributes[IndexedAttribute.patientName], to: nil)
            patient?.studies.remove(studyNode.studyInstanceUID)
        } else if studyNode.source == sop, let other = anyRecord(in: studyNode) {
            updateAccessionIndex(studyNode, from: studyNode.attributes[IndexedAttribute.accessionNumber],
                                 to: other.study[IndexedAttribute.accessionNumber])
            studyNode.attributes = other.study
            updateNameIndex(studyNode, from: studyNode.patientAttributes[IndexedAttribute.patientName],
                            to: other.patient[IndexedAttribute.patientName])
            studyNode.patientAttributes = other.patient
            studyNode.source = other.sopInstanceUID
            updateDates(studyNode, other.study[IndexedAttribute.studyDate])
        }
        if let patient {
            if patient.studies.isEmpty {
                patients[patient.patientID] = nil
            } else if patient.source == sop, let study = replacementSource(for: patient, after: studyNode) {
                // The patient takes a study's attributes with the instance they came from, so that its attributes
                // are always those of one of its studies (``PatientNode/attributes``): the name index lists the
                // studies, and a patient-level query by name takes its candidates from them.
                patient.attributes = study.patientAttributes
                patient.source = study.source
            }
        }
    }

    /// The study whose patient-level attributes a patient takes when the instance they came from goes: the same
    /// study while it has instances (it took another of its own), else the patient's most recent study (by Study
    /// Date, then Study Instance UID, so the choice does not depend on set order).
    private func replacementSource(for patient: PatientNode, after study: StudyNode) -> StudyNode? {
        if studies[study.studyInstanceUID] === study { return study }
        var best: StudyNode? = nil
        for uid in patient.studies {
            guard let candidate = studies[uid] else { continue }
            if let current = best, (candidate.dateKey, candidate.studyInstanceUID) < (current.dateKey, current.studyInstanceUID) { continue }
            best = candidate
        }
        return best
    }

    private func anyRecord(in node: SeriesNode) -> InstanceRecord? {
        node.instances.first.flatMap { records[$0]?.record }
    }

    private func anyRecord(in node: StudyNode) -> InstanceRecord? {
        node.series.first.flatMap { series[$0] }.flatMap(anyRecord(in:))
    }

    // MARK: Accession number index

    /// Visible studies by each value their Accession Number is matched by: the whole stored value and, when it holds a
    /// backslash, each value trimmed (what ``KeyCondition/matches(_:)`` compares a single-value key with). A query by
    /// Accession Number takes its candidates from here instead of scanning every study.
    private(set) var studiesByAccession: [String: [StudyNode]] = [:]

    /// The keys a stored Accession Number is found under.
    static func accessionKeys(_ value: String?) -> [String] {
        guard let value, !value.isEmpty else { return [] }
        guard value.utf8.contains(0x5C) else { return [value] }
        var keys: Set<String> = [value]
        for part in value.split(separator: "\\") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { keys.insert(trimmed) }
        }
        return keys.sorted()
    }

    private func updateAccessionIndex(_ study: StudyNode, from old: String?, to new: String?) {
        if old == new { return }
        for key in IndexState.accessionKeys(old) {
            guard var list = studiesByAccession[key] else { continue }
            list.removeAll { $0 === study }
            studiesByAccession[key] = list.isEmpty ? nil : list
        }
        for key in IndexState.accessionKeys(new) { studiesByAccession[key, default: []].append(study) }
    }

    /// The visible studies whose Accession Number is `value`, or one of its values (`value` as a key compares it).
    func studies(accessionNumber value: String) -> [StudyNode] { studiesByAccession[value] ?? [] }

    // MARK: Name index

    /// Patient's Name keys of studies, sorted by UTF-8 bytes: each name as matched (trailing empty components removed)
    /// and each of its component groups, once as written and once lower-cased, for prefix and exact name queries.
    private(set) var studiesByName: [(key: [UInt8], uid: String, node: StudyNode)] = []

    /// The keys a name is found under: exact forms, then case-folded forms (prefixed with 0x01 to keep them apart).
    /// A form made only of delimiters ("^", "=^^") is kept as the empty key: a key such as "^" compares equal to it
    /// (``KeyCondition/comparable(_:vr:foldCase:)`` removes trailing delimiters on both sides), so the name index
    /// must find such names when asked for the empty prefix.
    static func nameKeys(_ name: String?) -> Set<[UInt8]> {
        guard let name, !name.isEmpty else { return [] }
        var forms: Set<String> = [KeyCondition.comparable(name, vr: .PN, foldCase: false)]
        if name.utf8.contains(0x3D) {
            for group in name.split(separator: "=") { forms.insert(KeyCondition.comparable(String(group), vr: .PN, foldCase: false)) }
        }
        var keys = Set<[UInt8]>()
        for form in forms {
            keys.insert([0x00] + Array(form.utf8))
            keys.insert([0x01] + Array(form.lowercased().utf8))
        }
        return keys
    }

    private func namePosition(_ key: [UInt8], _ uid: String) -> Int {
        var low = 0, high = studiesByName.count
        while low < high {
            let mid = (low + high) >> 1
            let entry = studiesByName[mid]
            let before = entry.key.lexicographicallyPrecedes(key) || (entry.key == key && entry.uid < uid)
            if before { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private func updateNameIndex(_ study: StudyNode, from old: String?, to new: String?) {
        if bulkLoading { return }
        if old == new && old != nil { return }
        let uid = study.studyInstanceUID
        for key in IndexState.nameKeys(old) {
            let position = namePosition(key, uid)
            if position < studiesByName.count, studiesByName[position].key == key, studiesByName[position].uid == uid {
                studiesByName.remove(at: position)
            }
        }
        for key in IndexState.nameKeys(new) { studiesByName.insert((key, uid, study), at: namePosition(key, uid)) }
    }

    /// The studies whose Patient's Name (or a component group) starts with `prefix` (already normalised, and
    /// lower-cased when `folded`), in key order; a study appears once per key of its name that starts so.
    func studies(namePrefix prefix: String, folded: Bool) -> [StudyNode] {
        let key = [folded ? 0x01 : 0x00] + Array(prefix.utf8)
        var position = namePosition(key, "")
        var result: [StudyNode] = []
        while position < studiesByName.count, studiesByName[position].key.starts(with: key) {
            result.append(studiesByName[position].node)
            position += 1
        }
        return result
    }

    // MARK: Date index

    /// The first position in `studiesByDate` not ordered before (date, uid).
    func dateIndexPosition(_ date: String, _ uid: String) -> Int {
        var low = 0, high = studiesByDate.count
        while low < high {
            let mid = (low + high) >> 1
            let entry = studiesByDate[mid]
            if entry.date < date || (entry.date == date && entry.uid < uid) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Lists a study (now visible) under each of its date keys.
    private func insertIntoDateIndex(_ study: StudyNode) {
        if study.dateKeys.count > 1 { multiDatedStudyCount += 1 }
        if bulkLoading { return }
        for date in study.dateKeys {
            studiesByDate.insert((date, study.studyInstanceUID, study), at: dateIndexPosition(date, study.studyInstanceUID))
        }
    }

    /// Takes a study (no longer visible, or about to change its keys) out of the date index.
    private func removeFromDateIndex(_ study: StudyNode) {
        if study.dateKeys.count > 1 { multiDatedStudyCount -= 1 }
        if bulkLoading { return }
        for date in study.dateKeys {
            let position = dateIndexPosition(date, study.studyInstanceUID)
            if position < studiesByDate.count, studiesByDate[position].date == date, studiesByDate[position].uid == study.studyInstanceUID {
                studiesByDate.remove(at: position)
            }
        }
    }

    /// Sets a visible study's date keys from its (new) Study Date, moving it in the date index when they change.
    private func updateDates(_ study: StudyNode, _ studyDate: String?) {
        // The usual case, another instance of the study with the same complete date: its own key, nothing changes.
        if let studyDate, study.dateKeys.count == 1, study.dateKeys[0] == studyDate, study.dateKey == studyDate { return }
        study.dateKey = StudyNode.dateKey(studyDate)
        let keys = StudyNode.dateKeys(studyDate)
        if keys == study.dateKeys { return }
        removeFromDateIndex(study)
        study.dateKeys = keys
        insertIntoDateIndex(study)
    }

    /// The date index entries whose date lies in `lower...upper` (both "yyyymmdd"), in (date, UID) order: a study
    /// appears once per date key in the range (more than once only while ``multiDatedStudyCount`` is not zero).
    func studies(datedFrom lower: String, through upper: String) -> ArraySlice<(date: String, uid: String, node: StudyNode)> {
        let start = dateIndexPosition(lower, "")
        // Dates are 8 digits; every key with the upper date is below upper + "~".
        let end = dateIndexPosition(upper + "~", "")
        return studiesByDate[start..<max(start, end)]
    }
}
