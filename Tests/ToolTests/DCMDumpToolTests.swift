import DICOMCore
import DICOMIO
import DICOMJSON
import Foundation
import Testing

/// The built `dcmdump` binary, run end to end: output, exit codes and every option.
@Suite struct DCMDumpToolTests {

    // MARK: Running the binary

    /// The `dcmdump` executable in the build products directory (beside the test bundle).
    static let binary: String? = {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("dcmdump").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }()

    struct Run {
        var status: Int32
        var output: String
        var outputData: Data
        var error: String
    }

    /// Runs dcmdump with `arguments`; standard output and error go to files (no pipe can fill up). Bounded at 60 s.
    static func dcmdump(_ arguments: [String]) throws -> Run {
        let path = try #require(binary, "dcmdump is not built next to the test bundle: run `swift build --build-tests` first")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let base = NSTemporaryDirectory() + "dcmdump-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                Issue.record("dcmdump \(arguments) did not finish within 60 s; killed")
                break
            }
            usleep(5_000)
        }
        try out.close()
        try err.close()
        let outputData = try Data(contentsOf: URL(fileURLWithPath: base + ".out"))
        let errorData = try Data(contentsOf: URL(fileURLWithPath: base + ".err"))
        return Run(status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
                   outputData: outputData, error: String(decoding: errorData, as: UTF8.self))
    }

    // MARK: Fixtures

    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "dcmdump-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let russian = "Иванов^Иван"
    static let persian = "کریمی^پژمان"
    static let kyrgyz = "Өмүрбеков^Үсөн"

    /// A small CT-like instance: text in `characterSet`, a two-item sequence, 4×4 16-bit pixel data.
    static func instance(name: String, characterSet: String, sopInstanceUID: String = "1.2.826.0.1.3680043.10.999.1") throws -> DataSet {
        var dataSet = DataSet()
        dataSet.setASCII(.specificCharacterSet, vr: .CS, characterSet)
        dataSet.setASCII(.sopClassUID, vr: .UI, "1.2.840.10008.5.1.4.1.1.2")
        dataSet.setASCII(.sopInstanceUID, vr: .UI, sopInstanceUID)
        dataSet.setASCII(.studyDate, vr: .DA, "20261123")
        dataSet.setASCII(.modality, vr: .CS, "CT")
        try dataSet.set(.patientName, vr: .PN, string: name)
        dataSet.setASCII(.patientID, vr: .LO, "PID-42")
        try dataSet.set(.rows, vr: .US, integers: [4])
        try dataSet.set(.columns, vr: .US, integers: [4])
        try dataSet.set(.bitsAllocated, vr: .US, integers: [16])
        try dataSet.set(.pixelSpacing, vr: .DS, doubles: [0.5, 0.25])
        var items: [DataSet] = []
        for (index, meaning) in ["Head", "Neck"].enumerated() {
            var item = DataSet()
            item.setASCII(.codeValue, vr: .SH, "C\(index + 1)")
            item.setASCII(.codeMeaning, vr: .LO, meaning)
            items.append(item)
        }
        dataSet[.procedureCodeSequence] = DataElement(tag: .procedureCodeSequence, items: items)
        var pixels = Data()
        for value in 0..<16 { pixels.append(contentsOf: [UInt8(value * 17 & 0xFF), 0x01]) }
        dataSet[.pixelData] = DataElement(tag: .pixelData, vr: .OW, bytes: pixels)
        return dataSet
    }

    @discardableResult
    static func write(_ dataSet: DataSet, to path: String, syntax: TransferSyntax = .explicitVRLittleEndian) throws -> Data {
        let data = try DICOMFile(dataSet: dataSet, transferSyntax: syntax).encoded()
        try data.write(to: URL(fileURLWithPath: path))
        return data
    }

    /// The dump line of `tag` (first match), without its leading indentation.
    static func line(_ output: String, _ tag: String) -> String? {
        output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(tag + " ") }
    }

    // MARK: Text output

    @Test func textDumpShowsTagVRValueLengthAndKeyword() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.write(Self.instance(name: Self.russian, characterSet: "ISO_IR 144"), to: dir + "/ru.dcm")

        let run = try Self.dcmdump([dir + "/ru.dcm"])
        #expect(run.status == 0)
        #expect(run.error.isEmpty)
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "# File Meta Information (Explicit VR Little Endian)")
        #expect(lines.contains("# Data Set"))
        #expect(!run.output.contains("# " + dir), "a single file gets no file-name header")

        // "Иванов^Иван" is 11 characters, 11 bytes in ISO 8859-5, padded to 12.
        let name = try #require(Self.line(run.output, "(0010,0010)"))
        #expect(name.hasPrefix("(0010,0010) PN [Иванов^Иван]"))
        #expect(name.hasSuffix("# 12, 1 PatientName"))
        #expect(Self.line(run.output, "(0008,0005)")?.hasPrefix("(0008,0005) CS [ISO_IR 144]") == true)
        #expect(Self.line(run.output, "(0008,0005)")?.hasSuffix("# 10, 1 SpecificCharacterSet") == true)
        #expect(Self.line(run.output, "(0008,0060)")?.hasSuffix("# 2, 1 Modality") == true)
        #expect(Self.line(run.output, "(0028,0010)")?.hasPrefix("(0028,0010) US 4") == true)
        #expect(Self.line(run.output, "(0028,0010)")?.hasSuffix("# 2, 1 Rows") == true)
        #expect(Self.line(run.output, "(0028,0030)")?.hasPrefix("(0028,0030) DS [0.5\\0.25]") == true)
        #expect(Self.line(run.output, "(0028,0030)")?.hasSuffix(", 2 PixelSpacing") == true)
        #expect(Self.line(run.output, "(0002,0010)")?.contains("[1.2.840.10008.1.2.1]") == true)
        #expect(Self.line(run.output, "(0002,0010)")?.hasSuffix("TransferSyntaxUID") == true)

        // The sequence: header, two items, their elements indented.
        let sequence = try #require(lines.first { $0.hasPrefix("(0008,1032)") })
        #expect(sequence.contains("SQ (Sequence with 2 items)"))
        #expect(sequence.hasSuffix("ProcedureCodeSequence"))
        let items = lines.filter { $0.contains("(FFFE,E000) na (Item #") }
        #expect(items.count == 2)
        #expect(items.allSatisfy { $0.hasPrefix("  (FFFE,E000)") })
        #expect(lines.contains { $0.hasPrefix("    (0008,0104) LO [Neck]") && $0.hasSuffix("CodeMeaning") })

        // Pixel data: 32 bytes of OW shown as 16 hexadecimal words (the most shown before eliding).
        let pixels = try #require(Self.line(run.output, "(7FE0,0010)"))
        #expect(pixels.hasPrefix("(7FE0,0010) OW 0100\\0111\\0122\\0133"))
        #expect(pixels.contains("\\01ee\\01ff "))
        #expect(!pixels.contains("..."))
        #expect(pixels.hasSuffix("# 32, 16 PixelData"))
    }

    @Test func unicodeNamesAreDecoded() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.write(Self.instance(name: Self.persian, characterSet: "ISO_IR 192"), to: dir + "/fa.dcm")
        try Self.write(Self.instance(name: Self.kyrgyz, characterSet: "ISO_IR 192", sopInstanceUID: "1.2.3.4"), to: dir + "/ky.dcm",
                       syntax: .implicitVRLittleEndian)

        let run = try Self.dcmdump([dir + "/fa.dcm", dir + "/ky.dcm"])
        #expect(run.status == 0)
        #expect(run.error.isEmpty)
        // Several files: each dump starts with the file's name.
        #expect(run.output.contains("# \(dir)/fa.dcm\n"))
        #expect(run.output.contains("# \(dir)/ky.dcm\n"))
        #expect(run.output.contains("# File Meta Information (Implicit VR Little Endian)"))
        let names = run.output.split(separator: "\n").filter { $0.hasPrefix("(0010,0010)") }
        #expect(names.count == 2)
        // "کریمی^پژمان": 10 Persian letters of 2 bytes in UTF-8 and a caret: 21 bytes, padded to 22.
        #expect(names.first?.hasPrefix("(0010,0010) PN [\(Self.persian)]") == true)
        #expect(names.first?.hasSuffix("# 22, 1 PatientName") == true)
        #expect(names.last?.hasPrefix("(0010,0010) PN [\(Self.kyrgyz)]") == true)
    }

    // MARK: JSON

    @Test func jsonOutputIsTheDICOMJSONModel() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let original = try Self.instance(name: Self.russian, characterSet: "ISO_IR 144")
        try Self.write(original, to: dir + "/ru.dcm")

        let run = try Self.dcmdump(["--json", dir + "/ru.dcm"])
        #expect(run.status == 0)
        #expect(run.error.isEmpty)
        // One file: one object, parsed by our decoder and by Foundation.
        let object = try #require(try JSONSerialization.jsonObject(with: run.outputData) as? [String: Any])
        let patientName = try #require(object["00100010"] as? [String: Any])
        #expect(patientName["vr"] as? String == "PN")
        let value = try #require((patientName["Value"] as? [[String: Any]])?.first)
        #expect(value["Alphabetic"] as? String == Self.russian)
        #expect((object["00280010"] as? [String: Any])?["Value"] as? [Int] == [4])
        #expect((object["7FE00010"] as? [String: Any])?["InlineBinary"] is String)
        #expect(object["00020010"] == nil, "File Meta Information is not part of the data set's JSON")

        let decoded = try DICOMJSONDecoder().decode(run.outputData)
        #expect(decoded.string(.patientName) == Self.russian)
        #expect(decoded.string(.sopInstanceUID) == "1.2.826.0.1.3680043.10.999.1")
        #expect(decoded.items(.procedureCodeSequence)?.map { $0.string(.codeMeaning) } == ["Head", "Neck"])
        #expect(decoded[.pixelData]?.bytes == original[.pixelData]?.bytes)
        #expect(decoded.doubles(.pixelSpacing) == [0.5, 0.25])
    }

    @Test func jsonOfSeveralFilesIsAnArray() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.write(Self.instance(name: Self.russian, characterSet: "ISO_IR 144"), to: dir + "/a.dcm")
        try Self.write(Self.instance(name: Self.persian, characterSet: "ISO_IR 192", sopInstanceUID: "1.2.3.5"), to: dir + "/b.dcm")

        let run = try Self.dcmdump([dir, "--json", "-M"])
        #expect(run.status == 0)
        let decoded = try DICOMJSONDecoder().decodeArray(run.outputData)
        #expect(decoded.map { $0.string(.patientName) } == [Self.russian, Self.persian])
        #expect(decoded.allSatisfy { !$0.contains(.pixelData) }, "-M leaves pixel data out of the JSON too")
    }

    // MARK: Stop before pixels

    @Test func stopBeforePixelsLeavesPixelDataOut() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var dataSet = try Self.instance(name: Self.russian, characterSet: "ISO_IR 144")
        // An element after the pixel data, which -M must not show either.
        dataSet[Tag(0xFFFA, 0xFFFA)] = DataElement(tag: Tag(0xFFFA, 0xFFFA), vr: .OB, bytes: Data([1, 2]))
        try Self.write(dataSet, to: dir + "/ru.dcm")

        let full = try Self.dcmdump([dir + "/ru.dcm"])
        #expect(full.status == 0)
        #expect(Self.line(full.output, "(7FE0,0010)") != nil)
        #expect(Self.line(full.output, "(FFFA,FFFA)") != nil)

        for flag in ["-M", "--stop-before-pixels"] {
            let run = try Self.dcmdump([flag, dir + "/ru.dcm"])
            #expect(run.status == 0)
            #expect(Self.line(run.output, "(7FE0,0010)") == nil)
            #expect(Self.line(run.output, "(FFFA,FFFA)") == nil)
            #expect(Self.line(run.output, "(0028,0010)") != nil)
            #expect(Self.line(run.output, "(0010,0010)")?.contains(Self.russian) == true)
        }
    }

    // MARK: Directories

    @Test func directoriesAndRecursion() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/sub/deeper", withIntermediateDirectories: true)
        try Self.write(Self.instance(name: "Top^One", characterSet: "ISO_IR 100", sopInstanceUID: "1.1"), to: dir + "/top.dcm")
        try Self.write(Self.instance(name: "Sub^Two", characterSet: "ISO_IR 100", sopInstanceUID: "1.2"), to: dir + "/sub/two.dcm")
        try Self.write(Self.instance(name: "Deep^Three", characterSet: "ISO_IR 100", sopInstanceUID: "1.3"), to: dir + "/sub/deeper/three.dcm")

        // Without --recursive: only the directory's own files.
        let flat = try Self.dcmdump([dir])
        #expect(flat.status == 0)
        #expect(flat.output.contains("[Top^One]"))
        #expect(!flat.output.contains("[Sub^Two]"))
        #expect(!flat.output.contains("[Deep^Three]"))

        for flag in ["--recursive", "-r"] {
            let run = try Self.dcmdump([flag, dir])
            #expect(run.status == 0)
            #expect(run.error.isEmpty)
            for name in ["Top^One", "Sub^Two", "Deep^Three"] { #expect(run.output.contains("[\(name)]")) }
            #expect(run.output.contains("# \(dir)/sub/deeper/three.dcm\n"))
            #expect(run.output.components(separatedBy: "# Data Set\n").count == 4)
        }

        let json = try Self.dcmdump(["-r", "--json", dir])
        #expect(json.status == 0)
        let decoded = try DICOMJSONDecoder().decodeArray(json.outputData)
        #expect(Set(decoded.compactMap { $0.string(.patientName) }) == ["Top^One", "Sub^Two", "Deep^Three"])
    }

    // MARK: Failures and exit codes

    @Test func missingFileExitsOneAndNamesIt() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.write(Self.instance(name: "Good^File", characterSet: "ISO_IR 100"), to: dir + "/good.dcm")

        let run = try Self.dcmdump([dir + "/absent.dcm", dir + "/good.dcm"])
        #expect(run.status == 1)
        #expect(run.error.contains("\(dir)/absent.dcm"))
        #expect(run.error.contains("no such file"))
        // The good file is still dumped.
        #expect(run.output.contains("[Good^File]"))
    }

    @Test func nonDICOMFileExitsOneAndSaysWhy() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Text, and a 200-byte file without DICM whose first bytes are no element header either.
        try Data("This is a plain text file, not an image.\n".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        try Data(repeating: 0xFF, count: 200).write(to: URL(fileURLWithPath: dir + "/ff.bin"))

        for name in ["notes.txt", "ff.bin"] {
            let run = try Self.dcmdump([dir + "/" + name])
            #expect(run.status == 1, "\(name)")
            #expect(run.output.isEmpty || !run.output.contains("# Data Set"), "\(name)")
            let message = run.error
            #expect(message.hasPrefix("dcmdump: \(dir)/\(name)"), "\(name): \(message)")
            #expect(message.contains("offset"), "\(name): \(message)")
        }
        let ff = try Self.dcmdump([dir + "/ff.bin"])
        #expect(ff.error.contains("not a DICOM") || ff.error.contains("does not start like a data set"), "\(ff.error)")
    }

    @Test func truncatedFileExitsOneWithOffset() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try Self.write(Self.instance(name: Self.russian, characterSet: "ISO_IR 144"), to: dir + "/whole.dcm")
        // Cut inside the pixel data value, and inside an element header just after the meta information.
        let cuts = [data.count - 5, 132 + 12 + 200 + 3]
        for (index, cut) in cuts.enumerated() {
            let path = dir + "/cut\(index).dcm"
            try data.prefix(cut).write(to: URL(fileURLWithPath: path))
            let run = try Self.dcmdump([path])
            #expect(run.status == 1, "cut at \(cut)")
            #expect(run.error.hasPrefix("dcmdump: \(path), offset "), "cut at \(cut): \(run.error)")
            #expect(run.error.contains("remain") || run.error.contains("ends inside"), "cut at \(cut): \(run.error)")
        }
        // The pixel data is cut but -M never reaches it: the file reads.
        let metadata = try Self.dcmdump(["-M", dir + "/cut0.dcm"])
        #expect(metadata.status == 0)
        #expect(metadata.output.contains(Self.russian))
    }

    @Test func oneBadFileAmongGoodOnesStillExitsOne() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.write(Self.instance(name: "A^B", characterSet: "ISO_IR 100"), to: dir + "/a.dcm")
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir + "/b.dcm"))
        let run = try Self.dcmdump([dir])
        #expect(run.status == 1)
        #expect(run.output.contains("[A^B]"))
        #expect(run.error.contains("\(dir)/b.dcm"))
        #expect(!run.error.contains("a.dcm"))

        let json = try Self.dcmdump(["--json", dir])
        #expect(json.status == 1)
        #expect(try DICOMJSONDecoder().decodeArray(json.outputData).map { $0.string(.patientName) } == ["A^B"])
    }

    @Test func badUsageExits64() throws {
        let noArguments = try Self.dcmdump([])
        #expect(noArguments.status == 64)
        #expect(noArguments.error.contains("paths"))
        let unknownOption = try Self.dcmdump(["--no-such-option", "x.dcm"])
        #expect(unknownOption.status == 64)
        #expect(unknownOption.error.contains("--no-such-option"))
        let badCharset = try Self.dcmdump(["--charset", "klingon", "x.dcm"])
        #expect(badCharset.status == 64)
        #expect(badCharset.error.contains("klingon"))
        let badForced = try Self.dcmdump(["--force-charset", "nope-1", "x.dcm"])
        #expect(badForced.status == 64)
        #expect(badForced.error.contains("nope-1"))
    }

    @Test func helpListsEveryOptionAndTheExitCodes() throws {
        let run = try Self.dcmdump(["--help"])
        #expect(run.status == 0)
        for option in ["--recursive", "--json", "--stop-before-pixels", "-M", "--warnings", "--charset", "--force-charset"] {
            #expect(run.output.contains(option), "\(option)")
        }
        #expect(run.output.contains("Exit codes"))
    }

    // MARK: Warnings and character-set options

    @Test func warningsGoToStandardError() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A file with an odd-length value: written by hand, since our writer pads.
        var file = try DICOMFile(dataSet: Self.instance(name: "Odd^Length", characterSet: "ISO_IR 100"), transferSyntax: .explicitVRLittleEndian)
        file.dataSet[.patientID] = DataElement(tag: .patientID, vr: .LO, bytes: Data("ABC".utf8))
        var encoded = try file.encoded()
        // The writer pads to "ABC "; find the element and make its length odd again.
        let header: [UInt8] = [0x10, 0x00, 0x20, 0x00, 0x4C, 0x4F, 0x04, 0x00]
        let at = try #require(encoded.firstRange(of: Data(header)))
        encoded[at.lowerBound + 6] = 0x03
        encoded.remove(at: at.lowerBound + 8 + 3)
        try encoded.write(to: URL(fileURLWithPath: dir + "/odd.dcm"))

        let quiet = try Self.dcmdump([dir + "/odd.dcm"])
        #expect(quiet.status == 0)
        #expect(quiet.error.isEmpty)
        #expect(Self.line(quiet.output, "(0010,0020)")?.hasPrefix("(0010,0020) LO [ABC]") == true)

        let loud = try Self.dcmdump(["--warnings", dir + "/odd.dcm"])
        #expect(loud.status == 0, "warnings do not change the exit code")
        #expect(loud.error.contains("dcmdump: \(dir)/odd.dcm: warning: offset"))
        #expect(loud.error.contains("(0010,0020)"))
        #expect(loud.error.contains("odd length 3"))
    }

    @Test func fallbackAndForcedCharacterSets() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // ISO 8859-5 bytes with no (0008,0005): shown as replacement characters unless --charset says what they are.
        var unlabelled = try Self.instance(name: Self.russian, characterSet: "ISO_IR 144")
        unlabelled.remove(.specificCharacterSet)
        try Self.write(unlabelled, to: dir + "/unlabelled.dcm")
        let plain = try Self.dcmdump([dir + "/unlabelled.dcm"])
        #expect(plain.status == 0)
        #expect(!plain.output.contains(Self.russian))
        let fallback = try Self.dcmdump(["--charset", "ISO_IR 144", dir + "/unlabelled.dcm"])
        #expect(fallback.status == 0)
        #expect(Self.line(fallback.output, "(0010,0010)")?.contains("[\(Self.russian)]") == true)

        // --charset is only a fallback: a declared set wins.
        try Self.write(Self.instance(name: Self.russian, characterSet: "ISO_IR 144"), to: dir + "/labelled.dcm")
        let declared = try Self.dcmdump(["--charset", "windows-1251", dir + "/labelled.dcm"])
        #expect(Self.line(declared.output, "(0010,0010)")?.contains("[\(Self.russian)]") == true)

        // Windows-1251 bytes labelled ISO_IR 100: --force-charset decodes them whatever the file says.
        var mislabelled = DataSet()
        mislabelled.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 100")
        mislabelled.setASCII(.sopClassUID, vr: .UI, "1.2.840.10008.5.1.4.1.1.7")
        mislabelled.setASCII(.sopInstanceUID, vr: .UI, "1.2.3.9")
        let cp1251 = try SpecificCharacterSet(fallbackEncodingName: "windows-1251").encode(Self.russian, vr: .PN)
        mislabelled[.patientName] = DataElement(tag: .patientName, vr: .PN, bytes: Data(cp1251 + (cp1251.count & 1 == 1 ? [0x20] : [])))
        try Self.write(mislabelled, to: dir + "/mislabelled.dcm")
        let asDeclared = try Self.dcmdump([dir + "/mislabelled.dcm"])
        #expect(Self.line(asDeclared.output, "(0010,0010)")?.contains(Self.russian) == false)
        let forced = try Self.dcmdump(["--force-charset", "windows-1251", dir + "/mislabelled.dcm"])
        #expect(forced.status == 0)
        #expect(Self.line(forced.output, "(0010,0010)")?.contains("[\(Self.russian)]") == true)
        let forcedJSON = try Self.dcmdump(["--force-charset", "windows-1251", "--json", dir + "/mislabelled.dcm"])
        #expect(try DICOMJSONDecoder().decode(forcedJSON.outputData).string(.patientName) == Self.russian)
    }
}
