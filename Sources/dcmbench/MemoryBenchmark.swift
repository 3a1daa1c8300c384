import ArgumentParser
import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Peak memory of reading the attributes of a 1 GiB multi-frame file, each reader in a fresh process
/// whose maximum resident set size comes from `wait4`.
struct MemoryBenchmark {
    var workdir: String
    var report: BenchReport

    /// 1,000 frames of 1024 × 512 × 16-bit: 1 GiB of pixel data.
    static let frames = 1000, rows = 1024, columns = 512

    func run() throws {
        let path = try Fixtures.multiFrameFile(frames: Self.frames, rows: Self.rows, columns: Self.columns, in: workdir, log: log)
        let size = (try FileManager.default.attributesOfItem(atPath: path))[.size] as? Int ?? 0
        let me = currentExecutablePath()
        guard isExecutable(Self.time) else {
            throw BenchError("\(Self.time) (GNU time) is needed to measure the peak memory of a child alone")
        }

        func ours(_ mode: String) throws -> (seconds: Double, maxRSS: Int) {
            try Self.peak([me, "memory-child", "--mode", mode, path], workdir: workdir)
        }
        log("memory: swift-dicom ...")
        let baseline = try ours("none")
        let metadataOnly = try ours("metadata-only")
        let defaults = try ours("default")

        var table = Table("Peak memory reading the attributes of a \(megabytes(size)) multi-frame file (\(Self.frames) frames of \(Self.rows)×\(Self.columns)×16-bit)",
                          ["reader (fresh process each)", "max RSS", "wall time (s)"])
        table.add(["swift-dicom: a dcmbench process that reads nothing (runtime baseline)", megabytes(baseline.maxRSS), fixed(baseline.seconds, 3)])
        table.add(["swift-dicom `DICOMFile(contentsOf:options: .metadataOnly)`", megabytes(metadataOnly.maxRSS), fixed(metadataOnly.seconds, 3)])
        table.add(["swift-dicom `DICOMFile(contentsOf:)` (default: mmapped, pixel data not touched)", megabytes(defaults.maxRSS), fixed(defaults.seconds, 3)])
        report.check("memory: metadataOnly read of 1 GiB file < 50 MB", measured: megabytes(metadataOnly.maxRSS), target: "< 50 MB",
                     met: metadataOnly.maxRSS < 50_000_000)
        report.check("memory: default read of 1 GiB file < 50 MB", measured: megabytes(defaults.maxRSS), target: "< 50 MB",
                     met: defaults.maxRSS < 50_000_000)

        if isExecutable(Peers.dcmdump) {
            log("memory: DCMTK ...")
            let dcmtk = try Self.peak([Peers.dcmdump, "-M", path], workdir: workdir)
            table.add(["DCMTK `dcmdump -M`", megabytes(dcmtk.maxRSS), fixed(dcmtk.seconds, 3)])
        }
        log("memory: pydicom ...")
        let listFile = "\(workdir)/multiframe.list"
        try Data((path + "\n").utf8).write(to: URL(fileURLWithPath: listFile))
        if let script = try? Peers.pydicomScript(), let py = try? Self.peak([Peers.env, "python3", script, listFile], workdir: workdir) {
            table.add(["pydicom `dcmread(f, stop_before_pixels=True)` (interpreter included)", megabytes(py.maxRSS), fixed(py.seconds, 3)])
        }
        table.notes.append("Max RSS (GNU time's %M) counts the file pages the process touched, mapped pages included, " +
                           "plus its heap and the runtime's own pages. Measured through /usr/bin/time because a child started " +
                           "with posix_spawn inherits its parent's peak RSS in `wait4`'s figures.")
        report.print(table)
        try runSend()
    }

    /// Frames of the RLE file `dcmsend` decompresses while sending: 512 × 512 × 16-bit, 0.5 MiB decoded and about as
    /// much compressed (the fixture's pixels are noise-like, without runs), about 500 MB in all.
    static let sendFrames = 950, sendRows = 512, sendColumns = 512

    /// Peak memory of `dcmsend` sending a ~500 MB multi-frame RLE file to DCMTK `storescp +xe --ignore`, which
    /// accepts the RLE file's presentation context only in Explicit VR Little Endian: dcmsend decompresses it on
    /// the way (issue #3), frame by frame through a temporary file. Beside it, the in-memory conversion that
    /// dcmsend did before (read, transcode, encode; nothing sent), in a child of its own.
    func runSend() throws {
        guard isExecutable(NetworkPeers.storescp) else {
            throw BenchError("\(NetworkPeers.storescp) is not installed (apt-get install dcmtk)")
        }
        let dcmsend = try NetworkPeers.dcmsend()
        let path = try Self.rleMultiFrameFile(frames: Self.sendFrames, rows: Self.sendRows, columns: Self.sendColumns,
                                              in: workdir, log: log)
        let size = (try FileManager.default.attributesOfItem(atPath: path))[.size] as? Int ?? 0
        let decoded = Self.sendFrames * Self.sendRows * Self.sendColumns * 2
        let temporary = try NetworkPeers.freshDirectory(workdir + "/send-temporary")
        let port = NetworkPeers.freePort()
        let server = try BackgroundChild([NetworkPeers.storescp, "-aet", "STORESCP", "+xe", "--ignore", "\(port)"],
                                         environment: NetworkPeers.nodelay)
        defer { server.terminate() }
        try NetworkPeers.waitForListener(port: port)
        log("memory: dcmsend of \(megabytes(size)) RLE → storescp (Explicit VR Little Endian only) ...")
        let sent = try Self.peak([Peers.env, "TMPDIR=\(temporary)/", dcmsend, "--called-aet", "STORESCP", "--no-progress",
                                  "127.0.0.1", "\(port)", path], workdir: workdir)
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        guard leftovers.isEmpty else { throw BenchError("dcmsend left \(leftovers.count) temporary file(s) in \(temporary)") }
        log("memory: the in-memory conversion of the same file ...")
        let inMemory = try Self.peak([currentExecutablePath(), "memory-child", "--mode", "decompress-in-memory", path], workdir: workdir)

        var table = Table("Peak memory of dcmsend decompressing while sending a \(megabytes(size)) RLE file "
                          + "(\(Self.sendFrames) frames of \(Self.sendRows)×\(Self.sendColumns)×16-bit, \(megabytes(decoded)) decoded)",
                          ["process (fresh each)", "max RSS", "wall time (s)"])
        table.add(["`dcmsend` → DCMTK `storescp +xe --ignore` (streamed conversion through a temporary file)",
                   megabytes(sent.maxRSS), fixed(sent.seconds, 3)])
        table.add(["the in-memory conversion dcmsend did before: read, `Transcoder`, `DataSetWriter.encode` (nothing sent)",
                   megabytes(inMemory.maxRSS), fixed(inMemory.seconds, 3)])
        table.notes.append("Max RSS is GNU time's %M (the kernel's VmHWM): heap, runtime and the file pages the process had mapped. "
                           + "The temporary file goes to TMPDIR, removed after the send.")
        report.check("memory: dcmsend decompressing a ~500 MB RLE file < 100 MB", measured: megabytes(sent.maxRSS), target: "< 100 MB",
                     met: sent.maxRSS < 100_000_000)
        report.print(table)
    }

    /// A multi-frame RLE Lossless Enhanced CT file: four distinct frames encoded once and repeated, a Basic Offset
    /// Table, one fragment per frame. Written next to a `.part` file and renamed when complete; reused when present.
    static func rleMultiFrameFile(frames: Int, rows: Int, columns: Int, in workdir: String, log: (String) -> Void) throws -> String {
        let path = "\(workdir)/multiframe-rle-\(frames)x\(rows)x\(columns).dcm"
        if FileManager.default.fileExists(atPath: path) { return path }
        guard let encoder = CodecRegistry.encoder(for: TransferSyntax.rleLossless.uid) else { throw BenchError("no RLE encoder") }
        log("generating \(path) ...")
        let attributes = try Fixtures.ctAttributes(index: 0, rows: rows, columns: columns, frames: frames)
        var single = try FrameDescription(dataSet: attributes)
        single.numberOfFrames = 1
        let distinct = 4
        let raw = Fixtures.pixelBytes(rows: rows, columns: columns, frames: distinct)
        let frameBytes = rows * columns * 2
        let encoded: [Data] = try (0..<distinct).map { k in
            var bytes = try encoder.encode(raw.subdata(in: (k * frameBytes)..<((k + 1) * frameBytes)), description: single,
                                           options: EncodingOptions()).bytes
            if bytes.count % 2 == 1 { bytes.append(0) }
            return bytes
        }
        var header = try DICOMFile(dataSet: attributes, transferSyntax: .rleLossless).encoded()
        func put16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { header.append(contentsOf: $0) } }
        func put32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { header.append(contentsOf: $0) } }
        // (7FE0,0010) OB, undefined length (PS3.5 §A.4); the Basic Offset Table item.
        header.append(contentsOf: [0xE0, 0x7F, 0x10, 0x00, 0x4F, 0x42, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF])
        put16(0xFFFE); put16(0xE000); put32(UInt32(frames * 4))
        var offset = 0
        for f in 0..<frames {
            guard offset <= Int(UInt32.max) else { throw BenchError("the offsets do not fit a Basic Offset Table") }
            put32(UInt32(offset))
            offset += 8 + encoded[f % distinct].count
        }
        let temporary = path + ".part"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary) else { throw BenchError("cannot create \(temporary)") }
        try handle.write(contentsOf: header)
        for f in 0..<frames {
            let fragment = encoded[f % distinct]
            var item = Data([0xFE, 0xFF, 0x00, 0xE0])
            withUnsafeBytes(of: UInt32(fragment.count).littleEndian) { item.append(contentsOf: $0) }
            try handle.write(contentsOf: item)
            try handle.write(contentsOf: fragment)
        }
        try handle.write(contentsOf: Data([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]))
        try handle.close()
        guard rename(temporary, path) == 0 else { throw BenchError("cannot rename \(temporary)") }
        return path
    }

    static let time = "/usr/bin/time"

    /// Runs a command under GNU time and returns its wall time and peak resident set size in bytes.
    static func peak(_ arguments: [String], workdir: String) throws -> (seconds: Double, maxRSS: Int) {
        let output = "\(workdir)/maxrss.txt"
        let result = try ChildProcess.run([time, "-f", "%M", "-o", output] + arguments)
        guard result.status == 0 else { throw BenchError("\(arguments[0]) exited with status \(result.status)") }
        let text = try String(contentsOfFile: output, encoding: .utf8)
        guard let kilobytes = text.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw BenchError("cannot read GNU time's output: \(text)")
        }
        return (result.seconds, kilobytes * 1024)
    }
}

/// Hidden: reads one file the way `dcmbench memory` asks and exits; the parent reads the peak RSS.
struct MemoryChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "memory-child", shouldDisplay: false)

    @Option(help: "none, metadata-only, default or decompress-in-memory")
    var mode: String

    @Argument var path: String

    func run() throws {
        let options: ReadOptions
        switch mode {
        case "none": return
        case "decompress-in-memory":
            // What dcmsend did before streaming: the whole file read, decompressed and encoded in memory.
            let file = try DICOMFile(contentsOf: path)
            let dataSet = try Transcoder().transcode(file.dataSet, from: file.transferSyntax, to: .explicitVRLittleEndian)
            let encoded = try DataSetWriter.encode(dataSet, transferSyntax: .explicitVRLittleEndian)
            guard encoded.count > 0 else { throw BenchError("nothing encoded") }
            return
        case "metadata-only": options = .metadataOnly
        case "default": options = ReadOptions()
        default: throw ValidationError("unknown mode \(mode)")
        }
        let file = try DICOMFile(contentsOf: path, options: options)
        // Look at values as a viewer listing the file would; the pixel data's length but not its bytes.
        let name = file.dataSet.string(.patientName) ?? ""
        let frames = file.dataSet.integer(.numberOfFrames) ?? 0
        let pixels = file.dataSet[.pixelData]?.valueLength ?? 0
        guard !name.isEmpty, frames > 0, mode == "metadata-only" || pixels > 0 else {
            throw BenchError("the file did not read as expected (name '\(name)', \(frames) frames, \(pixels) pixel bytes)")
        }
    }
}
