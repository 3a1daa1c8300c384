import DICOMToolSupport
import Testing

/// The aligned tables of `dcmquery` and `dcmworklist`: columns padded by display width, whatever the script.
@Suite struct TextTableTests {
    @Test func columnsStartAtTheSameDisplayColumnInEveryScript() {
        let text = TextTable.render(header: ["NAME", "ID"], rows: [
            ["Иванов^Иван", "1"],
            ["Үсөнов^Ңурлан", "2"],
            ["احمدی^علی", "3"],
            ["山田^太郎", "4"],          // wide: two columns per character
            ["e\u{301}", "5"],           // a combining acute takes no column
        ])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 8)        // header, rule, five rows, and the empty string after the last newline
        #expect(lines[0] == "NAME           ID")
        #expect(lines[1] == "-------------  --")
        for line in lines[2..<7] {
            let name = String(line.dropLast(3))
            #expect(TextTable.displayWidth(name) == 13, "\(line)")
            #expect(line.hasSuffix("  " + String(line.last!)), "\(line)")
        }
        #expect(lines[7].isEmpty)
    }

    @Test func displayWidthCountsTerminalColumns() {
        #expect(TextTable.displayWidth("ABC") == 3)
        #expect(TextTable.displayWidth("山田") == 4)
        #expect(TextTable.displayWidth("می\u{200C}خواهم") == 7)   // ZWNJ (a format character) takes none
        #expect(TextTable.displayWidth("") == 0)
    }

    @Test func shortRowsAreFilledAndLineBreaksBecomeSpaces() {
        let text = TextTable.render(header: ["A", "B", "C"], rows: [["x"], ["two\nlines", "y", "z"]])
        #expect(text == "A          B  C\n---------  -  -\nx\ntwo lines  y  z\n")
    }

    @Test func anEmptyTableIsItsHeaderAndRule() {
        #expect(TextTable.render(header: ["ACCESSION", "STATUS"], rows: []) == "ACCESSION  STATUS\n---------  ------\n")
    }
}
