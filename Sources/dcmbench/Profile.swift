import ArgumentParser
import DICOMCore
import DICOMIO
import Foundation

/// Hidden: runs one workload in a loop for a while, to be recorded by `perf record -g` or callgrind
/// (see Tools/bench/profile.sh).
struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "profile", shouldDisplay: false)

    @Argument(help: "parse-attributes, parse-file, parse-multiframe, metadata-files, encode-file or encode-attributes")
    var workload: String

    @Option(help: "How long to loop, in seconds.")
    var seconds: Double = 5

    @Option(help: "Files for metadata-files (from a previous `dcmbench metadata` run).")
    var workdir: String = ".build-bench-data"

    func run() throws {
        let body: () throws -> Int
        switch workload {
        case "parse-attributes":
            let bytes = try DataSetWriter.encode(try Fixtures.ctAttributes(index: 1), transferSyntax: .explicitVRLittleEndian)
            body = { try DataSetReader.read(bytes, transferSyntax: .explicitVRLittleEndian).count }
        case "parse-file":
            let bytes = try Fixtures.ctFile(index: 1)
            body = { try DICOMFile(data: bytes).dataSet.count }
        case "parse-multiframe":
            let bytes = try Fixtures.ctFile(index: 1, frames: 200)
            body = { try DICOMFile(data: bytes).dataSet.count }
        case "metadata-files":
            let directory = URL(fileURLWithPath: workdir).standardizedFileURL.path
            guard let series = try FileManager.default.contentsOfDirectory(atPath: directory).first(where: { $0.hasPrefix("ct-") && !$0.contains(".") }) else {
                throw ValidationError("no ct-N directory in \(directory); run `dcmbench metadata` first")
            }
            let paths = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(series)")
                .filter { $0.hasSuffix(".dcm") }.sorted().map { "\(directory)/\(series)/\($0)" }
            var next = 0
            body = {
                next = (next + 1) % paths.count
                return try MetadataBenchmark.readAll([paths[next]], options: .metadataOnly)
            }
        case "encode-file":
            let file = DICOMFile(dataSet: try Fixtures.ctImage(index: 1), transferSyntax: .explicitVRLittleEndian)
            body = { try file.encoded().count }
        case "encode-attributes":
            let attributes = try Fixtures.ctAttributes(index: 1)
            body = { try DataSetWriter.encode(attributes, transferSyntax: .explicitVRLittleEndian).count }
        default:
            throw ValidationError("unknown workload \(workload)")
        }
        let start = monotonicSeconds(), end = start + seconds
        var calls = 0, sink = 0
        repeat {
            for _ in 0..<100 { sink &+= try body() }
            calls += 100
        } while monotonicSeconds() < end
        log("\(workload): \(calls) calls, \(String(format: "%.2f", (monotonicSeconds() - start) * 1e6 / Double(calls))) µs each (checksum \(sink))")
    }
}
