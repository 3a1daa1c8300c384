import ArgumentParser
import DICOMCore
import DICOMIO
import DICOMToolSupport
import Foundation

@main
struct DCMDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dcmdump",
        abstract: "Print the contents of DICOM files.",
        discussion: """
            Prints each element as (gggg,eeee) VR [value] # length, multiplicity keyword, with sequence items indented, \
            or the DICOM JSON model (PS3.18 Annex F) with --json.
            Exit codes: 0 every file was read; 1 at least one file could not be read (its error, with the byte offset, goes to stderr); 64 bad usage.
            """)

    @Argument(help: "DICOM files or directories.")
    var paths: [String]

    @Flag(name: .shortAndLong, help: "Descend into directories.")
    var recursive = false

    @Flag(help: "Print the DICOM JSON model instead of text.")
    var json = false

    @Flag(name: [.customLong("stop-before-pixels"), .customShort("M")], help: "Do not read pixel data and what follows it.")
    var stopBeforePixels = false

    @Flag(help: "Print tolerated defects (odd lengths, missing meta information, …) to stderr.")
    var warnings = false

    @Option(name: .customLong("charset"), help: "Character set for files without (0008,0005), e.g. 'ISO_IR 144' or windows-1251.")
    var fallbackCharset: String?

    @Option(name: .customLong("force-charset"), help: "Character set to decode text with whatever the file declares.")
    var forcedCharset: String?

    mutating func run() throws {
        var options = ReadOptions()
        options.stopBeforePixelData = stopBeforePixels
        if let fallbackCharset { options.fallbackCharacterSet = try CharacterSetOption.parse(fallbackCharset) }
        if let forcedCharset { options.characterSetOverride = try CharacterSetOption.parse(forcedCharset) }
        let (files, missing) = InputFiles.expand(paths, recursive: recursive)
        var failed = !missing.isEmpty
        for path in missing { printError("dcmdump: \(path): no such file or directory") }
        let formatter = DumpFormatter()
        var jsonItems: [DataSet] = []
        let output = FileHandle.standardOutput
        for path in files {
            do {
                let file = try DICOMFile(contentsOf: path, options: options)
                if warnings { for d in file.diagnostics { printError("dcmdump: \(path): warning: \(d)") } }
                if json {
                    jsonItems.append(file.dataSet)
                    continue
                }
                var text = ""
                if files.count > 1 { text += "# \(path)\n" }
                text += "# File Meta Information (\(file.transferSyntax.name))\n"
                text += formatter.lines(file.fileMetaInformation).joined(separator: "\n")
                text += "\n# Data Set\n"
                text += formatter.lines(file.dataSet).joined(separator: "\n") + "\n"
                output.write(Data(text.utf8))
            } catch let error as DICOMError {
                failed = true
                printError("dcmdump: \(error.file == nil ? path + ": " : "")\(error)")
            } catch {
                failed = true
                printError("dcmdump: \(path): \(error)")
            }
        }
        if json {
            let encoded = try JSONOutput.encode(jsonItems, single: files.count == 1 && !failed)
            output.write(encoded)
            output.write(Data("\n".utf8))
        }
        if failed { throw ExitCode(1) }
    }
}
