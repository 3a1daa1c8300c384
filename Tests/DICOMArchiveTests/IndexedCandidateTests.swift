import DICOMCore
import Foundation
import Testing
@testable import DICOMArchive

/// Study-level candidates taken from the name and date indexes (with nodes kept in the index, and a "PREFIX*" name key
/// not checked again) against checking every key on every study: the same studies.
@Suite struct IndexedCandidateTests {
    static let names = [
        "DOE^JOHN", "DOE^JANE^^", "Doe^Jim", "doe^jack", "DOEBERT^X", "ROE^DOE", "Yamada^Tarou=山田^太郎=やまだ^たろう",
        "山田^花子", "Müller^Jürgen", "MÜLLER^ANNA", "DO", "=DOE^GROUP", "ÅSA^B", "Ｄｏｅ^Wide", "",
    ]

    static func state() -> IndexState {
        let state = IndexState()
        for (index, name) in names.enumerated() {
            for copy in 0..<2 {
                let study = "1.2.6.\(index).\(copy)"
                state.upsert(makeRecord(patientID: "P\(index)", name: name, study: study,
                                        studyDate: index % 5 == 4 ? nil : "2022\(String(format: "%02d", 1 + index % 12))1\(copy)",
                                        series: study + ".1", sop: study + ".1.1"))
            }
        }
        // Stored dates the index does not keep as one day, or keeps in a normalised form.
        for (index, date) in ["2022.03.15", "2022", "202203", " 20220317 ", "20220230", "2022031", "ABC"].enumerated() {
            let study = "1.2.6.99.\(index)"
            state.upsert(makeRecord(patientID: "PD", name: "DATE^ODD\(index)", study: study, studyDate: date, series: study + ".1",
                                    sop: study + ".1.1"))
        }
        return state
    }

    static let nameKeys = ["DOE*", "Doe*", "doe*", "DO*", "D*", "DOE^J*", "DOE^JOHN", "DOE^JANE", "DOE^J?HN", "DOE*N", "Yamada*", "山田*",
                           "やまだ*", "Mü*", "MÜ*", "Å*", "Ｄｏｅ*", "ROE^D*", "DOE*\\ROE*", "X*", "*DOE", "?OE*"]
    static let dateKeys = ["20220101-20220331", "20220315", "20220301-20220320", "2022", "202203", "20220317", "-20220316", "20220111-", "-20220410", "20220610", "20220101-20220201\\20220601-20220701",
                           "20220201-20220228\\20220215-20220415"]

    /// The studies that satisfy every key. The date index lists a study stored with a partial ("2022") or multi-valued
    /// date under the dates checking the key compares (a partial date by its first day), so it finds the same studies.
    static func bruteForce(_ engine: QueryEngine, _ parsed: ParsedQuery, _ state: IndexState) -> Set<String> {
        Set(state.studies.values.filter { study in
            parsed.conditions.allSatisfy { $0.matches(engine.studyValue($0.attribute, study)) }
        }.map(\.studyInstanceUID))
    }

    @Test(arguments: [false, true])
    func nameCandidatesEqualCheckingEveryStudy(caseInsensitive: Bool) throws {
        let state = Self.state()
        let engine = QueryEngine(state: state)
        var nonEmpty = 0
        for key in Self.nameKeys {
            let identifier = try makeIdentifier("STUDY", [(Tags.patientName, .PN, key), (Tags.studyUID, .UI, "")])
            let parsed = try ParsedQuery(IndexQuery(identifier: identifier, caseInsensitiveNames: caseInsensitive))
            let indexed = engine.matchingStudies(parsed).map(\.studyInstanceUID)
            #expect(Set(indexed).count == indexed.count, "\(key): a study listed twice")
            #expect(Set(indexed) == Self.bruteForce(engine, parsed, state), "\(key), caseInsensitive \(caseInsensitive)")
            if !indexed.isEmpty { nonEmpty += 1 }
        }
        #expect(nonEmpty >= 12)
    }

    @Test func dateCandidatesEqualCheckingEveryStudy() throws {
        let state = Self.state()
        let engine = QueryEngine(state: state)
        for key in Self.dateKeys {
            for extra in [[], [(Tags.patientName, VR.PN, "DOE*")]] {
                let identifier = try makeIdentifier("STUDY", [(Tags.studyDate, .DA, key), (Tags.studyUID, .UI, "")] + extra)
                let parsed = try ParsedQuery(IndexQuery(identifier: identifier))
                let indexed = engine.matchingStudies(parsed).map(\.studyInstanceUID)
                #expect(Set(indexed).count == indexed.count, "\(key): a study listed twice")
                #expect(Set(indexed) == Self.bruteForce(engine, parsed, state), "\(key) \(extra.count)")
                #expect(!indexed.isEmpty || !extra.isEmpty, "\(key) matched nothing")
            }
        }
    }

    /// Study responses are ordered by Study Date, Study Time and Study Instance UID exactly as comparing the texts
    /// orders them (the packed integer keys only speed it up).
    @Test func studyOrderEqualsComparingTheTexts() {
        let state = IndexState()
        let dates: [String?] = [nil, "20220101", "20220101", "20211231", "2022.01.01", "20220102"]
        let times: [String?] = [nil, "", "10", "1015", "101500", "101500.1", "101500.123456", "101500.12", "23", "0930", "093000.5",
                                "10150", "1015001", "Ｋ", "K", "\u{212A}", "0930\u{0301}"]
        var index = 0
        for date in dates {
            for time in times {
                for copy in 0..<2 {
                    let study = "1.2.5.\(index % 7).\(index).\(copy)"
                    state.upsert(makeRecord(study: study, studyDate: date, studyTime: time, series: study + ".1", sop: study + ".1.1"))
                }
                index += 1
            }
        }
        let engine = QueryEngine(state: state)
        let studies = Array(state.studies.values)
        let expected = studies.sorted { a, b in
            let timeA = a.attributes[IndexedAttribute.studyTime] ?? "", timeB = b.attributes[IndexedAttribute.studyTime] ?? ""
            if a.dateKey != b.dateKey { return a.dateKey < b.dateKey }
            if timeA != timeB { return timeA < timeB }
            return a.studyInstanceUID < b.studyInstanceUID
        }
        #expect(engine.sortedStudies(studies).map(\.studyInstanceUID) == expected.map(\.studyInstanceUID))
        #expect(engine.sortedStudies(studies.reversed()).map(\.studyInstanceUID) == expected.map(\.studyInstanceUID))
    }

    /// Nodes in the indexes follow changes: a renamed, re-dated or removed study is found (or not) as it is now.
    @Test func indexesFollowChanges() throws {
        let state = Self.state()
        state.upsert(makeRecord(patientID: "P0", name: "SMITH^NEW", study: "1.2.6.0.0", studyDate: "19990101",
                                series: "1.2.6.0.0.1", sop: "1.2.6.0.0.1.1"))
        state.remove(["1.2.6.1.0.1.1"])
        let engine = QueryEngine(state: state)
        func find(_ keys: [(DICOMCore.Tag, VR, String)]) throws -> Set<String> {
            Set(engine.matchingStudies(try ParsedQuery(IndexQuery(identifier: try makeIdentifier("STUDY", keys + [(Tags.studyUID, .UI, "")]))))
                .map(\.studyInstanceUID))
        }
        #expect(try find([(Tags.patientName, .PN, "SMITH*")]) == ["1.2.6.0.0"])
        #expect(try find([(Tags.patientName, .PN, "DOE^JOHN*")]) == ["1.2.6.0.1"])
        #expect(try find([(Tags.patientName, .PN, "DOE^JANE*")]) == ["1.2.6.1.1"])
        #expect(try find([(Tags.studyDate, .DA, "19990101")]) == ["1.2.6.0.0"])
        #expect(state.studies(namePrefix: "SMITH", folded: false).map(\.studyInstanceUID) == ["1.2.6.0.0"])
        #expect(state.studies(datedFrom: "19990101", through: "19990101").map(\.node.studyInstanceUID) == ["1.2.6.0.0"])
    }
}
