import ArgumentParser
import DICOMCodecs
import DICOMCore
import DICOMIO
import DICOMToolSupport
import Foundation

@main
struct DCMConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dcmconv",
        abstract: "Convert DICOM files to another transfer syntax (decompress, compress, change byte order).",
        discussion: """
            IN is a file or a directory. For a directory, OUT is a directory and every file is written to the same \
            relative path under it (with --recursive, subdirectories too).
            Transfer syntaxes (--ts takes a name or a UID; * = lossy, needs --allow-lossy):
            \(TransferSyntaxNames.helpText)
            A lossy result gets a new SOP Instance UID, Image Type DERIVED, a Source Image Sequence and \
            Lossy Image Compression (0028,2110) "01" with its ratio and method, as DCMTK's dcmcjpeg does.
            Exit codes: 0 every file was converted; 1 at least one file failed (the reason goes to stderr); 64 bad usage.
            """)

    @Argument(help: "Input DICOM file or directory.")
    var input: String

    @Argument(help: "Output file or directory.")
    var output: String

    @Option(name: .customLong("ts"), help: "Target transfer syntax: a name from the list below or a UID.")
    var transferSyntax: String

    @Flag(help: "Permit lossy compression (JPEG baseline, JPEG 2000 irreversible, JPEG-LS near-lossless).")
    var allowLossy = false

    @Option(help: "JPEG quality 1...100 (default 90).")
    var quality: Int = 90

    @Option(help: "JPEG 2000 lossy compression ratio (default 10).")
    var ratio: Double = 10

    @Option(help: "JPEG-LS near-lossless maximum error (default 2 for jpeg-ls-near).")
    var near: Int?

    @Flag(name: .shortAndLong, help: "Descend into subdirectories of a directory IN.")
    var recursive = false

    @Flag(name: .shortAndLong, help: "Print each converted file.")
    var verbose = false

    func validate() throws {
        guard let target = TransferSyntaxNames.resolve(transferSyntax) else {
            throw ValidationError("unknown transfer syntax '\(transferSyntax)'; use one of: \(TransferSyntaxNames.names.joined(separator: ", ")) or a UID")
        }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1...100") }
        guard ratio >= 1 else { throw ValidationError("--ratio must be at least 1") }
        if target.isLossy && !allowLossy {
            throw ValidationError("\(target.name) is lossy: add --allow-lossy to convert to it")
        }
        if target.isEncapsulated && !Transcoder.canTranscode(from: .explicitVRLittleEndian, to: target) {
            throw ValidationError("no encoder for \(target.name) (\(target.uid)) is built in")
        }
    }

    mutating func run() throws {
        guard let target = TransferSyntaxNames.resolve(transferSyntax) else { throw ExitCode(64) }
        var encoding = EncodingOptions(quality: quality, compressionRatio: ratio)
        encoding.nearLossless = near ?? (target.uid == TransferSyntax.jpegLSNearLossless.uid ? 2 : 0)
        let transcoder = Transcoder(options: Transcoder.Options(allowLossy: allowLossy, encoding: encoding))

        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            printError("dcmconv: \(input): no such file or directory")
            throw ExitCode(1)
        }
        var jobs: [(from: String, to: String)] = []
        if isDirectory.boolValue {
            let root = URL(fileURLWithPath: input).standardizedFileURL.path
            let (files, _) = InputFiles.expand([root], recursive: recursive)
            for file in files {
                let relative = String(file.dropFirst(root.count).drop { $0 == "/" })
                jobs.append((file, (output as NSString).appendingPathComponent(relative)))
            }
            if files.isEmpty { printError("dcmconv: \(input): no files") }
        } else {
            var outputIsDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: output, isDirectory: &outputIsDirectory), outputIsDirectory.boolValue {
                jobs.append((input, (output as NSString).appendingPathComponent((input as NSString).lastPathComponent)))
            } else {
                jobs.append((input, output))
            }
        }

        var failures = 0
        for job in jobs {
            do {
                try convert(job.from, to: job.to, target: target, transcoder: transcoder)
                if verbose { print("\(job.from) -> \(job.to) (\(target.name))") }
            } catch {
                failures += 1
                printError("dcmconv: \(job.from): \(error)")
            }
        }
        if jobs.count > 1 || failures > 0 {
            printError("dcmconv: \(jobs.count - failures) of \(jobs.count) file(s) converted to \(target.name)")
        }
        if failures > 0 || jobs.isEmpty { throw ExitCode(1) }
    }

    private func convert(_ path: String, to destination: String, target: TransferSyntax, transcoder: Transcoder) throws {
        let file = try DICOMFile(contentsOf: path)
        let dataSet = try transcoder.transcode(file.dataSet, from: file.transferSyntax, to: target)
        let sourceAETitle = file.fileMetaInformation.string(Tag(0x0002, 0x0016))
        let directory = (destination as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try DICOMFile(dataSet: dataSet, transferSyntax: target, sourceAETitle: sourceAETitle).write(to: destination)
    }
}
