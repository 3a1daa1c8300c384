import DICOMCore
import Foundation
import Testing
@testable import DICOMArchive

/// A PATIENT-level query by Patient's Name takes its candidates from the study name index (the patients of the studies
/// found) instead of scanning every patient, and answers exactly as checking the key on every patient does: a
/// patient's attributes are always those of one of its studies, through additions, replacements, trash and removal.
@Suite struct PatientNameIndexTests {
    static let organizations = try! Organizations(members: ["A": ["CTA"], "B": ["NODEB"]])
    static let senders = ["CTA", "NODEB", "OTHER"]

    /// Names written in several ways: Cyrillic, Persian, Kyrgyz, component groups, case differences, trailing
    /// empty components, an empty name.
    static let names = [
        "Иванов^Иван", "иванов^иван", "ИВАНОВ^ИВАН^^", "Ivanov^Ivan=Иванов^Иван", "IVANOV^IVAN=Иванов^Иван=イワノフ^イワン",
        "محمدی^علی", "محمدی^علی=Mohammadi^Ali", "Өмүров^Азамат", "өмүров^азамат^", "Өмүрова^Айгүл=Omurova^Aigul",
        "ABC^DEF", "abcd^x", "ABCDE", "IV^", "Ivanova^Irina", "Smith^John", "", "=Иванов^Иван",
    ]

    /// Keys: prefixes (index), exact names (index), several values, universal, keys starting with a wild card (scan),
    /// a wild card after a literal prefix (index, key checked), no match.
    static let keys = [
        "IV*", "iv*", "Иван*", "иван*", "Иванов^Иван", "иванов^иван", "ИВАНОВ^ИВАН", "Иванов^Иван^^", "Өмүр*", "өмүр*",
        "Өмүров^Азамат", "محمد*", "محمدی^علی", "Mohammadi*", "ABC*", "abc*", "ABC*\\Өмүр*", "Smith^John\\IV*", "*", "?V*",
        "*Иван", "I?ANOV*", "Ив*ан", "イワ*", "NOBODY*", "Nobody",
    ]

    static func accesses() -> [StudyAccess?] {
        [nil, StudyAccess(organizations: organizations, organization: "A"), StudyAccess(organizations: organizations, organization: "B"),
         StudyAccess(organizations: organizations, organization: "B", sharedStudies: ["7.1", "7.4", "7.9"]),
         StudyAccess(organizations: organizations, organization: nil)]
    }

    static func record(patient: String, name: String, study: String, series: String, sop: String, sender: String,
                       studyDate: String? = "20200115") -> InstanceRecord {
        var record = makeRecord(patientID: patient, name: name, study: study, studyDate: studyDate, series: series, sop: sop)
        record.callingAETitle = sender
        return record
    }

    static func parsed(_ key: String, foldCase: Bool) throws -> ParsedQuery {
        let identifier = try makeIdentifier("PATIENT", [(Tags.patientName, .PN, key), (Tags.patientID, .LO, "")])
        return try ParsedQuery(IndexQuery(identifier: identifier, patientRoot: true, caseInsensitiveNames: foldCase))
    }

    /// The invariant the name path relies on: each patient's attributes and source are those of one of its visible
    /// studies, whose own patient attributes come from its source instance; and the name index lists each visible
    /// study under exactly the keys of its name.
    static func checkInvariant(_ state: IndexState, sourceLocation: SourceLocation = #_sourceLocation) {
        for patient in state.patients.values {
            let source = state.visibleRecord(patient.source)
            let study = source.flatMap { state.studies[$0.studyInstanceUID] }
            #expect(source?.patientID == patient.patientID, "patient \(patient.patientID): source \(patient.source) is not its visible instance",
                    sourceLocation: sourceLocation)
            #expect(study.map { patient.studies.contains($0.studyInstanceUID) } == true, sourceLocation: sourceLocation)
            #expect(study?.source == patient.source, "patient \(patient.patientID): source \(patient.source) is not its study's source",
                    sourceLocation: sourceLocation)
            #expect(study?.patientAttributes == patient.attributes, "patient \(patient.patientID): attributes \(patient.attributes) are not its study's",
                    sourceLocation: sourceLocation)
            #expect(!patient.studies.isEmpty && patient.studies.allSatisfy { state.studies[$0]?.patientID == patient.patientID },
                    sourceLocation: sourceLocation)
        }
        var expected = Set<[UInt8]>()
        for study in state.studies.values {
            #expect(state.visibleRecord(study.source).map(\.patient) == study.patientAttributes, sourceLocation: sourceLocation)
            #expect(state.patients[study.patientID]?.studies.contains(study.studyInstanceUID) == true, sourceLocation: sourceLocation)
            for key in IndexState.nameKeys(study.patientAttributes[IndexedAttribute.patientName]) {
                expected.insert(key + [0xFF] + Array(study.studyInstanceUID.utf8))
            }
        }
        let listed = state.studiesByName.map { $0.key + [0xFF] + Array($0.uid.utf8) }
        #expect(listed.count == Set(listed).count, sourceLocation: sourceLocation)
        #expect(Set(listed) == expected, sourceLocation: sourceLocation)
        #expect(state.studiesByName.allSatisfy { state.studies[$0.uid] === $0.node }, sourceLocation: sourceLocation)
    }

    /// For every key, case option and caller: the patients the query answers are those whose name (as the caller
    /// sees it) the key matches, checked on every patient, each once. Returns how many (patient, query) matches there
    /// were, so a caller can make sure the comparison was not vacuous.
    @discardableResult
    static func checkQueries(_ state: IndexState, keys: [String] = keys, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        var total = 0
        for access in accesses() {
            let engine = QueryEngine(state: state, access: access)
            for key in keys {
                for foldCase in [false, true] {
                    let query = try parsed(key, foldCase: foldCase)
                    let condition = query.condition(for: IndexedAttribute.patientName)
                    let found = engine.matchingPatients(query).map(\.patientID)
                    let expected = state.patients.values.filter { patient in
                        (access == nil || !engine.visibleStudies(of: patient).isEmpty)
                            && (condition?.matches(engine.patientAttributes(of: patient)[IndexedAttribute.patientName]) ?? true)
                    }.map(\.patientID)
                    #expect(found.count == Set(found).count, "key \(key): a patient answered twice", sourceLocation: sourceLocation)
                    #expect(Set(found) == Set(expected), "key \(key) foldCase \(foldCase) access \(access?.organization ?? "-")",
                            sourceLocation: sourceLocation)
                    total += expected.count
                }
            }
        }
        return total
    }

    /// Four patients, several studies each, instances of one study carrying differently written names.
    static func makeState() -> IndexState {
        let state = IndexState()
        var count = 0
        for (patientIndex, patient) in ["P1", "P2", "P3", "P4"].enumerated() {
            for studyIndex in 0..<3 {
                let study = "7.\(patientIndex * 3 + studyIndex + 1)"
                for instance in 0..<2 {
                    let name = names[(patientIndex * 5 + studyIndex * 2 + instance) % names.count]
                    state.upsert(record(patient: patient, name: name, study: study, series: study + ".1", sop: study + ".1.\(instance)",
                                        sender: senders[count % senders.count], studyDate: "2020010\(studyIndex + 1)"))
                    count += 1
                }
            }
        }
        return state
    }

    @Test func patientQueriesByNameAnswerAsScanningEveryPatient() throws {
        let state = Self.makeState()
        Self.checkInvariant(state)
        let total = try Self.checkQueries(state)
        #expect(total > 50)
    }

    /// Known answers, so the comparison with the scan cannot pass by both being wrong in the same way.
    @Test func knownAnswers() throws {
        let state = IndexState()
        state.upsert(Self.record(patient: "P1", name: "Иванов^Иван", study: "1", series: "1.1", sop: "1.1.1", sender: "CTA"))
        state.upsert(Self.record(patient: "P2", name: "IVANOV^IVAN=Иванов^Иван", study: "2", series: "2.1", sop: "2.1.1", sender: "CTA"))
        state.upsert(Self.record(patient: "P3", name: "Өмүров^Азамат^", study: "3", series: "3.1", sop: "3.1.1", sender: "NODEB"))
        state.upsert(Self.record(patient: "P4", name: "محمدی^علی", study: "4", series: "4.1", sop: "4.1.1", sender: "NODEB"))
        state.upsert(Self.record(patient: "P5", name: "ivanova^irina", study: "5", series: "5.1", sop: "5.1.1", sender: "CTA"))
        let engine = QueryEngine(state: state)
        func ids(_ key: String, foldCase: Bool = false) throws -> [String] {
            try engine.matchingPatients(Self.parsed(key, foldCase: foldCase)).map(\.patientID).sorted()
        }
        #expect(try ids("IV*") == ["P2"])
        #expect(try ids("IV*", foldCase: true) == ["P2", "P5"])
        #expect(try ids("Иван*") == ["P1", "P2"])
        #expect(try ids("иванов^иван") == [])
        #expect(try ids("иванов^иван", foldCase: true) == ["P1", "P2"])
        #expect(try ids("Өмүров^Азамат") == ["P3"])
        #expect(try ids("محمد*") == ["P4"])
        #expect(try ids("*") == ["P1", "P2", "P3", "P4", "P5"])
        #expect(try ids("?V*") == ["P2"])
        #expect(try ids("I?ANOV*", foldCase: true) == ["P2", "P5"])
        #expect(try ids("ABC*") == [])
        let seenByB = QueryEngine(state: state, access: StudyAccess(organizations: Self.organizations, organization: "B"))
        #expect(try seenByB.matchingPatients(Self.parsed("Иван*", foldCase: false)).isEmpty)
        #expect(try seenByB.matchingPatients(Self.parsed("Ө*", foldCase: false)).map(\.patientID) == ["P3"])
    }

    /// The patient's source instance goes while the study it takes next has instances with different names: the
    /// patient takes that study's own attributes (not those of an arbitrary instance of it), so a name only an older
    /// instance carries matches neither the patient nor a study.
    @Test func patientTakesItsStudysAttributesWhenItsSourceGoes() throws {
        let state = IndexState()
        state.upsert(Self.record(patient: "P1", name: "FIRST^NAME", study: "1", series: "1.1", sop: "1.1.1", sender: "CTA"))
        state.upsert(Self.record(patient: "P1", name: "SECOND^NAME", study: "1", series: "1.2", sop: "1.2.1", sender: "CTA"))
        state.upsert(Self.record(patient: "P1", name: "THIRD^NAME", study: "2", series: "2.1", sop: "2.1.1", sender: "CTA"))
        Self.checkInvariant(state)
        state.setTrashed(["2.1.1"], at: Date(timeIntervalSince1970: 1_700_000_500))
        Self.checkInvariant(state)
        #expect(state.patients["P1"]?.attributes[IndexedAttribute.patientName] == "SECOND^NAME")
        #expect(state.patients["P1"]?.source == "1.2.1")
        let engine = QueryEngine(state: state)
        #expect(try engine.matchingPatients(Self.parsed("SECOND*", foldCase: false)).map(\.patientID) == ["P1"])
        #expect(try engine.matchingPatients(Self.parsed("FIRST*", foldCase: false)).isEmpty)
        #expect(try engine.matchingPatients(Self.parsed("THIRD*", foldCase: false)).isEmpty)
        try Self.checkQueries(state, keys: ["FIRST*", "SECOND*", "THIRD*", "*NAME"])

        // Back from the trash: the latest-added instance answers again.
        state.setTrashed(["2.1.1"], at: nil)
        Self.checkInvariant(state)
        #expect(state.patients["P1"]?.attributes[IndexedAttribute.patientName] == "THIRD^NAME")
        // Its own study goes: the study took another of its instances, and the patient takes that study's.
        state.remove(["1.2.1"])
        Self.checkInvariant(state)
        state.remove(["2.1.1"])
        Self.checkInvariant(state)
        #expect(state.patients["P1"]?.attributes[IndexedAttribute.patientName] == "FIRST^NAME")
        try Self.checkQueries(state, keys: ["FIRST*", "SECOND*", "THIRD*", "*NAME"])
        state.remove(["1.1.1"])
        #expect(state.patients.isEmpty)
        Self.checkInvariant(state)
    }

    /// When the source's study is gone, the patient takes its most recent remaining study (by Study Date, then UID).
    @Test func patientTakesItsMostRecentStudyWhenTheSourceStudyGoes() {
        let state = IndexState()
        state.upsert(Self.record(patient: "P1", name: "OLD", study: "1", series: "1.1", sop: "1.1.1", sender: "CTA", studyDate: "20190101"))
        state.upsert(Self.record(patient: "P1", name: "RECENT", study: "2", series: "2.1", sop: "2.1.1", sender: "CTA", studyDate: "20210101"))
        state.upsert(Self.record(patient: "P1", name: "UNDATED", study: "3", series: "3.1", sop: "3.1.1", sender: "CTA", studyDate: nil))
        state.upsert(Self.record(patient: "P1", name: "LATEST", study: "4", series: "4.1", sop: "4.1.1", sender: "CTA", studyDate: "20000101"))
        state.setTrashed(["4.1.1"], at: Date(timeIntervalSince1970: 1_700_000_500))
        Self.checkInvariant(state)
        #expect(state.patients["P1"]?.attributes[IndexedAttribute.patientName] == "RECENT")
    }

    /// Random additions, replacements (the same SOP Instance UID with another name or patient), trash, restore from
    /// trash and removal: after each step the invariant holds and every query answers as the scan does.
    @Test func randomChangesKeepTheAnswersExact() throws {
        var random = SplitMix(seed: 0x5EED_0042)
        let state = IndexState()
        let keys = ["IV*", "Иван*", "иванов^иван", "Өмүр*", "محمد*", "ABC*", "*", "?V*", "I?ANOV*", "Smith^John"]
        var trashed: [String] = []
        var total = 0
        for step in 0..<160 {
            let action = random.next(10)
            let visible = Array(state.records.keys.filter { state.visibleRecord($0) != nil }).sorted()
            if action < 5 || visible.isEmpty {
                // Add or replace: SOP UIDs from a small pool so that replacements happen (an instance may move to
                // another series, study or patient). A study belongs to one patient.
                let studyIndex = random.next(6)
                let study = "5.\(studyIndex)"
                let sop = "9.\(random.next(40))"
                let sender = Self.senders[random.next(Self.senders.count)]
                let name = Self.names[random.next(Self.names.count)]
                if state.records[sop]?.trashedAt != nil { trashed.removeAll { $0 == sop } }
                state.upsert(Self.record(patient: "P\(studyIndex % 4)", name: name, study: study, series: study + ".\(random.next(2))",
                                         sop: sop, sender: sender, studyDate: "2020\(String(format: "%02d", random.next(12) + 1))01"))
            } else if action < 7 {
                let sop = visible[random.next(visible.count)]
                state.setTrashed([sop], at: Date(timeIntervalSince1970: 1_700_000_000 + Double(step)))
                trashed.append(sop)
            } else if action < 9, !trashed.isEmpty {
                let sop = trashed.remove(at: random.next(trashed.count))
                state.setTrashed([sop], at: nil)
            } else {
                let sop = visible[random.next(visible.count)]
                state.remove([sop])
            }
            Self.checkInvariant(state)
            if step % 4 == 0 { total += try Self.checkQueries(state, keys: keys) }
        }
        #expect(total > 100)
        #expect(!state.patients.isEmpty)
    }

    /// Loading a snapshot in bulk builds the name index in one sort; the patient path answers the same from it.
    @Test func bulkLoadedStateAnswersAsTheScan() throws {
        let source = Self.makeState()
        source.setTrashed(["7.2.1.1", "7.5.1.0"], at: Date(timeIntervalSince1970: 1_700_000_500))
        let state = IndexState()
        state.beginBulkLoad()
        for stored in source.records.values.sorted(by: { $0.record.sopInstanceUID < $1.record.sopInstanceUID }) { state.restore(stored) }
        state.endBulkLoad()
        Self.checkInvariant(state)
        #expect(try Self.checkQueries(state) > 50)
    }
}

/// A small deterministic generator (SplitMix64) so that the random sequence is the same on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(bound))
    }
}
