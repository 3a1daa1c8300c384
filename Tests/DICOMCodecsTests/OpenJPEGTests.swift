import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation
import Testing

/// JPEG 2000 through OpenJPEG: lossless round trips, lossy quality, pydicom interoperability, corrupt streams.
@Suite struct OpenJPEGTests {

    // MARK: Fixtures

    /// Deterministic pseudo-random samples in the range of `description` (a gradient plus noise), native layout.
    static func samples(_ description: FrameDescription, seed: UInt64 = 1, noise: Int = 0) -> Data {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        let bits = description.bitsStored
        let low = description.isSigned ? -(1 << (bits - 1)) : 0
        let high = description.isSigned ? (1 << (bits - 1)) - 1 : (1 << bits) - 1
        let span = high - low
        var data = Data()
        let count = description.pixelCount * description.samplesPerPixel
        let bytes = description.bitsAllocated / 8
        data.reserveCapacity(count * bytes)
        for i in 0..<count {
            let pixel = i / description.samplesPerPixel
            let row = pixel / description.columns, column = pixel % description.columns
            var value: Int
            if noise == 0 {
                value = low + Int(next() % UInt64(span + 1))  // full-range noise: worst case for lossless
            } else {
                let smooth = (row * 7 + column * 3 + (i % description.samplesPerPixel) * 40) % (span + 1)
                value = low + smooth + Int(next() % UInt64(2 * noise + 1)) - noise
                value = min(high, max(low, value))
            }
            let pattern = UInt32(bitPattern: Int32(value))
            data.append(UInt8(truncatingIfNeeded: pattern))
            if bytes == 2 { data.append(UInt8(truncatingIfNeeded: pattern >> 8)) }
        }
        return data
    }

    /// Stored values of native samples (masked to Bits Stored and sign-extended), for comparisons.
    static func values(_ data: Data, _ description: FrameDescription) -> [Int] {
        let bytes = description.bitsAllocated / 8
        let count = data.count / bytes
        let bits = description.bitsStored
        return (0..<count).map { i in
            var raw = Int(data[data.startIndex + i * bytes])
            if bytes == 2 { raw |= Int(data[data.startIndex + i * bytes + 1]) << 8 }
            raw &= (1 << bits) - 1
            if description.isSigned, raw >= 1 << (bits - 1) { raw -= 1 << bits }
            return raw
        }
    }

    static func psnr(_ a: [Int], _ b: [Int], peak: Double) -> Double {
        let squared = zip(a, b).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        let mse = squared / Double(max(1, a.count))
        return mse == 0 ? .infinity : 10 * log10(peak * peak / mse)
    }

    // MARK: Lossless round trips

    static let losslessCases: [FrameDescription] = [
        FrameDescription(rows: 33, columns: 47, bitsAllocated: 8),
        FrameDescription(rows: 64, columns: 50, bitsAllocated: 16, bitsStored: 12),
        FrameDescription(rows: 40, columns: 41, bitsAllocated: 16),
        FrameDescription(rows: 40, columns: 41, bitsAllocated: 16, isSigned: true),
        FrameDescription(rows: 17, columns: 64, bitsAllocated: 16, bitsStored: 12, isSigned: true),
        FrameDescription(rows: 30, columns: 20, bitsAllocated: 8, isSigned: true),
        FrameDescription(rows: 1, columns: 1, bitsAllocated: 16),
        FrameDescription(rows: 31, columns: 29, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB"),
        FrameDescription(rows: 16, columns: 24, samplesPerPixel: 3, bitsAllocated: 16, bitsStored: 10, photometricInterpretation: "RGB"),
    ]

    @Test(arguments: losslessCases)
    func losslessRoundTripIsBitExact(_ description: FrameDescription) throws {
        for noise in [0, 3] {
            let original = Self.samples(description, seed: UInt64(description.rows), noise: noise)
            let encoder = OpenJPEGEncoder(lossless: true)
            #expect(encoder.transferSyntaxUID == "1.2.840.10008.1.2.4.90")
            #expect(!encoder.isLossy)
            let encoded = try encoder.encode(original, description: description, options: EncodingOptions())
            #expect(encoded.bytes.prefix(4) == Data([0xFF, 0x4F, 0xFF, 0x51]))
            #expect(encoded.bytes.count % 2 == 0)
            #expect(encoded.photometricInterpretation == (description.samplesPerPixel == 3 ? "YBR_RCT" : "MONOCHROME2"))
            var encodedDescription = description
            encodedDescription.photometricInterpretation = encoded.photometricInterpretation
            let decoded = try OpenJPEGDecoder().decode(encoded.bytes, description: encodedDescription)
            #expect(decoded.pixels.count == description.bytesPerFrame)
            #expect(decoded.photometricInterpretation == (description.samplesPerPixel == 3 ? "RGB" : "MONOCHROME2"))
            #expect(decoded.planarConfiguration == 0)
            #expect(Self.values(decoded.pixels, description) == Self.values(original, description))
        }
    }

    @Test func planarConfigurationOneIsInterleavedOnDecode() throws {
        let description = FrameDescription(rows: 8, columns: 6, samplesPerPixel: 3, bitsAllocated: 8,
                                           planarConfiguration: 1, photometricInterpretation: "RGB")
        let planar = Self.samples(description, noise: 2)
        let encoded = try OpenJPEGEncoder(lossless: true).encode(planar, description: description, options: EncodingOptions())
        let decoded = try OpenJPEGDecoder().decode(encoded.bytes, description: description)
        let n = description.pixelCount
        var interleaved = Data(count: n * 3)
        for i in 0..<n { for s in 0..<3 { interleaved[i * 3 + s] = planar[s * n + i] } }
        #expect(decoded.pixels == interleaved)
    }

    @Test func registryFindsOpenJPEG() {
        for uid in ["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.203"] {
            #expect(CodecRegistry.decoder(for: uid) is OpenJPEGDecoder)
        }
        #expect(CodecRegistry.encoder(for: "1.2.840.10008.1.2.4.90") is OpenJPEGEncoder)
        #expect(CodecRegistry.encoder(for: "1.2.840.10008.1.2.4.91")?.isLossy == true)
        #expect(CodecRegistry.encoder(for: "1.2.840.10008.1.2.4.91")?.lossyMethod == "ISO_15444_1")
    }

    // MARK: Lossy

    @Test(arguments: [5.0, 10.0, 20.0])
    func lossyGrayscaleKeepsQuality(_ ratio: Double) throws {
        let description = FrameDescription(rows: 128, columns: 128, bitsAllocated: 16, bitsStored: 12)
        let original = Self.samples(description, noise: 4)
        let encoded = try OpenJPEGEncoder(lossless: false).encode(original, description: description,
                                                                   options: EncodingOptions(compressionRatio: ratio))
        // The rate is computed on the samples' precision: 12-bit samples at ratio r take about 12/8·n/r bytes.
        let target = Double(description.pixelCount) * 12 / 8 / ratio
        #expect(Double(encoded.bytes.count) <= target * 1.1 + 200)
        let decoded = try OpenJPEGDecoder().decode(encoded.bytes, description: description)
        let quality = Self.psnr(Self.values(decoded.pixels, description), Self.values(original, description), peak: 4095)
        #expect(quality > 40, "PSNR \(quality) dB at \(ratio):1")
        #expect(quality.isFinite)  // lossy really lost something
    }

    @Test func lossyColourUsesICT() throws {
        let description = FrameDescription(rows: 64, columns: 64, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB")
        // Smooth colour ramps (R down the rows, G across the columns, B diagonally) with a little texture.
        var original = Data()
        for row in 0..<64 {
            for column in 0..<64 {
                let texture = (row * 5 + column * 3) % 7
                original.append(contentsOf: [UInt8(row * 3 + texture), UInt8(column * 3 + texture), UInt8((row + column) * 3 / 2 + texture)])
            }
        }
        let encoded = try OpenJPEGEncoder(lossless: false).encode(original, description: description, options: EncodingOptions(compressionRatio: 8))
        #expect(encoded.photometricInterpretation == "YBR_ICT")
        var ict = description
        ict.photometricInterpretation = "YBR_ICT"
        let decoded = try OpenJPEGDecoder().decode(encoded.bytes, description: ict)
        #expect(decoded.photometricInterpretation == "RGB")
        let quality = Self.psnr(Self.values(decoded.pixels, description), Self.values(original, description), peak: 255)
        #expect(quality > 30 && quality.isFinite, "PSNR \(quality) dB")
        // The same image without the colour transformation decodes to the same quality class: ICT was inverted.
        let lossless = try OpenJPEGEncoder(lossless: true).encode(original, description: description, options: EncodingOptions())
        #expect(lossless.bytes.count > encoded.bytes.count)
    }

    // MARK: Bad input

    @Test func corruptStreamsThrow() throws {
        let description = FrameDescription(rows: 32, columns: 32, bitsAllocated: 16, bitsStored: 12)
        let encoded = try OpenJPEGEncoder(lossless: true).encode(Self.samples(description), description: description, options: EncodingOptions())
        let decoder = OpenJPEGDecoder()
        func expectCorrupt(_ bytes: Data, _ what: String, description: FrameDescription = description) {
            do {
                _ = try decoder.decode(bytes, description: description)
                Issue.record("\(what): decoded without an error")
            } catch let error as CodecError {
                #expect(error.kind == .corruptStream || error.kind == .unsupported, "\(what): \(error)")
                #expect(error.message.hasPrefix("JPEG 2000"), "\(what): \(error)")
            } catch {
                Issue.record("\(what): unexpected error \(error)")
            }
        }
        expectCorrupt(Data(), "empty")
        expectCorrupt(Data("not a codestream at all".utf8), "text")
        expectCorrupt(encoded.bytes.prefix(20), "header cut")
        expectCorrupt(encoded.bytes.prefix(encoded.bytes.count / 2), "half the stream")
        var scrambled = encoded.bytes
        for i in stride(from: 60, to: scrambled.count, by: 7) { scrambled[i] = 0xFF }
        expectCorrupt(scrambled, "scrambled")
        var wrongSize = description
        wrongSize.rows = 31
        expectCorrupt(encoded.bytes, "rows differ", description: wrongSize)
        var wrongSamples = description
        wrongSamples.samplesPerPixel = 3
        wrongSamples.photometricInterpretation = "RGB"
        expectCorrupt(encoded.bytes, "samples differ", description: wrongSamples)
        var narrow = description
        narrow.bitsAllocated = 8
        narrow.bitsStored = 8
        narrow.highBit = 7
        expectCorrupt(encoded.bytes, "12 bits into 8", description: narrow)
    }

    @Test func jp2FilesAreReadThroughTheirCodestreamBox() throws {
        let description = FrameDescription(rows: 12, columns: 10, bitsAllocated: 8)
        let original = Self.samples(description, noise: 2)
        let codestream = try OpenJPEGEncoder(lossless: true).encode(original, description: description, options: EncodingOptions()).bytes
        func box(_ type: String, _ body: Data) -> Data {
            var data = Data()
            let length = UInt32(body.count + 8)
            data.append(contentsOf: [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)])
            data.append(contentsOf: Array(type.utf8))
            data.append(body)
            return data
        }
        // ISO/IEC 15444-1 Annex I: signature, file type, (a header box we skip), contiguous codestream.
        var jp2 = Data([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A])
        jp2.append(box("ftyp", Data("jp2 \0\0\0\0jp2 ".utf8)))
        jp2.append(box("jp2h", Data(count: 20)))
        jp2.append(box("jp2c", codestream))
        let decoded = try OpenJPEGDecoder().decode(jp2, description: description)
        #expect(decoded.pixels == original)
        // A box longer than the frame, and a JP2 without a codestream box, are corrupt.
        var overlong = jp2
        overlong[12 + 3] = 0xFF
        #expect(throws: CodecError.self) { try OpenJPEGDecoder().decode(overlong, description: description) }
        let noCodestream = jp2.prefix(12) + box("ftyp", Data("jp2 \0\0\0\0jp2 ".utf8))
        #expect(throws: CodecError.self) { try OpenJPEGDecoder().decode(Data(noCodestream), description: description) }
    }

    @Test func encoderRejectsShortFrames() {
        let description = FrameDescription(rows: 10, columns: 10, bitsAllocated: 16)
        #expect(throws: CodecError.self) {
            try OpenJPEGEncoder(lossless: true).encode(Data(count: 199), description: description, options: EncodingOptions())
        }
        #expect(throws: CodecError.self) {
            try OpenJPEGEncoder(lossless: false).encode(Data(count: 200), description: description, options: EncodingOptions(compressionRatio: 0.5))
        }
    }

    // MARK: pydicom interoperability

    /// Runs python3 with `script` and arguments; fails the test loudly when python or a module is missing.
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CodecError(.unsupported, "python3 failed (\(process.terminationStatus)): \(String(decoding: error, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// pydicom's decoding of a file: its pixel array as little-endian bytes of the array's dtype, in a temp file.
    static func pydicomPixels(of path: String) throws -> Data {
        let raw = NSTemporaryDirectory() + "pydicom-\(UUID().uuidString).raw"
        defer { unlink(raw) }
        _ = try python("""
            import sys, warnings
            warnings.simplefilter("ignore")
            import pydicom
            ds = pydicom.dcmread(sys.argv[1])
            a = ds.pixel_array
            a.astype(a.dtype.newbyteorder("<")).tofile(sys.argv[2])
            """, [path, raw])
        return try Data(contentsOf: URL(fileURLWithPath: raw))
    }

    static func testFile(_ name: String) throws -> String {
        try python("""
            import sys, warnings
            warnings.simplefilter("ignore")
            from pydicom.data import get_testdata_file
            print(get_testdata_file(sys.argv[1]))
            """, [name])
    }

    /// All fragments of a single-frame encapsulated Pixel Data, concatenated.
    static func singleFrame(_ dataSet: DataSet) throws -> Data {
        let pixelData = try #require(dataSet[.pixelData]?.encapsulated, "no encapsulated Pixel Data")
        return pixelData.fragments.reduce(into: Data()) { $0.append($1) }
    }

    static let pydicomFiles = [
        "JPEG2000.dcm", "SC_rgb_gdcm_KY.dcm", "GDCMJ2K_TextGBR.dcm", "examples_jpeg2k.dcm",
        "J2K_pixelrep_mismatch.dcm", "693_J2KI.dcm", "MR_small_jp2klossless.dcm",
    ]

    @Test(arguments: pydicomFiles)
    func decodesLikePydicom(_ name: String) throws {
        let path = try Self.testFile(name)
        let file = try DICOMFile(contentsOf: path)
        let description = try FrameDescription(dataSet: file.dataSet)
        let decoder = try #require(CodecRegistry.decoder(for: file.transferSyntax.uid))
        let decoded = try decoder.decode(try Self.singleFrame(file.dataSet), description: description)
        let expected = try Self.pydicomPixels(of: path)
        #expect(decoded.pixels.count == expected.count, "\(name): \(decoded.pixels.count) bytes, pydicom \(expected.count)")
        if ["YBR_RCT", "YBR_ICT"].contains(description.photometricInterpretation) {
            #expect(decoded.photometricInterpretation == "RGB")
        }
        #expect(decoded.pixels == expected, "\(name): pixels differ from pydicom's")
    }

    @Test(arguments: [
        FrameDescription(rows: 48, columns: 40, bitsAllocated: 16, bitsStored: 12, isSigned: true),
        FrameDescription(rows: 32, columns: 30, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB"),
    ])
    func pydicomDecodesWhatWeEncode(_ description: FrameDescription) throws {
        let original = Self.samples(description, noise: 3)
        let encoded = try OpenJPEGEncoder(lossless: true).encode(original, description: description, options: EncodingOptions())
        let decoded = try Self.pydicomDecode(encoded, description: description, syntax: .jpeg2000Lossless)
        #expect(decoded.count == description.bytesPerFrame)
        #expect(Self.values(decoded, description) == Self.values(original, description))
    }

    @Test func pydicomDecodesOurLossyFrames() throws {
        let description = FrameDescription(rows: 64, columns: 64, bitsAllocated: 16, bitsStored: 12)
        let original = Self.samples(description, noise: 3)
        let encoder = OpenJPEGEncoder(lossless: false)
        let encoded = try encoder.encode(original, description: description, options: EncodingOptions(compressionRatio: 8))
        let decoded = try Self.pydicomDecode(encoded, description: description, syntax: .jpeg2000)
        let ours = try OpenJPEGDecoder().decode(encoded.bytes, description: description)
        #expect(Self.values(decoded, description) == Self.values(ours.pixels, description))
        let quality = Self.psnr(Self.values(decoded, description), Self.values(original, description), peak: 4095)
        #expect(quality > 40 && quality.isFinite, "PSNR \(quality) dB")
    }

    /// Writes `encoded` as a single-frame Part 10 file in `syntax` and returns pydicom's decoded pixels.
    static func pydicomDecode(_ encoded: EncodedFrame, description: FrameDescription, syntax: TransferSyntax) throws -> Data {
        var dataSet = DataSet()
        dataSet.setASCII(.sopClassUID, vr: .UI, "1.2.840.10008.5.1.4.1.1.7")
        dataSet.setASCII(.sopInstanceUID, vr: .UI, "1.2.826.0.1.3680043.10.999.77")
        try dataSet.set(.rows, vr: .US, integers: [description.rows])
        try dataSet.set(.columns, vr: .US, integers: [description.columns])
        try dataSet.set(.samplesPerPixel, vr: .US, integers: [description.samplesPerPixel])
        try dataSet.set(.bitsAllocated, vr: .US, integers: [description.bitsAllocated])
        try dataSet.set(.bitsStored, vr: .US, integers: [description.bitsStored])
        try dataSet.set(.highBit, vr: .US, integers: [description.highBit])
        try dataSet.set(.pixelRepresentation, vr: .US, integers: [description.isSigned ? 1 : 0])
        dataSet.setASCII(.photometricInterpretation, vr: .CS, encoded.photometricInterpretation)
        if description.samplesPerPixel == 3 { try dataSet.set(.planarConfiguration, vr: .US, integers: [0]) }
        dataSet.set(DataElement(tag: .pixelData, vr: .OB, value: .encapsulated(EncapsulatedPixelData(fragments: [encoded.bytes]))))
        let path = NSTemporaryDirectory() + "j2k-\(UUID().uuidString).dcm"
        defer { unlink(path) }
        try DICOMFile(dataSet: dataSet, transferSyntax: syntax).write(to: path)
        return try Self.pydicomPixels(of: path)
    }
}
