import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMCodecs

@Suite struct TranscoderTests {
    @Test func losslessRoundTripKeepsPixelsAndInstance() throws {
        let d = FrameDescription(rows: 30, columns: 20, bitsAllocated: 16, bitsStored: 12, isSigned: true, numberOfFrames: 3)
        let pixels = CoreCodecSupport.pixels(d)
        let original = try CoreCodecSupport.dataSet(d, pixels: .bytes(pixels))
        let rle = try Transcoder().transcode(original, from: .explicitVRLittleEndian, to: .rleLossless)
        #expect(rle[.pixelData]?.encapsulated?.fragments.count == 3)
        #expect(rle.string(.sopInstanceUID) == original.string(.sopInstanceUID))
        #expect(rle[.lossyImageCompression] == nil)
        let back = try Transcoder().transcode(rle, from: .rleLossless, to: .implicitVRLittleEndian)
        #expect(back[.pixelData]?.bytes == pixels)
        #expect(back[.pixelData]?.vr == .OW)
        #expect(back.string(.photometricInterpretation) == "MONOCHROME2")
    }

    @Test func colourByPlaneBecomesColourByPixel() throws {
        let d = FrameDescription(rows: 9, columns: 11, samplesPerPixel: 3, bitsAllocated: 8, planarConfiguration: 1,
                                 photometricInterpretation: "RGB")
        let dataSet = try CoreCodecSupport.dataSet(d, pixels: .bytes(CoreCodecSupport.pixels(d) + Data([0])))
        let rle = try Transcoder().transcode(dataSet, from: .explicitVRLittleEndian, to: .rleLossless)
        #expect(rle.integer(.planarConfiguration) == 0)
        let native = try Transcoder().transcode(rle, from: .rleLossless, to: .explicitVRLittleEndian)
        var interleaved = d
        interleaved.planarConfiguration = 0
        var expected = CoreCodecSupport.pixels(interleaved)
        expected.append(0) // 297 bytes: padded to even length
        #expect(native[.pixelData]?.bytes == expected)
        #expect(native.integer(.planarConfiguration) == 0)
    }

    @Test func lossyNeedsPermissionAndIsRecorded() throws {
        let d = FrameDescription(rows: 32, columns: 32, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB")
        var dataSet = try CoreCodecSupport.dataSet(d, pixels: .bytes(CoreCodecSupport.pixels(d)))
        try dataSet.set(.imageType, vr: .CS, strings: ["ORIGINAL", "PRIMARY"])
        let error = try #require(throws: CodecError.self) {
            try Transcoder().transcode(dataSet, from: .explicitVRLittleEndian, to: .jpegBaseline)
        }
        #expect(error.kind == .lossyNotAllowed)

        let transcoder = Transcoder(options: .init(allowLossy: true, encoding: EncodingOptions(quality: 80)))
        let jpeg = try transcoder.transcode(dataSet, from: .explicitVRLittleEndian, to: .jpegBaseline)
        #expect(jpeg.string(.lossyImageCompression) == "01")
        #expect(jpeg.strings(.lossyImageCompressionMethod) == ["ISO_10918_1"])
        let ratio = try #require(jpeg.double(.lossyImageCompressionRatio))
        #expect(ratio > 1)
        #expect(jpeg.string(.photometricInterpretation) == "YBR_FULL_422")
        #expect(jpeg.integer(.planarConfiguration) == 0)
        // A new image (as dcmcjpeg does by default): new UID, DERIVED, a reference to the original.
        #expect(jpeg.string(.sopInstanceUID) != dataSet.string(.sopInstanceUID))
        #expect(jpeg.strings(.imageType) == ["DERIVED", "PRIMARY"])
        let source = try #require(jpeg.items(.sourceImageSequence)?.first)
        #expect(source.string(.referencedSOPInstanceUID) == dataSet.string(.sopInstanceUID))
        #expect(jpeg.string(.derivationDescription)?.contains("JPEG Baseline") == true)

        // Decompressed: RGB again, still marked lossy; a second lossy step appends its ratio and method.
        let native = try Transcoder().transcode(jpeg, from: .jpegBaseline, to: .explicitVRLittleEndian)
        #expect(native.string(.photometricInterpretation) == "RGB")
        #expect(native.string(.lossyImageCompression) == "01")
        let again = try transcoder.transcode(native, from: .explicitVRLittleEndian, to: .jpegBaseline)
        #expect(again.strings(.lossyImageCompressionMethod) == ["ISO_10918_1", "ISO_10918_1"])
        #expect(again.strings(.lossyImageCompressionRatio)?.count == 2)
        #expect(again.items(.sourceImageSequence)?.count == 2)
    }

    @Test func lossySourceIsMarkedWhenDecompressed() throws {
        let path = try CoreCodecSupport.testFile("SC_rgb_jpeg_dcmtk.dcm")
        let file = try DICOMFile(contentsOf: path)
        var dataSet = file.dataSet
        dataSet.remove(.lossyImageCompression)
        let native = try Transcoder().transcode(dataSet, from: file.transferSyntax, to: .explicitVRLittleEndian)
        #expect(native.string(.lossyImageCompression) == "01")
        #expect(native.string(.photometricInterpretation) == "RGB")
        #expect(native[.pixelData]?.bytes?.count == 100 * 100 * 3)
    }

    /// Big endian output (16- and 32-bit) reads back, in our reader and in pydicom, as the original values.
    @Test(arguments: [16, 32])
    func bigEndianOutputReadsBack(bits: Int) throws {
        let d = FrameDescription(rows: 7, columns: 5, bitsAllocated: bits, numberOfFrames: 2)
        let pixels = CoreCodecSupport.pixels(d)
        let dataSet = try CoreCodecSupport.dataSet(d, pixels: .bytes(pixels))
        let big = try Transcoder().transcode(dataSet, from: .explicitVRLittleEndian, to: .explicitVRBigEndian)
        let path = NSTemporaryDirectory() + "be-\(UUID().uuidString).dcm"
        defer { unlink(path) }
        try DICOMFile(dataSet: big, transferSyntax: .explicitVRBigEndian).write(to: path)
        let file = try DICOMFile(contentsOf: path)
        let frames = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax)
        #expect(try frames.decodedPixelData().pixels == pixels)
        #expect(try CoreCodecSupport.pydicomPixels(path) == pixels)
    }

    @Test func noCodecAndNoPixelData() throws {
        let d = FrameDescription(rows: 3, columns: 3, bitsAllocated: 8)
        let dataSet = try CoreCodecSupport.dataSet(d, pixels: .bytes(Data(count: 10)))
        let error = try #require(throws: CodecError.self) {
            try Transcoder(options: .init(allowLossy: true)).transcode(dataSet, from: .explicitVRLittleEndian, to: .mpeg2MainProfile)
        }
        #expect(error.kind == .noCodec)
        var noPixels = dataSet
        noPixels.remove(.pixelData)
        #expect(try Transcoder().transcode(noPixels, from: .explicitVRLittleEndian, to: .rleLossless) == noPixels)
        let odd = try Transcoder().transcode(try CoreCodecSupport.dataSet(d, pixels: .bytes(Data(count: 9))),
                                             from: .explicitVRLittleEndian, to: .implicitVRLittleEndian)
        #expect(odd[.pixelData]?.bytes?.count == 10)
    }
}
