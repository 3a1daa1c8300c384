import Foundation
import Testing
import DICOMCore
@testable import DICOMJSON

@Suite struct DICOMJSONDecoderTests {
    func decode(_ json: String, decoder: DICOMJSONDecoder = DICOMJSONDecoder()) throws -> DataSet {
        try decoder.decode(Data(json.utf8))
    }

    /// UTF-8 bytes padded with a space to even length.
    func padded(_ string: String) -> [UInt8] {
        let bytes = Array(string.utf8)
        return bytes.count % 2 == 0 ? bytes : bytes + [0x20]
    }

    func bytes(_ dataSet: DataSet, _ group: UInt16, _ element: UInt16) -> [UInt8]? {
        dataSet[Tag(group, element)]?.bytes.map { [UInt8]($0) }
    }

    /// Expects decoding to fail with this code, a tag path and a message containing `words`.
    func expectFailure(_ json: String, code: DICOMError.Code = .malformed, path: String? = nil, _ words: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try decode(json)
            Issue.record("decoded without error: \(json)", sourceLocation: sourceLocation)
        } catch let error as DICOMError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            if let path { #expect(error.tagPath == path, "\(error)", sourceLocation: sourceLocation) }
            #expect(error.message.contains(words), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Values

    @Test func textIsJoinedPaddedAndNullIsAnEmptyValue() throws {
        let dataSet = try decode(#"{"00080008":{"vr":"CS","Value":["ORIGINAL",null,"AXIAL"]},"00080016":{"vr":"UI","Value":["1.2.3"]},"00100020":{"vr":"LO","Value":["ID"]}}"#)
        #expect(bytes(dataSet, 0x0008, 0x0008) == Array("ORIGINAL\\\\AXIAL ".utf8))
        #expect(bytes(dataSet, 0x0008, 0x0016) == Array("1.2.3".utf8) + [0])  // UI pads with NUL
        #expect(bytes(dataSet, 0x0010, 0x0020) == Array("ID".utf8))
        #expect(dataSet[Tag(0x0008, 0x0005)] == nil)  // all ASCII: no character set added
    }

    @Test func emptyAttributes() throws {
        let dataSet = try decode(#"{"00100010":{"vr":"PN"},"00100030":{"vr":"DA","Value":[]},"00081115":{"vr":"SQ"},"7FE00010":{"vr":"OB"}}"#)
        #expect(bytes(dataSet, 0x0010, 0x0010) == [])
        #expect(bytes(dataSet, 0x0010, 0x0030) == [])
        #expect(dataSet[Tag(0x0008, 0x1115)]?.items == [])
        #expect(dataSet[Tag(0x7FE0, 0x0010)]?.vr == .OB)
    }

    @Test func numbersBecomeDecimalAndIntegerStrings() throws {
        let dataSet = try decode(#"{"00180050":{"vr":"DS","Value":[1.50,1e3,"abc",0.1234567890123456789,-12345678901234567890]},"00200013":{"vr":"IS","Value":[12,-7.0,"+5"]}}"#)
        #expect(bytes(dataSet, 0x0018, 0x0050) == Array("1.50\\1e3\\abc\\0.12345678901235\\-1.2345678901e19".utf8))
        #expect(bytes(dataSet, 0x0020, 0x0013) == Array("12\\-7\\+5".utf8))
        for value in ["1.5", "2147483648", "\"x\\\\y\""] {
            expectFailure(#"{"00200013":{"vr":"IS","Value":[\#(value)]}}"#, code: .invalidValue, path: "(0020,0013)", "value 1 of this IS attribute")
        }
    }

    @Test func binaryNumbersAreLittleEndian() throws {
        let dataSet = try decode(#"""
        {"00280010":{"vr":"US","Value":[1,65535]},"00280106":{"vr":"SS","Value":[-2]},
         "00081161":{"vr":"UL","Value":[4294967295]},"00186020":{"vr":"SL","Value":[-1]},
         "00091005":{"vr":"SV","Value":[-9223372036854775808,"42"]},"00091006":{"vr":"UV","Value":[18446744073709551615]},
         "00189241":{"vr":"FL","Value":[1.5,"NaN"]},"00189089":{"vr":"FD","Value":[0.1,"-Infinity",1e2]}}
        """#)
        #expect(bytes(dataSet, 0x0028, 0x0010) == littleEndian([UInt16(1), 65535]))
        #expect(bytes(dataSet, 0x0028, 0x0106) == littleEndian([Int16(-2)]))
        #expect(bytes(dataSet, 0x0008, 0x1161) == littleEndian([UInt32.max]))
        #expect(bytes(dataSet, 0x0018, 0x6020) == littleEndian([Int32(-1)]))
        #expect(bytes(dataSet, 0x0009, 0x1005) == littleEndian([Int64.min, 42]))
        #expect(bytes(dataSet, 0x0009, 0x1006) == littleEndian([UInt64.max]))
        #expect(bytes(dataSet, 0x0018, 0x9241) == littleEndian([Float(1.5), Float.nan]))
        #expect(bytes(dataSet, 0x0018, 0x9089) == littleEndian([0.1, -Double.infinity, 100]))
    }

    @Test func outOfRangeNumbersAreRejected() {
        expectFailure(#"{"00280010":{"vr":"US","Value":[65536]}}"#, code: .invalidValue, path: "(0028,0010)", "0 to 65535")
        expectFailure(#"{"00280010":{"vr":"US","Value":[1.5]}}"#, code: .invalidValue, path: "(0028,0010)", "not an integer")
        expectFailure(#"{"00280106":{"vr":"SS","Value":[-32769]}}"#, code: .invalidValue, "-32768 to 32767")
        expectFailure(#"{"00189241":{"vr":"FL","Value":[1e39]}}"#, code: .invalidValue, "out of range for FL")
        expectFailure(#"{"00189089":{"vr":"FD","Value":[1e400]}}"#, code: .invalidValue, "out of range")
        expectFailure(#"{"00280010":{"vr":"US","Value":["1"]}}"#, "must be a number, found a string")
        expectFailure(#"{"00280010":{"vr":"US","Value":[null]}}"#, "must be a number, found null")
    }

    @Test func attributeTags() throws {
        let dataSet = try decode(#"{"00209165":{"vr":"AT","Value":["00100010","7fe00010"]}}"#)
        #expect(bytes(dataSet, 0x0020, 0x9165) == [0x10, 0x00, 0x10, 0x00, 0xE0, 0x7F, 0x10, 0x00])
        expectFailure(#"{"00209165":{"vr":"AT","Value":["0010001"]}}"#, code: .invalidValue, "not eight hexadecimal digits")
        expectFailure(#"{"00209165":{"vr":"AT","Value":[1048592]}}"#, "must be a string")
    }

    @Test func personNames() throws {
        let dataSet = try decode(#"""
        {"00100010":{"vr":"PN","Value":[{"Alphabetic":"Yamada^Tarou","Ideographic":"山田^太郎","Phonetic":"やまだ^たろう"}]},
         "00101001":{"vr":"PN","Value":[{"Alphabetic":"A"},null,{"Ideographic":"I"},{"Phonetic":"P"},{}]}}
        """#)
        #expect(bytes(dataSet, 0x0010, 0x0010) == padded("Yamada^Tarou=山田^太郎=やまだ^たろう"))
        #expect(bytes(dataSet, 0x0010, 0x1001) == Array("A\\\\=I\\==P\\".utf8))
        #expect(bytes(dataSet, 0x0008, 0x0005) == Array("ISO_IR 192".utf8))
        expectFailure(#"{"00100010":{"vr":"PN","Value":["Doe^John"]}}"#, path: "(0010,0010)", "must be an object")
        expectFailure(#"{"00100010":{"vr":"PN","Value":[{"Alphabetical":"x"}]}}"#, "unknown component group \"Alphabetical\"")
        expectFailure(#"{"00100010":{"vr":"PN","Value":[{"Alphabetic":1}]}}"#, "must be a string")
        expectFailure(#"{"00100010":{"vr":"PN","Value":[{"Alphabetic":"a=b"}]}}"#, code: .invalidValue, "contains '='")
    }

    // MARK: Character set

    @Test func nonASCIITextSetsISOIR192AndReplacesTheDeclaredSet() throws {
        let dataSet = try decode(#"""
        {"00080005":{"vr":"CS","Value":["ISO_IR 100"]},"00100010":{"vr":"PN","Value":[{"Alphabetic":"Dürer^Albrecht"}]},
         "00081052":{"vr":"SQ","Value":[{"00080005":{"vr":"CS","Value":["ISO_IR 144"]},"00401101":{"vr":"PN","Value":[{"Alphabetic":"Иванов^Иван"}]}}]}}
        """#)
        #expect(bytes(dataSet, 0x0008, 0x0005) == Array("ISO_IR 192".utf8))
        #expect(bytes(dataSet, 0x0010, 0x0010) == padded("Dürer^Albrecht"))
        let item = try #require(dataSet.items(Tag(0x0008, 0x1052))?.first)
        #expect(bytes(item, 0x0008, 0x0005) == Array("ISO_IR 192".utf8))
        #expect(bytes(item, 0x0040, 0x1101) == padded("Иванов^Иван"))
        #expect(item.characterSet.terms == ["ISO_IR 192"])
    }

    @Test func asciiTextKeepsTheDeclaredSetAndItemsInheritIt() throws {
        let dataSet = try decode(#"{"00080005":{"vr":"CS","Value":["ISO_IR 100"]},"00081052":{"vr":"SQ","Value":[{"00401101":{"vr":"PN","Value":[{"Alphabetic":"Doe"}]}}]}}"#)
        #expect(bytes(dataSet, 0x0008, 0x0005) == Array("ISO_IR 100".utf8))
        #expect(dataSet.items(Tag(0x0008, 0x1052))?.first?.inheritedCharacterSet?.terms == ["ISO_IR 100"])
    }

    // MARK: Binary (§F.2.6, §F.2.7)

    @Test func inlineBinaryBytesAreExact() throws {
        let bytes = (0..<256).map { UInt8($0) }
        let dataSet = try decode(#"{"00281201":{"vr":"OW","InlineBinary":"\#(Data(bytes).base64EncodedString())"},"00420011":{"vr":"OB","InlineBinary":"AAEC"}}"#)
        #expect(self.bytes(dataSet, 0x0028, 0x1201) == bytes)
        #expect(self.bytes(dataSet, 0x0042, 0x0011) == [0, 1, 2, 0])  // odd length padded with NUL
        expectFailure(#"{"00281201":{"vr":"OW","InlineBinary":"not base64!"}}"#, path: "(0028,1201)", "not valid base64")
        expectFailure(#"{"00281201":{"vr":"OW","Value":[1,2]}}"#, "InlineBinary or BulkDataURI, not in Value")
    }

    @Test func inlineBinaryPixelDataWithItemsIsEncapsulated() throws {
        let field: [UInt8] = [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0,
                              0xFE, 0xFF, 0x00, 0xE0, 2, 0, 0, 0, 0xAA, 0xBB,
                              0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
        let dataSet = try decode(#"{"7FE00010":{"vr":"OB","InlineBinary":"\#(Data(field).base64EncodedString())"}}"#)
        let pixels = try #require(dataSet[Tag(0x7FE0, 0x0010)]?.encapsulated)
        #expect(pixels.basicOffsetTable.isEmpty)
        #expect(pixels.fragments == [Data([0xAA, 0xBB])])
        let truncated = Array(field.prefix(17))
        expectFailure(#"{"7FE00010":{"vr":"OB","InlineBinary":"\#(Data(truncated).base64EncodedString())"}}"#, code: .truncated, path: "(7FE0,0010)", "runs past the end")
    }

    @Test func bulkDataURIsAreResolvedByTheCaller() throws {
        let decoder = DICOMJSONDecoder { uri, tag, vr in
            guard uri == "http://host/frames/1" else { throw DICOMError(.io, "no such bulk data \(uri)") }
            #expect(tag == Tag(0x7FE0, 0x0010) && vr == .OW)
            return Data([1, 2, 3, 4])
        }
        let dataSet = try decode(#"{"7FE00010":{"vr":"OW","BulkDataURI":"http://host/frames/1"}}"#, decoder: decoder)
        #expect(bytes(dataSet, 0x7FE0, 0x0010) == [1, 2, 3, 4])
        #expect {
            try decoder.decode(Data(#"{"7FE00010":{"vr":"OW","BulkDataURI":"http://elsewhere"}}"#.utf8))
        } throws: { ($0 as? DICOMError)?.tagPath == "(7FE0,0010)" && ($0 as? DICOMError)?.code == .io }
        expectFailure(#"{"7FE00010":{"vr":"OW","BulkDataURI":"http://host/frames/1"}}"#, path: "(7FE0,0010)", "no bulk data resolver")
    }

    // MARK: Structure

    @Test func nestedSequences() throws {
        let dataSet = try decode(#"{"00081140":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["1.2.3"]},"00082218":{"vr":"SQ","Value":[{"00080100":{"vr":"SH","Value":["T"]}},{}]}}]}}"#)
        let item = try #require(dataSet.items(Tag(0x0008, 0x1140))?.first)
        let inner = try #require(item.items(Tag(0x0008, 0x2218)))
        #expect(inner.count == 2)
        #expect(inner[1].isEmpty)
        #expect(bytes(inner[0], 0x0008, 0x0100) == Array("T ".utf8))
        expectFailure(#"{"00081140":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":[1]}}]}}"#, path: "(0008,1140)[0].(0008,1155)", "must be a string, found a number")
        expectFailure(#"{"00081140":{"vr":"SQ","Value":[null]}}"#, path: "(0008,1140)[0]", "item must be an object")
    }

    @Test func deepNestingIsRejected() {
        var json = #"{"00100010":{"vr":"PN"}}"#
        for _ in 0..<33 { json = #"{"00081140":{"vr":"SQ","Value":[\#(json)]}}"# }
        expectFailure(json, code: .tooDeep, "deeper than 32")
        // Raw JSON nesting beyond the parser limit fails before any recursion trouble.
        expectFailure(String(repeating: "[", count: 100_000), "nesting deeper")
    }

    @Test func malformedAttributesAreRejectedWithTheirKey() {
        expectFailure(#"{"0010001":{"vr":"PN"}}"#, path: "\"0010001\"", "not eight hexadecimal digits")
        expectFailure(#"{"0010001G":{"vr":"PN"}}"#, "not eight hexadecimal digits")
        expectFailure(#"{"00100010":{"vr":"XX"}}"#, code: .invalidVR, path: "(0010,0010)", "unknown VR \"XX\"")
        expectFailure(#"{"00100010":{"Value":[]}}"#, code: .invalidVR, "no \"vr\"")
        expectFailure(#"{"00100010":{"vr":"PN","Value":{"Alphabetic":"x"}}}"#, "\"Value\" must be an array, found an object")
        expectFailure(#"{"00100010":{"vr":"LO","Value":["a"],"InlineBinary":"AA=="}}"#, "only one of Value, InlineBinary and BulkDataURI; this one has Value and InlineBinary")
        expectFailure(#"{"00100010":{"vr":"LO","keyword":"PatientName"}}"#, "unknown member \"keyword\"")
        expectFailure(#"{"00100010":{"vr":"LO"},"00100010":{"vr":"LO"}}"#, "appears twice")
        expectFailure(#"{"00100010":"Doe"}"#, "must be an object, found a string")
        expectFailure(#"{"00100010":{"vr":"LO","Value":["a\\b"]}}"#, code: .invalidValue, "contains a backslash")
        expectFailure(#"{"00204000":{"vr":"LT","Value":["a","b"]}}"#, "holds one value")
        expectFailure(#"{"00081140":{"vr":"SQ","InlineBinary":"AA=="}}"#, "cannot have InlineBinary")
        expectFailure(#"[1]"#, "must be an object, found a number")
        expectFailure(#"{"00100010":{"vr":"LO"}"#, "unexpected end of input")
    }

    // MARK: Arrays (§F.2.1)

    @Test func topLevelArrays() throws {
        let json = Data(#"[{"0020000D":{"vr":"UI","Value":["1.2.3"]}},{"0020000D":{"vr":"UI","Value":["1.2.4"]}}]"#.utf8)
        let dataSets = try DICOMJSONDecoder().decodeArray(json)
        #expect(dataSets.map { bytes($0, 0x0020, 0x000D) } == [Array("1.2.3".utf8) + [0], Array("1.2.4".utf8) + [0]])
        #expect(try DICOMJSONDecoder().decodeArray(Data("{}".utf8)) == [DataSet()])
        #expect(try DICOMJSONDecoder().decode(Data(#"[{}]"#.utf8)) == DataSet())
        #expect(throws: DICOMError.self) { try DICOMJSONDecoder().decode(json) }
        #expect {
            try DICOMJSONDecoder().decodeArray(Data(#"[{},{"00100010":{"vr":"QQ"}}]"#.utf8))
        } throws: { ($0 as? DICOMError)?.tagPath == "[1].(0010,0010)" }
    }

    // MARK: Robustness

    /// Truncations and byte flips of a valid document either decode or throw `DICOMError`; never crash.
    @Test func mutatedInputThrowsOnlyDICOMErrors() throws {
        let valid = Array(try DICOMJSONEncoder().encode(RoundTripTests.everyVR()))
        var generator = SplitMix64(seed: 0x5EED)
        let interesting: [UInt8] = Array(#"{}[]",:\"0123456789-+.eE nulltruefalse"#.utf8) + [0x00, 0x80, 0xC3, 0xFF]
        var failures = 0
        for round in 0..<2_000 {
            var bytes = valid
            if round % 4 == 0 {
                bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
            } else {
                for _ in 0...(generator.next() % 4) {
                    let index = Int(generator.next() % UInt64(bytes.count))
                    bytes[index] = interesting[Int(generator.next() % UInt64(interesting.count))]
                }
            }
            do {
                _ = try DICOMJSONDecoder().decode(Data(bytes))
            } catch is DICOMError {
                failures += 1
            }
        }
        #expect(failures > 1_000)  // most mutations break the document, and they are reported as DICOMError
    }
}

/// A small deterministic random number generator for reproducible mutation tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
