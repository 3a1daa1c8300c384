import DICOMCore
import Foundation
import Testing
@testable import DICOMCodecs

/// JPEG Lossless (process 14) frames whose components have different sampling factors (ITU T.81 §A.1.1, §A.2.3):
/// streams made by a small MCU-interleaving encoder below, decoded by ``JPEGLosslessDecoder`` and by libjpeg
/// (pylibjpeg-libjpeg), whose luminance must match exactly.
@Suite struct JPEGLosslessSamplingTests {
    /// One component: its sample grid (rows of `width` values) and sampling factors.
    struct Plane {
        var width: Int
        var height: Int
        var values: [Int]
        var horizontal: Int
        var vertical: Int
        subscript(x: Int, y: Int) -> Int { values[y * width + x] }
    }

    /// Appends bits MSB first, stuffing a 0x00 after every 0xFF byte (ITU T.81 §F.1.2.3).
    struct BitWriter {
        var bytes: [UInt8] = []
        var accumulator = 0
        var count = 0
        mutating func write(_ value: Int, _ length: Int) {
            for shift in stride(from: length - 1, through: 0, by: -1) {
                accumulator = accumulator << 1 | (value >> shift & 1)
                count += 1
                if count == 8 { emit() }
            }
        }
        mutating func emit() {
            bytes.append(UInt8(accumulator))
            if accumulator == 0xFF { bytes.append(0) }
            accumulator = 0
            count = 0
        }
        mutating func pad() { while count != 0 { write(1, 1) } }
    }

    /// A lossless JPEG (SOF3) stream of 8-bit components in one interleaved scan, MCU by MCU, with one Huffman table
    /// in which every difference category 0...16 has the 5-bit code equal to its value.
    static func encode(_ planes: [Plane], predictor: Int, restartRows: Int = 0, precision: Int = 8) -> Data {
        let maxH = planes.map(\.horizontal).max() ?? 1, maxV = planes.map(\.vertical).max() ?? 1
        let width = planes[0].width * maxH / planes[0].horizontal, height = planes[0].height * maxV / planes[0].vertical
        let mcuColumns = width / maxH, mcuRows = height / maxV
        var out: [UInt8] = [0xFF, 0xD8]
        func segment(_ marker: UInt8, _ body: [UInt8]) {
            out += [0xFF, marker, UInt8((body.count + 2) >> 8), UInt8((body.count + 2) & 0xFF)] + body
        }
        var sof: [UInt8] = [UInt8(precision), UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF), UInt8(planes.count)]
        for (i, p) in planes.enumerated() { sof += [UInt8(i + 1), UInt8(p.horizontal << 4 | p.vertical), 0] }
        segment(0xC3, sof)
        var counts = [UInt8](repeating: 0, count: 16)
        counts[4] = 17
        segment(0xC4, [0] + counts + (0...16).map { UInt8($0) })
        if restartRows > 0 {
            let interval = restartRows * mcuColumns
            segment(0xDD, [UInt8(interval >> 8), UInt8(interval & 0xFF)])
        }
        var sos: [UInt8] = [UInt8(planes.count)]
        for i in planes.indices { sos += [UInt8(i + 1), 0] }
        segment(0xDA, sos + [UInt8(predictor), 0, 0])
        var bits = BitWriter()
        var restart = 0
        for row in 0..<mcuRows {
            var first = row == 0
            if restartRows > 0, row > 0, row % restartRows == 0 {
                bits.pad()
                out += bits.bytes + [0xFF, 0xD0 + UInt8(restart)]
                bits.bytes = []
                restart = (restart + 1) % 8
                first = true
            }
            for column in 0..<mcuColumns {
                for p in planes {
                    for dy in 0..<p.vertical {
                        for dx in 0..<p.horizontal {
                            let x = column * p.horizontal + dx, y = row * p.vertical + dy
                            let prediction: Int
                            if first && dy == 0 {
                                prediction = x == 0 ? 1 << (precision - 1) : p[x - 1, y]
                            } else if x == 0 {
                                prediction = p[x, y - 1]
                            } else {
                                let a = p[x - 1, y], b = p[x, y - 1], c = p[x - 1, y - 1]
                                prediction = [a, b, c, a + b - c, a + ((b - c) >> 1), b + ((a - c) >> 1), (a + b) >> 1][predictor - 1]
                            }
                            let difference = p[x, y] - prediction
                            let category = difference == 0 ? 0 : Int.bitWidth - abs(difference).leadingZeroBitCount
                            bits.write(category, 5)
                            if category > 0 {
                                bits.write(difference > 0 ? difference : difference + (1 << category) - 1, category)
                            }
                        }
                    }
                }
            }
        }
        bits.pad()
        out += bits.bytes + [0xFF, 0xD9]
        return Data(out)
    }

    static func randomPlane(width: Int, height: Int, horizontal: Int, vertical: Int, seed: UInt64, rowConstant: Bool = false) -> Plane {
        var state = seed
        var values: [Int] = []
        var rowValue = 0
        for _ in 0..<height {
            for x in 0..<width {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let value = Int(state >> 56)
                if !rowConstant || x == 0 { rowValue = value }
                values.append(rowConstant ? rowValue : value)
            }
        }
        return Plane(width: width, height: height, values: values, horizontal: horizontal, vertical: vertical)
    }

    /// The planes replicated to the full frame, colour-by-pixel, 8 bits.
    static func upsampled(_ planes: [Plane], width: Int, height: Int) -> [UInt8] {
        let maxH = planes.map(\.horizontal).max() ?? 1, maxV = planes.map(\.vertical).max() ?? 1
        var out: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                for p in planes { out.append(UInt8(p[x * p.horizontal / maxH, y * p.vertical / maxV])) }
            }
        }
        return out
    }

    static func description(width: Int, height: Int, photometric: String = "YBR_FULL_422") -> FrameDescription {
        FrameDescription(rows: height, columns: width, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8,
                         photometricInterpretation: photometric)
    }

    /// YBR 4:2:2 (Y 2×1) and 4:2:0 (Y 2×2) frames, every predictor, with and without restart intervals.
    @Test(arguments: [(2, 1), (2, 2), (1, 2), (4, 1)])
    func subsampledChromaDecodes(h: Int, v: Int) throws {
        let width = 16, height = 8
        let planes = [
            Self.randomPlane(width: width, height: height, horizontal: h, vertical: v, seed: 1),
            Self.randomPlane(width: width / h, height: height / v, horizontal: 1, vertical: 1, seed: 2),
            Self.randomPlane(width: width / h, height: height / v, horizontal: 1, vertical: 1, seed: 3),
        ]
        let expected = Self.upsampled(planes, width: width, height: height)
        for predictor in 1...7 {
            for restartRows in [0, 1, 3] {
                let stream = Self.encode(planes, predictor: predictor, restartRows: restartRows)
                let frame = try JPEGLosslessDecoder().decode(stream, description: Self.description(width: width, height: height))
                let mismatches = zip(frame.pixels, expected).filter { $0.0 != $0.1 }.count
                #expect(frame.pixels.count == expected.count && mismatches == 0,
                        "sampling \(h)×\(v), predictor \(predictor), restart rows \(restartRows): \(mismatches) samples differ")
                #expect(frame.photometricInterpretation == "YBR_FULL")
            }
        }
    }

    @Test func subsampledTwelveBitAndOneByOneChromaScan() throws {
        // Component order with the subsampled components first: Cb 1×1, Y 2×1 (order in the MCU follows the scan).
        let width = 8, height = 4
        var luma = Self.randomPlane(width: width, height: height, horizontal: 2, vertical: 1, seed: 9)
        var chroma = Self.randomPlane(width: width / 2, height: height, horizontal: 1, vertical: 1, seed: 10)
        luma.values = luma.values.map { $0 * 13 }  // up to 3315, 12 bits
        chroma.values = chroma.values.map { $0 * 11 }
        let stream = Self.encode([chroma, luma], predictor: 6, precision: 12)
        let image = try JPEGLosslessImage(decoding: stream)
        #expect(image.width == width && image.height == height && image.componentCount == 2)
        let full = width * height
        for y in 0..<height {
            for x in 0..<width {
                #expect(Int(image.samples[y * width + x]) == chroma[x / 2, y])
                #expect(Int(image.samples[full + y * width + x]) == luma[x, y])
            }
        }
    }

    /// libjpeg (pylibjpeg-libjpeg) reads the same streams: luminance exactly; chrominance exactly where it is constant
    /// along each row (libjpeg interpolates when upsampling, so random chrominance would differ from replication).
    @Test func libjpegAgrees() throws {
        let width = 16, height = 8
        for (h, v, rowConstant) in [(2, 1, true), (2, 2, false)] {
            let planes = [
                Self.randomPlane(width: width, height: height, horizontal: h, vertical: v, seed: 4),
                Self.randomPlane(width: width / h, height: height / v, horizontal: 1, vertical: 1, seed: 5, rowConstant: rowConstant),
                Self.randomPlane(width: width / h, height: height / v, horizontal: 1, vertical: 1, seed: 6, rowConstant: rowConstant),
            ]
            for (predictor, restartRows) in [(1, 0), (4, 1), (7, 2)] {
                let stream = Self.encode(planes, predictor: predictor, restartRows: restartRows)
                let ours = try JPEGLosslessDecoder().decode(stream, description: Self.description(width: width, height: height))
                let path = NSTemporaryDirectory() + "lossless-sampling-\(UUID().uuidString).jpg"
                defer { unlink(path) }
                try stream.write(to: URL(fileURLWithPath: path))
                let output = try OpenJPEGTests.python("""
                    import sys
                    from libjpeg import decode
                    a = decode(open(sys.argv[1], "rb").read())
                    print(a.shape, a.dtype)
                    sys.stdout.write(a.astype("uint8").tobytes().hex())
                    """, [path])
                let lines = output.split(separator: "\n")
                try #require(lines.count == 2, "unexpected libjpeg output: \(output.prefix(200))")
                #expect(lines[0] == "(\(height), \(width), 3) uint8")
                let theirs = try #require(Data(hexString: String(lines[1])))
                let oursBytes = [UInt8](ours.pixels)
                try #require(theirs.count == oursBytes.count)
                let lumaMatches = stride(from: 0, to: theirs.count, by: 3).allSatisfy { theirs[$0] == oursBytes[$0] }
                #expect(lumaMatches, "luminance, sampling \(h)×\(v), predictor \(predictor)")
                if rowConstant {
                    let mismatches = zip(theirs, oursBytes).filter { $0.0 != $0.1 }.count
                    #expect(mismatches == 0, "all components, sampling \(h)×\(v), predictor \(predictor): \(mismatches) samples differ")
                }
            }
        }
    }

    @Test func unsupportedSamplingIsRefused() throws {
        // 3×1 luminance with 2×1 chrominance: the ratio is not a whole number.
        let odd = [
            Self.randomPlane(width: 6, height: 2, horizontal: 3, vertical: 1, seed: 1),
            Self.randomPlane(width: 4, height: 2, horizontal: 2, vertical: 1, seed: 2),
        ]
        var stream = Self.encode(odd, predictor: 1)
        let error = #expect(throws: CodecError.self) { try JPEGLosslessImage(decoding: stream) }
        #expect(error?.kind == .unsupported)
        #expect(error?.message.contains("sampling") == true)

        // A 15-column frame with 2×1 luminance: the last interleaved MCU is not full.
        let planes = [
            Self.randomPlane(width: 16, height: 2, horizontal: 2, vertical: 1, seed: 1),
            Self.randomPlane(width: 8, height: 2, horizontal: 1, vertical: 1, seed: 2),
        ]
        stream = Self.encode(planes, predictor: 1)
        var bytes = [UInt8](stream)
        // SOF3 X is at offsets 9...10 (FFD8, FFC3, length 2 bytes, P, Y 2 bytes): 0x00 0x10 → 0x00 0x0F.
        #expect(bytes[9] == 0 && bytes[10] == 16)
        bytes[10] = 15
        let partial = #expect(throws: CodecError.self) { try JPEGLosslessImage(decoding: Data(bytes)) }
        #expect(partial?.kind == .unsupported)
        #expect(partial?.message.contains("MCU") == true)
    }

    @Test func truncatedSubsampledStreamThrows() throws {
        let planes = [
            Self.randomPlane(width: 16, height: 8, horizontal: 2, vertical: 2, seed: 7),
            Self.randomPlane(width: 8, height: 4, horizontal: 1, vertical: 1, seed: 8),
            Self.randomPlane(width: 8, height: 4, horizontal: 1, vertical: 1, seed: 9),
        ]
        let stream = Self.encode(planes, predictor: 1)
        for cut in stride(from: stream.count - 3, to: 20, by: -17) {
            #expect(throws: CodecError.self) {
                try JPEGLosslessDecoder().decode(stream.prefix(cut), description: Self.description(width: 16, height: 8))
            }
        }
    }
}

extension Data {
    /// Bytes from a string of hexadecimal digit pairs, or nil.
    init?(hexString: String) {
        var bytes: [UInt8] = []
        var high: UInt8?
        for scalar in hexString.unicodeScalars {
            guard let digit = UInt8(String(scalar), radix: 16) else { return nil }
            if let h = high { bytes.append(h << 4 | digit); high = nil } else { high = digit }
        }
        guard high == nil else { return nil }
        self.init(bytes)
    }
}
