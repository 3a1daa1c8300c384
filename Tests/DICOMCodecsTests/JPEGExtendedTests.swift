import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMCodecs

@Suite struct JPEGExtendedTests {
    /// DCMTK's dcmdjpeg (IJG, accurate integer IDCT) is the reference: the same IDCT gives identical samples.
    static func dcmtkPixels(_ path: String, count: Int) throws -> Data {
        let directory = try PureCodecSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/out.dcm"
        let result = try PureCodecSupport.run("/usr/bin/dcmdjpeg", [path, output])
        guard result.status == 0 else { throw CodecError(.unsupported, "dcmdjpeg failed: \(result.output)") }
        return try PureCodecSupport.nativePixels(of: output, count: count)
    }

    @Test(arguments: ["JPGExtended.dcm", "JPEG-lossy.dcm"])
    func decodes12BitPydicomFilesLikeDCMTK(name: String) throws {
        let path = try PureCodecSupport.testFile(name)
        let file = try DICOMFile(contentsOf: path)
        let description = try FrameDescription(dataSet: file.dataSet)
        let decoded = try JPEGExtendedDecoder().decode(try PureCodecSupport.frame(of: file), description: description)
        #expect(decoded.pixels == (try Self.dcmtkPixels(path, count: description.bytesPerFrame)), "\(name)")
        // pylibjpeg uses a different IDCT: within one grey level of it. It rejects JPEG-lossy.dcm (Se = 0 in a
        // sequential scan), which libjpeg and DCMTK decode with a warning, as we do.
        if name == "JPEG-lossy.dcm" { return }
        let reference = try PureCodecSupport.pydicomPixels(path)
        #expect(reference.count == decoded.pixels.count)
        var maximum = 0
        for i in stride(from: 0, to: min(reference.count, decoded.pixels.count) - 1, by: 2) {
            let a = Int(reference[i]) | Int(reference[i + 1]) << 8, b = Int(decoded.pixels[i]) | Int(decoded.pixels[i + 1]) << 8
            maximum = max(maximum, abs(a - b))
        }
        #expect(maximum <= 1, "\(name): largest difference from pydicom \(maximum)")
        #expect(CodecRegistry.twelveBitJPEGDecoder is JPEGExtendedDecoder)
    }

    /// The registry's .51 decoder (libjpeg, 8-bit only) hands 12-bit frames to this decoder.
    @Test func registryDecodes12BitExtendedThroughThePureSwiftDecoder() throws {
        let path = try PureCodecSupport.testFile("JPGExtended.dcm")
        let file = try DICOMFile(contentsOf: path)
        let description = try FrameDescription(dataSet: file.dataSet)
        let decoder = try #require(CodecRegistry.decoder(for: TransferSyntax.jpegExtended.uid))
        let decoded = try decoder.decode(try PureCodecSupport.frame(of: file), description: description)
        #expect(decoded.pixels == (try Self.dcmtkPixels(path, count: description.bytesPerFrame)))
    }

    /// Frames DCMTK encodes as 12-bit extended (process 4) and 8-bit baseline decode to DCMTK's own decoding.
    @Test func decodesDCMTKEncodedFramesLikeDCMTK() throws {
        let directory = try PureCodecSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases: [(Int, Int, [String])] = [(16, 12, ["+ee", "+q", "90"]), (16, 12, ["+ee", "+q", "50"]), (8, 8, ["+eb", "+q", "75"]),
                                              (8, 8, ["+ee", "+q", "95"]), (16, 12, ["+ee", "+q", "100"])]
        for (index, (allocated, stored, options)) in cases.enumerated() {
            let (pixels, description) = PureCodecSupport.image(rows: 45, columns: 37, bitsAllocated: allocated, bitsStored: stored, noise: 40)
            let input = directory + "/in\(index).dcm", output = directory + "/out\(index).dcm"
            try PureCodecSupport.part10(pixels, description, transferSyntax: .explicitVRLittleEndian).write(to: URL(fileURLWithPath: input))
            let result = try PureCodecSupport.run("/usr/bin/dcmcjpeg", options + [input, output])
            #expect(result.status == 0, "dcmcjpeg \(options): \(result.output)")
            let file = try DICOMFile(contentsOf: output)
            let decoded = try JPEGExtendedDecoder().decode(try PureCodecSupport.frame(of: file), description: description)
            #expect(decoded.pixels == (try Self.dcmtkPixels(output, count: pixels.count)), "dcmcjpeg \(options)")
        }
    }

    @Test func corruptStreamsThrow() throws {
        let directory = try PureCodecSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (pixels, description) = PureCodecSupport.image(rows: 24, columns: 21, bitsAllocated: 16, bitsStored: 12, noise: 40)
        let input = directory + "/in.dcm", output = directory + "/out.dcm"
        try PureCodecSupport.part10(pixels, description, transferSyntax: .explicitVRLittleEndian).write(to: URL(fileURLWithPath: input))
        let result = try PureCodecSupport.run("/usr/bin/dcmcjpeg", ["+ee", input, output])
        #expect(result.status == 0, "dcmcjpeg: \(result.output)")
        let frame = try PureCodecSupport.frame(of: try DICOMFile(contentsOf: output))
        // Trailing padding after EOI is allowed; strip it so every shorter prefix is a real truncation.
        let bytes = [UInt8](frame)
        let eoi = (0..<bytes.count - 1).last { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xD9 } ?? bytes.count - 2
        PureCodecSupport.checkCorruptions(Data(bytes[0..<(eoi + 2)]), description, decoder: JPEGExtendedDecoder())
        #expect(throws: CodecError.self) { _ = try JPEGExtendedDecoder().decode(Data([0xFF, 0xD8, 0xFF, 0xD9]), description: description) }
    }
}
