import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMArchive

/// `dcmstore --store-as`: images re-encoded on arrival in a lossless syntax, the rest stored as received.
@Suite struct StoreCompressionTests {
    static func image(sop: String) throws -> (DataSet, Data) {
        var dataSet = try StoreFixtures.dataSet(sop: sop, pixelBytes: 0)
        try dataSet.set(Tag(0x0028, 0x0002), vr: .US, integers: [1])
        dataSet.setASCII(Tag(0x0028, 0x0004), vr: .CS, "MONOCHROME2")
        try dataSet.set(Tag(0x0028, 0x0010), vr: .US, integers: [40])
        try dataSet.set(Tag(0x0028, 0x0011), vr: .US, integers: [30])
        try dataSet.set(Tag(0x0028, 0x0100), vr: .US, integers: [16])
        try dataSet.set(Tag(0x0028, 0x0101), vr: .US, integers: [12])
        try dataSet.set(Tag(0x0028, 0x0102), vr: .US, integers: [11])
        try dataSet.set(Tag(0x0028, 0x0103), vr: .US, integers: [0])
        var pixels = Data(count: 40 * 30 * 2)
        for i in 0..<(40 * 30) {
            let value = UInt16((i * 13 + (i / 30) * 7) % 4096)
            pixels[2 * i] = UInt8(value & 0xFF)
            pixels[2 * i + 1] = UInt8(value >> 8)
        }
        dataSet.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OW, bytes: pixels))
        return (dataSet, pixels)
    }

    @Test(arguments: [TransferSyntax.jpegLSLossless, .jpeg2000Lossless, .rleLossless])
    func imagesAreStoredInTheConfiguredLosslessSyntax(_ syntax: TransferSyntax) async throws {
        let archive = try await StoreFixtures.archive("compress", configuration: try ArchiveStoreConfiguration().storing(in: syntax))
        defer { archive.remove() }
        let (image, pixels) = try Self.image(sop: "1.2.826.0.1.3680043.10.999.31.1")
        let result = try await archive.store(image)
        #expect(result.status == .success && result.outcome == .stored, "\(result.comment ?? "")")
        let record = try #require(result.record)
        #expect(record.transferSyntaxUID == syntax.uid)
        let path = archive.layout.absolute(record.path)
        let file = try DICOMFile(contentsOf: path)
        #expect(file.transferSyntax.uid == syntax.uid)
        #expect(file.fileMetaInformation.string(Tag(0x0002, 0x0010)) == syntax.uid)
        #expect(file.dataSet.string(Tag(0x0008, 0x0018)) == "1.2.826.0.1.3680043.10.999.31.1")
        let frames = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax)
        #expect(try frames.decodedFrame(at: 0).pixels == pixels)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(record.size == size)
        #expect(await ArchiveLifecycle(layout: archive.layout, index: archive.index).verify().ok)

        // The same instance again is recognised as identical (the encoders are deterministic).
        let again = try await archive.store(image)
        #expect(again.outcome == .identicalDuplicate)
    }

    @Test func instancesThatCannotBeConvertedAreStoredAsReceived() async throws {
        let archive = try await StoreFixtures.archive("compress-keep", configuration: try ArchiveStoreConfiguration().storing(in: .jpegLSLossless))
        defer { archive.remove() }
        // Pixel Data without an Image Pixel Module, and a report without pixel data.
        let noModule = try StoreFixtures.dataSet(sop: "1.2.826.0.1.3680043.10.999.31.2")
        let report = try StoreFixtures.dataSet(sop: "1.2.826.0.1.3680043.10.999.31.3", sopClass: StoreFixtures.basicTextSR, pixelBytes: 0)
        for dataSet in [noModule, report] {
            let result = try await archive.store(dataSet)
            #expect(result.status == .success)
            #expect(result.record?.transferSyntaxUID == TransferSyntax.explicitVRLittleEndian.uid)
        }
        #expect(archive.temporaryFiles().isEmpty)
    }

    @Test func lossyOrUnwritableStorageSyntaxesAreRefused() {
        #expect(throws: ArchiveError.self) { try ArchiveStoreConfiguration().storing(in: .jpegBaseline) }
        #expect(throws: ArchiveError.self) { try ArchiveStoreConfiguration().storing(in: .mpeg2MainProfile) }
    }
}
