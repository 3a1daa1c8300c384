import Testing
@testable import DICOMArchive

/// The fast path of ``TemporalRange/contains(stored:)`` for `yyyymmdd` dates agrees with the general parser.
@Suite struct TemporalRangeFastPathTests {
    static let stored = ["20200105", "20200229", "20190229", "20210228", "20201301", "20200100", "20200132", "00000101",
                         "00010101", "2020010", "202001055", "2020.01.05", " 20200105", "20200105 ", "abcdefgh", "2020-1-05",
                         "", "20200301", "20200302", "19991231", "20000229", "21000229"]

    @Test(arguments: ["20200101-20200301", "-20200105", "20200229-", "2020", "20190228-20190301"])
    func fastPathAgreesWithTheParser(_ query: String) throws {
        let range = try #require(TemporalRange.parse(query, kind: .date))
        for value in Self.stored {
            let general = TemporalRange.bounds(of: value, kind: .date).map { range.contains(normalized: $0.lower) } ?? false
            #expect(range.contains(stored: value) == general, "\(value) in \(query)")
            if TemporalRange.isValidCompactDate(value) {
                let bounds = TemporalRange.bounds(of: value, kind: .date)
                #expect(bounds?.lower == value && bounds?.upper == value, "\(value) is not its own normalised form")
            }
        }
    }
}
