import ArgumentParser
import DICOMCore
import DICOMIO
import Foundation

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

    @Option(help: "none, metadata-only or default")
    var mode: String

    @Argument var path: String

    func run() throws {
        let options: ReadOptions
        switch mode {
        case "none": return
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
