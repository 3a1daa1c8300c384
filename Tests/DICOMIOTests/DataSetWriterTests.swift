import DICOMCore
import Foundation
import Testing
@testable import DICOMIO

@Suite struct DataSetWriterTests {
    func sample() throws -> DataSet {
        var ds = DataSet()
        try ds.set(Tag(0x0008, 0x0005), vr: .CS, string: "ISO_IR 192")
        ds.setASCII(Tag(0x0008, 0x0016), vr: .UI, "1.2.840.10008.5.1.4.1.1.2")
        ds.setASCII(Tag(0x0008, 0x0018), vr: .UI, "1.2.3.4.5")
        try ds.set(Tag(0x0010, 0x0010), vr: .PN, string: "Асанбеков^Үмүт")
        try ds.set(Tag(0x0028, 0x0010), vr: .US, integers: [512])
        try ds.set(Tag(0x0028, 0x0030), vr: .DS, doubles: [0.5, 0.5])
        var item = DataSet()
        item.setASCII(Tag(0x0008, 0x1150), vr: .UI, "1.2.840.10008.5.1.4.1.1.2")
        item.setASCII(Tag(0x0008, 0x1155), vr: .UI, "1.2.3")
        ds.set(DataElement(tag: Tag(0x0008, 0x1140), items: [item]))
        ds.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OW, bytes: Data((0..<64).map { UInt8($0) })))
        return ds
    }

    @Test(arguments: [TransferSyntax.implicitVRLittleEndian, .explicitVRLittleEndian, .explicitVRBigEndian, .deflatedExplicitVRLittleEndian])
    func roundTripThroughEverySyntax(_ syntax: TransferSyntax) throws {
        let original = try sample()
        let file = DICOMFile(dataSet: original, transferSyntax: syntax)
        let bytes = try file.encoded()
        let read = try DICOMFile(data: bytes)
        #expect(read.transferSyntax == syntax)
        #expect(read.dataSet == original)
        #expect(read.dataSet.string(Tag(0x0010, 0x0010)) == "Асанбеков^Үмүт")
        #expect(read.fileMetaInformation.string(Tag(0x0002, 0x0012)) == UID.implementationClassUID)
        // Writing what was read gives the same bytes.
        #expect(try read.encoded() == bytes)
    }

    @Test func paddingBytesPerVR() throws {
        var ds = DataSet()
        ds.setASCII(Tag(0x0008, 0x0018), vr: .UI, "1.2.3")
        try ds.set(Tag(0x0010, 0x0010), vr: .PN, string: "Doe")
        let bytes = try DataSetWriter.encode(ds, transferSyntax: .explicitVRLittleEndian)
        // (0008,0018) UI length 6 "1.2.3\0", then (0010,0010) PN length 4 "Doe ".
        #expect(Array(bytes) == [0x08, 0x00, 0x18, 0x00, 0x55, 0x49, 0x06, 0x00] + Array("1.2.3".utf8) + [0x00]
                + [0x10, 0x00, 0x10, 0x00, 0x50, 0x4E, 0x04, 0x00] + Array("Doe ".utf8))
    }

    @Test func fileMetaGroupLengthIsComputed() throws {
        let file = DICOMFile(dataSet: try sample(), transferSyntax: .explicitVRLittleEndian, sourceAETitle: "NODE1")
        let bytes = try file.encoded()
        let read = try DICOMFile(data: bytes)
        let groupLength = try #require(read.fileMetaInformation.integer(Tag(0x0002, 0x0000)))
        // The group runs from after the (0002,0000) element (12 bytes at offset 132) to the first data set element.
        let metaEnd = 132 + 12 + groupLength
        #expect(bytes[metaEnd] == 0x08 && bytes[metaEnd + 1] == 0x00)
        #expect(read.fileMetaInformation.string(Tag(0x0002, 0x0016)) == "NODE1")
        #expect(read.fileMetaInformation.string(Tag(0x0002, 0x0003)) == "1.2.3.4.5")
    }

    @Test func definedAndUndefinedSequenceLengths() throws {
        let ds = try sample()
        var options = WriteOptions()
        options.sequenceLength = .undefined
        options.itemLength = .undefined
        let undefined = try DataSetWriter.encode(ds, transferSyntax: .explicitVRLittleEndian, options: options)
        let read = try DataSetReader.read(undefined, transferSyntax: .explicitVRLittleEndian)
        #expect(read[Tag(0x0008, 0x1140)]?.hadUndefinedLength == true)
        #expect(read == ds)
        options.sequenceLength = .defined
        options.itemLength = .defined
        let defined = try DataSetWriter.encode(read, transferSyntax: .explicitVRLittleEndian, options: options)
        #expect(defined.count == undefined.count - 16)
        #expect(try DataSetReader.read(defined, transferSyntax: .explicitVRLittleEndian) == ds)
    }

    @Test func longValueInShortVRIsWrittenAsUN() throws {
        var ds = DataSet()
        ds.set(DataElement(tag: Tag(0x0010, 0x4000), vr: .LO, bytes: Data(repeating: 0x41, count: 70_000)))
        let bytes = try DataSetWriter.encode(ds, transferSyntax: .explicitVRLittleEndian)
        #expect(bytes[4] == UInt8(ascii: "U") && bytes[5] == UInt8(ascii: "N"))
        #expect(try DataSetReader.read(bytes, transferSyntax: .explicitVRLittleEndian)[Tag(0x0010, 0x4000)]?.valueLength == 70_000)
    }

    @Test func compressedPixelDataCannotBeWrittenUncompressed() throws {
        var ds = DataSet()
        ds.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OB, value: .encapsulated(EncapsulatedPixelData(fragments: [Data([1, 2])]))))
        #expect(throws: DICOMError.self) { _ = try DataSetWriter.encode(ds, transferSyntax: .explicitVRLittleEndian) }
        let bytes = try DataSetWriter.encode(ds, transferSyntax: .jpegBaseline)
        #expect(try DataSetReader.read(bytes, transferSyntax: .jpegBaseline) == ds)
    }

    @Test func atomicWriteLeavesNoTemporaryFiles() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.dcm"
        try DICOMFile(dataSet: try sample(), transferSyntax: .explicitVRLittleEndian).write(to: path)
        try DICOMFile(dataSet: try sample(), transferSyntax: .implicitVRLittleEndian).write(to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a.dcm"])
        #expect(try DICOMFile(contentsOf: path).transferSyntax == .implicitVRLittleEndian)
    }
}
