import DICOMCore
import Foundation
import Testing
@testable import DICOMArchive

/// A query by Accession Number takes its candidate studies from the accession index instead of scanning every study,
/// and answers exactly as checking the key on every study does: a multi-valued stored value matches any of its values.
@Suite struct AccessionIndexTests {
    /// Stored Accession Numbers, one study each (nil: no element).
    static let stored: [String?] = ["A1", "A2", "A1", "A3\\A4", "A7\\ A8", "", nil, "A*B", "a1", "A9\\A9"]

    /// Keys: single values, lists, values only found inside a multi-valued one, a literal that looks like a wildcard
    /// (not exact: scanned), no match.
    static let keys = ["A1", "A2", "A3", "A4", "A8", "A3\\A4", "A1\\A9", "NONE", "a1", "A9", "A7\\ A8"]

    static func study(_ index: Int) -> String { "1.2.8.\(index)" }

    static func makeState() -> IndexState {
        let state = IndexState()
        for (index, accession) in stored.enumerated() {
            let study = study(index)
            state.upsert(makeRecord(patientID: "P\(index % 3)", study: study, accession: accession, series: study + ".1", sop: study + ".1.1"))
        }
        return state
    }

    static func parsed(_ keys: [(DICOMCore.Tag, VR, String)]) throws -> ParsedQuery {
        try ParsedQuery(IndexQuery(identifier: try makeIdentifier("STUDY", keys + [(Tags.studyUID, .UI, "")])))
    }

    /// The studies `key` matches, checked on every study's stored value.
    static func matchedByKey(_ key: String, _ state: IndexState) throws -> Set<String> {
        let condition = try #require(try parsed([(Tags.accession, .SH, key)]).condition(for: IndexedAttribute.accessionNumber))
        return Set(state.studies.values.filter { condition.matches($0.attributes[IndexedAttribute.accessionNumber]) }.map(\.studyInstanceUID))
    }

    /// The index as it must be: each visible study under the keys of its stored value, no empty lists.
    static func checkIndex(_ state: IndexState, sourceLocation: SourceLocation = #_sourceLocation) {
        var expected: [String: Set<String>] = [:]
        for study in state.studies.values {
            for key in IndexState.accessionKeys(study.attributes[IndexedAttribute.accessionNumber]) {
                expected[key, default: []].insert(study.studyInstanceUID)
            }
        }
        let actual = state.studiesByAccession.mapValues { Set($0.map(\.studyInstanceUID)) }
        #expect(actual == expected, sourceLocation: sourceLocation)
        #expect(state.studiesByAccession.values.allSatisfy { list in list.allSatisfy { state.studies[$0.studyInstanceUID] === $0 } },
                sourceLocation: sourceLocation)
        #expect(state.studiesByAccession.values.allSatisfy { $0.count == Set($0.map(\.studyInstanceUID)).count },
                sourceLocation: sourceLocation)
    }

    @Test func keysAreTheValuesAKeyIsComparedWith() {
        #expect(IndexState.accessionKeys("A1") == ["A1"])
        #expect(IndexState.accessionKeys("A3\\A4") == ["A3", "A3\\A4", "A4"])
        #expect(IndexState.accessionKeys("A7\\ A8") == ["A7", "A7\\ A8", "A8"])
        #expect(IndexState.accessionKeys("A9\\A9") == ["A9", "A9\\A9"])
        #expect(IndexState.accessionKeys("") == [])
        #expect(IndexState.accessionKeys(nil) == [])
    }

    @Test func indexEqualsScan() throws {
        let state = Self.makeState()
        Self.checkIndex(state)
        let engine = QueryEngine(state: state)
        let allPatients = "P0\\P1\\P2"
        for key in Self.keys {
            let indexed = engine.matchingStudies(try Self.parsed([(Tags.accession, .SH, key)])).map(\.studyInstanceUID)
            // A Patient ID list makes the engine start from the patients instead.
            let scanned = engine.matchingStudies(try Self.parsed([(Tags.accession, .SH, key), (Tags.patientID, .LO, allPatients)]))
                .map(\.studyInstanceUID)
            let expected = try Self.matchedByKey(key, state)
            #expect(Set(indexed) == expected, "\(key)")
            #expect(indexed.count == expected.count, "each study once for \(key)")
            #expect(Set(scanned) == expected, "\(key)")
        }
    }

    @Test func knownAnswers() throws {
        let engine = QueryEngine(state: Self.makeState())
        func found(_ key: String) throws -> Set<String> {
            Set(engine.matchingStudies(try Self.parsed([(Tags.accession, .SH, key)])).map(\.studyInstanceUID))
        }
        #expect(try found("A1") == [Self.study(0), Self.study(2)])
        #expect(try found("A4") == [Self.study(3)])
        #expect(try found("A8") == [Self.study(4)])
        #expect(try found("A1\\A9") == [Self.study(0), Self.study(2), Self.study(9)])
        #expect(try found("a1") == [Self.study(8)])
        #expect(try found("NONE").isEmpty)
        // A stored "A*B" is a literal; the key "A*B" is a wildcard matching it and "A1B"-like values (scanned).
        #expect(try found("A*B") == [Self.study(7)])
    }

    @Test func indexFollowsChanges() throws {
        let state = Self.makeState()
        let engine = QueryEngine(state: state)
        func found(_ key: String) throws -> Set<String> {
            Set(engine.matchingStudies(try Self.parsed([(Tags.accession, .SH, key)])).map(\.studyInstanceUID))
        }
        // The instance of study 1 is replaced with another Accession Number.
        let study1 = Self.study(1)
        state.upsert(makeRecord(patientID: "P1", study: study1, accession: "B1\\B2", series: study1 + ".1", sop: study1 + ".1.1"))
        Self.checkIndex(state)
        #expect(try found("A2").isEmpty)
        #expect(try found("B2") == [study1])
        // A second instance with yet another value takes over the study's attributes; removing it gives them back.
        state.upsert(makeRecord(patientID: "P1", study: study1, accession: "C1", series: study1 + ".1", sop: study1 + ".1.2"))
        Self.checkIndex(state)
        #expect(try found("C1") == [study1])
        state.remove([study1 + ".1.2"])
        Self.checkIndex(state)
        #expect(try found("B1") == [study1] && (try found("C1")).isEmpty)
        // Trash, untrash, remove.
        let study0 = Self.study(0)
        state.setTrashed([study0 + ".1.1"], at: Date())
        Self.checkIndex(state)
        #expect(try found("A1") == [Self.study(2)])
        state.setTrashed([study0 + ".1.1"], at: nil)
        Self.checkIndex(state)
        #expect(try found("A1") == [study0, Self.study(2)])
        state.remove([study0 + ".1.1", Self.study(2) + ".1.1"])
        Self.checkIndex(state)
        #expect(try found("A1").isEmpty)
        #expect(state.studiesByAccession["A1"] == nil)
    }
}
