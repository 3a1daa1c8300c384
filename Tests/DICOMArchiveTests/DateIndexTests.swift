import DICOMCore
import Foundation
import Testing
@testable import DICOMArchive

/// The study date index answers a Study Date range exactly as checking the key on every study does (PS3.4 C.2.2.2.5):
/// a multi-valued stored date matches when any value lies in the range, a partial one ("2024", "202403") by its first
/// day, the legacy form "yyyy.mm.dd" as its date; an empty or invalid one matches nothing. Each study is found once.
@Suite struct DateIndexTests {
    /// Stored Study Dates, one study each (nil: no Study Date element).
    static let storedDates: [String?] = [
        "20240105", "2024", "202403", "20240101\\20240301", "2024.02.10", "", "2024133", nil,
        "20231231", "20240301", " 2024 \\ 20250615", "2024.01.05\\2024.03.01\\20240105", "20240229\\2024133",
        "20240110\\20240120", "202402\\2024", "\\20240315", "20240131 ", "ABC\\DEF",
    ]

    /// Study Date keys: closed, open-ended, single dates, partial dates and lists of ranges.
    static let dateKeys = [
        "20240101-20240131", "20240101", "20240301", "2024", "202403", "-20240105", "20240201-", "20240102-20240228",
        "20240101-20240131\\20240301-20240331", "20240301-20240331\\20240101-20240331", "20240111-20240119\\20240121-20240130",
        "20250101-", "19000101-19991231", "20240229", "20240315", "20240110-20240120", "-20231231",
    ]

    static func study(_ index: Int) -> String { "1.2.7.\(index)" }

    static func makeState(bulk: Bool = false) -> IndexState {
        let state = IndexState()
        if bulk { state.beginBulkLoad() }
        for (index, date) in storedDates.enumerated() {
            let study = study(index)
            let record = makeRecord(patientID: "P\(index % 4)", name: "DATE^\(index)", study: study, studyDate: date,
                                    series: study + ".1", sop: study + ".1.1")
            if bulk { state.restore(StoredRecord(record: record, trashedAt: nil)) } else { state.upsert(record) }
        }
        if bulk { state.endBulkLoad() }
        return state
    }

    static func parsed(_ keys: [(DICOMCore.Tag, VR, String)]) throws -> ParsedQuery {
        try ParsedQuery(IndexQuery(identifier: try makeIdentifier("STUDY", keys + [(Tags.studyUID, .UI, "")])))
    }

    /// The studies the date key matches, by checking it on every study's stored value.
    static func matchedByKey(_ key: String, _ state: IndexState) throws -> Set<String> {
        let condition = try #require(try parsed([(Tags.studyDate, .DA, key)]).condition(for: IndexedAttribute.studyDate))
        return Set(state.studies.values.filter { condition.matches($0.attributes[IndexedAttribute.studyDate]) }.map(\.studyInstanceUID))
    }

    /// The date index as it must be: every visible study under each of its keys, sorted, and the count of studies
    /// with several keys.
    static func checkIndex(_ state: IndexState, sourceLocation: SourceLocation = #_sourceLocation) {
        var expected: [(String, String)] = []
        var multi = 0
        for study in state.studies.values {
            let keys = StudyNode.dateKeys(study.attributes[IndexedAttribute.studyDate])
            #expect(study.dateKeys == keys, "\(study.studyInstanceUID)", sourceLocation: sourceLocation)
            #expect(study.dateKey == StudyNode.dateKey(study.attributes[IndexedAttribute.studyDate]), sourceLocation: sourceLocation)
            for key in keys { expected.append((key, study.studyInstanceUID)) }
            if keys.count > 1 { multi += 1 }
        }
        expected.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        let actual = state.studiesByDate.map { ($0.date, $0.uid) }
        #expect(actual.map { $0.0 } == expected.map { $0.0 } && actual.map { $0.1 } == expected.map { $0.1 }, sourceLocation: sourceLocation)
        #expect(state.studiesByDate.allSatisfy { state.studies[$0.uid] === $0.node }, sourceLocation: sourceLocation)
        #expect(state.multiDatedStudyCount == multi, sourceLocation: sourceLocation)
    }

    @Test func keysAreTheDatesARangeCompares() {
        #expect(StudyNode.dateKeys("20240105") == ["20240105"])
        #expect(StudyNode.dateKeys("2024") == ["20240101"])
        #expect(StudyNode.dateKeys("202403") == ["20240301"])
        #expect(StudyNode.dateKeys("20240301\\20240101") == ["20240101", "20240301"])
        #expect(StudyNode.dateKeys("2024.02.10") == ["20240210"])
        #expect(StudyNode.dateKeys(" 20240131 ") == ["20240131"])
        #expect(StudyNode.dateKeys("2024.01.05\\2024.03.01\\20240105") == ["20240105", "20240301"])
        #expect(StudyNode.dateKeys("20240229\\2024133") == ["20240229"])
        #expect(StudyNode.dateKeys("") == [])
        #expect(StudyNode.dateKeys(nil) == [])
        #expect(StudyNode.dateKeys("2024133") == [])
        #expect(StudyNode.dateKeys("20230229") == [])
        #expect(StudyNode.dateKeys("ABC\\DEF") == [])
        // The sort key stays one complete date.
        #expect(StudyNode.dateKey("2024") == "")
        #expect(StudyNode.dateKey("20240101\\20240301") == "")
        #expect(StudyNode.dateKey("2024.02.10") == "20240210")
    }

    /// The date index (a Study Date key alone), the scan path (the same key with a Patient ID list, which plans from
    /// the patients) and checking the key on every study find the same studies, each once.
    @Test(arguments: [false, true])
    func indexEqualsScan(bulk: Bool) throws {
        let state = Self.makeState(bulk: bulk)
        Self.checkIndex(state)
        #expect(state.multiDatedStudyCount == 5)
        let engine = QueryEngine(state: state)
        let allPatients = (0..<4).map { "P\($0)" }.joined(separator: "\\")
        for key in Self.dateKeys {
            let indexed = engine.matchingStudies(try Self.parsed([(Tags.studyDate, .DA, key)])).map(\.studyInstanceUID)
            let scanned = engine.matchingStudies(try Self.parsed([(Tags.studyDate, .DA, key), (Tags.patientID, .LO, allPatients)]))
                .map(\.studyInstanceUID)
            let expected = try Self.matchedByKey(key, state)
            #expect(Set(indexed).count == indexed.count, "\(key): a study found twice through the date index")
            #expect(Set(scanned).count == scanned.count, "\(key): a study found twice by the scan")
            #expect(Set(indexed) == expected, "\(key): date index")
            #expect(Set(scanned) == expected, "\(key): scan")
            // Whole responses: one per study.
            let responses = try engine.find(IndexQuery(identifier: try makeIdentifier("STUDY", [(Tags.studyDate, .DA, key), (Tags.studyUID, .UI, "")])))
            #expect(responses.compactMap { $0.string(Tags.studyUID) }.sorted() == expected.sorted(), "\(key): responses")
        }
    }

    /// Which stored dates a few keys find, written out (so the comparison above cannot pass by both sides being wrong).
    @Test func knownAnswers() throws {
        let state = Self.makeState()
        let engine = QueryEngine(state: state)
        func found(_ key: String) throws -> [Int] {
            engine.matchingStudies(try Self.parsed([(Tags.studyDate, .DA, key)]))
                .compactMap { Int($0.studyInstanceUID.split(separator: ".").last ?? "") }.sorted()
        }
        // 20240301: "202403" (first day), "20240101\20240301", "20240301", "2024.01.05\2024.03.01\…".
        #expect(try found("20240301") == [2, 3, 9, 11])
        // 20240101: "2024" (first day), "20240101\20240301", " 2024 \ 20250615", "202402\2024".
        #expect(try found("20240101") == [1, 3, 10, 14])
        // "2024" as a key covers the whole year: everything dated in 2024, not "20231231", "2024133", "", "ABC\DEF".
        #expect(try found("2024") == [0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16])
        #expect(try found("20250101-") == [10])
        #expect(try found("-20231231") == [8])
        #expect(try found("20240111-20240119\\20240121-20240130") == [])
        #expect(try found("20240110-20240120") == [13])
        #expect(try found("20240229") == [12])
        #expect(try found("20240201-20240229") == [4, 12, 14])
        // Sorted responses: each study once, in date order (partial and multi-valued dates have no sort date).
        let ordered = engine.sortedStudies(engine.matchingStudies(try Self.parsed([(Tags.studyDate, .DA, "20240301-20240331\\20240101-20240331")])))
        #expect(Set(ordered.map(\.studyInstanceUID)).count == ordered.count)
    }

    /// A study whose Study Date changes (its record replaced, or the instance that supplied it removed), trashed,
    /// restored and removed keeps the date index and the count of multi-dated studies right.
    @Test func indexFollowsChanges() throws {
        let state = Self.makeState()
        let engine = QueryEngine(state: state)
        func found(_ key: String) throws -> Set<String> {
            Set(engine.matchingStudies(try Self.parsed([(Tags.studyDate, .DA, key)])).map(\.studyInstanceUID))
        }
        func check(_ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let indexed = engine.matchingStudies(try Self.parsed([(Tags.studyDate, .DA, key)])).map(\.studyInstanceUID)
            #expect(Set(indexed).count == indexed.count, "\(key): a study found twice", sourceLocation: sourceLocation)
            #expect(Set(indexed) == (try Self.matchedByKey(key, state)), "\(key)", sourceLocation: sourceLocation)
        }
        func checkAll(sourceLocation: SourceLocation = #_sourceLocation) throws {
            Self.checkIndex(state, sourceLocation: sourceLocation)
            for key in Self.dateKeys { try check(key, sourceLocation: sourceLocation) }
        }
        let target = Self.study(0)  // stored "20240105"
        func replace(_ date: String?, sop: String = "1.2.7.0.1.1") {
            state.upsert(makeRecord(patientID: "P0", name: "DATE^0", study: target, studyDate: date, series: target + ".1", sop: sop))
        }
        let before = state.multiDatedStudyCount

        replace("20240101\\20240301")
        try checkAll()
        #expect(state.multiDatedStudyCount == before + 1)
        #expect(try found("20240105").contains(target) == false)
        #expect(try found("20240301").contains(target))
        #expect(try found("20240101").contains(target))

        replace("2024")
        try checkAll()
        #expect(state.multiDatedStudyCount == before)
        #expect(try found("20240101").contains(target))
        #expect(try found("20240301").contains(target) == false)

        replace("2024133")
        try checkAll()
        #expect(try found("2024").contains(target) == false)

        // A second instance with another date: the study now answers with the latest record's date; removing that
        // instance brings back the date of the one left.
        replace("20240105")
        state.upsert(makeRecord(patientID: "P0", name: "DATE^0", study: target, studyDate: "20240110\\20240120",
                                series: target + ".2", sop: target + ".2.1"))
        try checkAll()
        #expect(state.multiDatedStudyCount == before + 1)
        #expect(try found("20240120").contains(target))
        state.remove([target + ".2.1"])
        try checkAll()
        #expect(state.multiDatedStudyCount == before)
        #expect(try found("20240120").contains(target) == false)
        #expect(try found("20240105").contains(target))

        // Trash and restore a multi-dated study.
        let multi = Self.study(3)  // "20240101\20240301"
        state.setTrashed([multi + ".1.1"], at: Date(timeIntervalSince1970: 1_700_000_000))
        try checkAll()
        #expect(state.multiDatedStudyCount == before - 1)
        #expect(try found("20240301").contains(multi) == false)
        #expect(state.studiesByDate.contains { $0.uid == multi } == false)
        state.setTrashed([multi + ".1.1"], at: nil)
        try checkAll()
        #expect(state.multiDatedStudyCount == before)
        #expect(try found("20240301").contains(multi))
        #expect(try found("20240101").contains(multi))

        // Removed for good: gone from every key.
        state.remove([multi + ".1.1", Self.study(11) + ".1.1"])
        try checkAll()
        #expect(state.multiDatedStudyCount == before - 2)
        #expect(state.studiesByDate.contains { $0.uid == multi || $0.uid == Self.study(11) } == false)

        // With no multi-dated study left, the single-range path lists each study once without remembering any.
        for index in Self.storedDates.indices { state.remove([Self.study(index) + ".1.1"]) }
        #expect(state.studiesByDate.isEmpty)
        #expect(state.multiDatedStudyCount == 0)
        replace("20240105")
        try checkAll()
        #expect(try found("20240101-20240131") == [target])
    }
}
