import Foundation
import Testing
import DICOMCore
@testable import DICOMJSON

/// Data set → JSON → data set gives the same elements, for every VR (PS3.5 Table 6.2-1).
@Suite struct RoundTripTests {
    static func everyVR() -> DataSet {
        let item = DataSet([text(0x0008, 0x1150, .UI, "1.2.840.10008.5.1.4.1.1.2"), text(0x0008, 0x1155, .UI, "1.2.3.4")])
        return DataSet([
            text(0x0008, 0x0005, .CS, "ISO_IR 192"),
            text(0x0008, 0x0008, .CS, "ORIGINAL\\PRIMARY\\\\AXIAL"),
            text(0x0008, 0x0016, .UI, "1.2.840.10008.5.1.4.1.1.7"),
            text(0x0008, 0x0020, .DA, "20240102"),
            text(0x0008, 0x0030, .TM, "123456.789"),
            text(0x0008, 0x0054, .AE, "STORESCP"),
            text(0x0008, 0x0090, .PN, "Yamada^Tarou=山田^太郎=やまだ^たろう\\Асанов^Бакыт\\=رضایی^محمد"),
            text(0x0008, 0x0120, .UR, "http://example.org/a?b=c&d=\"e\""),
            text(0x0008, 0x1030, .LO, "Исследование\\two"),
            DataElement(tag: Tag(0x0008, 0x1115), items: []),
            DataElement(tag: Tag(0x0008, 0x1140), items: [item, DataSet(), DataSet([DataElement(tag: Tag(0x0008, 0x2218), items: [item])])]),
            raw(0x0008, 0x1161, .UL, littleEndian([UInt32(0), .max])),
            text(0x0009, 0x0010, .LO, "CREATOR"),
            raw(0x0009, 0x1001, .OD, littleEndian([1.5, -2.25])),
            raw(0x0009, 0x1002, .OF, littleEndian([Float(1.5), -2])),
            raw(0x0009, 0x1003, .OL, littleEndian([UInt32(7), 8])),
            raw(0x0009, 0x1004, .OV, littleEndian([UInt64(9)])),
            raw(0x0009, 0x1005, .SV, littleEndian([Int64.min, -1, Int64.max])),
            raw(0x0009, 0x1006, .UV, littleEndian([UInt64.max, 0])),
            raw(0x0009, 0x1007, .UN, [0, 1, 0xFE, 0xFF]),
            text(0x0009, 0x1008, .UT, "unlimited \\ text\r\nwith \"quotes\""),
            text(0x0009, 0x1009, .UC, "uc one\\uc two"),
            text(0x0009, 0x100A, .ST, "short\ttext"),
            text(0x0009, 0x100B, .DT, "20240102030405.123456+0100"),
            text(0x0009, 0x100C, .SH, "Инженер"),
            text(0x0010, 0x0030, .DA, ""),
            text(0x0010, 0x1010, .AS, "045Y"),
            text(0x0018, 0x0050, .DS, "1.50\\-2e3\\abc\\\\0.000001"),
            raw(0x0018, 0x6020, .SL, littleEndian([Int32.min, 7])),
            raw(0x0018, 0x9089, .FD, littleEndian([0.1, -0.0, 1e300, .nan])),
            raw(0x0018, 0x9241, .FL, littleEndian([Float(0.1), .infinity, -.infinity])),
            text(0x0020, 0x0013, .IS, "-12\\34"),
            text(0x0020, 0x4000, .LT, "  leading spaces kept\\one value"),
            raw(0x0020, 0x9165, .AT, [0x10, 0x00, 0x10, 0x00, 0xE0, 0x7F, 0x10, 0x00]),
            raw(0x0028, 0x0010, .US, littleEndian([UInt16(512), 0, .max])),
            raw(0x0028, 0x0106, .SS, littleEndian([Int16.min, -1])),
            raw(0x0028, 0x1201, .OW, littleEndian([UInt16(0x1234), 0xFFFF])),
            raw(0x0042, 0x0011, .OB, Array(0..<255) + [0]),
            DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OB,
                        value: .encapsulated(EncapsulatedPixelData(basicOffsetTable: Data(littleEndian([UInt32(0)])),
                                                                   fragments: [Data([0xFF, 0xD8]), Data([0xFF, 0xD9, 0, 0])])),
                        hadUndefinedLength: true),
        ])
    }

    @Test func everyVRSurvivesARoundTrip() throws {
        let original = Self.everyVR()
        #expect(Set(original.elements.map(\.vr)) == Set(VR.allCases), "the data set should hold every VR")
        for pretty in [false, true] {
            let json = try DICOMJSONEncoder(options: .init(prettyPrinted: pretty)).encode(original)
            let decoded = try DICOMJSONDecoder().decode(json)
            #expect(decoded.elements.map(\.tag) == original.elements.map(\.tag))
            for (a, b) in zip(decoded.elements, original.elements) {
                #expect(a == b, "\(b.tag) \(b.vr)")
            }
            // And the JSON is stable: encoding the decoded data set gives the same bytes.
            #expect(try DICOMJSONEncoder(options: .init(prettyPrinted: pretty)).encode(decoded) == json)
            // Foundation can parse it too.
            #expect(try JSONSerialization.jsonObject(with: json) is [String: Any])
        }
    }

    @Test func bulkDataRoundTrip() throws {
        let original = Self.everyVR()
        let store = BulkStore()
        let encoder = DICOMJSONEncoder(options: .init(bulkDataThreshold: 8)) { path, element in
            store.put(path, element)
        }
        let json = try encoder.encode(original)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains(#""7FE00010":{"vr":"OB","BulkDataURI":"bulk:(7FE0,0010)"}"#))
        #expect(text.contains(#""00090010":{"vr":"LO","Value":["CREATOR"]}"#))  // LO is not bulk data
        let decoder = DICOMJSONDecoder { uri, _, _ in try store.get(uri) }
        let decoded = try decoder.decode(json)
        #expect(decoded == original)
    }
}

/// An in-memory bulk data store keyed by URI.
final class BulkStore: @unchecked Sendable {
    private var values: [String: Data] = [:]
    private let lock = NSLock()

    func put(_ path: String, _ element: DataElement) -> String {
        let uri = "bulk:" + path
        let data: Data
        switch element.value {
        case .bytes(let bytes): data = bytes
        case .encapsulated(let pixels): data = pixels.valueField
        case .sequence: data = Data()
        }
        lock.withLock { values[uri] = data }
        return uri
    }

    func get(_ uri: String) throws -> Data {
        guard let data = lock.withLock({ values[uri] }) else { throw DICOMError(.io, "no bulk data at \(uri)") }
        return data
    }
}
