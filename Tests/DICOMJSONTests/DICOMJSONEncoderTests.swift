import Foundation
import Testing
import DICOMCore
@testable import DICOMJSON

@Suite struct DICOMJSONEncoderTests {
    // MARK: Value mapping per VR (PS3.18 Table F.2.3-1)

    @Test func textVRsAreStringArraysSplitAtBackslash() throws {
        #expect(try attributeJSON(text(0x0008, 0x0008, .CS, "ORIGINAL\\PRIMARY ")) == #"{"vr":"CS","Value":["ORIGINAL","PRIMARY"]}"#)
        #expect(try attributeJSON(text(0x0008, 0x0016, .UI, "1.2.840.10008.1.2")) == #"{"vr":"UI","Value":["1.2.840.10008.1.2"]}"#)
        #expect(try attributeJSON(text(0x0010, 0x0020, .LO, "  ID 1  ")) == #"{"vr":"LO","Value":["ID 1"]}"#)
        #expect(try attributeJSON(text(0x0008, 0x1030, .UC, "a\\b\\c")) == #"{"vr":"UC","Value":["a","b","c"]}"#)
    }

    @Test func singleValuedTextIsNotSplitAndKeepsLeadingSpaces() throws {
        #expect(try attributeJSON(text(0x0020, 0x4000, .LT, "  a\\b  ")) == #"{"vr":"LT","Value":["  a\\b"]}"#)
        #expect(try attributeJSON(text(0x0008, 0x0120, .UR, "http://x/y\\z")) == #"{"vr":"UR","Value":["http://x/y\\z"]}"#)
        #expect(try attributeJSON(text(0x0040, 0xA160, .UT, "u\\t")) == #"{"vr":"UT","Value":["u\\t"]}"#)
        #expect(try attributeJSON(text(0x0032, 0x4000, .ST, "s\\t")) == #"{"vr":"ST","Value":["s\\t"]}"#)
    }

    @Test func emptyValuesHaveOnlyVRAndEmptyMembersAreNull() throws {
        #expect(try attributeJSON(raw(0x0010, 0x0030, .DA, [])) == #"{"vr":"DA"}"#)
        #expect(try attributeJSON(text(0x0010, 0x0040, .CS, " ")) == #"{"vr":"CS"}"#)
        #expect(try attributeJSON(raw(0x0028, 0x0010, .US, [])) == #"{"vr":"US"}"#)
        #expect(try attributeJSON(raw(0x7FE0, 0x0010, .OB, [])) == #"{"vr":"OB"}"#)
        #expect(try attributeJSON(text(0x0008, 0x0008, .CS, "A\\\\B")) == #"{"vr":"CS","Value":["A",null,"B"]}"#)
        #expect(try attributeJSON(text(0x0028, 0x0030, .DS, "\\2")) == #"{"vr":"DS","Value":[null,2]}"#)
        #expect(try attributeJSON(DataElement(tag: Tag(0x0008, 0x1115), items: [])) == #"{"vr":"SQ"}"#)
    }

    @Test func decimalStringsKeepTheirDigits() throws {
        #expect(try attributeJSON(text(0x0018, 0x0050, .DS, "1.50")) == #"{"vr":"DS","Value":[1.50]}"#)
        #expect(try attributeJSON(text(0x0018, 0x0050, .DS, "  1.0 ")) == #"{"vr":"DS","Value":[1.0]}"#)
        #expect(try attributeJSON(text(0x0018, 0x0050, .DS, "1e3")) == #"{"vr":"DS","Value":[1e3]}"#)
        #expect(try attributeJSON(text(0x0018, 0x0050, .DS, "-1.25E-2")) == #"{"vr":"DS","Value":[-1.25E-2]}"#)
        // Valid DS that is not valid JSON is rewritten minimally.
        #expect(try attributeJSON(text(0x0018, 0x0050, .DS, "+.5\\1.\\007\\-0.0")) == #"{"vr":"DS","Value":[0.5,1,7,-0.0]}"#)
        // Not a number: written as a string (PS3.18 §F.2.3 allows strings for DS).
        #expect(try attributeJSON(text(0x0018, 0x0050, .DS, "abc\\1")) == #"{"vr":"DS","Value":["abc",1]}"#)
        #expect(try attributeJSON(text(0x0018, 0x0050, .DS, "NaN")) == #"{"vr":"DS","Value":["NaN"]}"#)
        #expect(try attributeJSON(text(0x0018, 0x0050, .DS, "0x10")) == #"{"vr":"DS","Value":["0x10"]}"#)
    }

    @Test func integerStringsAreNumbers() throws {
        #expect(try attributeJSON(text(0x0020, 0x0013, .IS, " 12 \\+5\\-007")) == #"{"vr":"IS","Value":[12,5,-7]}"#)
        #expect(try attributeJSON(text(0x0020, 0x0013, .IS, "1e3\\1.0")) == #"{"vr":"IS","Value":["1e3","1.0"]}"#)
        #expect(try attributeJSON(text(0x0020, 0x0013, .IS, "abc")) == #"{"vr":"IS","Value":["abc"]}"#)
    }

    @Test func binaryNumbersAreLittleEndian() throws {
        #expect(try attributeJSON(raw(0x0028, 0x0010, .US, littleEndian([UInt16(1), 65535]))) == #"{"vr":"US","Value":[1,65535]}"#)
        #expect(try attributeJSON(raw(0x0028, 0x0106, .SS, littleEndian([Int16(-32768), 7]))) == #"{"vr":"SS","Value":[-32768,7]}"#)
        #expect(try attributeJSON(raw(0x0008, 0x1161, .UL, littleEndian([UInt32.max]))) == #"{"vr":"UL","Value":[4294967295]}"#)
        #expect(try attributeJSON(raw(0x0018, 0x6020, .SL, littleEndian([Int32.min]))) == #"{"vr":"SL","Value":[-2147483648]}"#)
        #expect(try attributeJSON(raw(0x0009, 0x1005, .SV, littleEndian([Int64.min, 9_007_199_254_740_993]))) == #"{"vr":"SV","Value":[-9223372036854775808,9007199254740993]}"#)
        #expect(try attributeJSON(raw(0x0009, 0x1006, .UV, littleEndian([UInt64.max]))) == #"{"vr":"UV","Value":[18446744073709551615]}"#)
        #expect(try attributeJSON(raw(0x0018, 0x9241, .FL, littleEndian([Float(1.5), -0.1]))) == #"{"vr":"FL","Value":[1.5,-0.1]}"#)
        #expect(try attributeJSON(raw(0x0018, 0x9089, .FD, littleEndian([0.1, 1e-300, 3]))) == #"{"vr":"FD","Value":[0.1,1e-300,3.0]}"#)
        #expect(try attributeJSON(raw(0x0018, 0x9089, .FD, littleEndian([Double.nan, .infinity, -.infinity]))) == #"{"vr":"FD","Value":["NaN","Infinity","-Infinity"]}"#)
    }

    @Test func attributeTagsAreEightHexDigits() throws {
        let bytes: [UInt8] = [0x10, 0x00, 0x10, 0x00, 0xE0, 0x7F, 0x10, 0x00]
        #expect(try attributeJSON(raw(0x0020, 0x9165, .AT, bytes)) == #"{"vr":"AT","Value":["00100010","7FE00010"]}"#)
    }

    @Test func binaryLengthThatIsNotAWholeNumberOfValuesThrows() {
        let dataSet = DataSet([DataElement(tag: Tag(0x0008, 0x1140), items: [DataSet([raw(0x0028, 0x0010, .US, [1, 2, 3])])])])
        #expect {
            try DICOMJSONEncoder().encode(dataSet)
        } throws: { error in
            let error = error as? DICOMError
            return error?.code == .invalidLength && error?.tagPath == "(0008,1140)[0].(0028,0010)"
        }
        #expect(throws: DICOMError.self) { try DICOMJSONEncoder().encode(DataSet([raw(0x0020, 0x9165, .AT, [1, 2])])) }
    }

    // MARK: PN (PS3.18 §F.2.2)

    @Test func personNameHasComponentGroupObjects() throws {
        let name = "Yamada^Tarou=山田^太郎=やまだ^たろう"
        let dataSet = DataSet([text(0x0008, 0x0005, .CS, "ISO_IR 192"), text(0x0010, 0x0010, .PN, name)])
        #expect(try jsonText(dataSet) == #"{"00080005":{"vr":"CS","Value":["ISO_IR 192"]},"00100010":{"vr":"PN","Value":[{"Alphabetic":"Yamada^Tarou","Ideographic":"山田^太郎","Phonetic":"やまだ^たろう"}]}}"#)
    }

    @Test func personNameOmitsEmptyGroupsAndEmptyValuesAreNull() throws {
        #expect(try attributeJSON(text(0x0010, 0x0010, .PN, "=Ideo")) == #"{"vr":"PN","Value":[{"Ideographic":"Ideo"}]}"#)
        #expect(try attributeJSON(text(0x0010, 0x0010, .PN, "A^B==Ph")) == #"{"vr":"PN","Value":[{"Alphabetic":"A^B","Phonetic":"Ph"}]}"#)
        #expect(try attributeJSON(text(0x0010, 0x1001, .PN, "A\\\\B")) == #"{"vr":"PN","Value":[{"Alphabetic":"A"},null,{"Alphabetic":"B"}]}"#)
    }

    // MARK: Character sets

    @Test func utf8NamesInCyrillicKyrgyzAndPersian() throws {
        let dataSet = DataSet([
            text(0x0008, 0x0005, .CS, "ISO_IR 192"),
            text(0x0008, 0x0090, .PN, "رضایی^محمد"),
            text(0x0010, 0x0010, .PN, "Иванов^Иван"),
            text(0x0010, 0x1001, .PN, "Асанов^Бакыт\\Үсөнов^Ңурлан"),
        ])
        let object = try #require(try JSONSerialization.jsonObject(with: DICOMJSONEncoder().encode(dataSet)) as? [String: Any])
        func names(_ key: String) -> [String] {
            ((object[key] as? [String: Any])?["Value"] as? [[String: String]])?.compactMap { $0["Alphabetic"] } ?? []
        }
        #expect(names("00080090") == ["رضایی^محمد"])
        #expect(names("00100010") == ["Иванов^Иван"])
        #expect(names("00101001") == ["Асанов^Бакыт", "Үсөнов^Ңурлан"])
    }

    @Test func latin1IsDecodedWithTheDeclaredCharacterSet() throws {
        // "Dürer^Albrecht" in ISO 8859-1: ü is 0xFC.
        let latin1: [UInt8] = [0x44, 0xFC, 0x72, 0x65, 0x72, 0x5E, 0x41, 0x6C, 0x62, 0x72, 0x65, 0x63, 0x68, 0x74]
        let dataSet = DataSet([text(0x0008, 0x0005, .CS, "ISO_IR 100"), raw(0x0010, 0x0010, .PN, latin1)])
        let json = try jsonText(dataSet)
        #expect(json.contains(#""Value":[{"Alphabetic":"Dürer^Albrecht"}]"#))
    }

    @Test func sequenceItemsInheritTheCharacterSet() throws {
        let item = DataSet([raw(0x0040, 0x1101, .PN, [0x44, 0xFC, 0x72, 0x65, 0x72])])  // "Dürer"
        let dataSet = DataSet([text(0x0008, 0x0005, .CS, "ISO_IR 100"), DataElement(tag: Tag(0x0008, 0x1052), items: [item])])
        #expect(try jsonText(dataSet).contains(#"{"00401101":{"vr":"PN","Value":[{"Alphabetic":"Dürer"}]}}"#))
    }

    /// ISO 8859-5 (ISO_IR 144): the Cyrillic capital and small letters U+0410…U+044F are 0xB0…0xEF.
    static func iso8859_5(_ string: String) -> [UInt8] {
        string.unicodeScalars.map { scalar in
            (0x0410...0x044F).contains(scalar.value) ? UInt8(scalar.value - 0x0360) : UInt8(scalar.value)
        }
    }

    static var hasISOIR144: Bool { (try? SpecificCharacterSet(terms: ["ISO_IR 144"])) != nil }

    /// Depends on ISO_IR 144 support in DICOMCore's SpecificCharacterSet; runs once it is there.
    @Test(.enabled(if: hasISOIR144, "needs ISO_IR 144 in SpecificCharacterSet"))
    func cyrillicISOIR144IsDecoded() throws {
        let dataSet = DataSet([text(0x0008, 0x0005, .CS, "ISO_IR 144"),
                               raw(0x0010, 0x0010, .PN, Self.iso8859_5("Иванов^Иван"))])
        #expect(try jsonText(dataSet).contains(#""Value":[{"Alphabetic":"Иванов^Иван"}]"#))
    }

    // MARK: Sequences

    @Test func nestedSequencesAndEmptyItems() throws {
        let inner = DataSet([text(0x0008, 0x0100, .SH, "T-D1100")])
        let item = DataSet([text(0x0008, 0x1155, .UI, "1.2.3"), DataElement(tag: Tag(0x0008, 0x2218), items: [inner, DataSet()])])
        let dataSet = DataSet([DataElement(tag: Tag(0x0008, 0x1140), items: [item])])
        #expect(try jsonText(dataSet) == #"{"00081140":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["1.2.3"]},"00082218":{"vr":"SQ","Value":[{"00080100":{"vr":"SH","Value":["T-D1100"]}},{}]}}]}}"#)
    }

    // MARK: Binary data (§F.2.6, §F.2.7)

    @Test func inlineBinaryIsExactBase64OfTheValue() throws {
        let bytes = (0..<256).map { UInt8($0) }
        for vr in [VR.OB, .OD, .OF, .OL, .OV, .OW, .UN] {
            let json = try attributeJSON(raw(0x0009, 0x1010, vr, bytes))
            #expect(json == #"{"vr":"\#(vr)","InlineBinary":"\#(Data(bytes).base64EncodedString())"}"#)
        }
    }

    @Test func bulkDataURIAboveTheThreshold() throws {
        let small = raw(0x0028, 0x1201, .OW, Array(repeating: 1, count: 16))
        let large = raw(0x7FE0, 0x0010, .OW, Array(repeating: 2, count: 18))
        let nestedLarge = raw(0x0042, 0x0011, .OB, Array(repeating: 3, count: 20))
        let dataSet = DataSet([small, large, DataElement(tag: Tag(0x0040, 0xA730), items: [DataSet([nestedLarge])])])
        let encoder = DICOMJSONEncoder(options: .init(bulkDataThreshold: 16)) { path, element in
            element.tag == Tag(0x0028, 0x1201) ? "unexpected" : "http://host/bulk/" + path
        }
        let json = try jsonText(dataSet, encoder: encoder)
        #expect(json.contains(#""00281201":{"vr":"OW","InlineBinary":"AQEBAQEBAQEBAQEBAQEBAQ=="}"#))
        #expect(json.contains(#""7FE00010":{"vr":"OW","BulkDataURI":"http://host/bulk/(7FE0,0010)"}"#))
        #expect(json.contains(#""00420011":{"vr":"OB","BulkDataURI":"http://host/bulk/(0040,A730)[0].(0042,0011)"}"#))
        // Without a provider, or when it declines, values stay inline.
        #expect(try jsonText(dataSet).contains("BulkDataURI") == false)
        let declining = DICOMJSONEncoder(options: .init(bulkDataThreshold: 0)) { _, _ in nil }
        #expect(try jsonText(dataSet, encoder: declining).contains("BulkDataURI") == false)
    }

    @Test func encapsulatedPixelDataIsItsValueFieldOfItems() throws {
        let pixels = EncapsulatedPixelData(basicOffsetTable: Data([0, 0, 0, 0]), fragments: [Data([0xFF, 0xD8, 0xFF, 0xD9])])
        let element = DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OB, value: .encapsulated(pixels), hadUndefinedLength: true)
        // (FFFE,E000) length 4, BOT; (FFFE,E000) length 4, fragment (PS3.5 §A.4).
        let field: [UInt8] = [0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0, 0, 0, 0, 0,
                              0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0, 0xFF, 0xD8, 0xFF, 0xD9]
        #expect(try attributeJSON(element) == #"{"vr":"OB","InlineBinary":"\#(Data(field).base64EncodedString())"}"#)
        let bulk = DICOMJSONEncoder(options: .init(bulkDataThreshold: 8)) { _, _ in "frames" }
        #expect(try jsonText(DataSet([element]), encoder: bulk) == #"{"7FE00010":{"vr":"OB","BulkDataURI":"frames"}}"#)
    }

    // MARK: Structure and layout

    @Test func groupLengthsAreLeftOutAndKeysAreSortedUpperCaseHex() throws {
        let dataSet = DataSet([raw(0x0009, 0x0000, .UL, littleEndian([UInt32(8)])),
                               text(0x00AB, 0x10CD, .LO, "x"), text(0x0009, 0x0010, .LO, "CREATOR"), text(0x0008, 0x0060, .CS, "OT")])
        #expect(try jsonText(dataSet) == #"{"00080060":{"vr":"CS","Value":["OT"]},"00090010":{"vr":"LO","Value":["CREATOR"]},"00AB10CD":{"vr":"LO","Value":["x"]}}"#)
    }

    @Test func prettyPrinting() throws {
        let dataSet = DataSet([text(0x0008, 0x0060, .CS, "OT"), DataElement(tag: Tag(0x0008, 0x1140), items: [DataSet()])])
        let json = String(decoding: try dataSet.jsonData(options: .init(prettyPrinted: true)), as: UTF8.self)
        #expect(json == """
        {
          "00080060": {
            "vr": "CS",
            "Value": [
              "OT"
            ]
          },
          "00081140": {
            "vr": "SQ",
            "Value": [
              {}
            ]
          }
        }
        """)
    }

    @Test func topLevelArrayForSeveralDataSets() throws {
        let first = DataSet([text(0x0020, 0x000D, .UI, "1.2.3")])
        let second = DataSet([text(0x0020, 0x000D, .UI, "1.2.4")])
        let json = String(decoding: try DICOMJSONEncoder().encode([first, second]), as: UTF8.self)
        #expect(json == #"[{"0020000D":{"vr":"UI","Value":["1.2.3"]}},{"0020000D":{"vr":"UI","Value":["1.2.4"]}}]"#)
        #expect(String(decoding: try DICOMJSONEncoder().encode([DataSet]()), as: UTF8.self) == "[]")
    }

    @Test func escapingOfQuotesBackslashesAndControlCharacters() throws {
        let value = "q\"b\\n\nr\rt\tb\u{8}f\u{C}nul\u{0}x\u{1F}del\u{7F}é"
        let element = DataElement(tag: Tag(0x0020, 0x4000), vr: .LT, bytes: Data(value.utf8))
        let dataSet = DataSet([text(0x0008, 0x0005, .CS, "ISO_IR 192"), element])
        let json = try jsonText(dataSet)
        #expect(json.hasSuffix(#""00204000":{"vr":"LT","Value":["q\"b\\n\nr\rt\tb\bf\fnul\u0000x\u001fdel"# + "\u{7F}é\"]}}"))
        // Foundation's parser reads the same string back.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [String: Any]])
        #expect((object["00204000"]?["Value"] as? [String]) == [value])
    }
}
