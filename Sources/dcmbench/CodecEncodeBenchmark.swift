import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation

/// Lossless encoding speed and compression ratio of JPEG 2000 (OpenJPEG) and JPEG-LS (pure Swift) on CT-like and
/// MR-like 16-bit frames, against DCMTK's dcmcjpls and pylibjpeg-openjpeg's `openjpeg.encode` in the same run.
struct CodecEncodeBenchmark {
    var repeats: Int
    var workdir: String
    /// Frames in the file DCMTK compresses (its process start and file I/O are amortised over them).
    var frames: Int
    var report: BenchReport

    /// An MR-like frame: 256×256, 16 bits stored, a bright ellipse with smooth structure and noise on a noisy background.
    static func mrFrame() -> (FrameDescription, Data) {
        let size = 256
        let d = FrameDescription(rows: size, columns: size, bitsAllocated: 16, bitsStored: 16)
        var data = Data(count: d.bytesPerFrame)
        var state: UInt64 = 11
        data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            for r in 0..<size {
                for c in 0..<size {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let noise = Int((state >> 56) & 0x3F) - 32  // ±32
                    let x = Double(c - 128) / 100, y = Double(r - 128) / 115
                    let e = x * x + y * y
                    var value: Int
                    if e > 1 {
                        value = 40 + abs(noise) / 2  // background: magnitude noise only
                    } else {
                        let tissue = 9000 + 3000 * sin(Double(r) / 11) * cos(Double(c) / 7) + 6000 * (1 - e)
                        value = Int(tissue) + noise * 4
                    }
                    let v = UInt16(clamping: max(0, min(65535, value)))
                    raw[2 * (r * size + c)] = UInt8(v & 0xFF)
                    raw[2 * (r * size + c) + 1] = UInt8(v >> 8)
                }
            }
        }
        return (d, data)
    }

    /// Times `openjpeg.encode` (lossless, reversible 5/3) on the frame stored at argv[1] as little-endian uint16.
    static let pythonScript = """
    import sys, time
    import numpy as np
    from openjpeg import encode
    rows, cols, bits, repeats = (int(v) for v in sys.argv[2:6])
    a = np.fromfile(sys.argv[1], dtype='<u2').reshape(rows, cols)
    best, size = 1e9, 0
    for _ in range(repeats):
        t = time.perf_counter()
        out = encode(a, bits_stored=bits, use_mct=False)
        best = min(best, time.perf_counter() - t)
        size = len(out)
    print(best, size)
    """

    func run() throws {
        let images = [("CT 512×512 16-bit", CodecBenchmark.ctFrame()), ("MR 256×256 16-bit", Self.mrFrame())]
        let encoders: [(String, any FrameEncoder)] = [
            ("JPEG 2000 lossless", OpenJPEGEncoder(lossless: true)),
            ("JPEG-LS lossless", JPEGLSEncoder()),
        ]
        var table = Table("Lossless frame encoding (MB/s of input pixels) and compression ratio, best of \(repeats)",
                          ["codec", "image", "swift-dicom MB/s", "ratio", "peer", "peer MB/s", "peer ratio", "swift ÷ peer"])
        table.notes.append("swift-dicom: one `FrameEncoder.encode` call per frame, in process. DCMTK dcmcjpls (CharLS): the "
                           + "command-line compressor on a \(frames)-frame native file (process start, reading and writing "
                           + "included). pylibjpeg-openjpeg: `openjpeg.encode` (the same OpenJPEG library, lossless 5/3), "
                           + "timed inside Python. DCMTK has no JPEG 2000 encoder. Ratio: native frame bytes ÷ compressed frame bytes.")
        for (name, encoder) in encoders {
            for (imageName, (description, pixels)) in images {
                log("codec encoding: \(name), \(imageName) ...")
                var encoded = EncodedFrame(bytes: Data(), photometricInterpretation: description.photometricInterpretation)
                let seconds = try secondsPerCall(repeats: repeats) {
                    encoded = try encoder.encode(pixels, description: description, options: EncodingOptions())
                }
                // The stream decodes back to the input (a benchmark of a broken encoder is worthless).
                if let decoder = CodecRegistry.decoder(for: encoder.transferSyntaxUID) {
                    let back = try decoder.decode(encoded.bytes, description: description)
                    guard back.pixels == pixels else { throw BenchError("\(name) did not round-trip on \(imageName)") }
                }
                let frameBytes = Double(description.bytesPerFrame)
                let ours = frameBytes / seconds / 1e6
                let compression = frameBytes / Double(max(1, encoded.bytes.count))
                var peer = "—", peerSpeed: Double? = nil, peerRatio: Double? = nil
                if encoder.transferSyntaxUID == TransferSyntax.jpegLSLossless.uid {
                    peer = "DCMTK dcmcjpls"
                    (peerSpeed, peerRatio) = try dcmcjpls(description, pixels)
                } else {
                    peer = "pylibjpeg-openjpeg"
                    (peerSpeed, peerRatio) = try pythonOpenJPEG(description, pixels)
                }
                table.add([name, imageName, grouped(ours), fixed(compression, 2) + ":1", peer,
                           peerSpeed.map { grouped($0) } ?? "—", peerRatio.map { fixed($0, 2) + ":1" } ?? "—",
                           peerSpeed.map { ratio(ours / $0) } ?? "—"])
            }
        }
        report.print(table)
    }

    /// DCMTK's dcmcjpls (lossless) on a `frames`-frame native file: MB/s of input pixels and the first frame's ratio.
    func dcmcjpls(_ description: FrameDescription, _ pixels: Data) throws -> (Double?, Double?) {
        let tool = "/usr/bin/dcmcjpls"
        guard isExecutable(tool) else { return (nil, nil) }
        var all = description
        all.numberOfFrames = frames
        var dataSet = try CodecBenchmark.dataSet(all, fragments: [], lossy: false)
        var native = Data(capacity: pixels.count * frames)
        for _ in 0..<frames { native.append(pixels) }
        dataSet.set(DataElement(tag: .pixelData, vr: .OW, bytes: native))
        let input = workdir + "/encode-native.dcm", output = workdir + "/encode-jpls.dcm"
        defer { unlink(input); unlink(output) }
        try DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian).write(to: input)
        var best = Double.infinity
        for _ in 0..<repeats {
            let result = try ChildProcess.run([tool, input, output])
            guard result.status == 0 else { throw BenchError("\(tool) failed with status \(result.status)") }
            best = min(best, result.seconds)
        }
        let file = try DICOMFile(contentsOf: output)
        let compressed = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax).compressedFrame(at: 0)
        return (Double(pixels.count * frames) / best / 1e6, Double(pixels.count) / Double(max(1, compressed.count)))
    }

    /// pylibjpeg-openjpeg's `openjpeg.encode`, lossless: MB/s of input pixels and the ratio.
    func pythonOpenJPEG(_ description: FrameDescription, _ pixels: Data) throws -> (Double?, Double?) {
        let raw = workdir + "/encode-frame.raw", out = workdir + "/encode-python.txt"
        defer { unlink(raw); unlink(out) }
        try pixels.write(to: URL(fileURLWithPath: raw))
        let result = try ChildProcess.run([Peers.env, "python3", "-c", Self.pythonScript, raw, "\(description.rows)",
                                           "\(description.columns)", "\(description.bitsStored)", "\(max(repeats, 3))"],
                                          stdoutPath: out)
        guard result.status == 0, let text = try? String(contentsOfFile: out, encoding: .utf8) else { return (nil, nil) }
        let fields = text.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        guard fields.count == 2, fields[0] > 0, fields[1] > 0 else { return (nil, nil) }
        return (Double(pixels.count) / fields[0] / 1e6, Double(pixels.count) / fields[1])
    }
}
