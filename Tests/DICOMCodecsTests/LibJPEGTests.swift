import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMCodecs

@Suite struct LibJPEGTests {
    /// Every local pydicom test file in JPEG Baseline or 8-bit JPEG Extended.
    static let baselineFiles = [
        "SC_jpeg_no_color_transform.dcm", "SC_jpeg_no_color_transform_2.dcm", "SC_rgb_dcmtk_+eb+cr.dcm",
        "SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_+eb+cy+n2.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm",
        "SC_rgb_dcmtk_+eb+cy+s2.dcm", "SC_rgb_dcmtk_+eb+cy+s4.dcm", "SC_rgb_jpeg.dcm", "SC_rgb_jpeg_app14_dcmd.dcm",
        "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_jpeg_lossy_gdcm.dcm", "SC_rgb_small_odd_jpeg.dcm", "examples_ybr_color.dcm",
    ]

    /// Decodes like pydicom + pylibjpeg and like DCMTK's dcmdjpeg. pylibjpeg-libjpeg is a different JPEG library
    /// (and pydicom converts YCbCr to RGB itself), so samples may differ by rounding: measured at most 3 on
    /// examples_ybr_color.dcm, where dcmdjpeg and pydicom also differ by 3. DCMTK uses the IJG code as we do: ≤ 1.
    @Test(arguments: baselineFiles)
    func pydicomFilesDecodeLikePydicomAndDCMTK(name: String) throws {
        let path = try CoreCodecSupport.testFile(name)
        let file = try DICOMFile(contentsOf: path)
        let frames = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax)
        let decoded = try frames.decodedPixelData()
        let expected = try CoreCodecSupport.pydicomPixels(path)
        #expect(decoded.pixels.count == expected.count)
        let difference = CoreCodecSupport.maxDifference(decoded.pixels, expected)
        #expect(difference <= 3, "\(name): largest difference \(difference) from pydicom")
        if frames.description.samplesPerPixel == 3 { #expect(decoded.photometricInterpretation == "RGB") }

        // DCMTK cannot parse this file's data set (an element with VR bytes 0x12 0x00: "Non-standard VR").
        if name == "SC_rgb_jpeg.dcm" { return }
        let directory = NSTemporaryDirectory() + "dcmdjpeg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try CoreCodecSupport.run("/usr/bin/dcmdjpeg", [path, directory + "/out.dcm"])
        #expect(result.status == 0, "dcmdjpeg failed: \(result.output)")
        let theirFile = try DICOMFile(contentsOf: directory + "/out.dcm")
        let theirFrames = try ImageFrames(dataSet: theirFile.dataSet, transferSyntax: theirFile.transferSyntax)
        var theirs = try theirFrames.decodedPixelData().pixels
        if theirFrames.description.planarConfiguration == 1 && theirFrames.count == 1 {
            theirs = LibJPEGEncoder.interleave(theirs, pixelCount: theirFrames.description.pixelCount)
        }
        let dcmtkDifference = CoreCodecSupport.maxDifference(decoded.pixels, theirs)
        #expect(dcmtkDifference <= 1, "\(name): largest difference \(dcmtkDifference) from dcmdjpeg")
    }

    @Test(arguments: ["JPGExtended.dcm", "JPEG-lossy.dcm"])
    func twelveBitFramesGoToTheTwelveBitDecoder(name: String) throws {
        let path = try CoreCodecSupport.testFile(name)
        let file = try DICOMFile(contentsOf: path)
        let frames = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax)
        #expect(try JPEGFrameHeader(frames.compressedFrame(at: 0)).precision == 12)
        if CodecRegistry.twelveBitJPEGDecoder == nil {
            let error = try #require(throws: CodecError.self) { try frames.decodedFrame(at: 0) }
            #expect(error.kind == .unsupported)
            #expect(error.message.contains("12-bit JPEG Extended"))
        } else {
            // Handed to the 12-bit decoder: a whole frame of 16-bit samples comes back.
            let decoded = try frames.decodedFrame(at: 0)
            #expect(decoded.pixels.count == frames.description.bytesPerFrame)
        }
    }

    private static func encodedFile(_ d: FrameDescription, quality: Int, directory: String) throws -> (path: String, pixels: Data) {
        let pixels = CoreCodecSupport.pixels(d)
        var single = d
        single.numberOfFrames = 1
        var photometric = d.photometricInterpretation
        let encoded = try (0..<d.numberOfFrames).map { i -> Data in
            let frame = try LibJPEGEncoder().encode(pixels[(i * d.bytesPerFrame)..<((i + 1) * d.bytesPerFrame)],
                                                   description: single, options: EncodingOptions(quality: quality))
            photometric = frame.photometricInterpretation
            return frame.bytes
        }
        var dataSet = try CoreCodecSupport.dataSet(d, pixels: .encapsulated(ImageFrames.encapsulate(encoded)))
        try dataSet.set(.photometricInterpretation, vr: .CS, string: photometric)
        if d.samplesPerPixel == 3 { try dataSet.set(.planarConfiguration, vr: .US, integers: [0]) }
        let path = directory + "/jpeg-\(d.samplesPerPixel)-\(quality).dcm"
        try DICOMFile(dataSet: dataSet, transferSyntax: .jpegBaseline).write(to: path)
        return (path, pixels)
    }

    /// Mean absolute difference of two equal-length sample buffers.
    private static func meanDifference(_ a: Data, _ b: Data) -> Double {
        guard a.count == b.count, !a.isEmpty else { return .infinity }
        var total = 0
        for i in 0..<a.count { total += abs(Int(a[a.startIndex + i]) - Int(b[b.startIndex + i])) }
        return Double(total) / Double(a.count)
    }

    static let encoderCases: [FrameDescription] = [
        FrameDescription(rows: 64, columns: 48, bitsAllocated: 8, numberOfFrames: 2),
        FrameDescription(rows: 40, columns: 50, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB"),
        FrameDescription(rows: 33, columns: 35, samplesPerPixel: 3, bitsAllocated: 8, planarConfiguration: 1,
                         photometricInterpretation: "RGB"),
    ]

    /// Our JPEG Baseline files decode in our decoder, pydicom and DCMTK's dcmdjpeg to nearly the original pixels,
    /// and the three decoders agree within a small rounding tolerance.
    @Test(arguments: encoderCases)
    func encodedFilesDecodeInPydicomAndDCMTK(description d: FrameDescription) throws {
        let directory = NSTemporaryDirectory() + "jpeg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (path, original) = try LibJPEGTests.encodedFile(d, quality: 95, directory: directory)
        var interleaved = d
        interleaved.planarConfiguration = 0
        let reference = d.planarConfiguration == 1 ? CoreCodecSupport.pixels(interleaved) : original

        let file = try DICOMFile(contentsOf: path)
        #expect(file.dataSet.string(.photometricInterpretation) == (d.samplesPerPixel == 3 ? "YBR_FULL_422" : "MONOCHROME2"))
        let ours = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax).decodedPixelData().pixels
        let ourError = LibJPEGTests.meanDifference(ours, reference)
        // The synthetic colour image is full of sharp chrominance edges, which 4:2:2 subsampling blurs.
        #expect(ourError < (d.samplesPerPixel == 3 ? 10 : 4), "mean error \(ourError) at quality 95")

        // pylibjpeg upsamples chrominance differently from libjpeg's fancy upsampling: single samples at sharp
        // colour edges differ (up to 11 on pydicom's examples_rgb_color.dcm), the mean hardly at all.
        let pydicom = try CoreCodecSupport.pydicomPixels(path)
        #expect(pydicom.count == ours.count)
        let pydicomMean = LibJPEGTests.meanDifference(pydicom, ours)
        #expect(pydicomMean < (d.samplesPerPixel == 3 ? 1.0 : 0.1), "pydicom differs from our decoder by \(pydicomMean) on average")

        let dcmdjpeg = "/usr/bin/dcmdjpeg"
        #expect(FileManager.default.isExecutableFile(atPath: dcmdjpeg), "DCMTK dcmdjpeg is not installed")
        let result = try CoreCodecSupport.run(dcmdjpeg, [path, directory + "/out.dcm"])
        #expect(result.status == 0, "dcmdjpeg failed: \(result.output)")
        let theirFile = try DICOMFile(contentsOf: directory + "/out.dcm")
        let theirFrames = try ImageFrames(dataSet: theirFile.dataSet, transferSyntax: theirFile.transferSyntax)
        var theirs = try theirFrames.decodedPixelData().pixels
        if theirFrames.description.planarConfiguration == 1 && d.samplesPerPixel == 3 {
            theirs = LibJPEGEncoder.interleave(theirs, pixelCount: d.pixelCount)
        }
        #expect(theirFrames.description.photometricInterpretation == (d.samplesPerPixel == 3 ? "RGB" : "MONOCHROME2"))
        #expect(CoreCodecSupport.maxDifference(theirs, ours) <= 1, "dcmdjpeg differs from our decoder")
    }

    @Test func qualityChangesSizeAndError() throws {
        let d = FrameDescription(rows: 128, columns: 128, bitsAllocated: 8)
        let pixels = CoreCodecSupport.pixels(d)
        let low = try LibJPEGEncoder().encode(pixels, description: d, options: EncodingOptions(quality: 20))
        let high = try LibJPEGEncoder().encode(pixels, description: d, options: EncodingOptions(quality: 98))
        #expect(low.bytes.count < high.bytes.count)
        let lowError = LibJPEGTests.meanDifference(try LibJPEGDecoder().decode(low.bytes, description: d).pixels, pixels)
        let highError = LibJPEGTests.meanDifference(try LibJPEGDecoder().decode(high.bytes, description: d).pixels, pixels)
        #expect(highError < lowError)
        #expect(LibJPEGEncoder().isLossy && LibJPEGEncoder().lossyMethod == "ISO_10918_1")
    }

    @Test func encoderRejectsWhatBaselineCannotHold() {
        let cases: [FrameDescription] = [
            FrameDescription(rows: 4, columns: 4, bitsAllocated: 16, bitsStored: 12),
            FrameDescription(rows: 4, columns: 4, bitsAllocated: 8, isSigned: true),
            FrameDescription(rows: 4, columns: 4, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "YBR_FULL_422"),
            FrameDescription(rows: 4, columns: 4, bitsAllocated: 8, photometricInterpretation: "PALETTE COLOR"),
        ]
        for d in cases {
            #expect(throws: CodecError.self, "\(d)") {
                try LibJPEGEncoder().encode(Data(count: d.bytesPerFrame), description: d, options: EncodingOptions())
            }
        }
        #expect(throws: CodecError.self) {
            try LibJPEGEncoder().encode(Data(count: 16), description: FrameDescription(rows: 4, columns: 4, bitsAllocated: 8),
                                        options: EncodingOptions(quality: 0))
        }
    }

    /// Truncated and corrupted streams give CodecError — libjpeg's error_exit must not end the process.
    @Test func corruptStreamsAreErrorsNotExits() throws {
        let d = FrameDescription(rows: 48, columns: 40, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB")
        let encoded = try LibJPEGEncoder().encode(CoreCodecSupport.pixels(d), description: d, options: EncodingOptions())
        var decodeAs = d
        decodeAs.photometricInterpretation = encoded.photometricInterpretation
        let frame = encoded.bytes
        _ = try LibJPEGDecoder().decode(frame, description: decodeAs)
        for length in stride(from: 0, to: frame.count - 2, by: max(1, frame.count / 60)) {
            #expect(throws: CodecError.self, "truncated to \(length) of \(frame.count)") {
                _ = try LibJPEGDecoder().decode(frame.prefix(length), description: decodeAs)
            }
        }
        var state: UInt64 = 7
        var failures = 0
        for _ in 0..<300 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var corrupt = frame
            let position = Int(state >> 33) % frame.count
            corrupt[position] ^= UInt8(truncatingIfNeeded: (state >> 20) | 1)
            do {
                let decoded = try LibJPEGDecoder().decode(corrupt, description: decodeAs)
                #expect(decoded.pixels.count == d.bytesPerFrame)
            } catch is CodecError {
                failures += 1
            }
        }
        #expect(failures > 0)
        // Not JPEG, and dimensions that disagree with the data set.
        #expect(throws: CodecError.self) { try LibJPEGDecoder().decode(Data([1, 2, 3, 4, 5, 6]), description: decodeAs) }
        var wrong = decodeAs
        wrong.rows = 47
        let error = try #require(throws: CodecError.self) { try LibJPEGDecoder().decode(frame, description: wrong) }
        #expect(error.message.contains("40×48"))
    }
}
