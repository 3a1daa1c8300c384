import ArgumentParser
import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation

/// Frame decoding speed of every codec in ``CodecRegistry`` against DCMTK's decompressors and pylibjpeg,
/// on generated CT-like 512×512 16-bit and RGB 512×512 8-bit frames, in the same run.
struct CodecBenchmark {
    var repeats: Int
    var workdir: String
    /// Frames in the multi-frame file the peers decode (their process start and file writing are amortised over it).
    var frames: Int
    var report: BenchReport

    /// A CT-like frame: air outside an elliptical body, soft tissue with texture, a bright bone ring, 12 bits stored.
    static func ctFrame() -> (FrameDescription, Data) {
        let d = FrameDescription(rows: 512, columns: 512, bitsAllocated: 16, bitsStored: 12)
        var data = Data(count: d.bytesPerFrame)
        var state: UInt64 = 42
        data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            for r in 0..<512 {
                for c in 0..<512 {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let noise = Int((state >> 59) & 0x7) - 4
                    let x = Double(c - 256) / 220, y = Double(r - 256) / 180
                    let e = x * x + y * y
                    var value: Int
                    if e > 1 { value = 24 + noise / 2 }
                    else if e > 0.85 { value = 2200 + Int(200 * sin(Double(r + c) / 9)) + noise }
                    else { value = 1040 + Int(30 * sin(Double(r) / 13) * cos(Double(c) / 17)) + noise }
                    let v = UInt16(clamping: max(0, min(4095, value)))
                    raw[2 * (r * 512 + c)] = UInt8(v & 0xFF)
                    raw[2 * (r * 512 + c) + 1] = UInt8(v >> 8)
                }
            }
        }
        return (d, data)
    }

    /// A photographic-like RGB frame: smooth gradients, discs of colour, mild noise.
    static func rgbFrame() -> (FrameDescription, Data) {
        let d = FrameDescription(rows: 512, columns: 512, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB")
        var data = Data(count: d.bytesPerFrame)
        var state: UInt64 = 7
        data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            for r in 0..<512 {
                for c in 0..<512 {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let noise = Int((state >> 60) & 0x3)
                    let inDisc = (r - 200) * (r - 200) + (c - 300) * (c - 300) < 90 * 90
                    let red = inDisc ? 220 : r / 2 + noise
                    let green = inDisc ? 40 : (c / 2 + r / 4) % 256
                    let blue = inDisc ? 60 : 255 - c / 2 + noise
                    let o = 3 * (r * 512 + c)
                    raw[o] = UInt8(clamping: red); raw[o + 1] = UInt8(clamping: green); raw[o + 2] = UInt8(clamping: blue)
                }
            }
        }
        return (d, data)
    }

    /// DCMTK's decompressor for a transfer syntax, if it has one.
    static func dcmtkTool(_ uid: String) -> String? {
        switch uid {
        case TransferSyntax.rleLossless.uid: return "/usr/bin/dcmdrle"
        case TransferSyntax.jpegBaseline.uid, TransferSyntax.jpegExtended.uid, TransferSyntax.jpegLossless.uid,
             TransferSyntax.jpegLosslessSV1.uid: return "/usr/bin/dcmdjpeg"
        case TransferSyntax.jpegLSLossless.uid, TransferSyntax.jpegLSNearLossless.uid: return "/usr/bin/dcmdjpls"
        default: return nil
        }
    }

    static let pythonScript = """
    import sys, time, warnings
    warnings.filterwarnings('ignore')
    import pydicom
    from pydicom.pixels import get_decoder
    ds = pydicom.dcmread(sys.argv[1])
    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    if 'pylibjpeg' not in decoder.available_plugins:
        print('none'); sys.exit(0)
    best = 1e9
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter()
        decoder.as_array(ds, decoding_plugin='pylibjpeg')
        best = min(best, time.perf_counter() - t)
    print(best)
    """

    func run() throws {
        let images = [("CT 512×512 16-bit", Self.ctFrame()), ("RGB 512×512 8-bit", Self.rgbFrame())]
        var table = Table("Frame decoding (MB/s of decoded pixels), best of \(repeats)",
                          ["codec", "image", "ratio", "swift-dicom", "DCMTK", "pylibjpeg", "swift ÷ DCMTK", "swift ÷ pylibjpeg"])
        table.notes.append("swift-dicom: one `FrameDecoder.decode` call per frame, in process. DCMTK: the command-line "
                           + "decompressor on a \(frames)-frame file (process start, reading and writing included). pylibjpeg: "
                           + "pydicom's decoder with the pylibjpeg plugin over the same file, timed inside Python.")
        let output = workdir + "/codec-out.dcm"
        for encoder in CodecRegistry.encoders {
            guard let decoder = CodecRegistry.decoder(for: encoder.transferSyntaxUID),
                  let syntax = TransferSyntax(uid: encoder.transferSyntaxUID) else { continue }
            for (imageName, (description, pixels)) in images {
                log("codecs: \(syntax.name), \(imageName) ...")
                let encoded: EncodedFrame
                do {
                    encoded = try encoder.encode(pixels, description: description, options: EncodingOptions())
                } catch {
                    table.add([syntax.name, imageName, "—", "n/a (\((error as? CodecError)?.kind.name ?? "error"))"])
                    continue
                }
                var frameDescription = description
                frameDescription.photometricInterpretation = encoded.photometricInterpretation
                frameDescription.planarConfiguration = encoded.planarConfiguration
                let seconds = try secondsPerCall(repeats: repeats) {
                    _ = try decoder.decode(encoded.bytes, description: frameDescription)
                }
                let frameBytes = Double(description.bytesPerFrame)
                let ours = frameBytes / seconds / 1e6

                // The same frame, `frames` times, in a file for the peers.
                var all = frameDescription
                all.numberOfFrames = frames
                let dataSet = try Self.dataSet(all, fragments: Array(repeating: encoded.bytes, count: frames), lossy: encoder.isLossy)
                let path = workdir + "/codec-\(syntax.uid)-\(description.samplesPerPixel).dcm"
                try DICOMFile(dataSet: dataSet, transferSyntax: syntax).write(to: path)
                let total = frameBytes * Double(frames)

                var dcmtk: Double? = nil
                if let tool = Self.dcmtkTool(syntax.uid), isExecutable(tool) {
                    var best = Double.infinity
                    for _ in 0..<repeats {
                        let result = try ChildProcess.run([tool, path, output])
                        guard result.status == 0 else { throw BenchError("\(tool) failed on \(path) with status \(result.status)") }
                        best = min(best, result.seconds)
                    }
                    dcmtk = total / best / 1e6
                }
                var python: Double? = nil
                let pythonOutput = workdir + "/codec-python.txt"
                let result = try ChildProcess.run([Peers.env, "python3", "-c", Self.pythonScript, path, "\(repeats)"],
                                                  stdoutPath: pythonOutput)
                if result.status == 0, let text = try? String(contentsOfFile: pythonOutput, encoding: .utf8),
                   let best = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), best > 0 {
                    python = total / best / 1e6
                }
                let compression = frameBytes / Double(max(1, encoded.bytes.count))
                table.add([syntax.name, imageName, fixed(compression, 1) + ":1", grouped(ours),
                           dcmtk.map { grouped($0) } ?? "—", python.map { grouped($0) } ?? "—",
                           dcmtk.map { ratio(ours / $0) } ?? "—", python.map { ratio(ours / $0) } ?? "—"])
            }
        }
        unlink(output)
        report.print(table)
    }

    static func dataSet(_ d: FrameDescription, fragments: [Data], lossy: Bool) throws -> DataSet {
        var dataSet = DataSet()
        dataSet.setASCII(.sopClassUID, vr: .UI, "1.2.840.10008.5.1.4.1.1.7")
        dataSet.setASCII(.sopInstanceUID, vr: .UI, UID.make())
        dataSet.setASCII(.modality, vr: .CS, "OT")
        try dataSet.set(.samplesPerPixel, vr: .US, integers: [d.samplesPerPixel])
        dataSet.setASCII(.photometricInterpretation, vr: .CS, d.photometricInterpretation)
        if d.samplesPerPixel > 1 { try dataSet.set(.planarConfiguration, vr: .US, integers: [d.planarConfiguration]) }
        dataSet.setASCII(.numberOfFrames, vr: .IS, String(d.numberOfFrames))
        try dataSet.set(.rows, vr: .US, integers: [d.rows])
        try dataSet.set(.columns, vr: .US, integers: [d.columns])
        try dataSet.set(.bitsAllocated, vr: .US, integers: [d.bitsAllocated])
        try dataSet.set(.bitsStored, vr: .US, integers: [d.bitsStored])
        try dataSet.set(.highBit, vr: .US, integers: [d.highBit])
        try dataSet.set(.pixelRepresentation, vr: .US, integers: [d.isSigned ? 1 : 0])
        if lossy { dataSet.setASCII(.lossyImageCompression, vr: .CS, "01") }
        dataSet.set(DataElement(tag: .pixelData, vr: .OB, value: .encapsulated(ImageFrames.encapsulate(fragments)),
                                hadUndefinedLength: true))
        return dataSet
    }
}

struct Codecs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Codec speed: decoding of every built-in codec vs DCMTK and pylibjpeg; lossless encoding vs dcmcjpls and "
            + "pylibjpeg-openjpeg; the libjpeg and OpenJPEG wrappers vs direct C library calls.")

    /// The parts of the codec benchmark.
    enum Section: String, CaseIterable, ExpressibleByArgument {
        case decode, encode, direct
    }

    @OptionGroup var common: CommonOptions

    @Option(help: "Frames in the file the peers decode or compress.")
    var frames: Int = 20

    @Option(parsing: .upToNextOption, help: "Parts to run: \(Section.allCases.map(\.rawValue).joined(separator: ", ")) (default: all).")
    var sections: [Section] = Section.allCases

    func validate() throws {
        guard frames >= 1 else { throw ValidationError("--frames must be at least 1") }
    }

    func run() throws {
        let report = BenchReport()
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        if sections.contains(.decode) {
            try CodecBenchmark(repeats: common.repeats, workdir: workdir, frames: frames, report: report).run()
        }
        if sections.contains(.encode) {
            try CodecEncodeBenchmark(repeats: common.repeats, workdir: workdir, frames: frames, report: report).run()
        }
        if sections.contains(.direct) {
            try CodecDirectBenchmark(repeats: common.repeats, report: report).run()
        }
        report.printSummary()
    }
}
