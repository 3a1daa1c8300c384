import DICOMCore
import DICOMServices
import Foundation

/// A C-FIND identifier read and checked: its level, compiled matching keys and requested return keys.
struct ParsedQuery {
    var level: QueryLevel
    /// Matching keys of the query level and the levels above it.
    var conditions: [KeyCondition]
    /// Every key of the identifier, in tag order, with the VR to answer it in and what the index knows of it
    /// (nil for keys the index does not keep or that lie below the query level: answered empty).
    var returnKeys: [(tag: Tag, vr: VR, attribute: IndexedAttribute?)]
    var limit: Int

    func conditions(at level: QueryLevel) -> [KeyCondition] { conditions.filter { $0.attribute.level == level } }
    func condition(for tag: Tag) -> KeyCondition? { conditions.first { $0.attribute.tag == tag } }

    /// The values of a List of UID / single value key, when it has no wild cards: each once, in the key's order (a
    /// list naming a UID twice, "1.2.3\\1.2.3", must not find its entity twice).
    func exactValues(for tag: Tag) -> [String]? {
        guard let condition = condition(for: tag) else { return nil }
        var values: [String] = []
        var seen = Set<String>()
        for alternative in condition.alternatives {
            guard case .exact(let value) = alternative else { return nil }
            if seen.insert(value).inserted { values.append(value) }
        }
        return values
    }

    /// Reads the Query/Retrieve Level and the keys of an identifier.
    /// Throws ``DIMSEFailure``: 0xA900 for a missing or unknown level or PATIENT under Study Root,
    /// 0xC000 for a malformed key value.
    init(_ query: IndexQuery) throws {
        let identifier = query.identifier
        guard let levelText = identifier.string(.queryRetrieveLevel)?.uppercased(), !levelText.isEmpty else {
            throw DIMSEFailure(.dataSetDoesNotMatchSOPClass, "the identifier has no Query/Retrieve Level (0008,0052)")
        }
        guard let level = QueryLevel(rawValue: levelText) else {
            throw DIMSEFailure(.dataSetDoesNotMatchSOPClass,
                               "Query/Retrieve Level (0008,0052) '\(levelText)' is not PATIENT, STUDY, SERIES or IMAGE")
        }
        if level == .patient && !query.patientRoot {
            throw DIMSEFailure(.dataSetDoesNotMatchSOPClass,
                               "Query/Retrieve Level (0008,0052) PATIENT is not part of the Study Root information model (PS3.4 C.6.2)")
        }
        self.level = level
        limit = query.limit
        conditions = []
        returnKeys = []
        for element in identifier {
            let tag = element.tag
            if tag.isGroupLength || tag.group == 0x0000 || tag.group == 0x0002 || tag == .specificCharacterSet
                || tag == .queryRetrieveLevel || tag.isDelimiter {
                continue
            }
            var attribute = IndexedAttribute.named(tag)
            if let known = attribute, known.level.depth > level.depth { attribute = nil }
            if let known = attribute,
               let condition = try KeyCondition.make(known, in: identifier, caseInsensitiveNames: query.caseInsensitiveNames) {
                conditions.append(condition)
            }
            let vr = attribute?.vr ?? (element.vr == .UN ? (DataDictionary.entry(for: tag)?.vr ?? .UN) : element.vr)
            returnKeys.append((tag, vr, attribute))
        }
    }
}

/// Runs C-FIND queries over an ``IndexState``: plans from the most selective key (unique keys, Patient ID,
/// Accession Number, Patient's Name, Study Date), matches every key (PS3.4 C.2.2.2) and builds response identifiers.
///
/// Study-level queries never look at instances: candidates come from the study map, the patient's studies or the
/// accession, name or date index, and derived counts are kept per study. Patient-level queries take theirs from the
/// patient map or, by name, from the patients of the studies the name index finds.
struct QueryEngine {
    let state: IndexState
    /// Which studies the caller may see (nil: all).
    var access: StudyAccess? = nil

    init(state: IndexState, access: StudyAccess? = nil) {
        self.state = state
        self.access = access
    }

    /// Whether the caller may see a study (``IndexQuery/access``).
    func isVisible(_ study: StudyNode) -> Bool {
        access?.allows(studyInstanceUID: study.studyInstanceUID, senders: study.senders.keys) ?? true
    }

    /// The studies of a patient the caller may see.
    func visibleStudies(of patient: PatientNode) -> [StudyNode] {
        patient.studies.compactMap { state.studies[$0] }.filter(isVisible)
    }

    static let instanceAvailability = Tag(0x0008, 0x0056)

    // MARK: Entry points

    /// The response identifiers for `query`.
    func find(_ query: IndexQuery) throws -> [DataSet] {
        let parsed = try ParsedQuery(query)
        return matches(parsed).map { response(parsed, $0) }
    }

    /// The entities that answer `query`, one per response, in response order (at most its limit).
    func matches(_ query: ParsedQuery) -> [Chain] {
        switch query.level {
        case .patient:
            return limited(sortedPatients(matchingPatients(query)), query.limit).map { Chain(patient: $0) }
        case .study:
            return limited(sortedStudies(matchingStudies(query)), query.limit).map { Chain(study: $0) }
        case .series:
            return limited(sortedSeries(matchingSeries(query)), query.limit).map { series in
                Chain(study: state.studies[series.studyInstanceUID], series: series)
            }
        case .image:
            return limited(sortedInstances(matchingInstances(query)), query.limit).map { record in
                let series = state.series[record.seriesInstanceUID]
                return Chain(study: series.flatMap { state.studies[$0.studyInstanceUID] }, series: series, record: record)
            }
        }
    }

    /// The visible instances at or below the entities `query` selects.
    func instances(matching query: IndexQuery) throws -> [InstanceRecord] {
        let parsed = try ParsedQuery(query)
        var result: [InstanceRecord] = []
        func add(_ series: SeriesNode) {
            for uid in series.instances.sorted() { if let record = state.visibleRecord(uid) { result.append(record) } }
        }
        func add(_ study: StudyNode) {
            for uid in study.series.sorted() { if let series = state.series[uid] { add(series) } }
        }
        switch parsed.level {
        case .patient:
            for patient in sortedPatients(matchingPatients(parsed)) {
                for study in visibleStudies(of: patient).sorted(by: { $0.studyInstanceUID < $1.studyInstanceUID }) { add(study) }
            }
        case .study: sortedStudies(matchingStudies(parsed)).forEach(add)
        case .series: sortedSeries(matchingSeries(parsed)).forEach(add)
        case .image: result = sortedInstances(matchingInstances(parsed))
        }
        return limited(result, parsed.limit)
    }

    private func limited<T>(_ items: [T], _ limit: Int) -> [T] { limit > 0 && items.count > limit ? Array(items.prefix(limit)) : items }

    // MARK: Matching per level

    func matchingPatients(_ query: ParsedQuery) -> [PatientNode] {
        let conditions = query.conditions(at: .patient)
        let candidates: [PatientNode]
        if let ids = query.exactValues(for: IndexedAttribute.patientID) {
            candidates = ids.compactMap { state.patients[$0] }
        } else if let names = query.condition(for: IndexedAttribute.patientName), let prefixes = namePrefixes(names) {
            // The patients of the studies the name index finds. The name a patient is matched by
            // (``patientAttributes(of:)``) is the patient's own attributes, which are always those of one of its
            // studies (``PatientNode/attributes``), or the patient attributes of one of its studies the caller sees:
            // either way a study listed in the index under that name. So this is a superset of the matches; the
            // key stays among the conditions (a study found may carry another name than the one its patient is
            // matched by).
            var seen = Set<String>()
            var found: [PatientNode] = []
            for prefix in prefixes {
                for study in state.studies(namePrefix: prefix, folded: names.foldCase) where seen.insert(study.patientID).inserted {
                    if let patient = state.patients[study.patientID] { found.append(patient) }
                }
            }
            candidates = found
        } else {
            candidates = Array(state.patients.values)
        }
        return candidates.filter { patient in
            (access == nil || !visibleStudies(of: patient).isEmpty)
                && conditions.allSatisfy { $0.matches(patientValue($0.attribute.tag, patient)) }
        }
    }

    func matchingStudies(_ query: ParsedQuery) -> [StudyNode] {
        var conditions = query.conditions.filter { $0.attribute.level.depth <= QueryLevel.study.depth }
        var candidates: [StudyNode]
        if let uids = query.exactValues(for: IndexedAttribute.studyInstanceUID) {
            candidates = uids.compactMap { state.studies[$0] }
        } else if let ids = query.exactValues(for: IndexedAttribute.patientID) {
            candidates = ids.flatMap { id in (state.patients[id]?.studies ?? []).compactMap { state.studies[$0] } }
        } else if let accessions = query.exactValues(for: IndexedAttribute.accessionNumber) {
            // A superset of the matches (every study listed under each value its Accession Number is matched by): the
            // key stays among the conditions checked below.
            var seen = Set<ObjectIdentifier>()
            candidates = []
            for value in accessions {
                for study in state.studies(accessionNumber: value) where seen.insert(ObjectIdentifier(study)).inserted {
                    candidates.append(study)
                }
            }
        } else if let names = query.condition(for: IndexedAttribute.patientName), let prefixes = namePrefixes(names) {
            // A study is listed under each key of its name (the whole name and each component group).
            var seen = Set<ObjectIdentifier>()
            candidates = []
            for prefix in prefixes {
                for study in state.studies(namePrefix: prefix, folded: names.foldCase) where seen.insert(ObjectIdentifier(study)).inserted {
                    candidates.append(study)
                }
            }
            // Every study found under "PREFIX*" keys matches "PREFIX*": the index keys are the forms the key is
            // matched against (the whole name and each component group, normalised and folded the same way).
            if names.isPrefixOnly { conditions.removeAll { $0.attribute.tag == IndexedAttribute.patientName } }
        } else if let dates = query.condition(for: IndexedAttribute.studyDate), let ranges = dateRanges(dates) {
            if ranges.count == 1, let range = ranges.first, state.multiDatedStudyCount == 0 {
                // One range and every study listed under at most one date: each study is found once.
                candidates = state.studies(datedFrom: range.lower, through: range.upper).map(\.node)
            } else {
                // A study with several dates can be found under more than one of them, in one range or several (in
                // one range, only studies with several dates need remembering).
                let oneRange = ranges.count == 1
                var seen = Set<ObjectIdentifier>()
                candidates = []
                for range in ranges {
                    for entry in state.studies(datedFrom: range.lower, through: range.upper)
                    where (oneRange && entry.node.dateKeys.count == 1) || seen.insert(ObjectIdentifier(entry.node)).inserted {
                        candidates.append(entry.node)
                    }
                }
            }
            // The index lists each study under every date a range key compares its Study Date by (each value of a
            // multi-valued date, a partial date by its first day, the legacy form normalised: ``StudyNode/dateKeys``),
            // and a study with no such date matches no range. So the studies found are exactly those the key matches.
            conditions.removeAll { $0.attribute.tag == IndexedAttribute.studyDate }
        } else {
            candidates = Array(state.studies.values)
        }
        if access != nil { candidates = candidates.filter(isVisible) }
        if conditions.isEmpty { return candidates }
        return candidates.filter { study in conditions.allSatisfy { $0.matches(studyValue($0.attribute, study)) } }
    }

    func matchingSeries(_ query: ParsedQuery) -> [SeriesNode] {
        let seriesConditions = query.conditions(at: .series)
        if let uids = query.exactValues(for: IndexedAttribute.seriesInstanceUID) {
            let upper = query.conditions.filter { $0.attribute.level.depth <= QueryLevel.study.depth }
            return uids.compactMap { state.series[$0] }.filter { series in
                guard let study = state.studies[series.studyInstanceUID], isVisible(study) else { return false }
                return upper.allSatisfy { $0.matches(studyValue($0.attribute, study)) }
                    && seriesConditions.allSatisfy { $0.matches(seriesValue($0.attribute.tag, series)) }
            }
        }
        var result: [SeriesNode] = []
        for study in matchingStudies(query) {
            for uid in study.series {
                guard let series = state.series[uid] else { continue }
                if seriesConditions.allSatisfy({ $0.matches(seriesValue($0.attribute.tag, series)) }) { result.append(series) }
            }
        }
        return result
    }

    func matchingInstances(_ query: ParsedQuery) -> [InstanceRecord] {
        let instanceConditions = query.conditions(at: .image)
        if let uids = query.exactValues(for: IndexedAttribute.sopInstanceUID) {
            let upper = query.conditions.filter { $0.attribute.level != .image }
            return uids.compactMap { state.visibleRecord($0) }.filter { record in
                guard let series = state.series[record.seriesInstanceUID], let study = state.studies[series.studyInstanceUID],
                      isVisible(study) else { return false }
                let chain = Chain(study: study, series: series, record: record)
                return upper.allSatisfy { $0.matches(value($0.attribute, chain)) }
                    && instanceConditions.allSatisfy { $0.matches(record.value($0.attribute.tag, level: .image)) }
            }
        }
        var result: [InstanceRecord] = []
        for series in matchingSeries(query) {
            for uid in series.instances {
                guard let record = state.visibleRecord(uid) else { continue }
                if instanceConditions.allSatisfy({ $0.matches(record.value($0.attribute.tag, level: .image)) }) { result.append(record) }
            }
        }
        return result
    }

    /// The literal prefixes of a Patient's Name key whose every value is exact or starts with text before its first
    /// wild card, for the name index; nil when some value begins with a wild card.
    private func namePrefixes(_ condition: KeyCondition) -> [String]? {
        var result: [String] = []
        for alternative in condition.alternatives {
            switch alternative {
            case .exact(let value): result.append(value)
            case .wildcard(let pattern) where !pattern.literalPrefix.isEmpty: result.append(pattern.literalPrefix)
            default: return nil
            }
        }
        return result
    }

    /// The date bounds ("yyyymmdd") a Study Date key covers, for the date index; nil when it cannot use the index.
    private func dateRanges(_ condition: KeyCondition) -> [(lower: String, upper: String)]? {
        var result: [(lower: String, upper: String)] = []
        for alternative in condition.alternatives {
            guard case .range(let range) = alternative else { return nil }
            result.append((range.lower ?? "", range.upper ?? "99999999"))
        }
        return result
    }

    // MARK: Values

    /// The entities one response describes, from its level up.
    struct Chain {
        var patient: PatientNode? = nil
        var study: StudyNode? = nil
        var series: SeriesNode? = nil
        var record: InstanceRecord? = nil
    }

    func value(_ attribute: IndexedAttribute, _ chain: Chain) -> String? {
        switch attribute.level {
        case .patient:
            if let study = chain.study { return studyValue(attribute, study) }
            return chain.patient.flatMap { patientValue(attribute.tag, $0) }
        case .study: return chain.study.flatMap { studyValue(attribute, $0) }
        case .series: return chain.series.flatMap { seriesValue(attribute.tag, $0) }
        case .image: return chain.record?.value(attribute.tag, level: .image)
        }
    }

    func patientValue(_ tag: Tag, _ patient: PatientNode) -> String? {
        switch tag.rawValue {
        case 0x0010_0020: return patient.patientID
        case 0x0020_1200: return String(visibleStudies(of: patient).count)
        case 0x0020_1202: return String(visibleStudies(of: patient).reduce(0) { $0 + $1.series.count })
        case 0x0020_1204: return String(visibleStudies(of: patient).reduce(0) { $0 + $1.instanceCount })
        default: return patientAttributes(of: patient)[tag]
        }
    }

    /// A patient's attributes as the caller may see them: those of the latest instance when its study is visible,
    /// else those of the caller's most recent visible study (so a name or birth date written by another
    /// organization's study is not shown).
    func patientAttributes(of patient: PatientNode) -> [Tag: String] {
        guard access != nil else { return patient.attributes }
        if let study = state.visibleRecord(patient.source).flatMap({ state.studies[$0.studyInstanceUID] }), isVisible(study) {
            return patient.attributes
        }
        let latest = visibleStudies(of: patient).max {
            ($0.attributes[IndexedAttribute.studyDate] ?? "", $0.studyInstanceUID) < ($1.attributes[IndexedAttribute.studyDate] ?? "", $1.studyInstanceUID)
        }
        return latest?.patientAttributes ?? [:]
    }

    /// A study-level or patient-level value as a study answers it (patient attributes as its instances carry them).
    func studyValue(_ attribute: IndexedAttribute, _ study: StudyNode) -> String? {
        let tag = attribute.tag
        if attribute.level == .patient {
            switch tag.rawValue {
            case 0x0010_0020: return study.patientID
            case 0x0020_1200, 0x0020_1202, 0x0020_1204: return state.patients[study.patientID].flatMap { patientValue(tag, $0) }
            default: return study.patientAttributes[tag]
            }
        }
        switch tag.rawValue {
        case 0x0020_000D: return study.studyInstanceUID
        case 0x0020_1206: return String(study.series.count)
        case 0x0020_1208: return String(study.instanceCount)
        case 0x0008_0061:
            var modalities = Set<String>()
            for uid in study.series {
                if let modality = state.series[uid]?.attributes[IndexedAttribute.modality], !modality.isEmpty { modalities.insert(modality) }
            }
            return modalities.sorted().joined(separator: "\\")
        case 0x0008_0062: return study.sopClasses.keys.filter { !$0.isEmpty }.sorted().joined(separator: "\\")
        default: return study.attributes[tag]
        }
    }

    func seriesValue(_ tag: Tag, _ series: SeriesNode) -> String? {
        switch tag.rawValue {
        case 0x0020_000E: return series.seriesInstanceUID
        case 0x0020_1209: return String(series.instances.count)
        default: return series.attributes[tag]
        }
    }

    // MARK: Order

    private func sortedPatients(_ patients: [PatientNode]) -> [PatientNode] { patients.sorted { $0.patientID < $1.patientID } }

    func sortedStudies(_ studies: [StudyNode]) -> [StudyNode] {
        // The keys are made once per study, not once per comparison: the date as a number (a date key is empty or
        // eight digits, so numbers order as the texts do) and the first eight bytes of Study Time packed into an
        // integer (bytes compare as the text does); the whole time and the UID settle what those leave equal.
        let keyed: [StudySortKey] = studies.map { StudySortKey($0, time: $0.attributes[IndexedAttribute.studyTime] ?? "") }
        return keyed.sorted(by: StudySortKey.precedes).map(\.node)
    }

    /// The order of study responses: Study Date, then Study Time, then Study Instance UID.
    struct StudySortKey {
        let date: Int
        /// The first eight bytes of an ASCII time, big-endian, zero-padded (nil for other text, which is compared as
        /// `String` compares it, canonical equivalence included).
        let timePrefix: UInt64?
        let time: String
        let node: StudyNode

        init(_ node: StudyNode, time: String) {
            self.node = node
            self.time = time
            date = node.dateKey.isEmpty ? -1 : Int(node.dateKey) ?? -1
            var prefix: UInt64 = 0
            var count: UInt64 = 0
            for byte in time.utf8.prefix(8) {
                prefix = prefix << 8 | UInt64(byte)
                count += 1
            }
            timePrefix = time.utf8.allSatisfy({ $0 < 0x80 }) ? (count == 0 ? 0 : prefix << (8 * (8 - count))) : nil
        }

        static func precedes(_ a: StudySortKey, _ b: StudySortKey) -> Bool {
            if a.date != b.date { return a.date < b.date }
            if let first = a.timePrefix, let second = b.timePrefix, first != second { return first < second }
            if a.time != b.time { return a.time < b.time }
            return a.node.studyInstanceUID < b.node.studyInstanceUID
        }
    }

    private func sortedSeries(_ series: [SeriesNode]) -> [SeriesNode] {
        let keyed: [(number: Int, node: SeriesNode)] = series.map { node in
            (Int(node.attributes[IndexedAttribute.seriesNumber] ?? "") ?? Int.max, node)
        }
        let sorted = keyed.sorted { (a, b) -> Bool in
            if a.number != b.number { return a.number < b.number }
            return a.node.seriesInstanceUID < b.node.seriesInstanceUID
        }
        return sorted.map { $0.node }
    }

    private func sortedInstances(_ records: [InstanceRecord]) -> [InstanceRecord] {
        let keyed: [(number: Int, record: InstanceRecord)] = records.map { record in
            (Int(record.instance[IndexedAttribute.instanceNumber] ?? "") ?? Int.max, record)
        }
        let sorted = keyed.sorted { (a, b) -> Bool in
            if a.record.seriesInstanceUID != b.record.seriesInstanceUID { return a.record.seriesInstanceUID < b.record.seriesInstanceUID }
            if a.number != b.number { return a.number < b.number }
            return a.record.sopInstanceUID < b.record.sopInstanceUID
        }
        return sorted.map { $0.record }
    }

    // MARK: Responses

    /// A response identifier: every requested key (filled where the index knows it, empty otherwise), the
    /// Query/Retrieve Level, and, when any value is not ASCII, a Specific Character Set: the one the answered values
    /// were stored in (``storedCharacterSet(_:)``) when every value encodes in it, else ISO_IR 192 (UTF-8).
    func response(_ query: ParsedQuery, _ chain: Chain) -> DataSet {
        var values: [(tag: Tag, vr: VR, value: String?)] = []
        values.reserveCapacity(query.returnKeys.count)
        var needsUnicode = false
        for key in query.returnKeys {
            var text = key.attribute.flatMap { value($0, chain) }
            // Instance Availability (0008,0056): everything the index answers is on line (PS3.4 C.4.1.1.3.2).
            if key.tag == QueryEngine.instanceAvailability { text = "ONLINE" }
            if let text, !needsUnicode, text.utf8.contains(where: { $0 >= 0x80 }) { needsUnicode = true }
            values.append((key.tag, key.vr, text))
        }
        if needsUnicode {
            if let stored = storedCharacterSet(chain),
               let answer = Self.encodedResponse(values, level: query.level, characterSet: stored, strict: true) {
                return answer
            }
            return Self.encodedResponse(values, level: query.level, unicode: true)
        }
        // Every value is ASCII: in the default repertoire (and in any VR) its bytes are its UTF-8 bytes, so the
        // elements are built directly, already in tag order (the identifier's keys come in tag order).
        var elements: [DataElement] = []
        elements.reserveCapacity(values.count + 1)
        var levelPending = true
        for (tag, vr, text) in values {
            if levelPending && tag.rawValue > Tag.queryRetrieveLevel.rawValue {
                elements.append(Self.levelElement(query.level))
                levelPending = false
            }
            guard let text, !text.isEmpty else {
                elements.append(vr == .SQ ? DataElement(tag: tag, items: []) : DataElement(tag: tag, vr: vr, bytes: Data()))
                continue
            }
            switch vr {
            case .US, .SS, .UL, .SL, .SV, .UV, .SQ:
                elements.append(Self.encodedElement(tag, vr, text, in: DataSet()))
            default:
                var bytes = Data(text.utf8)
                if bytes.count & 1 == 1 { bytes.append(vr.paddingByte) }
                elements.append(DataElement(tag: tag, vr: vr, bytes: bytes))
            }
        }
        if levelPending { elements.append(Self.levelElement(query.level)) }
        return DataSet(sortedElements: elements)
    }

    static func levelElement(_ level: QueryLevel) -> DataElement {
        var bytes = Data(level.rawValue.utf8)
        if bytes.count & 1 == 1 { bytes.append(0x20) }
        return DataElement(tag: .queryRetrieveLevel, vr: .CS, bytes: bytes)
    }

    /// A response built element by element through ``DataSet``'s encoders (`unicode`: declaring ISO_IR 192).
    static func encodedResponse(_ values: [(tag: Tag, vr: VR, value: String?)], level: QueryLevel, unicode: Bool) -> DataSet {
        encodedResponse(values, level: level, characterSet: unicode ? "ISO_IR 192" : nil, strict: false) ?? DataSet()
    }

    /// A response declaring `characterSet` in (0008,0005) (nil: none, the default repertoire) with every text value
    /// encoded in it. A text value that does not encode makes it nil when `strict` (or the set is not one the library
    /// encodes); otherwise that value is written as its UTF-8 bytes.
    static func encodedResponse(_ values: [(tag: Tag, vr: VR, value: String?)], level: QueryLevel,
                                characterSet: String?, strict: Bool) -> DataSet? {
        var response = DataSet()
        if let characterSet { response.setASCII(.specificCharacterSet, vr: .CS, characterSet) }
        response.setASCII(.queryRetrieveLevel, vr: .CS, level.rawValue)
        for (tag, vr, text) in values {
            guard let text, !text.isEmpty else {
                response[tag] = vr == .SQ ? DataElement(tag: tag, items: []) : DataElement(tag: tag, vr: vr, bytes: Data())
                continue
            }
            switch vr {
            case .US, .SS, .UL, .SL, .SV, .UV, .SQ:
                response[tag] = encodedElement(tag, vr, text, in: response)
            default:
                if (try? response.set(tag, vr: vr, string: text)) == nil {
                    if strict { return nil }
                    response.setASCII(tag, vr: vr, text)
                }
            }
        }
        return response
    }

    /// The Specific Character Set (0008,0005) of the stored instances a response's values come from (the instance
    /// whose attributes each level of `chain` keeps: ``PatientNode/source``, ``StudyNode/source``,
    /// ``SeriesNode/source``, the record itself), when they agree on one set other than ISO_IR 192. Instances in the
    /// default repertoire (no Specific Character Set) agree with any set. Nil when the sets differ (the stored data
    /// mixes sets: the answer is UTF-8), when none is declared, or when the one declared is ISO_IR 192 already.
    func storedCharacterSet(_ chain: Chain) -> String? {
        var sources: [String] = []
        if let study = chain.study { sources.append(study.source) } else if let patient = chain.patient { sources.append(patient.source) }
        if let series = chain.series { sources.append(series.source) }
        var found: String? = nil
        func add(_ set: String) -> Bool {
            // As ``InstanceRecord/make(from:path:size:transferSyntaxUID:sha256:receivedAt:callingAETitle:)`` keeps it: the
            // values as read, joined with backslashes.
            if set.isEmpty { return true }
            if let found, found != set { return false }
            found = set
            return true
        }
        for source in sources {
            guard let record = state.records[source]?.record else { continue }
            if !add(record.specificCharacterSet) { return nil }
        }
        if let record = chain.record, !add(record.specificCharacterSet) { return nil }
        guard let found, found != "ISO_IR 192" else { return nil }
        return found
    }

    /// One non-empty response value encoded in the character set of `context`: binary integers for US, SS, UL, SL,
    /// SV and UV (empty when a value is not a number), else text.
    private static func encodedElement(_ tag: Tag, _ vr: VR, _ text: String, in context: DataSet) -> DataElement {
        var scratch = DataSet()
        if let declared = context[.specificCharacterSet] { scratch[.specificCharacterSet] = declared }
        switch vr {
        case .US, .SS, .UL, .SL, .SV, .UV:
            let numbers = text.split(separator: "\\").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if (try? scratch.set(tag, vr: vr, integers: numbers)) == nil { return DataElement(tag: tag, vr: vr, bytes: Data()) }
        default:
            if (try? scratch.set(tag, vr: vr, string: text)) == nil { scratch.setASCII(tag, vr: vr, text) }
        }
        return scratch[tag] ?? DataElement(tag: tag, vr: vr, bytes: Data())
    }
}
