@testable import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation
import Testing

/// Segmented Palette Color Lookup Table Data (PS3.3 §C.7.9.2): expansion by hand, rendering compared with pydicom's
/// `apply_color_lut`, and malformed segments rejected with an error.
@Suite struct SegmentedPaletteTests {
    static let name = "test LUT"

    // MARK: Expansion (PS3.3 Tables C.7-25, C.7-26, C.7-27)

    @Test func discreteLinearAndIndirectSegments() throws {
        let words: [UInt16] = [
            0, 3, 10, 20, 30,  // word 0: discrete 10 20 30
            1, 4, 70,          // word 5: linear from 30 to 70 in 4 steps: 40 50 60 70
            2, 2, 0, 0,        // word 8: indirect, byte offset 0: segments 0 and 1 again
            1, 3, 0,           // word 12: linear from 70 to 0 in 3 steps: 46.67 23.33 0
        ]
        let table = try SegmentedPaletteLUT.expand(words, entryCount: 17, name: Self.name)
        // The copied linear segment starts from the entry before it (30, from the copied discrete segment).
        #expect(table == [10, 20, 30, 40, 50, 60, 70, 10, 20, 30, 40, 50, 60, 70, 47, 23, 0])
    }

    @Test func indirectOffsetIsInBytes() throws {
        let words: [UInt16] = [
            0, 1, 5,           // word 0
            0, 2, 8, 9,        // word 3 = byte 6
            2, 1, 6, 0,        // indirect: byte offset 6 → the segment at word 3
        ]
        #expect(try SegmentedPaletteLUT.expand(words, entryCount: 5, name: Self.name) == [5, 8, 9, 8, 9])
        // An odd offset cannot be a byte offset to a word; read as a word index (as some toolkits write it).
        let wordIndexed: [UInt16] = [0, 1, 5, 0, 2, 8, 9, 2, 1, 3, 0]
        #expect(try SegmentedPaletteLUT.expand(wordIndexed, entryCount: 5, name: Self.name) == [5, 8, 9, 8, 9])
        // A 32-bit offset: most significant word second.
        let far: [UInt16] = [0, 1, 5, 2, 1, 0, 1]
        #expect(throws: CodecError.self) { try SegmentedPaletteLUT.expand(far, entryCount: 2, name: Self.name) }
    }

    @Test func linearRoundsHalfToEven() throws {
        // From 0 to 5 in 2 steps: 2.5 → 2, 5; from 5 to 0 in 2 steps: 2.5 → 2, 0; from 0 to 3 in 2: 1.5 → 2, 3.
        #expect(try SegmentedPaletteLUT.expand([0, 1, 0, 1, 2, 5, 1, 2, 0, 1, 2, 3], entryCount: 7, name: Self.name)
                == [0, 2, 5, 2, 0, 2, 3])
    }

    @Test func malformedSegmentsThrow() {
        let cases: [(String, [UInt16], Int)] = [
            ("reserved opcode", [3, 1, 0], 1),
            ("linear first", [1, 4, 70], 4),
            ("indirect first", [2, 1, 0, 0], 1),
            ("discrete runs past the data", [0, 5, 1, 2], 5),
            ("linear without its end value", [0, 1, 1, 1, 3], 4),
            ("indirect without its offset", [0, 1, 1, 2, 1, 0], 2),
            ("indirect offset not at a segment", [0, 2, 1, 2, 2, 1, 2, 0], 4),
            ("indirect offset past the data", [0, 1, 1, 2, 1, 0x1000, 0], 2),
            ("indirect pointing at itself", [0, 1, 1, 2, 1, 6, 0], 2),
            ("indirect copying past itself", [0, 1, 1, 2, 2, 0, 0], 3),
            ("indirect copying an indirect", [0, 1, 1, 2, 1, 0, 0, 2, 1, 6, 0], 3),
            ("too many entries", [0, 3, 1, 2, 3], 2),
            ("too few entries", [0, 3, 1, 2, 3], 4),
            ("huge linear segment", [0, 1, 0, 1, 0xFFFF, 9], 256),
            ("empty", [], 1),
            ("zero entries", [0, 1, 7], 0),
        ]
        for (label, words, count) in cases {
            #expect(throws: CodecError.self, "\(label)") { try SegmentedPaletteLUT.expand(words, entryCount: count, name: Self.name) }
        }
    }

    @Test func descriptorAndDataChecked() {
        func element(_ words: [UInt16]) -> DataElement {
            DataElement(tag: .segmentedRedPaletteColorLookupTableData, vr: .OW,
                        bytes: Data(words.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }))
        }
        #expect(throws: CodecError.self) { try RenderLUT(descriptor: [2, 0], segmentedData: element([0, 2, 1, 2]), name: "Red") }
        #expect(throws: CodecError.self) { try RenderLUT(descriptor: [2, 0, 12], segmentedData: element([0, 2, 1, 2]), name: "Red") }
        #expect(throws: CodecError.self) { try RenderLUT(descriptor: [2, 0, 16], segmentedData: nil, name: "Red") }
        // 300 does not fit 8 bits per entry.
        #expect(throws: CodecError.self) { try RenderLUT(descriptor: [2, 0, 8], segmentedData: element([0, 2, 1, 300]), name: "Red") }
        let odd = DataElement(tag: .segmentedRedPaletteColorLookupTableData, vr: .OW, bytes: Data([0, 0, 1]))
        #expect(throws: CodecError.self) { try RenderLUT(descriptor: [1, 0, 16], segmentedData: odd, name: "Red") }
        let lut = try? RenderLUT(descriptor: [0, 0, 16], segmentedData: element([0, 1, 0, 1, 65535, 65535]), name: "Red")
        #expect(lut?.entries.count == 65536)
        #expect(lut?.entries.last == 65535)
    }

    // MARK: Rendering, compared with pydicom

    /// 256-entry, 16-bit segmented red, green and blue tables using every segment type (odd linear lengths, so
    /// no rounding ties), with indirect offsets that pydicom reads the same way (0, and a word index given odd).
    static let red: [UInt16] = [0, 3, 100, 200, 300, 1, 101, 65535, 2, 2, 0, 0, 1, 47, 0, 0, 1, 0]
    static let green: [UInt16] = [0, 1, 7, 1, 119, 60000, 0, 3, 5, 6, 7, 2, 2, 3, 0, 1, 9, 0, 0, 2, 0, 0]
    static let blue: [UInt16] = [0, 1, 0, 1, 255, 65535]

    /// The same kinds of segments coded in bytes, for 8 bits per entry (as pydicom and GDCM code them); the green
    /// table's indirect segment points at byte 3.
    static let red8: [UInt8] = [0, 3, 10, 20, 30, 1, 101, 255, 2, 2, 0, 0, 0, 0, 1, 47, 0, 0, 1, 0]
    static let green8: [UInt8] = [0, 1, 7, 1, 119, 250, 0, 3, 5, 6, 7, 2, 2, 3, 0, 0, 0, 1, 9, 0, 0, 2, 0, 0]
    static let blue8: [UInt8] = [0, 1, 0, 1, 255, 255]

    static func words(_ values: [UInt16]) -> Data { Data(values.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }) }

    static func paletteDataSet(rows: Int, columns: Int, bitsPerEntry: Int = 16) throws -> DataSet {
        var dataSet = DataSet()
        try dataSet.set(.sopClassUID, vr: .UI, string: "1.2.840.10008.5.1.4.1.1.7")
        try dataSet.set(.sopInstanceUID, vr: .UI, string: "1.2.826.0.1.3680043.9.7433.1.1")
        try dataSet.set(.samplesPerPixel, vr: .US, integers: [1])
        try dataSet.set(.photometricInterpretation, vr: .CS, string: "PALETTE COLOR")
        try dataSet.set(.rows, vr: .US, integers: [rows])
        try dataSet.set(.columns, vr: .US, integers: [columns])
        try dataSet.set(.bitsAllocated, vr: .US, integers: [8])
        try dataSet.set(.bitsStored, vr: .US, integers: [8])
        try dataSet.set(.highBit, vr: .US, integers: [7])
        try dataSet.set(.pixelRepresentation, vr: .US, integers: [0])
        for tag in [Tag.redPaletteColorLookupTableDescriptor, .greenPaletteColorLookupTableDescriptor, .bluePaletteColorLookupTableDescriptor] {
            try dataSet.set(tag, vr: .US, integers: [256, 0, bitsPerEntry])
        }
        let tables = bitsPerEntry == 8 ? [Data(red8), Data(green8), Data(blue8)] : [words(red), words(green), words(blue)]
        for (tag, bytes) in zip([Tag.segmentedRedPaletteColorLookupTableData, .segmentedGreenPaletteColorLookupTableData,
                                 .segmentedBluePaletteColorLookupTableData], tables) {
            dataSet.set(DataElement(tag: tag, vr: .OW, bytes: bytes))
        }
        dataSet.set(DataElement(tag: .pixelData, vr: .OB, bytes: Data((0..<(rows * columns)).map { UInt8(($0 * 7) % 256) })))
        return dataSet
    }

    @Test(arguments: [16, 8])
    func renderingMatchesPydicom(bitsPerEntry: Int) throws {
        let path = NSTemporaryDirectory() + "segmented-palette-\(UUID().uuidString).dcm"
        let raw = path + ".raw"
        defer { unlink(path); unlink(raw) }
        try DICOMFile(dataSet: Self.paletteDataSet(rows: 16, columns: 16, bitsPerEntry: bitsPerEntry),
                      transferSyntax: .explicitVRLittleEndian).write(to: path)

        let file = try DICOMFile(contentsOf: path)
        let description = try FrameDescription(dataSet: file.dataSet)
        let frame = try RenderTests.nativeFrame(file.dataSet, description)
        let image = try FrameRenderer.render(frame, description: description, dataSet: file.dataSet)
        #expect(image.samplesPerPixel == 3 && image.width == 16 && image.height == 16)

        _ = try OpenJPEGTests.python("""
            import sys, warnings
            warnings.simplefilter("ignore")
            import pydicom
            from pydicom.pixels import apply_color_lut
            ds = pydicom.dcmread(sys.argv[1])
            apply_color_lut(ds.pixel_array, ds).astype("<u2").tofile(sys.argv[2])
            """, [path, raw])
        let expected = DataSet.binary(try Data(contentsOf: URL(fileURLWithPath: raw)), UInt16.self)
        try #require(expected.count == image.pixels.count)
        // The renderer keeps the high 8 bits of 16-bit entries.
        let shift = bitsPerEntry == 16 ? 8 : 0
        let mismatches = zip(expected, image.pixels).filter { UInt8($0.0 >> UInt16(shift)) != $0.1 }.count
        #expect(mismatches == 0)
        // The tables are not flat: the image uses many colours.
        #expect(Set(stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] }).count > 50)
    }

    @Test func byteCodedSegments() throws {
        // Discrete 10 20 30, linear to 70 in 4, indirect (4-byte offset 0) copying both, linear to 0 in 3.
        let bytes: [UInt8] = [0, 3, 10, 20, 30, 1, 4, 70, 2, 2, 0, 0, 0, 0, 1, 3, 0]
        #expect(try SegmentedPaletteLUT.expand(bytes: bytes, entryCount: 17, name: Self.name)
                == [10, 20, 30, 40, 50, 60, 70, 10, 20, 30, 40, 50, 60, 70, 47, 23, 0])
        #expect(throws: CodecError.self) { try SegmentedPaletteLUT.expand(bytes: [0, 1, 5, 2, 1, 0, 0], entryCount: 2, name: Self.name) }
        // 8 bits per entry, coded in words, is read as words.
        let wordCoded = DataElement(tag: .segmentedRedPaletteColorLookupTableData, vr: .OW, bytes: Self.words([0, 2, 9, 200]))
        #expect(try RenderLUT(descriptor: [2, 0, 8], segmentedData: wordCoded, name: "Red").entries == [9, 200])
        // ... and coded in bytes (odd length, as written), as bytes.
        let byteCoded = DataElement(tag: .segmentedRedPaletteColorLookupTableData, vr: .OW, bytes: Data([0, 2, 9, 200, 1, 3, 0]))
        #expect(try RenderLUT(descriptor: [5, 0, 8], segmentedData: byteCoded, name: "Red").entries == [9, 200, 133, 67, 0])
    }

    @Test func plainDataWinsOverSegmented() throws {
        var dataSet = try Self.paletteDataSet(rows: 1, columns: 2)
        for tag in [Tag.redPaletteColorLookupTableData, .greenPaletteColorLookupTableData, .bluePaletteColorLookupTableData] {
            dataSet.set(DataElement(tag: tag, vr: .OW, bytes: Data(repeating: 0x12, count: 512)))
        }
        let description = try FrameDescription(dataSet: dataSet)
        let frame = try RenderTests.nativeFrame(dataSet, description)
        let image = try FrameRenderer.render(frame, description: description, dataSet: dataSet)
        #expect(image.pixels == [UInt8](repeating: 0x12, count: 6))
    }

    @Test func brokenSegmentedTableFailsRendering() throws {
        var dataSet = try Self.paletteDataSet(rows: 1, columns: 2)
        dataSet.set(DataElement(tag: .segmentedGreenPaletteColorLookupTableData, vr: .OW, bytes: Data([1, 0, 4, 0, 70, 0])))
        let description = try FrameDescription(dataSet: dataSet)
        let frame = try RenderTests.nativeFrame(dataSet, description)
        #expect(throws: CodecError.self) { try FrameRenderer.render(frame, description: description, dataSet: dataSet) }
    }
}
