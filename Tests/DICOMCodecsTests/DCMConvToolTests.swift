import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMCodecs

/// The built `dcmconv` binary, run end to end.
@Suite struct DCMConvToolTests {
    /// The `dcmconv` executable in the build products directory (beside the test bundle).
    static let binary: String? = {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("dcmconv").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }()

    static func dcmconv(_ arguments: [String]) throws -> CoreCodecSupport.Run {
        let path = try #require(binary, "dcmconv is not built next to the test bundle: run `swift build --build-tests` first")
        return try CoreCodecSupport.run(path, arguments, timeout: 120)
    }

    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "dcmconv-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func writeImage(_ d: FrameDescription, to path: String, seed: UInt64 = 1) throws -> Data {
        let pixels = CoreCodecSupport.pixels(d, seed: seed)
        try DICOMFile(dataSet: CoreCodecSupport.dataSet(d, pixels: .bytes(pixels)), transferSyntax: .explicitVRLittleEndian)
            .write(to: path)
        return pixels
    }

    static func pixels(of path: String) throws -> (syntax: TransferSyntax, pixels: Data) {
        let file = try DICOMFile(contentsOf: path)
        return (file.transferSyntax, try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax).decodedPixelData().pixels)
    }

    @Test func convertsAFileToRLEAndBack() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = FrameDescription(rows: 20, columns: 16, bitsAllocated: 16, numberOfFrames: 2)
        let pixels = try Self.writeImage(d, to: dir + "/in.dcm")

        let run = try Self.dcmconv([dir + "/in.dcm", dir + "/rle.dcm", "--ts", "rle"])
        #expect(run.status == 0, "\(run.output)")
        let rle = try Self.pixels(of: dir + "/rle.dcm")
        #expect(rle.syntax.uid == TransferSyntax.rleLossless.uid)
        #expect(rle.pixels == pixels)

        let back = try Self.dcmconv([dir + "/rle.dcm", dir + "/back.dcm", "--ts", "1.2.840.10008.1.2"])
        #expect(back.status == 0, "\(back.output)")
        let native = try Self.pixels(of: dir + "/back.dcm")
        #expect(native.syntax.uid == TransferSyntax.implicitVRLittleEndian.uid)
        #expect(native.pixels == pixels)

        // DCMTK reads what we wrote.
        let dcmdrle = try CoreCodecSupport.run("/usr/bin/dcmdrle", [dir + "/rle.dcm", dir + "/dcmtk.dcm"])
        #expect(dcmdrle.status == 0, "\(dcmdrle.output)")
        #expect(try Self.pixels(of: dir + "/dcmtk.dcm").pixels == pixels)
    }

    @Test func directoryModeKeepsRelativePathsAndReportsFailures() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in/series/deeper", withIntermediateDirectories: true)
        let d = FrameDescription(rows: 8, columns: 8, bitsAllocated: 8)
        let a = try Self.writeImage(d, to: dir + "/in/a.dcm", seed: 1)
        let b = try Self.writeImage(d, to: dir + "/in/series/b.dcm", seed: 2)
        let c = try Self.writeImage(d, to: dir + "/in/series/deeper/c.dcm", seed: 3)

        let run = try Self.dcmconv([dir + "/in", dir + "/out", "--ts", "rle", "--recursive"])
        #expect(run.status == 0, "\(run.output)")
        #expect(try Self.pixels(of: dir + "/out/a.dcm").pixels == a)
        #expect(try Self.pixels(of: dir + "/out/series/b.dcm").pixels == b)
        let deep = try Self.pixels(of: dir + "/out/series/deeper/c.dcm")
        #expect(deep.syntax.uid == TransferSyntax.rleLossless.uid)
        #expect(deep.pixels == c)

        // Without --recursive only the top level; a file that is not DICOM fails the run but not the others.
        try Data("not dicom".utf8).write(to: URL(fileURLWithPath: dir + "/in/readme.txt"))
        let flat = try Self.dcmconv([dir + "/in", dir + "/flat", "--ts", "explicit"])
        #expect(flat.status == 1)
        #expect(flat.output.contains("readme.txt"))
        #expect(flat.output.contains("1 of 2 file(s) converted"))
        #expect(FileManager.default.fileExists(atPath: dir + "/flat/a.dcm"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/flat/series"))
    }

    @Test func lossyNeedsAllowLossyAndRecordsIt() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = FrameDescription(rows: 32, columns: 24, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "RGB")
        _ = try Self.writeImage(d, to: dir + "/rgb.dcm")

        let refused = try Self.dcmconv([dir + "/rgb.dcm", dir + "/out.dcm", "--ts", "jpeg-baseline"])
        #expect(refused.status == 64)
        #expect(refused.output.contains("--allow-lossy"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.dcm"))

        let run = try Self.dcmconv([dir + "/rgb.dcm", dir + "/out.dcm", "--ts", "jpeg-baseline", "--allow-lossy", "--quality", "75"])
        #expect(run.status == 0, "\(run.output)")
        let file = try DICOMFile(contentsOf: dir + "/out.dcm")
        #expect(file.transferSyntax.uid == TransferSyntax.jpegBaseline.uid)
        #expect(file.dataSet.string(.lossyImageCompression) == "01")
        #expect(file.dataSet.string(.photometricInterpretation) == "YBR_FULL_422")
        #expect(file.fileMetaInformation.string(Tag(0x0002, 0x0003)) == file.dataSet.string(.sopInstanceUID))
        let dcmdjpeg = try CoreCodecSupport.run("/usr/bin/dcmdjpeg", [dir + "/out.dcm", dir + "/dcmtk.dcm"])
        #expect(dcmdjpeg.status == 0, "\(dcmdjpeg.output)")
    }

    @Test func badUsageAndMissingInput() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let unknown = try Self.dcmconv([dir + "/x.dcm", dir + "/y.dcm", "--ts", "jpeg-2001"])
        #expect(unknown.status == 64)
        #expect(unknown.output.contains("unknown transfer syntax 'jpeg-2001'"))
        let quality = try Self.dcmconv([dir + "/x.dcm", dir + "/y.dcm", "--ts", "jpeg-baseline", "--allow-lossy", "--quality", "0"])
        #expect(quality.status == 64)
        let missing = try Self.dcmconv([dir + "/x.dcm", dir + "/y.dcm", "--ts", "rle"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("no such file"))
        let help = try Self.dcmconv(["--help"])
        #expect(help.status == 0)
        for name in ["explicit", "implicit", "rle", "jpeg-baseline", "jpeg-ls", "j2k-lossless", "1.2.840.10008.1.2.5"] {
            #expect(help.output.contains(name), "--help should list \(name)")
        }
    }
}
