import ArgumentParser
import Foundation

/// `dcmbench`: measures swift-dicom against DCMTK and pydicom in the same run on the same files.
///
/// Build and run in release mode: `swift run -c release dcmbench all`. Results are Markdown tables on stdout;
/// progress goes to stderr. See docs/BENCHMARKS.md for the figures measured on the project's machine.
@main
struct DCMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dcmbench",
        abstract: "Benchmarks swift-dicom against DCMTK and pydicom.",
        discussion: """
            Each measurement is repeated (--repeat, default 3) and the best run is kept: the machine is shared.
            Test files are generated with swift-dicom's writer into --workdir and reused by later runs.
            Exit codes: 0 all measured; 1 a measurement failed (missing peer tool, unreadable file).
            Targets that are missed are reported in the table, not by the exit code.
            """,
        subcommands: [Metadata.self, Parse.self, Memory.self, Write.self, Network.self, MemoryNetwork.self, All.self, MemoryChild.self,
                      Profile.self, NetworkSCP.self, ArchiveCommand.self, Codecs.self, Forward.self])
}

/// Options shared by every subcommand.
struct CommonOptions: ParsableArguments {
    @Option(help: "Where generated test files are kept between runs.")
    var workdir: String = ".build-bench-data"

    @Option(name: .customLong("repeat"), help: "How many times each measurement is repeated; the best is kept.")
    var repeats: Int = 3

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    /// The work directory, created if needed, as an absolute path.
    func prepareWorkdir() throws -> String {
        let url = URL(fileURLWithPath: workdir).standardizedFileURL
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}

/// The peers' executables.
enum Peers {
    static let dcmdump = "/usr/bin/dcmdump"
    static let env = "/usr/bin/env"

    /// Tools/bench/pydicom_metadata.py, found from the working directory or the executable's location.
    static func pydicomScript() throws -> String {
        var candidates = [FileManager.default.currentDirectoryPath + "/Tools/bench/pydicom_metadata.py"]
        var dir = URL(fileURLWithPath: currentExecutablePath()).deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent("Tools/bench/pydicom_metadata.py").path)
            dir = dir.deletingLastPathComponent()
        }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw BenchError("Tools/bench/pydicom_metadata.py not found; run dcmbench from the package directory")
        }
        return found
    }

    /// Runs the pydicom script over the paths in `listFile`; returns the per-repetition seconds and the checksum.
    static func pydicom(listFile: String, repeats: Int, workdir: String) throws -> (seconds: [Double], checksum: Int, version: String, maxRSS: Int) {
        let output = "\(workdir)/pydicom-result.json"
        let result = try ChildProcess.run([env, "python3", try pydicomScript(), listFile, "--repeat", "\(repeats)"],
                                          stdoutPath: output)
        guard result.status == 0 else { throw BenchError("pydicom script failed with status \(result.status)") }
        let data = try Data(contentsOf: URL(fileURLWithPath: output))
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let seconds = json["seconds"] as? [Double], let checksum = json["checksum"] as? Int else {
            throw BenchError("cannot parse the pydicom script's output in \(output)")
        }
        return (seconds, checksum, json["pydicom"] as? String ?? "?", result.maxRSS)
    }

    /// The DCMTK version line, e.g. "dcmdump v3.6.7 2022-04-22".
    static func dcmtkVersion() -> String {
        let output = NSTemporaryDirectory() + "/dcmbench-dcmdump-version.txt"
        guard (try? ChildProcess.run([dcmdump, "--version"], stdoutPath: output)) != nil,
              let text = try? String(contentsOfFile: output, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.contains("dcmdump v") }) else { return "dcmdump" }
        return line.replacingOccurrences(of: "$", with: "").replacingOccurrences(of: "dcmtk: ", with: "")
            .trimmingCharacters(in: .whitespaces)
    }
}

/// Runs every benchmark at its default size and prints the target summary.
struct All: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Runs metadata, parse, memory and write, then a summary of the targets.")

    @OptionGroup var common: CommonOptions

    @Option(help: "How many CT files the metadata benchmark reads.")
    var count: Int = 10_000

    func run() throws {
        let report = BenchReport()
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        try MetadataBenchmark(count: count, repeats: common.repeats, workdir: workdir, report: report).run()
        try ParseBenchmark(repeats: common.repeats, workdir: workdir, report: report).run()
        try MemoryBenchmark(workdir: workdir, report: report).run()
        try WriteBenchmark(repeats: common.repeats, report: report).run()
        report.printSummary()
    }
}

struct Metadata: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Metadata read of N CT files: swift-dicom vs DCMTK dcmdump -M vs pydicom stop_before_pixels.")

    @OptionGroup var common: CommonOptions

    @Option(help: "How many CT files to generate and read.")
    var count: Int = 10_000

    @Option(help: "Also read this many of the files from disk, evicted from the page cache before every run (0: skip).")
    var cold: Int = 0

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
        let report = BenchReport()
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        try MetadataBenchmark(count: count, repeats: common.repeats, workdir: workdir, report: report, coldSample: cold).run()
        report.printSummary()
    }
}

struct Parse: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Full parse of in-memory data sets (GB/s of input).")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let report = BenchReport()
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        try ParseBenchmark(repeats: common.repeats, workdir: workdir, report: report).run()
        report.printSummary()
    }
}

struct Memory: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Peak memory (max RSS) for the metadata read of a 1 GiB multi-frame file.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let report = BenchReport()
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        try MemoryBenchmark(workdir: workdir, report: report).run()
        report.printSummary()
    }
}

struct Write: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Encoding a CT image to a Part 10 byte buffer (MB/s).")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let report = BenchReport()
        printHeader(workdir: nil)
        try WriteBenchmark(repeats: common.repeats, report: report).run()
        report.printSummary()
    }
}

/// When and where: a line to date the figures.
func printHeader(workdir: String?) {
    var name = utsname()
    uname(&name)
    let machine = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let formatter = ISO8601DateFormatter()
    print("dcmbench \(formatter.string(from: Date())) — \(ProcessInfo.processInfo.activeProcessorCount) cores, \(machine), Linux \(release)" +
          (workdir.map { ", data in \($0)" } ?? "") + "\n")
}
