import Foundation
import Testing
import DICOMCore
@testable import DICOMJSON

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Data(text.utf8), maximumDepth: 10) }

    func string(_ text: String) throws -> String? {
        if case .array(let elements) = try parse(text), case .string(let value)? = elements.first { return value }
        return nil
    }

    @Test func escapesAreResolved() throws {
        #expect(try string(#"["a\"b\\c\/d\b\f\n\r\t\u0000\u00e9\u20AC\ud83d\ude00"]"#) == "a\"b\\c/d\u{8}\u{C}\n\r\t\u{0}é€😀")
        #expect(try string("[\"\u{FEFF}é😀\"]") == "\u{FEFF}é😀")
    }

    @Test func numbersKeepTheirText() throws {
        guard case .array(let values) = try parse("[1.50, -0, 1E+3, 0.5e-2]") else { Issue.record("not an array"); return }
        let texts = values.compactMap { value -> String? in if case .number(let text) = value { return text }; return nil }
        #expect(texts == ["1.50", "-0", "1E+3", "0.5e-2"])
    }

    @Test func objectsKeepOrderAndDuplicates() throws {
        guard case .object(let members) = try parse(#" {"b": 1, "a": [true, false, null], "b": {}} "#) else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["b", "a", "b"])
    }

    @Test func byteOrderMarkIsSkipped() throws {
        guard case .object(let members) = try JSONParser.parse(Data([0xEF, 0xBB, 0xBF] + Array("{}".utf8)), maximumDepth: 2) else {
            Issue.record("not an object"); return
        }
        #expect(members.isEmpty)
    }

    @Test(arguments: [
        "", "[", "[1,]", "{\"a\"}", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[+1]", "[1e]", "[-]", "[tru]", "[nul]",
        "[\"a]", "[\"\\x\"]", "[\"\\u12\"]", "[\"\\ud800\"]", "[\"\\udc00\"]", "[\"\\ud800\\u0041\"]",
        "[\"tab\there\"]", "[\"nl\nhere\"]", "[1] [2]", "{1:2}", "[[[[[[[[[[[[]]]]]]]]]]]]", "[NaN]", "['a']",
    ])
    func malformedJSONIsRejected(_ text: String) {
        #expect(throws: DICOMError.self) { try parse(text) }
    }

    @Test func invalidUTF8IsRejectedWithItsOffset() {
        #expect {
            try JSONParser.parse(Data([0x5B, 0x22, 0x61, 0xC3, 0x28, 0x22, 0x5D]), maximumDepth: 2)
        } throws: { ($0 as? DICOMError)?.offset == 2 }
    }

    /// Overlong forms, encoded surrogates, truncated and stray continuation bytes, code points past U+10FFFF.
    @Test(arguments: [[0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0x80], [0xF4, 0x90, 0x80, 0x80],
                      [0xFF], [0x41, 0xF0, 0x9F, 0x98]] as [[UInt8]])
    func everyKindOfInvalidUTF8IsRejected(_ invalid: [UInt8]) {
        #expect(throws: DICOMError.self) { try JSONParser.parse(Data([0x5B, 0x22] + invalid + [0x22, 0x5D]), maximumDepth: 2) }
    }

    @Test func validUTF8IncludingAReplacementCharacterIsKept() throws {
        let text = "Ңөү پچژگکی \u{FFFD} \u{1F600}"
        guard case .array(let items) = try JSONParser.parse(Data("[\"\(text)\"]".utf8), maximumDepth: 2),
              case .string(let value) = items.first else {
            Issue.record("not an array with one string")
            return
        }
        #expect(value == text)
    }

    @Test func errorsCarryTheByteOffset() {
        #expect {
            try parse(#"{"a": [1, 2 3]}"#)
        } throws: { ($0 as? DICOMError)?.offset == 12 }
    }
}
