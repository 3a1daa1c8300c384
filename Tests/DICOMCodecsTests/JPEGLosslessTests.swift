import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMCodecs

/// Test images, external tools and Part 10 wrapping shared by the pure-Swift codec tests.
enum PureCodecSupport {
    /// A gradient plus pseudo-random noise, native little-endian; signed images hold sign-extended values.
    static func image(rows: Int, columns: Int, samples: Int = 1, bitsAllocated: Int, bitsStored: Int, signed: Bool = false,
                      planar: Int = 0, noise: Int = 16, seed: UInt64 = 1) -> (Data, FrameDescription) {
        let description = FrameDescription(rows: rows, columns: columns, samplesPerPixel: samples, bitsAllocated: bitsAllocated,
                                           bitsStored: bitsStored, isSigned: signed, planarConfiguration: planar,
                                           photometricInterpretation: samples == 3 ? "RGB" : "MONOCHROME2")
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        func random() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let range = 1 << bitsStored
        var values = [Int](repeating: 0, count: rows * columns * samples)
        for y in 0..<rows {
            for x in 0..<columns {
                for c in 0..<samples {
                    var v = (x * range / max(1, columns) + y * range / max(1, 2 * rows) + c * range / 4) % range
                    if noise > 0 { v = (v + random() % noise) % range }
                    if (x / 8 + y / 8) % 5 == 0 { v = (range / 3) }  // flat patches exercise runs
                    if (x + y) % 97 == 0 { v = random() % range }  // spikes
                    if signed { v -= range / 2 }
                    let index = planar == 1 ? c * rows * columns + y * columns + x : (y * columns + x) * samples + c
                    values[index] = v
                }
            }
        }
        var bytes = [UInt8]()
        for v in values {
            if bitsAllocated == 8 {
                bytes.append(UInt8(truncatingIfNeeded: v))
            } else {
                bytes.append(UInt8(truncatingIfNeeded: v))
                bytes.append(UInt8(truncatingIfNeeded: v >> 8))
            }
        }
        return (Data(bytes), description)
    }

    /// Colour-by-pixel bytes of a planar (colour-by-plane) frame.
    static func interleaved(_ data: Data, _ d: FrameDescription) -> Data {
        guard d.planarConfiguration == 1, d.samplesPerPixel > 1 else { return data }
        let bytesPerSample = d.bitsAllocated / 8
        let plane = d.rows * d.columns
        var out = Data(count: data.count)
        for c in 0..<d.samplesPerPixel {
            for i in 0..<plane {
                for b in 0..<bytesPerSample {
                    out[(i * d.samplesPerPixel + c) * bytesPerSample + b] = data[(c * plane + i) * bytesPerSample + b]
                }
            }
        }
        return out
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "pure-codec-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs a program; returns its exit status and standard output + error. Waits at most `timeout` seconds.
    static func run(_ path: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var output = Data()
        let reader = pipe.fileHandleForReading
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                process.waitUntilExit()
                throw CodecError(.unsupported, "\(path) timed out")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        output.append(reader.readDataToEndOfFile())
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// A Part 10 file holding one encoded frame.
    static func part10(_ frame: Data, _ d: FrameDescription, transferSyntax: TransferSyntax, photometric: String? = nil) throws -> Data {
        var dataSet = DataSet()
        try dataSet.set(Tag(0x0008, 0x0016), vr: .UI, string: "1.2.840.10008.5.1.4.1.1.7")
        try dataSet.set(Tag(0x0008, 0x0018), vr: .UI, string: "1.2.826.0.1.3680043.8.498.1")
        try dataSet.set(.samplesPerPixel, vr: .US, integers: [d.samplesPerPixel])
        try dataSet.set(.photometricInterpretation, vr: .CS, string: photometric ?? d.photometricInterpretation)
        if d.samplesPerPixel > 1 { try dataSet.set(.planarConfiguration, vr: .US, integers: [0]) }
        try dataSet.set(.rows, vr: .US, integers: [d.rows])
        try dataSet.set(.columns, vr: .US, integers: [d.columns])
        try dataSet.set(.bitsAllocated, vr: .US, integers: [d.bitsAllocated])
        try dataSet.set(.bitsStored, vr: .US, integers: [d.bitsStored])
        try dataSet.set(.highBit, vr: .US, integers: [d.bitsStored - 1])
        try dataSet.set(.pixelRepresentation, vr: .US, integers: [d.isSigned ? 1 : 0])
        var fragment = frame
        if fragment.count % 2 == 1 { fragment.append(0) }
        if transferSyntax.isEncapsulated {
            dataSet.set(DataElement(tag: .pixelData, vr: .OB, value: .encapsulated(EncapsulatedPixelData(fragments: [fragment]))))
        } else {
            dataSet.set(DataElement(tag: .pixelData, vr: d.bitsAllocated == 8 ? .OB : .OW, bytes: fragment))
        }
        return try DICOMFile(dataSet: dataSet, transferSyntax: transferSyntax).encoded()
    }

    /// The compressed frame of a single-frame file: its fragments concatenated.
    static func frame(of file: DICOMFile) throws -> Data {
        guard let fragments = file.dataSet[.pixelData]?.encapsulated?.fragments else {
            throw CodecError(.invalidImage, "no encapsulated pixel data")
        }
        return fragments.reduce(Data(), +)
    }

    /// Native pixel bytes of a file, without the padding byte of an odd-length value.
    static func nativePixels(of path: String, count: Int) throws -> Data {
        let file = try DICOMFile(contentsOf: path)
        guard let bytes = file.dataSet[.pixelData]?.bytes else { throw CodecError(.invalidImage, "\(path) has no native pixel data") }
        guard bytes.count == count || (count % 2 == 1 && bytes.count == count + 1) else {
            throw CodecError(.invalidImage, "\(path) has \(bytes.count) bytes of pixel data, \(count) expected")
        }
        return bytes.prefix(count)
    }

    /// Pixel bytes as pydicom (with pylibjpeg) decodes a file: `pixel_array` as little-endian bytes.
    static func pydicomPixels(_ path: String) throws -> Data {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/pixels.raw"
        let script = """
        import sys, pydicom
        ds = pydicom.dcmread(sys.argv[1])
        a = ds.pixel_array
        a.astype(a.dtype.newbyteorder('<')).tofile(sys.argv[2])
        """
        let result = try run("/usr/bin/env", ["python3", "-c", script, path, output])
        guard result.status == 0 else { throw CodecError(.unsupported, "pydicom failed on \(path): \(result.output)") }
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    static func testFile(_ name: String) throws -> String {
        let result = try run("/usr/bin/env", ["python3", "-c", "from pydicom.data import get_testdata_file; print(get_testdata_file('\(name)'))"])
        let path = result.output.split(separator: "\n").last.map(String.init) ?? ""
        guard result.status == 0, FileManager.default.fileExists(atPath: path) else {
            throw CodecError(.unsupported, "pydicom test file \(name) not found: \(result.output)")
        }
        return path
    }

    /// Decodes every truncation and a set of byte flips of `frame`; truncations must throw, nothing may trap.
    static func checkCorruptions(_ frame: Data, _ description: FrameDescription, decoder: any FrameDecoder) {
        var offsets = Array(stride(from: 0, to: frame.count - 2, by: max(1, frame.count / 97)))
        offsets += [1, 2, 3, 10, 20, frame.count - 3, frame.count - 2]
        for length in offsets where length >= 0 && length < frame.count - 1 {
            #expect(throws: CodecError.self, "truncated to \(length) of \(frame.count) bytes") {
                _ = try decoder.decode(frame.prefix(length), description: description)
            }
        }
        var state: UInt64 = 12345
        for _ in 0..<300 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var corrupt = frame
            let position = Int(state >> 33) % frame.count
            corrupt[position] ^= UInt8(truncatingIfNeeded: (state >> 20) | 1)
            do {
                let decoded = try decoder.decode(corrupt, description: description)
                #expect(decoded.pixels.count == description.bytesPerFrame)
            } catch let error as CodecError {
                #expect(!error.message.isEmpty)
            } catch {
                Issue.record("unexpected error type \(error)")
            }
        }
    }
}

@Suite struct JPEGLosslessTests {
    static let configurations: [(rows: Int, columns: Int, samples: Int, allocated: Int, stored: Int, signed: Bool, planar: Int)] = [
        (19, 37, 1, 8, 8, false, 0),
        (64, 48, 1, 16, 12, false, 0),
        (33, 31, 1, 16, 16, false, 0),
        (20, 17, 1, 16, 12, true, 0),
        (25, 23, 1, 16, 16, true, 0),
        (19, 37, 3, 8, 8, false, 0),
        (11, 13, 3, 8, 8, false, 1),
        (9, 7, 3, 16, 16, false, 0),
        (8, 8, 1, 8, 2, false, 0),
        (1, 1, 1, 8, 8, false, 0),
        (1, 40, 1, 16, 16, false, 0),
        (40, 1, 3, 8, 8, false, 0),
    ]

    @Test(arguments: [true, false])
    func roundTripsGeneratedImagesBitExact(optimize: Bool) throws {
        for config in Self.configurations {
            let (pixels, description) = PureCodecSupport.image(rows: config.rows, columns: config.columns, samples: config.samples,
                                                               bitsAllocated: config.allocated, bitsStored: config.stored,
                                                               signed: config.signed, planar: config.planar, noise: config.stored > 8 ? 200 : 16)
            for predictor in 1...7 {
                let encoder = JPEGLosslessEncoder(optimizeHuffmanTables: optimize, predictor: predictor)
                let encoded = try encoder.encode(pixels, description: description, options: EncodingOptions())
                let decoded = try JPEGLosslessDecoder().decode(encoded.bytes, description: description)
                #expect(decoded.pixels == PureCodecSupport.interleaved(pixels, description), "\(config) predictor \(predictor)")
                #expect(decoded.planarConfiguration == 0)
            }
        }
    }

    @Test func extremeValuesAndRestartIntervals() throws {
        // Full-range jumps give the largest differences (category 16 at 16 bits).
        let description = FrameDescription(rows: 6, columns: 5, bitsAllocated: 16)
        var bytes = [UInt8]()
        for i in 0..<30 { bytes += i % 2 == 0 ? [0, 0] : [0xFF, 0xFF] }
        var encoder = JPEGLosslessEncoder()
        for restart in [0, 1, 2, 4] {
            encoder.restartLines = restart
            let encoded = try encoder.encode(Data(bytes), description: description, options: EncodingOptions())
            #expect(try JPEGLosslessDecoder().decode(encoded.bytes, description: description).pixels == Data(bytes))
        }
        let (pixels, d2) = PureCodecSupport.image(rows: 30, columns: 21, samples: 3, bitsAllocated: 8, bitsStored: 8)
        encoder.restartLines = 3
        encoder.predictor = 4
        let encoded = try encoder.encode(pixels, description: d2, options: EncodingOptions())
        #expect(try JPEGLosslessDecoder().decode(encoded.bytes, description: d2).pixels == pixels)
        PureCodecSupport.checkCorruptions(encoded.bytes, d2, decoder: JPEGLosslessDecoder())
    }

    /// Colour coded as three non-interleaved scans (ITU T.81 §A.2.2), each with its own DHT, built from grey encodings.
    @Test func decodesOneScanPerComponent() throws {
        let (pixels, description) = PureCodecSupport.image(rows: 21, columns: 19, samples: 3, bitsAllocated: 16, bitsStored: 12, noise: 90)
        var grey = description
        grey.samplesPerPixel = 1
        grey.photometricInterpretation = "MONOCHROME2"
        var stream: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC3, 0, 17, 12, 0, 21, 0, 19, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]
        for c in 0..<3 {
            var plane = Data()
            for i in 0..<(21 * 19) { plane.append(pixels[(i * 3 + c) * 2]); plane.append(pixels[(i * 3 + c) * 2 + 1]) }
            let bytes = [UInt8](try JPEGLosslessEncoder(predictor: c + 2).encode(plane, description: grey, options: EncodingOptions()).bytes)
            // Skip SOI and the grey SOF3 (2 + 2 + 11 bytes); keep DHT, SOS and the scan data, drop EOI.
            var scan = Array(bytes[15..<(bytes.count - 2)])
            let sos = try #require((0..<scan.count - 1).first { scan[$0] == 0xFF && scan[$0 + 1] == 0xDA })
            scan[sos + 5] = UInt8(c + 1)  // the component selector
            stream += scan
        }
        stream += [0xFF, 0xD9]
        let decoded = try JPEGLosslessDecoder().decode(Data(stream), description: description)
        #expect(decoded.pixels == pixels)
        // Leaving out the last scan is reported.
        let twoScans = Array(stream.dropLast(2))
        let lastSOS = try #require((0..<twoScans.count - 1).last { twoScans[$0] == 0xFF && twoScans[$0 + 1] == 0xC4 })
        #expect(throws: CodecError.self) { _ = try JPEGLosslessDecoder().decode(Data(twoScans[0..<lastSOS] + [0xFF, 0xD9]), description: description) }
    }

    @Test func registryReturnsTheLosslessCodecs() {
        #expect(CodecRegistry.decoder(for: TransferSyntax.jpegLossless.uid) is JPEGLosslessDecoder)
        #expect(CodecRegistry.decoder(for: TransferSyntax.jpegLosslessSV1.uid) is JPEGLosslessDecoder)
        #expect(CodecRegistry.encoder(for: TransferSyntax.jpegLosslessSV1.uid) is JPEGLosslessEncoder)
    }

    @Test func optimalTablesAreValidAndLimitedTo16Bits() {
        // Fibonacci-like frequencies force a deep tree that must be limited (ITU T.81 Figure K.3).
        var frequencies = [Int](repeating: 0, count: 17)
        var a = 1, b = 1
        for i in 0..<17 { frequencies[i] = a; (a, b) = (b, a + b) }
        let lengths = JPEGLosslessEncoder.optimalCodeLengths(frequencies)
        #expect(lengths.allSatisfy { (1...16).contains($0) })
        let kraft = lengths.reduce(0.0) { $0 + pow(2.0, -Double($1)) }
        #expect(kraft < 1.0)
        #expect(JPEGLosslessEncoder.optimalCodeLengths([5] + [Int](repeating: 0, count: 16)) == [1] + [Int](repeating: 0, count: 16))
    }

    @Test func decodesPydicomFileLikePylibjpeg() throws {
        let path = try PureCodecSupport.testFile("SC_rgb_jpeg_gdcm.dcm")
        let file = try DICOMFile(contentsOf: path)
        let description = try FrameDescription(dataSet: file.dataSet)
        let decoded = try JPEGLosslessDecoder().decode(try PureCodecSupport.frame(of: file), description: description)
        #expect(decoded.pixels == (try PureCodecSupport.pydicomPixels(path)))
    }

    /// DCMTK's encoder with every predictor, point transforms and bit depths; our decoder must give back the image.
    @Test func decodesDCMTKEncodedFrames() throws {
        let directory = try PureCodecSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases: [(Int, Int, Int, Int, Bool, [String])] = [
            (1, 8, 8, 0, false, ["+el", "+sv", "1"]), (1, 8, 8, 0, false, ["+el", "+sv", "6"]),
            (1, 16, 12, 0, false, ["+el", "+sv", "2"]), (1, 16, 12, 0, false, ["+el", "+sv", "3"]),
            (1, 16, 16, 0, false, ["+el", "+sv", "4"]), (1, 16, 16, 0, false, ["+el", "+sv", "5"]),
            (1, 16, 12, 0, true, ["+el", "+sv", "7"]), (3, 8, 8, 0, false, ["+el", "+sv", "7"]),
            (3, 8, 8, 0, false, ["+e1"]), (1, 16, 16, 2, false, ["+el", "+sv", "1", "+pt", "2"]),
            (1, 8, 8, 1, false, ["+el", "+sv", "5", "+pt", "1"]),
        ]
        for (index, (samples, allocated, stored, pointTransform, signed, options)) in cases.enumerated() {
            let (pixels, description) = PureCodecSupport.image(rows: 43, columns: 37, samples: samples, bitsAllocated: allocated,
                                                               bitsStored: stored, signed: signed, noise: 100)
            let input = directory + "/in\(index).dcm", output = directory + "/out\(index).dcm"
            try PureCodecSupport.part10(pixels, description, transferSyntax: .explicitVRLittleEndian).write(to: URL(fileURLWithPath: input))
            let result = try PureCodecSupport.run("/usr/bin/dcmcjpeg", options + [input, output])
            #expect(result.status == 0, "dcmcjpeg \(options): \(result.output)")
            let file = try DICOMFile(contentsOf: output)
            let decoded = try JPEGLosslessDecoder().decode(try PureCodecSupport.frame(of: file), description: description)
            var expected = pixels
            if pointTransform > 0 {
                // Point transform drops the low bits (ITU T.81 §H.1.1).
                let mask = ~((1 << pointTransform) - 1)
                if allocated == 8 {
                    expected = Data(pixels.map { UInt8(Int($0) & mask & 0xFF) })
                } else {
                    expected = Data(pixels.enumerated().map { $0.offset % 2 == 0 ? UInt8(Int($0.element) & mask & 0xFF) : $0.element })
                }
            }
            #expect(decoded.pixels == expected, "dcmcjpeg \(options), \(allocated)/\(stored) bits, \(samples) samples")
        }
    }

    /// Our encoder's frames, wrapped in Part 10, decode in DCMTK (dcmdjpeg) and pydicom to the original pixels.
    @Test func encodedFramesDecodeInDCMTKAndPydicom() throws {
        let directory = try PureCodecSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configurations: [(Int, Int, Int, Bool, Int)] = [(1, 8, 8, false, 1), (1, 16, 12, false, 1), (1, 16, 16, false, 1),
                                                             (1, 16, 12, true, 1), (3, 8, 8, false, 1), (1, 16, 16, false, 6),
                                                             (3, 8, 8, false, 4), (1, 16, 10, false, 7)]
        for (index, (samples, allocated, stored, signed, predictor)) in configurations.enumerated() {
            let (pixels, description) = PureCodecSupport.image(rows: 19, columns: 37, samples: samples, bitsAllocated: allocated,
                                                               bitsStored: stored, signed: signed, noise: 60)
            let encoder = JPEGLosslessEncoder(predictor: predictor)
            let encoded = try encoder.encode(pixels, description: description, options: EncodingOptions())
            let syntax = predictor == 1 ? TransferSyntax.jpegLosslessSV1 : TransferSyntax.jpegLossless
            let input = directory + "/enc\(index).dcm", output = directory + "/dec\(index).dcm"
            try PureCodecSupport.part10(encoded.bytes, description, transferSyntax: syntax).write(to: URL(fileURLWithPath: input))
            let result = try PureCodecSupport.run("/usr/bin/dcmdjpeg", [input, output])
            #expect(result.status == 0, "dcmdjpeg: \(result.output)")
            #expect(try PureCodecSupport.nativePixels(of: output, count: pixels.count) == pixels, "DCMTK, \(samples)×\(allocated)/\(stored) bits, predictor \(predictor)")
            #expect(try PureCodecSupport.pydicomPixels(input) == pixels, "pydicom, \(samples)×\(allocated)/\(stored) bits, predictor \(predictor)")
        }
    }

    @Test func corruptStreamsThrowNamingTheProblem() throws {
        let (pixels, description) = PureCodecSupport.image(rows: 19, columns: 37, bitsAllocated: 16, bitsStored: 12, noise: 300)
        let encoded = try JPEGLosslessEncoder().encode(pixels, description: description, options: EncodingOptions()).bytes
        PureCodecSupport.checkCorruptions(encoded, description, decoder: JPEGLosslessDecoder())
        let decoder = JPEGLosslessDecoder()
        func message(_ data: Data, _ d: FrameDescription = description) -> String {
            do { _ = try decoder.decode(data, description: d); return "no error" } catch let e as CodecError { return e.message } catch { return "\(error)" }
        }
        #expect(message(Data()).contains("SOI"))
        #expect(message(Data([0xFF, 0xD8, 0xFF, 0xD9])).contains("SOF3"))
        // Remove the DHT segment: the scan names an undefined table.
        let bytes = [UInt8](encoded)
        if let dht = (0..<bytes.count - 1).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC4 }) {
            let length = Int(bytes[dht + 2]) << 8 | Int(bytes[dht + 3])
            let withoutDHT = Data(bytes[0..<dht] + bytes[(dht + 2 + length)...])
            #expect(message(withoutDHT).contains("DHT"))
        }
        var wrongSize = description
        wrongSize.rows = 20
        #expect(message(encoded, wrongSize).contains("Rows"))
        var wrongSamples = description
        wrongSamples.samplesPerPixel = 3
        #expect(message(encoded, wrongSamples).contains("Samples per Pixel"))
        // A baseline JPEG is not lossless.
        var baseline = bytes
        if let sof = (0..<bytes.count - 1).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC3 }) { baseline[sof + 1] = 0xC0 }
        #expect(message(Data(baseline)).contains("DCT"))
    }
}
