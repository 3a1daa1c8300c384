import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation
import Testing

/// The built `dcmrender` binary, end to end: output images, options and exit codes.
@Suite struct DCMRenderToolTests {

    static let binary: String? = {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("dcmrender").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }()

    struct Run {
        var status: Int32
        var error: String
    }

    /// Runs dcmrender; stderr goes to a file. Bounded at 60 s.
    static func dcmrender(_ arguments: [String]) throws -> Run {
        let path = try #require(binary, "dcmrender is not built next to the test bundle: run `swift build --build-tests` first")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let errorPath = NSTemporaryDirectory() + "dcmrender-\(UUID().uuidString).err"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        defer { unlink(errorPath) }
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                Issue.record("dcmrender \(arguments) did not finish within 60 s; killed")
                break
            }
            usleep(5_000)
        }
        try err.close()
        return Run(status: process.terminationStatus,
                   error: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errorPath)), as: UTF8.self))
    }

    static func temporary(_ suffix: String) -> String {
        NSTemporaryDirectory() + "dcmrender-test-\(UUID().uuidString)" + suffix
    }

    @Test func rendersCTWithWindowLikeDCMTK() throws {
        let input = try RenderTests.pydicomFile("CT_small.dcm")
        let output = Self.temporary(".png")
        defer { unlink(output) }
        let run = try Self.dcmrender([input, output, "--window", "40,400"])
        #expect(run.status == 0, "\(run.error)")
        let (header, pixels) = try PNGWriterTests.decode(try Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(header == "128 128 0")
        let dcmtk = try RenderTests.dcm2pnm(input, ["+Ww", "40", "400"])
        let (maximum, _) = RenderTests.difference(RenderedImage(width: 128, height: 128, samplesPerPixel: 1, pixels: pixels), dcmtk)
        #expect(maximum <= 1)
    }

    @Test func rendersCompressedColourAndFrames() throws {
        // JPEG 2000 lossless YBR_RCT → RGB PNG equal to pydicom's decoded pixels.
        let input = try RenderTests.pydicomFile("examples_jpeg2k.dcm")
        let output = Self.temporary(".png")
        defer { unlink(output) }
        let run = try Self.dcmrender([input, output])
        #expect(run.status == 0, "\(run.error)")
        let (header, pixels) = try PNGWriterTests.decode(try Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(header.hasSuffix(" 2"))
        let expected = try OpenJPEGTests.pydicomPixels(of: input)
        #expect(Data(pixels) == expected)
    }

    @Test func secondFrameOfAnRLEFile() throws {
        let input = try RenderTests.pydicomFile("SC_rgb_rle_2frame.dcm")
        let output = Self.temporary(".png")
        defer { unlink(output) }
        let run = try Self.dcmrender([input, output, "--frame", "2"])
        #expect(run.status == 0, "\(run.error)")
        let (_, pixels) = try PNGWriterTests.decode(try Data(contentsOf: URL(fileURLWithPath: output)))
        let all = try OpenJPEGTests.pydicomPixels(of: input)  // both frames, RGB interleaved
        #expect(all.count == 2 * pixels.count)
        #expect(Data(pixels) == all.suffix(pixels.count))
        #expect(Data(pixels) != all.prefix(pixels.count))
        let jpeg = Self.temporary(".jpg")
        defer { unlink(jpeg) }
        let jpegRun = try Self.dcmrender([input, jpeg, "--frame", "1", "--quality", "80"])
        #expect(jpegRun.status == 0, "\(jpegRun.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: jpeg)).prefix(3) == Data([0xFF, 0xD8, 0xFF]))
    }

    @Test func usageErrorsExit64AndFailuresExit1() throws {
        let input = try RenderTests.pydicomFile("CT_small.dcm")
        let output = Self.temporary(".png")
        defer { unlink(output) }
        for arguments in [[input, output, "--window", "40"], [input, output, "--frame", "0"], [input, Self.temporary(".gif")],
                          [input, output, "--window", "1,2", "--voi-index", "1"], [input, output, "--quality", "101"], [input]] {
            let run = try Self.dcmrender(arguments)
            #expect(run.status == 64, "\(arguments): \(run.status) \(run.error)")
        }
        let missing = try Self.dcmrender(["/nonexistent/file.dcm", output])
        #expect(missing.status == 1)
        #expect(missing.error.contains("/nonexistent/file.dcm"))
        let frame = try Self.dcmrender([input, output, "--frame", "2"])
        #expect(frame.status == 1)
        #expect(frame.error.contains("frame 2"), "\(frame.error)")
        let index = try Self.dcmrender([input, output, "--voi-index", "3"])
        #expect(index.status == 1, "\(index.error)")
        // Not DICOM at all.
        let junk = Self.temporary(".dcm")
        defer { unlink(junk) }
        try Data("hello".utf8).write(to: URL(fileURLWithPath: junk))
        let bad = try Self.dcmrender([junk, output])
        #expect(bad.status == 1)
        #expect(!bad.error.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func monochrome1AndAutomaticWindow() throws {
        let input = try RenderTests.pydicomFile("dicomdirtests/77654033/CR3/6278")
        let output = Self.temporary(".png")
        defer { unlink(output) }
        let run = try Self.dcmrender([input, output, "--auto-window", "minmax"])
        #expect(run.status == 0, "\(run.error)")
        let (_, pixels) = try PNGWriterTests.decode(try Data(contentsOf: URL(fileURLWithPath: output)))
        let dcmtk = try RenderTests.dcm2pnm(input, ["+Wm"])
        let (maximum, _) = RenderTests.difference(
            RenderedImage(width: dcmtk.width, height: dcmtk.height, samplesPerPixel: 1, pixels: pixels), dcmtk)
        #expect(maximum <= 1)
    }
}
