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
}
