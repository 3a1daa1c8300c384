import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation
import Testing

/// High-Throughput JPEG 2000 (ISO/IEC 15444-15; transfer syntaxes .201, .202, .203) decoded through OpenJPEG.
/// Codestreams come from OpenJPH's `ojph_compress` (Debian package openjph-tools), an independent HT encoder.
@Suite struct HTJ2KTests {
    static let encoder = "/usr/bin/ojph_compress"
    static let expander = "/usr/bin/ojph_expand"

    /// Runs an OpenJPH tool; a missing tool fails the test (CI installs openjph-tools).
    static func run(_ tool: String, _ arguments: [String]) throws {
        try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: apt-get install openjph-tools")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool) \(arguments) failed: \(String(decoding: message, as: UTF8.self))")
    }

    /// A binary PGM/PPM (big-endian samples when maxval > 255) of `description`'s native samples.
    static func pnm(_ native: Data, _ description: FrameDescription) -> Data {
        let maxValue = (1 << description.bitsStored) - 1
        var out = Data("\(description.samplesPerPixel == 3 ? "P6" : "P5")\n\(description.columns) \(description.rows)\n\(maxValue)\n".utf8)
        if description.bitsAllocated == 8 {
            out.append(native)
        } else {
            for i in stride(from: native.startIndex, to: native.endIndex, by: 2) { out.append(contentsOf: [native[i + 1], native[i]]) }
        }
        return out
    }

    /// Encodes `native` with ojph_compress and extra arguments; returns the J2K codestream.
    static func htj2k(_ native: Data, _ description: FrameDescription, _ arguments: [String]) throws -> Data {
        let base = NSTemporaryDirectory() + "htj2k-\(UUID().uuidString)"
        let input = base + (description.samplesPerPixel == 3 ? ".ppm" : ".pgm"), output = base + ".j2c"
        defer { unlink(input); unlink(output) }
        try pnm(native, description).write(to: URL(fileURLWithPath: input))
        try run(encoder, ["-i", input, "-o", output] + arguments)
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    @Test func registryDecodesAllHTJ2KSyntaxes() {
        for syntax in [TransferSyntax.htj2kLossless, .htj2kLosslessRPCL, .htj2k] {
            #expect(CodecRegistry.decoder(for: syntax.uid) != nil, "\(syntax.name)")
        }
    }

    @Test(arguments: [(8, 1), (12, 1), (16, 1), (8, 3)])
    func losslessRoundTrip(bits: Int, samples: Int) throws {
        let description = FrameDescription(rows: 48, columns: 64, samplesPerPixel: samples, bitsAllocated: bits <= 8 ? 8 : 16,
                                           bitsStored: bits, photometricInterpretation: samples == 3 ? "YBR_RCT" : "MONOCHROME2")
        let native = OpenJPEGTests.samples(description, seed: UInt64(bits), noise: 20)
        for (syntax, order) in [(TransferSyntax.htj2kLossless, "LRCP"), (.htj2kLosslessRPCL, "RPCL")] {
            let stream = try Self.htj2k(native, description, ["-reversible", "true", "-prog_order", order])
            // SIZ capabilities (Rsiz) carry the HT bit (ISO/IEC 15444-15): 0x4000.
            #expect(stream.count > 8 && stream[stream.startIndex + 6] & 0x40 != 0, "not an HT codestream")
            let decoder = try #require(CodecRegistry.decoder(for: syntax.uid))
            let frame = try decoder.decode(stream, description: description)
            #expect(OpenJPEGTests.values(frame.pixels, description) == OpenJPEGTests.values(native, description), "\(bits) bits, \(samples) samples, \(order)")
            if samples == 3 { #expect(frame.photometricInterpretation == "RGB") }
        }
    }

    @Test func lossyMatchesOpenJPH() throws {
        let description = FrameDescription(rows: 64, columns: 80, bitsAllocated: 16, bitsStored: 12,
                                           photometricInterpretation: "MONOCHROME2")
        let native = OpenJPEGTests.samples(description, seed: 3, noise: 8)
        let stream = try Self.htj2k(native, description, ["-qstep", "0.002"])
        let decoder = try #require(CodecRegistry.decoder(for: TransferSyntax.htj2k.uid))
        let ours = OpenJPEGTests.values(try decoder.decode(stream, description: description).pixels, description)
        let original = OpenJPEGTests.values(native, description)
        #expect(ours != original, "a lossy stream should not decode to the original exactly")
        #expect(OpenJPEGTests.psnr(ours, original, peak: 4095) > 40)

        // OpenJPH's own decoding of the same codestream: the same samples within rounding.
        let base = NSTemporaryDirectory() + "htj2k-\(UUID().uuidString)"
        defer { unlink(base + ".j2c"); unlink(base + ".pgm") }
        try stream.write(to: URL(fileURLWithPath: base + ".j2c"))
        try Self.run(Self.expander, ["-i", base + ".j2c", "-o", base + ".pgm"])
        let pgm = try Data(contentsOf: URL(fileURLWithPath: base + ".pgm"))
        let sampleBytes = description.pixelCount * 2
        try #require(pgm.count > sampleBytes)
        let body = pgm.suffix(sampleBytes)
        let theirs = stride(from: body.startIndex, to: body.endIndex, by: 2).map { Int(body[$0]) << 8 | Int(body[$0 + 1]) }
        let largest = zip(ours, theirs).map { abs($0.0 - $0.1) }.max() ?? 0
        #expect(largest <= 1, "OpenJPEG and OpenJPH differ by up to \(largest)")
    }

    @Test func encapsulatedFileDecodes() throws {
        let description = FrameDescription(rows: 32, columns: 40, bitsAllocated: 16, bitsStored: 16,
                                           photometricInterpretation: "MONOCHROME2")
        let native = OpenJPEGTests.samples(description, seed: 5, noise: 100)
        let stream = try Self.htj2k(native, description, ["-reversible", "true"])
        var dataSet = DataSet()
        try dataSet.set(.samplesPerPixel, vr: .US, integers: [1])
        try dataSet.set(.photometricInterpretation, vr: .CS, string: "MONOCHROME2")
        try dataSet.set(.rows, vr: .US, integers: [32])
        try dataSet.set(.columns, vr: .US, integers: [40])
        try dataSet.set(.bitsAllocated, vr: .US, integers: [16])
        try dataSet.set(.bitsStored, vr: .US, integers: [16])
        try dataSet.set(.highBit, vr: .US, integers: [15])
        try dataSet.set(.pixelRepresentation, vr: .US, integers: [0])
        dataSet.set(DataElement(tag: .pixelData, vr: .OB, value: .encapsulated(ImageFrames.encapsulate([stream]))))
        let frames = try ImageFrames(dataSet: dataSet, transferSyntax: .htj2kLosslessRPCL)
        #expect(OpenJPEGTests.values(try frames.decodedFrame(at: 0).pixels, description) == OpenJPEGTests.values(native, description))
    }

    @Test func corruptHTStreamThrows() throws {
        let description = FrameDescription(rows: 48, columns: 64, bitsAllocated: 8, bitsStored: 8,
                                           photometricInterpretation: "MONOCHROME2")
        let native = OpenJPEGTests.samples(description, seed: 7, noise: 30)
        let stream = try Self.htj2k(native, description, ["-reversible", "true"])
        let decoder = try #require(CodecRegistry.decoder(for: TransferSyntax.htj2kLossless.uid))
        for cut in [2, 20, 60] {
            #expect(throws: CodecError.self) { try decoder.decode(stream.prefix(cut), description: description) }
        }
        // A frame header that disagrees with the data set.
        var wrong = description
        wrong.columns = 65
        #expect(throws: CodecError.self) { try decoder.decode(stream, description: wrong) }
    }
}
