import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive


/// PS3.4 C.2.2.2 attribute matching, through `find` on an in-memory index.
@Suite struct MatchingTests {
    /// Five patients, one study each, with names in Latin, Cyrillic, Persian and Kyrgyz.
    static func index() -> JSONArchiveIndex {
        JSONArchiveIndex(inMemory: [
            makeRecord(patientID: "P1", name: "DOE^JOHN", study: "1.1", studyDate: "20200115", studyTime: "101500", accession: "A1",
                       series: "1.1.1", modality: "CT", sop: "1.1.1.1"),
            makeRecord(patientID: "P2", name: "Иванов^Иван", study: "1.2", studyDate: "20210301", studyTime: "080000", accession: "A2",
                       series: "1.2.1", modality: "MR", sop: "1.2.1.1"),
            makeRecord(patientID: "P3", name: "Петрова^Анна", study: "1.3", studyDate: "20211231", studyTime: "235959.5", accession: "A3",
                       series: "1.3.1", modality: "US", sop: "1.3.1.1"),
            makeRecord(patientID: "P4", name: "محمد^رضا", study: "1.4", studyDate: "20220610", studyTime: "1200", accession: "B4",
                       series: "1.4.1", modality: "CR", sop: "1.4.1.1"),
            makeRecord(patientID: "P5", name: "Үсөн^Бек", study: "1.5", studyDate: nil, studyTime: nil, accession: nil,
                       series: "1.5.1", modality: "CT", sop: "1.5.1.1"),
        ])
    }

    /// The Study Instance UIDs a study-level query returns.
    static func studies(_ keys: [(DICOMCore.Tag, VR, String)], caseInsensitive: Bool = false) async throws -> [String] {
        let returnKeys: [(DICOMCore.Tag, VR, String)] = keys.contains { $0.0 == Tags.studyUID } ? [] : [(Tags.studyUID, .UI, "")]
        let identifier = try makeIdentifier("STUDY", keys + returnKeys)
        let responses = try await index().find(IndexQuery(identifier: identifier, caseInsensitiveNames: caseInsensitive))
        return responses.compactMap { $0.string(Tags.studyUID) }.sorted()
    }

    @Test func universalMatching() async throws {
        #expect(try await Self.studies([(Tags.patientName, .PN, "")]) == ["1.1", "1.2", "1.3", "1.4", "1.5"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "*")]) == ["1.1", "1.2", "1.3", "1.4", "1.5"])
        #expect(try await Self.studies([]) == ["1.1", "1.2", "1.3", "1.4", "1.5"])
    }

    @Test func singleValueMatching() async throws {
        #expect(try await Self.studies([(Tags.patientID, .LO, "P3")]) == ["1.3"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "DOE^JOHN")]) == ["1.1"])
        // Trailing empty name components are insignificant.
        #expect(try await Self.studies([(Tags.patientName, .PN, "DOE^JOHN^^")]) == ["1.1"])
        // Case-sensitive by default.
        #expect(try await Self.studies([(Tags.patientName, .PN, "doe^john")]) == [])
        #expect(try await Self.studies([(Tags.accession, .SH, "B4")]) == ["1.4"])
        #expect(try await Self.studies([(Tags.accession, .SH, "B")]) == [])
        // An empty stored value matches no non-universal key.
        #expect(try await Self.studies([(Tags.accession, .SH, "A?")]) == ["1.1", "1.2", "1.3"])
        #expect(try await Self.studies([(Tags.patientID, .LO, "NOPE")]) == [])
    }

    @Test func wildcardMatching() async throws {
        #expect(try await Self.studies([(Tags.patientName, .PN, "DOE*")]) == ["1.1"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "*JOHN")]) == ["1.1"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "D?E^J*N")]) == ["1.1"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "D?E")]) == [])
        #expect(try await Self.studies([(Tags.patientID, .LO, "P?")]) == ["1.1", "1.2", "1.3", "1.4", "1.5"])
        #expect(try await Self.studies([(Tags.patientID, .LO, "*3")]) == ["1.3"])
        #expect(try await Self.studies([(Tags.patientID, .LO, "P**4")]) == ["1.4"])
    }

    @Test func wildcardsOnCyrillicPersianAndKyrgyzNamesCountCharactersNotBytes() async throws {
        #expect(try await Self.studies([(Tags.patientName, .PN, "Иван*")]) == ["1.2"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "*ова^Анна")]) == ["1.3"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "*ова*")]) == ["1.3"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "*ван*")]) == ["1.2"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "Иванов^????")]) == ["1.2"])
        // Each Cyrillic letter is two UTF-8 bytes but one character.
        #expect(try await Self.studies([(Tags.patientName, .PN, "Иванов^???")]) == [])
        #expect(try await Self.studies([(Tags.patientName, .PN, "محمد*")]) == ["1.4"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "*^رضا")]) == ["1.4"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "Ү?өн*")]) == ["1.5"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "Ү???^???")]) == ["1.5"])
    }

    @Test func caseInsensitiveNamesOption() async throws {
        #expect(try await Self.studies([(Tags.patientName, .PN, "doe^john")], caseInsensitive: true) == ["1.1"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "иван*")], caseInsensitive: true) == ["1.2"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "ИВАНОВ^ИВАН")], caseInsensitive: true) == ["1.2"])
        #expect(try await Self.studies([(Tags.patientName, .PN, "үсөн*")], caseInsensitive: true) == ["1.5"])
        // The option is for names only.
        #expect(try await Self.studies([(Tags.patientID, .LO, "p1")], caseInsensitive: true) == [])
    }

    @Test func listOfUIDMatching() async throws {
        #expect(try await Self.studies([(Tags.studyUID, .UI, "1.2\\1.4\\9.9")]) == ["1.2", "1.4"])
        #expect(try await Self.studies([(Tags.studyUID, .UI, "1.3")]) == ["1.3"])
        // UIDs take no wild cards.
        #expect(try await Self.studies([(Tags.studyUID, .UI, "1.?")]) == [])
    }

    @Test func multipleValuesOfOtherKeysMatchAny() async throws {
        #expect(try await Self.studies([(Tags.patientID, .LO, "P1\\P4")]) == ["1.1", "1.4"])
        #expect(try await Self.studies([(Tags.modalitiesInStudy, .CS, "MR\\US")]) == ["1.2", "1.3"])
    }

    @Test func dateRangeMatching() async throws {
        #expect(try await Self.studies([(Tags.studyDate, .DA, "20210301")]) == ["1.2"])
        #expect(try await Self.studies([(Tags.studyDate, .DA, "20210101-20211231")]) == ["1.2", "1.3"])
        #expect(try await Self.studies([(Tags.studyDate, .DA, "-20210301")]) == ["1.1", "1.2"])
        #expect(try await Self.studies([(Tags.studyDate, .DA, "20211231-")]) == ["1.3", "1.4"])
        // Legacy ACR-NEMA form.
        #expect(try await Self.studies([(Tags.studyDate, .DA, "2021.03.01")]) == ["1.2"])
        // Several ranges: any of them.
        #expect(try await Self.studies([(Tags.studyDate, .DA, "20200115\\20220101-")]) == ["1.1", "1.4"])
    }

    @Test func timeRangeMatching() async throws {
        #expect(try await Self.studies([(Tags.studyTime, .TM, "0800-1100")]) == ["1.1", "1.2"])
        #expect(try await Self.studies([(Tags.studyTime, .TM, "-0800")]) == ["1.2"])
        #expect(try await Self.studies([(Tags.studyTime, .TM, "1200-")]) == ["1.3", "1.4"])
        // A partial time stands for the whole period: "10" is 10:00:00 to 10:59:59.999999.
        #expect(try await Self.studies([(Tags.studyTime, .TM, "10")]) == ["1.1"])
        #expect(try await Self.studies([(Tags.studyTime, .TM, "23:59:59.5")]) == ["1.3"])
    }

    @Test func dateTimeRanges() throws {
        let range = try #require(TemporalRange.parse("20200101-20200131", kind: .dateTime))
        #expect(range.contains(stored: "20200115123000"))
        #expect(range.contains(stored: "20200131235959.999999"))
        #expect(!range.contains(stored: "20200201"))
        let open = try #require(TemporalRange.parse("202001011200-", kind: .dateTime))
        #expect(open.contains(stored: "2021"))
        #expect(!open.contains(stored: "20200101115959"))
        let upper = try #require(TemporalRange.parse("-2019", kind: .dateTime))
        #expect(upper.contains(stored: "20191231235959"))
        #expect(!upper.contains(stored: "20200101"))
        // A negative UTC offset is not a range separator.
        let offset = try #require(TemporalRange.parse("20200101120000-0500-20200102", kind: .dateTime))
        #expect(offset.lower == "20200101120000.000000" && offset.upper == "20200102235959.999999")
        let single = try #require(TemporalRange.parse("20200101120000-0500", kind: .dateTime))
        #expect(single.lower == "20200101120000.000000")
        #expect(TemporalRange.parse("2020-01", kind: .dateTime) == nil)
    }

    @Test func malformedRangesAreRefusedNamingTheAttribute() async throws {
        for bad in ["2020-2021-2022", "abc-", "20201301", "20200230", "-", "2021-2020"] {
            let identifier = try makeIdentifier("STUDY", [(Tags.studyDate, .DA, bad)])
            let failure = await #expect(throws: DIMSEFailure.self) {
                _ = try await Self.index().find(IndexQuery(identifier: identifier))
            }
            #expect(failure?.status == .cannotUnderstand, "\(bad)")
            #expect(failure?.comment?.contains("Study Date (0008,0020)") == true, "\(bad): \(failure?.comment ?? "")")
        }
        let time = try makeIdentifier("STUDY", [(Tags.studyTime, .TM, "2500")])
        await #expect(throws: DIMSEFailure.self) { _ = try await Self.index().find(IndexQuery(identifier: time)) }
    }

    @Test func wildcardPatternUnits() {
        #expect(WildcardPattern("a*b?c").matches("axxbyc"))
        #expect(!WildcardPattern("a*b?c").matches("axxbc"))
        #expect(WildcardPattern("*").matches(""))
        // Without wild cards the value must be equal, not only start with the pattern.
        #expect(WildcardPattern("CT1").matches("CT1"))
        #expect(!WildcardPattern("CT1").matches("CT12"))
        #expect(!WildcardPattern("CT1").matches("CT"))
        #expect(WildcardPattern("**a").matches("bba"))
        #expect(WildcardPattern("?").matches("é"))
        #expect(!WildcardPattern("??").matches("é"))
        #expect(WildcardPattern("*ab*ab").matches("xxabyyab"))
        #expect(!WildcardPattern("*ab*ab").matches("xxabyya"))
        #expect(!WildcardPattern("ab*ab").matches("ab"))
        #expect(WildcardPattern("ab*ab").matches("abab"))
        #expect(WildcardPattern("a*b*c").matches("abc"))
        #expect(!WildcardPattern("a*b*c").matches("acb"))
        #expect(WildcardPattern("*ова*").matches("Петрова^Анна"))
        #expect(!WildcardPattern("*ова").matches("Петрова^Анна"))
        #expect(WildcardPattern("*Анна").matches("Петрова^Анна"))
        #expect(WildcardPattern("*").matches("anything"))
    }
}
