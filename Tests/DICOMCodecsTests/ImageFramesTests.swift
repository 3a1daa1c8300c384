import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMCodecs

/// Helpers shared by the ImageFrames, RLE, libjpeg, transcoder and dcmconv suites.
enum CoreCodecSupport {
    struct Run {
        var status: Int32
        var output: String
    }

    /// Runs a program with standard output and error to one temporary file; killed after `timeout` seconds.
    static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let log = NSTemporaryDirectory() + "core-codec-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        defer { unlink(log) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                Issue.record("\(executable) \(arguments) did not finish within \(timeout) s; killed")
                break
            }
            usleep(5_000)
        }
        try handle.close()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return Run(status: process.terminationStatus, output: output)
    }

    /// The path of one of pydicom's bundled test files (fails loudly when pydicom is missing).
    static func testFile(_ name: String) throws -> String {
        let result = try run("/usr/bin/env", ["python3", "-W", "ignore", "-c",
                                              "from pydicom.data import get_testdata_file; print(get_testdata_file('\(name)'))"])
        let path = result.output.split(separator: "\n").last.map(String.init) ?? ""
        guard result.status == 0, FileManager.default.fileExists(atPath: path) else {
            throw CodecError(.unsupported, "pydicom test file \(name) not found: \(result.output)")
        }
        return path
    }

    /// All frames as pydicom (with pylibjpeg) decodes them, little endian, one byte per pixel for Bits Allocated 1.
    /// `raw`: no colour conversion (YBR stays YBR).
    static func pydicomPixels(_ path: String, raw: Bool = false) throws -> Data {
        let output = NSTemporaryDirectory() + "pydicom-\(UUID().uuidString).raw"
        defer { unlink(output) }
        let script = """
        import sys, warnings
        warnings.filterwarnings('ignore')
        import pydicom
        ds = pydicom.dcmread(sys.argv[1])
        if sys.argv[3] == '1':
            ds.pixel_array_options(as_rgb=False)
        a = ds.pixel_array
        a.astype(a.dtype.newbyteorder('<')).tofile(sys.argv[2])
        """
        let result = try run("/usr/bin/env", ["python3", "-c", script, path, output, raw ? "1" : "0"])
        guard result.status == 0 else { throw CodecError(.unsupported, "pydicom failed on \(path): \(result.output)") }
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    /// Bits Allocated 1 pixels unpacked to one byte each (PS3.5 §8.1.1: first pixel in the least significant bit).
    static func unpackBits(_ data: Data, count: Int) -> Data {
        var out = Data(count: count)
        for i in 0..<count where data[data.startIndex + i / 8] & UInt8(1 << (i % 8)) != 0 { out[i] = 1 }
        return out
    }

    /// A data set with the Image Pixel Module filled from `description` and `pixelData` as its Pixel Data.
    static func dataSet(_ d: FrameDescription, pixels: DataElement.Value) throws -> DataSet {
        var dataSet = DataSet()
        try dataSet.set(.sopClassUID, vr: .UI, string: "1.2.840.10008.5.1.4.1.1.7")
        try dataSet.set(.sopInstanceUID, vr: .UI, string: "1.2.826.0.1.3680043.2.1125.1.\(UInt32.random(in: 1...UInt32.max))")
        try dataSet.set(.samplesPerPixel, vr: .US, integers: [d.samplesPerPixel])
        try dataSet.set(.photometricInterpretation, vr: .CS, string: d.photometricInterpretation)
        if d.samplesPerPixel > 1 { try dataSet.set(.planarConfiguration, vr: .US, integers: [d.planarConfiguration]) }
        if d.numberOfFrames > 1 { try dataSet.set(.numberOfFrames, vr: .IS, string: String(d.numberOfFrames)) }
        try dataSet.set(.rows, vr: .US, integers: [d.rows])
        try dataSet.set(.columns, vr: .US, integers: [d.columns])
        try dataSet.set(.bitsAllocated, vr: .US, integers: [d.bitsAllocated])
        try dataSet.set(.bitsStored, vr: .US, integers: [d.bitsStored])
        try dataSet.set(.highBit, vr: .US, integers: [d.highBit])
        try dataSet.set(.pixelRepresentation, vr: .US, integers: [d.isSigned ? 1 : 0])
        let vr: VR = d.bitsAllocated > 8 ? .OW : .OB
        if case .encapsulated = pixels {
            dataSet.set(DataElement(tag: .pixelData, vr: .OB, value: pixels, hadUndefinedLength: true))
        } else {
            dataSet.set(DataElement(tag: .pixelData, vr: vr, value: pixels))
        }
        return dataSet
    }

    /// Deterministic CT-like test pixels: smooth gradients, a disc, noise, full range for the bit depth.
    static func pixels(_ d: FrameDescription, seed: UInt64 = 1) -> Data {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let bytesPerSample = d.bitsAllocated / 8
        let maxValue: UInt64 = d.bitsStored >= 64 ? UInt64.max : (UInt64(1) << UInt64(d.bitsStored)) - 1
        var out = Data(count: d.bytesPerFrame * d.numberOfFrames)
        out.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            var o = 0
            for frame in 0..<d.numberOfFrames {
                for r in 0..<d.rows {
                    for c in 0..<d.columns {
                        for s in 0..<d.samplesPerPixel {
                            state = state &* 6364136223846793005 &+ 1442695040888963407
                            let noise = (state >> 40) & 7
                            let dx = c - d.columns / 2, dy = r - d.rows / 2
                            let inside = dx * dx + dy * dy < (d.rows * d.rows) / 9
                            let base = UInt64((r * 7 + c * 3 + s * 50 + frame * 11) % 251)
                            var value = inside ? (maxValue / 2 + base + noise) : (base * (maxValue / 255) + noise)
                            if (r + c) % 17 == 0 { value = maxValue }
                            value &= maxValue
                            if d.isSigned && value > maxValue / 2 {
                                // Two's complement in bitsStored bits, sign-extended to the allocated width.
                                value |= ~maxValue
                            }
                            for b in 0..<bytesPerSample { raw[o + b] = UInt8(truncatingIfNeeded: value >> UInt64(8 * b)) }
                            o += bytesPerSample
                        }
                    }
                }
            }
        }
        if d.planarConfiguration == 1 && d.samplesPerPixel > 1 {
            return toPlanar(out, d)
        }
        return out
    }

    /// Colour-by-pixel frames rearranged colour-by-plane.
    static func toPlanar(_ data: Data, _ d: FrameDescription) -> Data {
        let bps = d.bitsAllocated / 8, n = d.pixelCount, spp = d.samplesPerPixel
        var out = Data(count: data.count)
        for f in 0..<(data.count / d.bytesPerFrame) {
            let base = f * d.bytesPerFrame
            for p in 0..<n {
                for s in 0..<spp {
                    for b in 0..<bps {
                        out[base + (s * n + p) * bps + b] = data[data.startIndex + base + (p * spp + s) * bps + b]
                    }
                }
            }
        }
        return out
    }

    /// Largest absolute difference between two 8-bit sample buffers of equal length (Int.max if lengths differ).
    static func maxDifference(_ a: Data, _ b: Data) -> Int {
        guard a.count == b.count else { return Int.max }
        var worst = 0
        a.withUnsafeBytes { (x: UnsafeRawBufferPointer) in
            b.withUnsafeBytes { (y: UnsafeRawBufferPointer) in
                for i in 0..<x.count { worst = max(worst, abs(Int(x[i]) - Int(y[i]))) }
            }
        }
        return worst
    }
}

@Suite struct ImageFramesTests {
    // MARK: Native

    @Test func slicesNativeMultiFrame() throws {
        let d = FrameDescription(rows: 5, columns: 7, samplesPerPixel: 3, bitsAllocated: 8,
                                 photometricInterpretation: "RGB", numberOfFrames: 4)
        let pixels = CoreCodecSupport.pixels(d)
        let frames = try ImageFrames(dataSet: CoreCodecSupport.dataSet(d, pixels: .bytes(pixels + Data([0]))),
                                     transferSyntax: .explicitVRLittleEndian)
        #expect(frames.count == 4)
        for i in 0..<4 {
            let frame = try frames.decodedFrame(at: i)
            #expect(frame.pixels == pixels[(i * 105)..<((i + 1) * 105)])
            #expect(frame.photometricInterpretation == "RGB")
        }
        #expect(throws: CodecError.self) { try frames.decodedFrame(at: 4) }
        #expect(throws: CodecError.self) { try frames.decodedFrame(at: -1) }
    }

    @Test func rejectsShortNativePixelData() throws {
        let d = FrameDescription(rows: 4, columns: 4, bitsAllocated: 16, numberOfFrames: 3)
        let dataSet = try CoreCodecSupport.dataSet(d, pixels: .bytes(Data(count: 4 * 4 * 2 * 3 - 2)))
        let error = try #require(throws: CodecError.self) { try ImageFrames(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian) }
        #expect(error.kind == .corruptStream)
        #expect(error.message.contains("94 bytes"))
    }

    @Test func slicesBitsAllocatedOneFramesThatDoNotStartOnAByte() throws {
        // Three 3×3 frames: 9 bits each, so frames 1 and 2 begin inside a byte (PS3.5 §8.1.1).
        let d = FrameDescription(rows: 3, columns: 3, bitsAllocated: 1, numberOfFrames: 3)
        let bits: [UInt8] = [1, 0, 1, 1, 0, 0, 0, 1, 1,   0, 1, 1, 1, 1, 0, 0, 0, 1,   1, 1, 0, 0, 1, 0, 1, 0, 1]
        var packed = Data(count: 4)
        for (i, bit) in bits.enumerated() where bit == 1 { packed[i / 8] |= UInt8(1 << (i % 8)) }
        let frames = try ImageFrames(dataSet: CoreCodecSupport.dataSet(d, pixels: .bytes(packed)),
                                     transferSyntax: .explicitVRLittleEndian)
        for f in 0..<3 {
            let frame = try frames.decodedFrame(at: f)
            #expect(frame.pixels.count == 2)
            #expect(CoreCodecSupport.unpackBits(frame.pixels, count: 9) == Data(bits[(f * 9)..<(f * 9 + 9)]))
        }
        #expect(try frames.decodedPixelData().pixels == packed)
    }

    /// Native files in every byte order equal pydicom's pixel_array.
    @Test(arguments: ["MR_small_bigendian.dcm", "MR_small_expb.dcm", "MR_small_implicit.dcm", "rtdose_expb.dcm",
                      "rtdose.dcm", "liver_expb_1frame.dcm", "liver_1frame.dcm", "SC_rgb_small_odd_big_endian.dcm",
                      "ExplVR_BigEnd.dcm", "SC_ybr_full_422_uncompressed.dcm", "SC_rgb_small_odd.dcm", "image_dfl.dcm"])
    func nativeFilesMatchPydicom(name: String) throws {
        let path = try CoreCodecSupport.testFile(name)
        let file = try DICOMFile(contentsOf: path)
        let frames = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax)
        var ours = try frames.decodedPixelData().pixels
        let expected = try CoreCodecSupport.pydicomPixels(path, raw: true)
        if frames.description.planarConfiguration == 1 {
            // pydicom returns colour-by-pixel arrays.
            ours = LibJPEGEncoder.interleave(ours, pixelCount: frames.description.pixelCount)
        }
        if frames.description.bitsAllocated == 1 {
            ours = CoreCodecSupport.unpackBits(ours, count: frames.description.pixelCount * frames.count)
        }
        #expect(ours.count == expected.count, "\(name): \(ours.count) bytes, pydicom \(expected.count)")
        #expect(ours == expected, "\(name) differs from pydicom")
    }

    // MARK: Encapsulated

    private func encapsulatedDataSet(frames: Int, fragments: [Data], table: Data = Data(),
                                     extended: (Data, Data)? = nil) throws -> DataSet {
        let d = FrameDescription(rows: 2, columns: 2, bitsAllocated: 8, numberOfFrames: frames)
        var dataSet = try CoreCodecSupport.dataSet(d, pixels: .encapsulated(EncapsulatedPixelData(basicOffsetTable: table,
                                                                                                  fragments: fragments)))
        if let (offsets, lengths) = extended {
            dataSet.set(DataElement(tag: .extendedOffsetTable, vr: .OV, bytes: offsets))
            dataSet.set(DataElement(tag: .extendedOffsetTableLengths, vr: .OV, bytes: lengths))
        }
        return dataSet
    }

    private func table(_ values: [UInt32]) -> Data {
        var data = Data()
        for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    private func table64(_ values: [UInt64]) -> Data {
        var data = Data()
        for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    @Test func framesFromTheBasicOffsetTable() throws {
        let fragments = [Data([0xFF, 0xD8, 1, 2]), Data([3, 4]), Data([0xFF, 0xD8, 5, 6, 7, 8])]
        // Frame 0: fragments 0 and 1 (12 + 10 bytes of items), frame 1: fragment 2.
        let frames = try ImageFrames(dataSet: encapsulatedDataSet(frames: 2, fragments: fragments, table: table([0, 22])),
                                     transferSyntax: .rleLossless)
        #expect(try frames.compressedFrame(at: 0) == Data([0xFF, 0xD8, 1, 2, 3, 4]))
        #expect(try frames.compressedFrame(at: 1) == Data([0xFF, 0xD8, 5, 6, 7, 8]))
    }

    @Test func framesFromTheExtendedOffsetTableWithLengths() throws {
        let fragments = [Data([1, 2, 3, 0]), Data([4, 5]), Data([6, 7])]
        let dataSet = try encapsulatedDataSet(frames: 2, fragments: fragments, table: table([0, 99]),
                                              extended: (table64([0, 12]), table64([3, 4])))
        let frames = try ImageFrames(dataSet: dataSet, transferSyntax: .rleLossless)
        #expect(try frames.compressedFrame(at: 0) == Data([1, 2, 3]))
        #expect(try frames.compressedFrame(at: 1) == Data([4, 5, 6, 7]))
    }

    @Test func framesWithoutATable() throws {
        // As many fragments as frames: one each.
        let one = try ImageFrames(dataSet: encapsulatedDataSet(frames: 2, fragments: [Data([1, 2]), Data([3, 4])]),
                                  transferSyntax: .rleLossless)
        #expect(try one.compressedFrame(at: 1) == Data([3, 4]))
        // A single frame: all fragments.
        let single = try ImageFrames(dataSet: encapsulatedDataSet(frames: 1, fragments: [Data([1, 2]), Data([3, 4])]),
                                     transferSyntax: .jpegBaseline)
        #expect(try single.compressedFrame(at: 0) == Data([1, 2, 3, 4]))
        // More fragments than frames: split where a JPEG or JPEG 2000 codestream starts.
        let split = try ImageFrames(dataSet: encapsulatedDataSet(frames: 2, fragments: [
            Data([0xFF, 0xD8, 1, 2]), Data([3, 4]), Data([0xFF, 0x4F, 5, 6]), Data([7, 8]),
        ]), transferSyntax: .jpegBaseline)
        #expect(try split.compressedFrame(at: 0) == Data([0xFF, 0xD8, 1, 2, 3, 4]))
        #expect(try split.compressedFrame(at: 1) == Data([0xFF, 0x4F, 5, 6, 7, 8]))
    }

    @Test func inconsistentTablesAreErrors() throws {
        let fragments = [Data([0xFF, 0xD8]), Data([1, 2]), Data([0xFF, 0xD8])]
        let cases: [(String, DataSet)] = [
            ("entries", try encapsulatedDataSet(frames: 3, fragments: fragments, table: table([0, 10]))),
            ("past the end", try encapsulatedDataSet(frames: 2, fragments: fragments, table: table([0, 500]))),
            ("not the start", try encapsulatedDataSet(frames: 2, fragments: fragments, table: table([0, 4]))),
            ("not increasing", try encapsulatedDataSet(frames: 2, fragments: fragments, table: table([10, 0]))),
            ("multiple of 4", try encapsulatedDataSet(frames: 2, fragments: fragments, table: Data([0, 0, 0]))),
            ("cannot hold", try encapsulatedDataSet(frames: 4, fragments: fragments)),
            ("codestream starts", try encapsulatedDataSet(frames: 2, fragments: [Data([0xFF, 0xD8]), Data([1, 2]), Data([3, 4])])),
            ("Extended Offset Table", try encapsulatedDataSet(frames: 2, fragments: fragments,
                                                              extended: (table64([0, 10]), table64([2])))),
            ("no fragments", try encapsulatedDataSet(frames: 1, fragments: [])),
        ]
        for (expected, dataSet) in cases {
            let error = try #require(throws: CodecError.self, "\(expected)") {
                try ImageFrames(dataSet: dataSet, transferSyntax: .jpegBaseline)
            }
            #expect(error.kind == .corruptStream)
            #expect(error.message.contains(expected), "\(error.message) should mention \(expected)")
        }
        // A length in the Extended Offset Table Lengths beyond the frame's fragments.
        let long = try ImageFrames(dataSet: encapsulatedDataSet(frames: 1, fragments: [Data([1, 2])],
                                                                extended: (table64([0]), table64([10]))),
                                   transferSyntax: .jpegBaseline)
        #expect(throws: CodecError.self) { try long.compressedFrame(at: 0) }
        // Native Pixel Data under an encapsulated syntax and the reverse.
        let d = FrameDescription(rows: 2, columns: 2, bitsAllocated: 8)
        #expect(throws: CodecError.self) {
            try ImageFrames(dataSet: CoreCodecSupport.dataSet(d, pixels: .bytes(Data(count: 4))), transferSyntax: .jpegBaseline)
        }
        #expect(throws: CodecError.self) {
            try ImageFrames(dataSet: CoreCodecSupport.dataSet(d, pixels: .encapsulated(EncapsulatedPixelData(fragments: [Data([1, 2])]))),
                            transferSyntax: .explicitVRLittleEndian)
        }
    }

    @Test func noCodecNamesTheSyntax() throws {
        let frames = try ImageFrames(dataSet: encapsulatedDataSet(frames: 1, fragments: [Data([0, 0, 1, 0xB3])]),
                                     transferSyntax: .mpeg2MainProfile)
        let error = try #require(throws: CodecError.self) { try frames.decodedFrame(at: 0) }
        #expect(error.kind == .noCodec)
        #expect(error.message.contains("MPEG2"))
    }

    @Test func encapsulateFillsTheBasicOffsetTableWithEvenFragments() throws {
        let encoded = [Data([1, 2, 3]), Data([4, 5, 6, 7]), Data([8])]
        let pixels = ImageFrames.encapsulate(encoded)
        #expect(pixels.fragments.map(\.count) == [4, 4, 2])
        #expect(pixels.offsets == [0, 12, 24])
        let frames = try ImageFrames(dataSet: encapsulatedDataSet(frames: 3, fragments: pixels.fragments,
                                                                  table: pixels.basicOffsetTable),
                                     transferSyntax: .rleLossless)
        #expect(try frames.compressedFrame(at: 1) == Data([4, 5, 6, 7]))
        #expect(try frames.compressedFrame(at: 2) == Data([8, 0]))
        let (offsets, lengths) = ImageFrames.extendedOffsetTable(for: encoded)
        let extended = try ImageFrames(dataSet: encapsulatedDataSet(frames: 3, fragments: pixels.fragments,
                                                                    extended: (offsets, lengths)),
                                       transferSyntax: .rleLossless)
        #expect(try extended.compressedFrame(at: 0) == Data([1, 2, 3]))
        #expect(try extended.compressedFrame(at: 2) == Data([8]))
    }
}
