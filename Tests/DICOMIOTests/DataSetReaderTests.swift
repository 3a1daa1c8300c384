import DICOMCore
import Foundation
import Testing
@testable import DICOMIO

@Suite struct DataSetReaderTests {
    @Test func explicitLittleEndianElements() throws {
        var b = ByteBuilder()
        b.explicitShort(0x0008, 0x0060, "CS", Array("CT".utf8))
        b.explicitShort(0x0010, 0x0010, "PN", Array("Doe^John".utf8))
        b.explicitShort(0x0028, 0x0010, "US", [0x00, 0x02])           // Rows 512
        b.explicitLong(0x7FE0, 0x0010, "OW", length: 4, [1, 2, 3, 4])
        let ds = try DataSetReader.read(b.data, transferSyntax: .explicitVRLittleEndian)
        #expect(ds.count == 4)
        #expect(ds.string(Tag(0x0008, 0x0060)) == "CT")
        #expect(ds.string(Tag(0x0010, 0x0010)) == "Doe^John")
        #expect(ds.integer(Tag(0x0028, 0x0010)) == 512)
        #expect(ds[Tag(0x7FE0, 0x0010)]?.vr == .OW)
        #expect(ds[Tag(0x7FE0, 0x0010)]?.bytes == Data([1, 2, 3, 4]))
    }

    @Test func implicitLittleEndianUsesDictionaryVRs() throws {
        var b = ByteBuilder()
        b.implicit(0x0010, 0x0010, Array("Doe^John".utf8))
        b.implicit(0x0028, 0x0010, [0x00, 0x02])
        b.implicit(0x0029, 0x1010, [9, 9])                            // private, unknown → UN
        let ds = try DataSetReader.read(b.data, transferSyntax: .implicitVRLittleEndian)
        #expect(ds[Tag(0x0010, 0x0010)]?.vr == .PN)
        #expect(ds[Tag(0x0028, 0x0010)]?.vr == .US)
        #expect(ds[Tag(0x0029, 0x1010)]?.vr == .UN)
    }

    @Test func pixelRepresentationResolvesUSorSS() throws {
        var b = ByteBuilder()
        b.implicit(0x0028, 0x0103, [1, 0])                            // signed
        b.implicit(0x0028, 0x0106, [0xFF, 0xFF])                      // Smallest Image Pixel Value: US or SS
        let ds = try DataSetReader.read(b.data, transferSyntax: .implicitVRLittleEndian)
        #expect(ds[Tag(0x0028, 0x0106)]?.vr == .SS)
        #expect(ds.integer(Tag(0x0028, 0x0106)) == -1)
    }

    @Test func undefinedLengthSequenceWithUndefinedItems() throws {
        var b = ByteBuilder()
        b.explicitLong(0x0008, 0x1115, "SQ", length: 0xFFFF_FFFF)
        b.tag(0xFFFE, 0xE000); b.u32(0xFFFF_FFFF)
        b.explicitShort(0x0008, 0x1155, "UI", Array("1.2.3\0".utf8))
        b.tag(0xFFFE, 0xE00D); b.u32(0)
        b.tag(0xFFFE, 0xE000); b.u32(14)                              // defined-length item
        b.explicitShort(0x0008, 0x1155, "UI", Array("1.2.4\0".utf8))
        b.tag(0xFFFE, 0xE0DD); b.u32(0)
        b.explicitShort(0x0010, 0x0010, "PN", Array("A^B ".utf8))
        let ds = try DataSetReader.read(b.data, transferSyntax: .explicitVRLittleEndian)
        let items = try #require(ds.items(Tag(0x0008, 0x1115)))
        #expect(items.count == 2)
        #expect(items[0].string(Tag(0x0008, 0x1155)) == "1.2.3")
        #expect(items[0].hadUndefinedLength)
        #expect(items[1].string(Tag(0x0008, 0x1155)) == "1.2.4")
        #expect(!items[1].hadUndefinedLength)
        #expect(ds[Tag(0x0008, 0x1115)]?.hadUndefinedLength == true)
        #expect(ds.string(Tag(0x0010, 0x0010)) == "A^B")
    }

    @Test func encapsulatedPixelDataKeepsOffsetTableAndFragments() throws {
        var b = ByteBuilder()
        b.explicitLong(0x7FE0, 0x0010, "OB", length: 0xFFFF_FFFF)
        b.tag(0xFFFE, 0xE000); b.u32(4); b.u32(0)                     // BOT with one offset
        b.tag(0xFFFE, 0xE000); b.u32(4); b.bytes += [0xFF, 0xD8, 0xFF, 0xD9]
        b.tag(0xFFFE, 0xE000); b.u32(2); b.bytes += [0xAA, 0xBB]
        b.tag(0xFFFE, 0xE0DD); b.u32(0)
        let ds = try DataSetReader.read(b.data, transferSyntax: .jpegBaseline)
        let pixels = try #require(ds[Tag(0x7FE0, 0x0010)]?.encapsulated)
        #expect(pixels.offsets == [0])
        #expect(pixels.fragments == [Data([0xFF, 0xD8, 0xFF, 0xD9]), Data([0xAA, 0xBB])])
    }

    @Test func bigEndianValuesAreSwappedToLittleEndian() throws {
        var bytes: [UInt8] = [0x00, 0x28, 0x00, 0x10] + Array("US".utf8) + [0x00, 0x02] + [0x02, 0x00] // Rows = 512 BE
        bytes += [0x00, 0x10, 0x00, 0x10] + Array("PN".utf8) + [0x00, 0x04] + Array("A^B ".utf8)
        // Big endian groups must be ascending: (0010,0010) after (0028,0010) is out of order; use order-tolerant read.
        var options = ReadOptions()
        options.tolerated.insert(.unorderedElements)
        let ds = try DataSetReader.read(Data(bytes), transferSyntax: .explicitVRBigEndian, options: options)
        #expect(ds.integer(Tag(0x0028, 0x0010)) == 512)
        #expect(ds[Tag(0x0028, 0x0010)]?.bytes == Data([0x00, 0x02]))
        #expect(ds.string(Tag(0x0010, 0x0010)) == "A^B")
    }

    @Test func stopBeforePixelData() throws {
        var b = ByteBuilder()
        b.explicitShort(0x0028, 0x0010, "US", [0x00, 0x02])
        b.explicitLong(0x7FE0, 0x0010, "OW", length: 4, [1, 2, 3, 4])
        b.explicitShort(0xFFFC, 0xFFFC, "OB", [0, 0])
        let ds = try DataSetReader.read(b.data, transferSyntax: .explicitVRLittleEndian, options: .metadataOnly)
        #expect(ds.count == 1)
        #expect(!ds.contains(Tag(0x7FE0, 0x0010)))
    }

    @Test func characterSetIsInheritedByItems() throws {
        var b = ByteBuilder()
        b.explicitShort(0x0008, 0x0005, "CS", Array("ISO_IR 192".utf8))
        b.explicitLong(0x0008, 0x1115, "SQ", length: 0xFFFF_FFFF)
        b.tag(0xFFFE, 0xE000); b.u32(0xFFFF_FFFF)
        let name = Array("Иванов^Иван".utf8)
        b.explicitShort(0x0010, 0x0010, "PN", name)
        b.tag(0xFFFE, 0xE00D); b.u32(0)
        b.tag(0xFFFE, 0xE0DD); b.u32(0)
        let ds = try DataSetReader.read(b.data, transferSyntax: .explicitVRLittleEndian)
        let item = try #require(ds.items(Tag(0x0008, 0x1115))?.first)
        #expect(item.string(Tag(0x0010, 0x0010)) == "Иванов^Иван")
    }

    @Test func unknownVRUndefinedLengthIsImplicitSequence() throws {
        // PS3.5 §6.2.2: UN with undefined length holds a sequence in implicit VR little endian.
        var b = ByteBuilder()
        b.explicitLong(0x0008, 0x1115, "UN", length: 0xFFFF_FFFF)
        b.tag(0xFFFE, 0xE000); b.u32(0xFFFF_FFFF)
        b.implicit(0x0008, 0x1155, Array("1.2.3\0".utf8))
        b.tag(0xFFFE, 0xE00D); b.u32(0)
        b.tag(0xFFFE, 0xE0DD); b.u32(0)
        b.explicitShort(0x0010, 0x0010, "PN", Array("A^B ".utf8))
        let ds = try DataSetReader.read(b.data, transferSyntax: .explicitVRLittleEndian)
        #expect(ds.items(Tag(0x0008, 0x1115))?.first?.string(Tag(0x0008, 0x1155)) == "1.2.3")
        #expect(ds.string(Tag(0x0010, 0x0010)) == "A^B")
    }

    @Test func detectsEncoding() {
        var explicit = ByteBuilder()
        explicit.explicitShort(0x0008, 0x0060, "CS", Array("CT".utf8))
        #expect(DataSetReader.detectEncoding(of: explicit.data) == .explicitVRLittleEndian)
        var implicit = ByteBuilder()
        implicit.implicit(0x0008, 0x0060, Array("CT".utf8))
        #expect(DataSetReader.detectEncoding(of: implicit.data) == .implicitVRLittleEndian)
        let bigEndian: [UInt8] = [0x00, 0x08, 0x00, 0x60] + Array("CS".utf8) + [0x00, 0x02] + Array("CT".utf8)
        #expect(DataSetReader.detectEncoding(of: Data(bigEndian)) == .explicitVRBigEndian)
    }

    // MARK: Tag paths in errors and diagnostics (built only when needed)

    /// A sequence of two items whose second item holds a nested sequence with a broken element.
    static func nestedWithBadLength() -> Data {
        var inner = ByteBuilder()
        inner.explicitShort(0x0008, 0x0100, "SH", Array("C1".utf8))
        inner.tag(0x0008, 0x0104); inner.ascii("LO"); inner.u16(200); inner.ascii("Head")   // length 200, 4 bytes follow
        var nested = ByteBuilder()
        nested.tag(0xFFFE, 0xE000); nested.u32(UInt32(inner.bytes.count)); nested.bytes += inner.bytes
        var item1 = ByteBuilder()
        item1.explicitShort(0x0008, 0x1155, "UI", Array("1.2.3\0".utf8))
        item1.explicitLong(0x0040, 0x0275, "SQ", length: UInt32(nested.bytes.count), nested.bytes)
        var b = ByteBuilder()
        b.explicitShort(0x0008, 0x0060, "CS", Array("CT".utf8))
        b.explicitLong(0x0008, 0x1115, "SQ", length: 0xFFFF_FFFF)
        b.tag(0xFFFE, 0xE000); b.u32(0xFFFF_FFFF)
        b.explicitShort(0x0008, 0x1155, "UI", Array("1.2.4\0".utf8))
        b.tag(0xFFFE, 0xE00D); b.u32(0)
        b.tag(0xFFFE, 0xE000); b.u32(UInt32(item1.bytes.count)); b.bytes += item1.bytes
        b.tag(0xFFFE, 0xE0DD); b.u32(0)
        return b.data
    }

    @Test func errorNamesTheNestedTagPath() throws {
        let data = Self.nestedWithBadLength()
        do {
            _ = try DataSetReader.read(data, transferSyntax: .explicitVRLittleEndian)
            Issue.record("a length past the end of its item must be an error")
        } catch let error as DICOMError {
            #expect(error.code == .invalidLength)
            #expect(error.tagPath == "(0008,1115)[1].(0040,0275)[0].(0008,0104)")
            // The header of (0008,0104) starts 14 + 12 bytes before the end of the data plus the delimiter (8).
            #expect(error.offset == data.count - 8 - 4 - 8)
            #expect(error.description.contains("(0008,1115)[1].(0040,0275)[0].(0008,0104)"))
        }
    }

    @Test func errorAtTheTopLevelHasNoPath() throws {
        var b = ByteBuilder()
        b.explicitShort(0x0008, 0x0060, "CS", Array("CT".utf8))
        b.bytes += [0x10, 0x00, 0x10]                                  // 3 bytes of a header
        var options = ReadOptions()
        options.tolerated = .none
        #expect(throws: DICOMError(.truncated, "the data ends inside an element header (3 bytes left, 8 needed)", offset: 10)) {
            try DataSetReader.read(b.data, transferSyntax: .explicitVRLittleEndian, options: options)
        }
        // An item of a sequence: the path names the item.
        var s = ByteBuilder()
        s.explicitLong(0x0008, 0x1115, "SQ", length: 0xFFFF_FFFF)
        s.tag(0xFFFE, 0xE000); s.u32(0xFFFF_FFFF)
        s.tag(0xFFFE, 0xE0DD); s.u32(0)                                // sequence delimiter inside an item
        #expect(throws: DICOMError(.malformed, "unexpected (FFFE,E0DD) where a data element belongs", offset: 20, tagPath: "(0008,1115)[0]")) {
            try DataSetReader.read(s.data, transferSyntax: .explicitVRLittleEndian, options: options)
        }
    }

    @Test func diagnosticsNameTheirTagPath() throws {
        var item = ByteBuilder()
        item.explicitShort(0x0008, 0x0100, "SH", Array("C1X".utf8))   // odd length
        item.explicitShort(0x0008, 0x0102, "SH", Array("L".utf8))     // odd length; the item's length is even
        var b = ByteBuilder()
        b.explicitShort(0x0008, 0x0060, "CS", Array("CT".utf8))
        b.explicitLong(0x0008, 0x1032, "SQ", length: UInt32(8 + item.bytes.count))
        b.tag(0xFFFE, 0xE000); b.u32(UInt32(item.bytes.count)); b.bytes += item.bytes
        b.explicitShort(0x0010, 0x0020, "LO", Array("ABC".utf8))       // odd length at the top level
        var diagnostics: [ReadDiagnostic] = []
        let (ds, _, stopped) = try DataSetReader.read(b.data, from: 0, transferSyntax: .explicitVRLittleEndian, options: ReadOptions(),
                                                      diagnostics: &diagnostics)
        #expect(!stopped)
        #expect(ds.items(.procedureCodeSequence)?.first?.string(.codeValue) == "C1X")
        #expect(diagnostics.map(\.tagPath) == ["(0008,1032)[0].(0008,0100)", "(0008,1032)[0].(0008,0102)", "(0010,0020)"])
        #expect(diagnostics.map(\.offset) == [30, 41, 50])
        #expect(diagnostics.map(\.message) == ["(0008,0100) has odd length 3", "(0008,0102) has odd length 1", "(0010,0020) has odd length 3"])
    }

    // MARK: Specific Character Set as real files spell it

    static func declaring(_ value: String) -> Data {
        var b = ByteBuilder()
        var bytes = Array(value.utf8); if bytes.count % 2 == 1 { bytes.append(0x20) }
        b.explicitShort(0x0008, 0x0005, "CS", bytes)
        // A sequence item inherits the set; "Иванов^Иван" in ISO 8859-5.
        let name: [UInt8] = [0xB8, 0xD2, 0xD0, 0xDD, 0xDE, 0xD2, 0x5E, 0xB8, 0xD2, 0xD0, 0xDD, 0x20]
        var item = ByteBuilder()
        item.explicitShort(0x0010, 0x0010, "PN", name)
        b.explicitLong(0x0008, 0x1115, "SQ", length: UInt32(8 + item.bytes.count))
        b.tag(0xFFFE, 0xE000); b.u32(UInt32(item.bytes.count)); b.bytes += item.bytes
        b.explicitShort(0x0010, 0x0010, "PN", name)
        return b.data
    }

    @Test(arguments: ["ISO_IR 144", "iso_ir 144", "ISO-IR 144", " ISO_IR 144", "ISO_IR 144\0"])
    func lenientSpecificCharacterSetDecodesTopLevelAndItems(_ value: String) throws {
        var diagnostics: [ReadDiagnostic] = []
        let (ds, _, _) = try DataSetReader.read(Self.declaring(value), from: 0, transferSyntax: .explicitVRLittleEndian,
                                                options: ReadOptions(), diagnostics: &diagnostics)
        #expect(ds.string(.patientName) == "Иванов^Иван", "\(value)")
        #expect(ds.items(Tag(0x0008, 0x1115))?.first?.string(.patientName) == "Иванов^Иван", "\(value)")
        let misspelled = !["ISO_IR 144", " ISO_IR 144", "ISO_IR 144\0"].contains(value)
        #expect(diagnostics.contains { $0.message.contains("not spelled as") && $0.tagPath == "(0008,0005)" } == misspelled, "\(value)")
    }

    @Test func unknownSpecificCharacterSetIsADiagnostic() throws {
        var diagnostics: [ReadDiagnostic] = []
        let (ds, _, _) = try DataSetReader.read(Self.declaring("KLINGON"), from: 0, transferSyntax: .explicitVRLittleEndian,
                                                options: ReadOptions(), diagnostics: &diagnostics)
        let note = try #require(diagnostics.first { $0.tagPath == "(0008,0005)" })
        #expect(note.message.contains("unknown Specific Character Set"))
        #expect(note.message.contains("KLINGON"))
        #expect(note.offset == 0)
        #expect(ds.characterSet == .default)
    }
}
