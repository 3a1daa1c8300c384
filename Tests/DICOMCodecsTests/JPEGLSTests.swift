import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMCodecs

@Suite struct JPEGLSTests {
    static let configurations: [(rows: Int, columns: Int, samples: Int, allocated: Int, stored: Int, signed: Bool, planar: Int)] = [
        (19, 37, 1, 8, 8, false, 0),
        (64, 48, 1, 16, 12, false, 0),
        (33, 31, 1, 16, 16, false, 0),
        (20, 17, 1, 16, 12, true, 0),
        (25, 23, 1, 16, 16, true, 0),
        (19, 37, 3, 8, 8, false, 0),
        (11, 13, 3, 8, 8, false, 1),
        (9, 7, 3, 16, 16, false, 0),
        (8, 8, 1, 8, 2, false, 0),
        (16, 9, 1, 8, 5, false, 0),
        (1, 1, 1, 8, 8, false, 0),
        (1, 40, 1, 16, 16, false, 0),
        (40, 1, 3, 8, 8, false, 0),
    ]

    @Test(arguments: [JPEGLSEncoder.Interleave.none, .line, .sample])
    func roundTripsGeneratedImagesBitExact(interleave: JPEGLSEncoder.Interleave) throws {
        for config in Self.configurations {
            for noise in [0, 3, 500] {
                let (pixels, description) = PureCodecSupport.image(rows: config.rows, columns: config.columns, samples: config.samples,
                                                                   bitsAllocated: config.allocated, bitsStored: config.stored,
                                                                   signed: config.signed, planar: config.planar, noise: noise)
                let encoded = try JPEGLSEncoder(interleave: interleave).encode(pixels, description: description, options: EncodingOptions())
                let decoded = try JPEGLSDecoder().decode(encoded.bytes, description: description)
                #expect(decoded.pixels == PureCodecSupport.interleaved(pixels, description), "\(config) noise \(noise) \(interleave)")
            }
        }
    }

    @Test func nearLosslessStaysWithinNear() throws {
        for (allocated, stored, samples) in [(8, 8, 1), (16, 12, 1), (16, 16, 1), (8, 8, 3)] {
            for interleave in [JPEGLSEncoder.Interleave.line, .sample, .none] {
                let (pixels, description) = PureCodecSupport.image(rows: 31, columns: 29, samples: samples, bitsAllocated: allocated,
                                                                   bitsStored: stored, noise: 40)
                for near in [1, 3, 7] {
                    let encoder = JPEGLSEncoder(nearLossless: true, interleave: interleave)
                    let encoded = try encoder.encode(pixels, description: description, options: EncodingOptions(nearLossless: near))
                    let decoded = try JPEGLSDecoder().decode(encoded.bytes, description: description).pixels
                    let step = allocated / 8
                    var maximum = 0
                    for i in stride(from: 0, to: pixels.count, by: step) {
                        let a = step == 1 ? Int(pixels[i]) : Int(pixels[i]) | Int(pixels[i + 1]) << 8
                        let b = step == 1 ? Int(decoded[i]) : Int(decoded[i]) | Int(decoded[i + 1]) << 8
                        maximum = max(maximum, abs(a - b))
                    }
                    #expect(maximum <= near, "\(allocated)/\(stored) bits, \(samples) samples, NEAR \(near), \(interleave): error \(maximum)")
                }
            }
        }
    }

    @Test func defaultThresholdsMatchT87TableC3() {
        let p8 = JPEGLSParameters(maxValue: 255, near: 0)
        #expect((p8.t1, p8.t2, p8.t3, p8.reset) == (3, 7, 21, 64))
        let p12 = JPEGLSParameters(maxValue: 4095, near: 0)
        #expect((p12.t1, p12.t2, p12.t3) == (18, 67, 276))
        let p16 = JPEGLSParameters(maxValue: 65535, near: 0)
        #expect((p16.t1, p16.t2, p16.t3) == (18, 67, 276))
        let near = JPEGLSParameters(maxValue: 255, near: 2)
        #expect((near.t1, near.t2, near.t3) == (9, 17, 35))
    }

    @Test func golombParameterMatchesTheLoopOfT87FigureA11() {
        for n in [1, 2, 3, 5, 63, 64, 65, 1000] {
            for a in [0, 1, 2, 3, 4, 7, 8, 9, 100, 4095, 65_536, 1 << 30, 1 << 40] {
                var k = 0
                while (n << k) < a && k < 24 { k += 1 }
                #expect(JPEGLSContexts.smallestShift(n, reaching: a) == k, "N \(n), A \(a)")
            }
        }
    }

    @Test func registryReturnsTheJPEGLSCodecs() {
        #expect(CodecRegistry.decoder(for: TransferSyntax.jpegLSLossless.uid) is JPEGLSDecoder)
        #expect(CodecRegistry.decoder(for: TransferSyntax.jpegLSNearLossless.uid) is JPEGLSDecoder)
        #expect(CodecRegistry.encoder(for: TransferSyntax.jpegLSLossless.uid)?.isLossy == false)
        #expect(CodecRegistry.encoder(for: TransferSyntax.jpegLSNearLossless.uid)?.isLossy == true)
    }

    @Test(arguments: ["JPEGLSNearLossless_08.dcm", "JPEGLSNearLossless_16.dcm", "SC_rgb_jls_lossy_sample.dcm",
                      "SC_rgb_jls_lossy_line.dcm", "MR_small_jpeg_ls_lossless.dcm"])
    func decodesPydicomFilesLikePylibjpeg(name: String) throws {
        let path = try PureCodecSupport.testFile(name)
        let file = try DICOMFile(contentsOf: path)
        let description = try FrameDescription(dataSet: file.dataSet)
        let decoded = try JPEGLSDecoder().decode(try PureCodecSupport.frame(of: file), description: description)
        #expect(decoded.pixels == (try PureCodecSupport.pydicomPixels(path)), "\(name)")
    }

    /// DCMTK's JPEG-LS encoder (CharLS) in every interleave mode, lossless and near-lossless, with custom thresholds.
    @Test func decodesDCMTKEncodedFrames() throws {
        let directory = try PureCodecSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases: [(Int, Int, Int, [String])] = [
            (1, 8, 8, ["+el"]), (1, 16, 12, ["+el"]), (1, 16, 16, ["+el"]), (3, 8, 8, ["+el", "+il"]),
            (3, 8, 8, ["+el", "+is"]), (3, 8, 8, ["+el", "+in"]), (1, 8, 8, ["+en", "+md", "3"]),
            (1, 16, 12, ["+en", "+md", "2"]), (3, 8, 8, ["+en", "+md", "2", "+is"]),
            (1, 8, 8, ["+el", "+t1", "5", "+t2", "10", "+t3", "30", "+rs", "32"]),
        ]
        for (index, (samples, allocated, stored, options)) in cases.enumerated() {
            let (pixels, description) = PureCodecSupport.image(rows: 43, columns: 37, samples: samples, bitsAllocated: allocated,
                                                               bitsStored: stored, noise: 50)
            let input = directory + "/in\(index).dcm", output = directory + "/out\(index).dcm", roundTrip = directory + "/rt\(index).dcm"
            try PureCodecSupport.part10(pixels, description, transferSyntax: .explicitVRLittleEndian).write(to: URL(fileURLWithPath: input))
            let result = try PureCodecSupport.run("/usr/bin/dcmcjpls", options + [input, output])
            #expect(result.status == 0, "dcmcjpls \(options): \(result.output)")
            let file = try DICOMFile(contentsOf: output)
            let decoded = try JPEGLSDecoder().decode(try PureCodecSupport.frame(of: file), description: description)
            // DCMTK's own decoding is the reference (equal to the input when lossless).
            let back = try PureCodecSupport.run("/usr/bin/dcmdjpls", [output, roundTrip])
            #expect(back.status == 0, "dcmdjpls: \(back.output)")
            #expect(decoded.pixels == (try PureCodecSupport.nativePixels(of: roundTrip, count: pixels.count)), "dcmcjpls \(options)")
            if options.contains("+el") { #expect(decoded.pixels == pixels, "dcmcjpls \(options)") }
        }
    }

    /// Our encoder's frames decode in DCMTK (dcmdjpls) and pydicom (pylibjpeg) to the same pixels as ours.
    @Test func encodedFramesDecodeInDCMTKAndPydicom() throws {
        let directory = try PureCodecSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases: [(Int, Int, Int, Bool, JPEGLSEncoder.Interleave, Int)] = [
            (1, 8, 8, false, .none, 0), (1, 16, 12, false, .none, 0), (1, 16, 16, false, .none, 0), (1, 16, 12, true, .none, 0),
            (3, 8, 8, false, .line, 0), (3, 8, 8, false, .sample, 0), (3, 8, 8, false, .none, 0),
            (1, 8, 8, false, .none, 2), (1, 16, 12, false, .none, 3), (3, 8, 8, false, .sample, 2), (3, 8, 8, false, .line, 1),
        ]
        for (index, (samples, allocated, stored, signed, interleave, near)) in cases.enumerated() {
            let (pixels, description) = PureCodecSupport.image(rows: 19, columns: 37, samples: samples, bitsAllocated: allocated,
                                                               bitsStored: stored, signed: signed, noise: 60)
            let encoder = JPEGLSEncoder(nearLossless: near > 0, interleave: interleave)
            let encoded = try encoder.encode(pixels, description: description, options: EncodingOptions(nearLossless: near))
            let ours = try JPEGLSDecoder().decode(encoded.bytes, description: description).pixels
            if near == 0 { #expect(ours == pixels) }
            let syntax = near == 0 ? TransferSyntax.jpegLSLossless : TransferSyntax.jpegLSNearLossless
            let input = directory + "/enc\(index).dcm", output = directory + "/dec\(index).dcm"
            try PureCodecSupport.part10(encoded.bytes, description, transferSyntax: syntax).write(to: URL(fileURLWithPath: input))
            let result = try PureCodecSupport.run("/usr/bin/dcmdjpls", [input, output])
            #expect(result.status == 0, "dcmdjpls: \(result.output)")
            let label = "\(samples)×\(allocated)/\(stored) bits, \(interleave), NEAR \(near)"
            #expect(try PureCodecSupport.nativePixels(of: output, count: ours.count) == ours, "DCMTK, \(label)")
            #expect(try PureCodecSupport.pydicomPixels(input) == ours, "pydicom, \(label)")
        }
    }

    @Test func corruptStreamsThrowNamingTheProblem() throws {
        for samples in [1, 3] {
            let (pixels, description) = PureCodecSupport.image(rows: 19, columns: 37, samples: samples, bitsAllocated: 16, bitsStored: 12, noise: 300)
            for interleave in [JPEGLSEncoder.Interleave.line, .sample] {
                let encoded = try JPEGLSEncoder(interleave: interleave).encode(pixels, description: description, options: EncodingOptions()).bytes
                PureCodecSupport.checkCorruptions(encoded, description, decoder: JPEGLSDecoder())
            }
        }
        let (pixels, description) = PureCodecSupport.image(rows: 8, columns: 8, bitsAllocated: 8, bitsStored: 8)
        let encoded = [UInt8](try JPEGLSEncoder().encode(pixels, description: description, options: EncodingOptions()).bytes)
        func message(_ bytes: [UInt8], _ d: FrameDescription = description) -> String {
            do { _ = try JPEGLSDecoder().decode(Data(bytes), description: d); return "no error" } catch let e as CodecError { return e.message } catch { return "\(error)" }
        }
        #expect(message([]).contains("SOI"))
        #expect(message([0xFF, 0xD8, 0xFF, 0xD9]).contains("SOF55"))
        var wrongColumns = description
        wrongColumns.columns = 9
        #expect(message(encoded, wrongColumns).contains("Columns"))
        // NEAR larger than MAXVAL/2 in the scan header.
        var badNear = encoded
        if let sos = (0..<encoded.count - 1).first(where: { encoded[$0] == 0xFF && encoded[$0 + 1] == 0xDA }) {
            badNear[sos + 7] = 200
            #expect(message(badNear).contains("NEAR"))
        }
        // A segment length running past the end.
        var badLength = encoded
        badLength[5] = 0xFF
        #expect(message(badLength).contains("past the end"))
    }
}
