import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMCodecs

@Suite struct RLETests {
    static let descriptions: [FrameDescription] = [
        FrameDescription(rows: 64, columns: 61, bitsAllocated: 8),
        FrameDescription(rows: 33, columns: 40, bitsAllocated: 16, bitsStored: 12),
        FrameDescription(rows: 32, columns: 17, bitsAllocated: 16, isSigned: true),
        FrameDescription(rows: 20, columns: 30, bitsAllocated: 32),
        FrameDescription(rows: 31, columns: 29, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB"),
        FrameDescription(rows: 16, columns: 15, samplesPerPixel: 3, bitsAllocated: 8, planarConfiguration: 1,
                         photometricInterpretation: "RGB"),
        FrameDescription(rows: 17, columns: 18, samplesPerPixel: 3, bitsAllocated: 16, photometricInterpretation: "RGB"),
        FrameDescription(rows: 9, columns: 7, samplesPerPixel: 3, bitsAllocated: 32, photometricInterpretation: "RGB"),
        FrameDescription(rows: 1, columns: 1, bitsAllocated: 8),
        FrameDescription(rows: 3, columns: 300, bitsAllocated: 8),
    ]

    @Test(arguments: descriptions)
    func roundTripsBitExact(description: FrameDescription) throws {
        let pixels = CoreCodecSupport.pixels(description)
        let encoded = try RLEEncoder().encode(pixels, description: description, options: EncodingOptions())
        #expect(encoded.planarConfiguration == 0)
        let decoded = try RLEDecoder().decode(encoded.bytes, description: description)
        var expected = pixels
        if description.planarConfiguration == 1 {
            // Back to colour-by-pixel: the decoder always returns Planar Configuration 0.
            var interleaved = description
            interleaved.planarConfiguration = 0
            expected = CoreCodecSupport.pixels(interleaved)
        }
        #expect(decoded.pixels == expected)
        #expect(decoded.planarConfiguration == 0)
        // Segment count, first offset, and even segment lengths (PS3.5 G.5, G.3).
        let header = DataSet.binary(encoded.bytes.prefix(64), UInt32.self)
        let segments = Int(header[0])
        #expect(segments == description.samplesPerPixel * description.bitsAllocated / 8)
        #expect(header[1] == 64)
        for i in 1...segments {
            let end = i < segments ? Int(header[i + 1]) : encoded.bytes.count
            #expect((end - Int(header[i])) % 2 == 0)
        }
    }

    @Test func packBitsFollowsG31() {
        // A 3-byte repeat is a replicate run <-count+1><byte>; the rest a literal run <count-1><bytes>.
        var out: [UInt8] = []
        RLEEncoder.packBits([5, 5, 5, 1, 2, 3, 3, 4], into: &out)
        #expect(out == [0xFE, 5, 4, 1, 2, 3, 3, 4])
        out = []
        RLEEncoder.packBits([UInt8](repeating: 9, count: 130), into: &out)
        #expect(out == [0x81, 9, 0xFF, 9])
        out = []
        RLEEncoder.packBits((0..<130).map { UInt8($0) }, into: &out)
        #expect(out.count == 132 && out[0] == 127 && out[129] == 1)
    }

    @Test func multiFrameRoundTripThroughImageFrames() throws {
        let d = FrameDescription(rows: 24, columns: 20, samplesPerPixel: 3, bitsAllocated: 16,
                                 photometricInterpretation: "RGB", numberOfFrames: 3)
        let pixels = CoreCodecSupport.pixels(d)
        var single = d
        single.numberOfFrames = 1
        let encoded = try (0..<3).map { i in
            try RLEEncoder().encode(pixels[(i * d.bytesPerFrame)..<((i + 1) * d.bytesPerFrame)], description: single,
                                    options: EncodingOptions()).bytes
        }
        let dataSet = try CoreCodecSupport.dataSet(d, pixels: .encapsulated(ImageFrames.encapsulate(encoded)))
        let frames = try ImageFrames(dataSet: dataSet, transferSyntax: .rleLossless)
        #expect(try frames.decodedPixelData().pixels == pixels)
    }

    @Test(arguments: ["MR_small_RLE.dcm", "SC_rgb_rle.dcm", "SC_rgb_rle_16bit.dcm", "SC_rgb_rle_16bit_2frame.dcm",
                      "SC_rgb_rle_2frame.dcm", "SC_rgb_rle_32bit.dcm", "SC_rgb_rle_32bit_2frame.dcm", "rtdose_rle.dcm",
                      "rtdose_rle_1frame.dcm"])
    func pydicomFilesDecodeLikePydicom(name: String) throws {
        let path = try CoreCodecSupport.testFile(name)
        let file = try DICOMFile(contentsOf: path)
        let frames = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax)
        let ours = try frames.decodedPixelData().pixels
        let expected = try CoreCodecSupport.pydicomPixels(path)
        #expect(ours.count == expected.count)
        #expect(ours == expected, "\(name) differs from pydicom")
    }

    /// Our RLE files decode in pydicom and in DCMTK's dcmdrle to the original pixels.
    @Test(arguments: [
        FrameDescription(rows: 40, columns: 33, bitsAllocated: 16, bitsStored: 12, numberOfFrames: 2),
        FrameDescription(rows: 30, columns: 31, bitsAllocated: 16, isSigned: true),
        FrameDescription(rows: 25, columns: 26, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB",
                         numberOfFrames: 2),
        FrameDescription(rows: 10, columns: 12, bitsAllocated: 8),
    ])
    func encodedFilesDecodeInPydicomAndDCMTK(description d: FrameDescription) throws {
        let pixels = CoreCodecSupport.pixels(d)
        var single = d
        single.numberOfFrames = 1
        let encoded = try (0..<d.numberOfFrames).map { i in
            try RLEEncoder().encode(pixels[(i * d.bytesPerFrame)..<((i + 1) * d.bytesPerFrame)], description: single,
                                    options: EncodingOptions()).bytes
        }
        let dataSet = try CoreCodecSupport.dataSet(d, pixels: .encapsulated(ImageFrames.encapsulate(encoded)))
        let directory = NSTemporaryDirectory() + "rle-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/rle.dcm"
        try DICOMFile(dataSet: dataSet, transferSyntax: .rleLossless).write(to: path)

        #expect(try CoreCodecSupport.pydicomPixels(path) == pixels, "pydicom decodes our RLE differently")

        let dcmdrle = "/usr/bin/dcmdrle"
        #expect(FileManager.default.isExecutableFile(atPath: dcmdrle), "DCMTK dcmdrle is not installed")
        let result = try CoreCodecSupport.run(dcmdrle, [path, directory + "/out.dcm"])
        #expect(result.status == 0, "dcmdrle failed: \(result.output)")
        let decoded = try DICOMFile(contentsOf: directory + "/out.dcm")
        let frames = try ImageFrames(dataSet: decoded.dataSet, transferSyntax: decoded.transferSyntax)
        var theirs = try frames.decodedPixelData().pixels
        if frames.description.planarConfiguration == 1 {
            var planar = d
            planar.planarConfiguration = 1
            #expect(theirs == CoreCodecSupport.toPlanar(pixels, planar))
            theirs = pixels
        }
        #expect(theirs == pixels, "dcmdrle decodes our RLE differently")
    }

    // MARK: Bad input

    private func header(_ values: [UInt32]) -> Data {
        var data = Data(count: 64)
        for (i, v) in values.enumerated() {
            data.replaceSubrange((i * 4)..<(i * 4 + 4), with: withUnsafeBytes(of: v.littleEndian) { Data($0) })
        }
        return data
    }

    @Test func corruptStreamsAreErrors() throws {
        let mono = FrameDescription(rows: 2, columns: 2, bitsAllocated: 8)
        let rgb16 = FrameDescription(rows: 2, columns: 2, samplesPerPixel: 3, bitsAllocated: 16, photometricInterpretation: "RGB")
        let cases: [(String, Data, FrameDescription)] = [
            ("64-byte header", Data(count: 10), mono),
            ("declares 2 segments", header([2, 64, 66]) + Data([0x03, 1, 2, 3, 4, 0x03, 1, 2, 3, 4]), mono),
            ("declares 1 segments", header([1, 64]) + Data([0x03, 1, 2, 3, 4]), rgb16),
            ("not 64", header([1, 60]) + Data([0x03, 1, 2, 3, 4]), mono),
            ("past the end", header([2, 64, 200]) + Data([0x03, 1, 2, 3, 4]), FrameDescription(rows: 2, columns: 2, bitsAllocated: 16)),
            ("is not after", header([6, 64, 70, 68, 72, 74, 76]) + Data(count: 20), rgb16),
            ("ends after", header([1, 64]) + Data([0x01, 1, 2]), mono),
            ("cut off", header([1, 64]) + Data([0x03, 1, 2]), mono),
            ("more than 4 bytes", header([1, 64]) + Data([0xFC, 7]), mono),
            ("more than 4 bytes", header([1, 64]) + Data([0x02, 1, 2, 3, 0x01, 4, 5]), mono),
            ("no byte", header([1, 64]) + Data([0x02, 1, 2, 3, 0xFF]), mono),
        ]
        for (expected, frame, description) in cases {
            let error = try #require(throws: CodecError.self, "\(expected)") {
                try RLEDecoder().decode(frame, description: description)
            }
            #expect(error.kind == .corruptStream)
            #expect(error.message.contains(expected), "\(error.message) should mention \(expected)")
        }
        // -128 is a no-op and trailing padding is ignored (G.3.2).
        let ok = try RLEDecoder().decode(header([1, 64]) + Data([0x80, 0x03, 1, 2, 3, 4, 0x00]), description: mono)
        #expect(ok.pixels == Data([1, 2, 3, 4]))
        #expect(throws: CodecError.self) {
            try RLEDecoder().decode(header([1, 64]), description: FrameDescription(rows: 2, columns: 8, bitsAllocated: 1))
        }
    }

    @Test func truncationsAndFlipsNeverTrap() throws {
        let d = FrameDescription(rows: 20, columns: 21, samplesPerPixel: 3, bitsAllocated: 16, photometricInterpretation: "RGB")
        let frame = try RLEEncoder().encode(CoreCodecSupport.pixels(d), description: d, options: EncodingOptions()).bytes
        for length in stride(from: 0, to: frame.count - 1, by: 7) {
            #expect(throws: CodecError.self, "truncated to \(length)") {
                _ = try RLEDecoder().decode(frame.prefix(length), description: d)
            }
        }
        var state: UInt64 = 99
        var failures = 0
        for _ in 0..<500 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var corrupt = frame
            let position = Int(state >> 33) % frame.count
            corrupt[position] ^= UInt8(truncatingIfNeeded: (state >> 20) | 1)
            do {
                let decoded = try RLEDecoder().decode(corrupt, description: d)
                #expect(decoded.pixels.count == d.bytesPerFrame)
            } catch is CodecError {
                failures += 1
            }
        }
        #expect(failures > 0)
    }

    @Test func encoderRejectsWhatItCannotEncode() {
        #expect(throws: CodecError.self) {
            try RLEEncoder().encode(Data(count: 2), description: FrameDescription(rows: 2, columns: 8, bitsAllocated: 1),
                                    options: EncodingOptions())
        }
        #expect(throws: CodecError.self) {
            try RLEEncoder().encode(Data(count: 3), description: FrameDescription(rows: 2, columns: 2, bitsAllocated: 8),
                                    options: EncodingOptions())
        }
        // 4 samples of 32 bits would need 16 segments.
        #expect(throws: CodecError.self) {
            try RLEEncoder().encode(Data(count: 64), description: FrameDescription(rows: 2, columns: 2, samplesPerPixel: 4,
                                                                                   bitsAllocated: 32, photometricInterpretation: "ARGB"),
                                    options: EncodingOptions())
        }
    }
}
