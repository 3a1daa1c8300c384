import DICOMCore
import Foundation
import Testing
@testable import DICOMArchive

/// Findings of the C-FIND query fuzzer (Tools/fuzz/FuzzQuery.swift): each case is a query the index path (Patient ID,
/// UID, accession, name or date index) answered differently from checking every key on every entity (the scan),
/// which is what PS3.4 C.2.2.2 matching defines. Tools/fuzz/README.md "Findings" describes each.
@Suite struct QueryFuzzFindingTests {
    /// The studies (or patients) a parsed query selects by the planned path, and by checking its keys on every entity.
    static func bothPaths(_ state: IndexState, level: String, patientRoot: Bool = false,
                          _ keys: [(DICOMCore.Tag, VR, String)]) throws -> (planned: [String], scanned: Set<String>) {
        let engine = QueryEngine(state: state)
        let parsed = try ParsedQuery(IndexQuery(identifier: try makeIdentifier(level, keys), patientRoot: patientRoot))
        if level == "PATIENT" {
            let conditions = parsed.conditions(at: .patient)
            let scanned = state.patients.values.filter { patient in
                conditions.allSatisfy { $0.matches(engine.patientValue($0.attribute.tag, patient)) }
            }
            return (engine.matchingPatients(parsed).map(\.patientID), Set(scanned.map(\.patientID)))
        }
        let conditions = parsed.conditions.filter { $0.attribute.level.depth <= QueryLevel.study.depth }
        let scanned = state.studies.values.filter { study in
            conditions.allSatisfy { $0.matches(engine.studyValue($0.attribute, study)) }
        }
        return (engine.matchingStudies(parsed).map(\.studyInstanceUID), Set(scanned.map(\.studyInstanceUID)))
    }

    /// Finding `query-empty-name-form.bin`: a stored Patient's Name made only of delimiters ("^", "=^^") compares as
    /// the empty name, and a key such as "^" compares equal to it, but the name index did not list empty forms, so a
    /// query planned from the name index missed those studies and patients.
    @Test func nameOfDelimitersOnlyIsFoundByTheNameIndex() throws {
        let state = IndexState()
        for (index, name) in ["^", "=^^", "DOE^JOHN", "^^=DOE"].enumerated() {
            state.upsert(makeRecord(patientID: "P\(index)", name: name, study: "1.2.9.\(index)", series: "1.2.9.\(index).1",
                                    sop: "1.2.9.\(index).1.1"))
        }
        for key in ["^", "^^", "=", "^=^"] {
            let studies = try Self.bothPaths(state, level: "STUDY", [(Tags.patientName, .PN, key)])
            #expect(Set(studies.planned) == studies.scanned, "study level, key '\(key)'")
            #expect(studies.scanned == ["1.2.9.0", "1.2.9.1", "1.2.9.3"], "key '\(key)'")
            let patients = try Self.bothPaths(state, level: "PATIENT", patientRoot: true, [(Tags.patientName, .PN, key)])
            #expect(Set(patients.planned) == patients.scanned, "patient level, key '\(key)'")
            #expect(patients.scanned == ["P0", "P1", "P3"], "key '\(key)'")
        }
        // The index stays consistent when such a name changes and goes away.
        state.upsert(makeRecord(patientID: "P0", name: "SMITH", study: "1.2.9.0", series: "1.2.9.0.1", sop: "1.2.9.0.1.1"))
        let after = try Self.bothPaths(state, level: "STUDY", [(Tags.patientName, .PN, "^")])
        #expect(Set(after.planned) == after.scanned && after.scanned == ["1.2.9.1", "1.2.9.3"])
    }

    /// Finding `query-patient-id-with-backslash.bin`: a stored Patient ID with a backslash ("P\\6", as a peer may send
    /// it: the archive keeps the decoded text whole) was one patient to the Patient ID index, but checking a key on it
    /// split it into "P" and "6": the key "P" matched it on the scan path (say with a wild card on another key) and not
    /// by the index. Patient ID has one value (VM 1): the whole stored value is compared on both paths.
    @Test func patientIDWithBackslashIsOneValue() throws {
        let state = IndexState()
        for (index, id) in ["P\\6", "P", "6", "Q"].enumerated() {
            state.upsert(makeRecord(patientID: id, study: "1.2.8.\(index)", series: "1.2.8.\(index).1", sop: "1.2.8.\(index).1.1"))
        }
        for (key, expected) in [("P", ["1.2.8.1"]), ("6", ["1.2.8.2"]), ("P\\6", ["1.2.8.1", "1.2.8.2"]), ("P\\Q", ["1.2.8.1", "1.2.8.3"])] {
            let studies = try Self.bothPaths(state, level: "STUDY", [(Tags.patientID, .LO, key)])
            #expect(Set(studies.planned) == studies.scanned, "key '\(key)'")
            #expect(studies.scanned == Set(expected), "key '\(key)'")
            let patients = try Self.bothPaths(state, level: "PATIENT", patientRoot: true, [(Tags.patientID, .LO, key)])
            #expect(Set(patients.planned) == patients.scanned, "patient level, key '\(key)'")
        }
        // A wild card finds the stored value as a whole (its "?" matches the backslash).
        let wild = try Self.bothPaths(state, level: "STUDY", [(Tags.patientID, .LO, "P?6")])
        #expect(wild.scanned == ["1.2.8.0"] && Set(wild.planned) == wild.scanned)
    }

    /// Finding `query-uid-list-repeated.bin`: a List of UID key naming the same UID twice ("1.2.3\\1.2.3"), or a
    /// Patient ID list naming a patient twice, found its entity once per mention: duplicate C-FIND responses, and
    /// C-MOVE/C-GET sending the same instances twice.
    @Test func repeatedValuesInAListFindTheirEntityOnce() throws {
        let state = IndexState()
        for index in 0..<3 {
            state.upsert(makeRecord(patientID: "P\(index)", study: "1.2.7.\(index)", series: "1.2.7.\(index).1",
                                    sop: "1.2.7.\(index).1.1"))
        }
        let engine = QueryEngine(state: state)
        let cases: [(String, [(DICOMCore.Tag, VR, String)], Int)] = [
            ("STUDY", [(Tags.studyUID, .UI, "1.2.7.1\\1.2.7.1"), (Tags.patientID, .LO, "")], 1),
            ("STUDY", [(Tags.studyUID, .UI, "1.2.7.1\\1.2.7.2\\1.2.7.1")], 2),
            ("STUDY", [(Tags.patientID, .LO, "P0\\P0\\P2")], 2),
            ("STUDY", [(Tags.accession, .SH, ""), (Tags.patientID, .LO, "P1\\P1")], 1),
            ("SERIES", [(Tags.studyUID, .UI, "1.2.7.0"), (Tags.seriesUID, .UI, "1.2.7.0.1\\1.2.7.0.1")], 1),
            ("IMAGE", [(Tags.studyUID, .UI, "1.2.7.0"), (Tags.seriesUID, .UI, "1.2.7.0.1"),
                       (Tags.sopUID, .UI, "1.2.7.0.1.1\\1.2.7.0.1.1")], 1),
        ]
        for (level, keys, count) in cases {
            let query = IndexQuery(identifier: try makeIdentifier(level, keys))
            #expect(try engine.find(query).count == count, "\(level) \(keys.map(\.2))")
            #expect(try engine.instances(matching: query).count == count, "\(level) \(keys.map(\.2)): instances")
        }
        let patients = IndexQuery(identifier: try makeIdentifier("PATIENT", [(Tags.patientID, .LO, "P2\\P2")]), patientRoot: true)
        #expect(try engine.find(patients).count == 1)
    }
}
