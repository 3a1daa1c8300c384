import DICOMCore
import Foundation

/// Decodes DCT-based sequential Huffman JPEG frames (ITU T.81 processes 1, 2 and 4: SOF0 and SOF1) with 8- or
/// 12-bit samples, in pure Swift. Used for 12-bit JPEG Extended (1.2.840.10008.1.2.4.51), which Debian's 8-bit
/// libjpeg cannot decode (``CodecRegistry/twelveBitJPEGDecoder``).
///
/// The inverse DCT is the accurate integer algorithm of the IJG library (Loeffler–Ligtenberg–Moschytz with 13-bit
/// constants), so results equal DCMTK's. Subsampled components are upsampled by replication; three-component frames
/// whose Photometric Interpretation is YBR_* are converted to RGB (ITU T.871 equations). Progressive, lossless,
/// hierarchical and arithmetic-coded processes are reported as unsupported.
public struct JPEGExtendedDecoder: FrameDecoder {
    public var transferSyntaxUIDs: Set<String> { [TransferSyntax.jpegExtended.uid] }

    public init() {}

    private static let codec = "JPEG Extended"

    private struct Component {
        var id: Int
        var h: Int
        var v: Int
        var quantizationTable: Int
        /// Blocks per line and lines of blocks, padded to whole MCUs.
        var blocksWide = 0
        var blocksHigh = 0
        var samples: [Int32] = []
        var predictor = 0
        var decoded = false
    }

    /// Natural (row-major) index of the k-th coefficient in zig-zag order (ITU T.81 Figure A.6).
    static let zigzag: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55,
        62, 63,
    ]

    private static func corrupt(_ message: String) -> CodecError { CodecError(.corruptStream, "\(codec): \(message)") }

    public func decode(_ frame: Data, description: FrameDescription) throws -> DecodedFrame {
        try description.validate()
        var reader = JPEGMarkerReader(frame, codec: Self.codec)
        guard reader.bytes.count >= 2, reader.bytes[0] == 0xFF, reader.bytes[1] == JPEGMarker.soi else {
            throw Self.corrupt("stream does not start with SOI (0xFFD8)")
        }
        reader.position = 2
        var quantization = [[Int32]?](repeating: nil, count: 4)
        var dcTables = [JPEGHuffmanDecodingTable?](repeating: nil, count: 4)
        var acTables = [JPEGHuffmanDecodingTable?](repeating: nil, count: 4)
        var components: [Component] = []
        var precision = 0, width = 0, height = 0, hMax = 1, vMax = 1, mcusWide = 0, mcusHigh = 0
        var restartInterval = 0
        var sawFrame = false
        var scans = 0
        var sawAdobeTransform: Int? = nil
        markers: while true {
            let marker = try reader.readMarker()
            switch marker {
            case 0xC0, 0xC1:
                guard !sawFrame else { throw Self.corrupt("second SOF marker") }
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: JPEGMarker.name(marker))
                precision = try cursor.u8()
                height = try cursor.u16()
                width = try cursor.u16()
                let count = try cursor.u8()
                guard precision == 8 || precision == 12 else {
                    throw CodecError(.unsupported, "\(Self.codec): sample precision \(precision) is not 8 or 12")
                }
                guard height > 0 else { throw CodecError(.unsupported, "\(Self.codec): frames with the height in a DNL marker are not supported") }
                guard width > 0 else { throw Self.corrupt("frame width is 0") }
                guard (1...4).contains(count) else { throw Self.corrupt("frame has \(count) components (1...4 supported)") }
                for _ in 0..<count {
                    let id = try cursor.u8(), factors = try cursor.u8(), table = try cursor.u8()
                    let h = factors >> 4, v = factors & 15
                    guard (1...4).contains(h), (1...4).contains(v), table <= 3 else {
                        throw Self.corrupt("component \(id) has sampling \(h)×\(v) / quantisation table \(table)")
                    }
                    guard !components.contains(where: { $0.id == id }) else { throw Self.corrupt("component identifier \(id) repeats") }
                    components.append(Component(id: id, h: h, v: v, quantizationTable: table))
                }
                try cursor.requireEnd()
                hMax = components.map(\.h).max() ?? 1
                vMax = components.map(\.v).max() ?? 1
                mcusWide = (width + 8 * hMax - 1) / (8 * hMax)
                mcusHigh = (height + 8 * vMax - 1) / (8 * vMax)
                guard width == description.columns, height == description.rows, count == description.samplesPerPixel else {
                    throw Self.corrupt("the stream is \(width)×\(height) with \(count) component(s) but Columns×Rows is "
                                       + "\(description.columns)×\(description.rows) with Samples per Pixel \(description.samplesPerPixel)")
                }
                for i in components.indices {
                    components[i].blocksWide = mcusWide * components[i].h
                    components[i].blocksHigh = mcusHigh * components[i].v
                    components[i].samples = [Int32](repeating: 0, count: components[i].blocksWide * components[i].blocksHigh * 64)
                }
                sawFrame = true
            case 0xC2, 0xC6, 0xCA, 0xCE:
                throw CodecError(.unsupported, "\(Self.codec): progressive JPEG (\(JPEGMarker.name(marker))) is not supported")
            case 0xC3, 0xC7, 0xCB, 0xCF:
                throw CodecError(.unsupported, "\(Self.codec): the frame is lossless JPEG (\(JPEGMarker.name(marker))), not DCT-based")
            case 0xC5, 0xC9, 0xCD, JPEGMarker.dac:
                throw CodecError(.unsupported, "\(Self.codec): \(JPEGMarker.name(marker)) (hierarchical or arithmetic coding) is not supported")
            case JPEGMarker.sof55:
                throw CodecError(.unsupported, "\(Self.codec): the frame is JPEG-LS, not DCT-based JPEG")
            case JPEGMarker.dqt:
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "DQT")
                while cursor.remaining > 0 {
                    let pq = try cursor.u8()
                    let wide = pq >> 4, id = pq & 15
                    guard wide <= 1, id <= 3 else { throw Self.corrupt("DQT precision \(wide) / table \(id) is invalid") }
                    var table = [Int32](repeating: 0, count: 64)
                    for k in 0..<64 { table[Self.zigzag[k]] = Int32(wide == 1 ? try cursor.u16() : try cursor.u8()) }
                    quantization[id] = table
                }
            case JPEGMarker.dht:
                for spec in try reader.readHuffmanTableSpecifications(marker) {
                    let table = try JPEGHuffmanDecodingTable(counts: spec.counts, symbols: spec.symbols, codec: Self.codec)
                    if spec.tableClass == 0 { dcTables[spec.id] = table } else { acTables[spec.id] = table }
                }
            case JPEGMarker.dri:
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "DRI")
                restartInterval = try cursor.u16()
                try cursor.requireEnd()
            case 0xEE:
                // Adobe APP14: its transform flag says whether three components are YCbCr (1) or not (0).
                let range = try reader.readSegment(marker)
                if range.count >= 12, Array(reader.bytes[range.lowerBound..<(range.lowerBound + 5)]) == Array("Adobe".utf8) {
                    sawAdobeTransform = Int(reader.bytes[range.lowerBound + 11])
                }
            case JPEGMarker.sos:
                guard sawFrame else { throw Self.corrupt("SOS before SOF") }
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "SOS")
                let count = try cursor.u8()
                guard (1...components.count).contains(count) else { throw Self.corrupt("SOS has \(count) components, the frame has \(components.count)") }
                var scan: [(index: Int, dc: JPEGHuffmanDecodingTable, ac: JPEGHuffmanDecodingTable, q: [Int32])] = []
                for _ in 0..<count {
                    let id = try cursor.u8(), selectors = try cursor.u8()
                    guard let index = components.firstIndex(where: { $0.id == id }) else { throw Self.corrupt("SOS names component \(id), which SOF does not define") }
                    guard !scan.contains(where: { $0.index == index }), !components[index].decoded else { throw Self.corrupt("component \(id) is coded twice") }
                    let dcID = selectors >> 4, acID = selectors & 15
                    guard dcID <= 3, let dc = dcTables[dcID] else { throw Self.corrupt("SOS uses DC Huffman table \(dcID), which no DHT defined") }
                    guard acID <= 3, let ac = acTables[acID] else {
                        throw Self.corrupt("SOS uses AC Huffman table \(acID), which no DHT defined")
                    }
                    guard let q = quantization[components[index].quantizationTable] else {
                        throw Self.corrupt("component \(id) uses quantisation table \(components[index].quantizationTable), which no DQT defined")
                    }
                    scan.append((index, dc, ac, q))
                }
                let ss = try cursor.u8(), se = try cursor.u8(), a = try cursor.u8()
                try cursor.requireEnd()
                // Sequential scans code all 64 coefficients; other Ss/Se/Ah/Al values are invalid there and, as libjpeg
                // does (with a warning), ignored — such files exist (pydicom's JPEG-lossy.dcm has Se = 0).
                _ = (ss, se, a)
                var blocks = [Int32](repeating: 0, count: 64)
                let bytes = reader.bytes
                var end = reader.position
                let mcuGeometry = (wide: mcusWide, high: mcusHigh, hMax: hMax, vMax: vMax, width: width, height: height)
                try bytes.withUnsafeBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return }
                    var bits = JPEGHuffmanBitReader(base: base, count: buffer.count, position: reader.position)
                    for i in components.indices { components[i].predictor = 0 }
                    // Non-interleaved scans cover only the component's own blocks (ITU T.81 §A.2.2).
                    let single = scan.count == 1
                    let first = components[scan[0].index]
                    let unitsWide = single ? (((mcuGeometry.width * first.h + mcuGeometry.hMax - 1) / mcuGeometry.hMax) + 7) / 8 : mcuGeometry.wide
                    let unitsHigh = single ? (((mcuGeometry.height * first.v + mcuGeometry.vMax - 1) / mcuGeometry.vMax) + 7) / 8 : mcuGeometry.high
                    var expectedRestart = 0
                    var unit = 0
                    for my in 0..<unitsHigh {
                        for mx in 0..<unitsWide {
                            if restartInterval > 0, unit > 0, unit % restartInterval == 0 {
                                guard bits.consumedPadding == 0 else { throw Self.corrupt("entropy-coded data ends early (truncated or corrupt)") }
                                guard bits.alignToMarker() else { throw Self.corrupt("stream ends where RST\(expectedRestart) was expected") }
                                let code = base[bits.position + 1]
                                guard code == JPEGMarker.rst0 + UInt8(expectedRestart) else {
                                    throw Self.corrupt("expected RST\(expectedRestart), found \(JPEGMarker.name(code))")
                                }
                                bits.position += 2
                                expectedRestart = (expectedRestart + 1) & 7
                                for i in components.indices { components[i].predictor = 0 }
                            }
                            unit += 1
                            for entry in scan {
                                let h = single ? 1 : components[entry.index].h
                                let v = single ? 1 : components[entry.index].v
                                for by in 0..<v {
                                    for bx in 0..<h {
                                        try Self.decodeBlock(&bits, into: &blocks, dc: entry.dc, ac: entry.ac, q: entry.q,
                                                             predictor: &components[entry.index].predictor)
                                        let blockX = mx * h + bx, blockY = my * v + by
                                        let component = components[entry.index]
                                        guard blockX < component.blocksWide, blockY < component.blocksHigh else { continue }
                                        components[entry.index].samples.withUnsafeMutableBufferPointer { plane in
                                            Self.inverseDCT(blocks, precision: precision, into: plane,
                                                            offset: blockY * 8 * component.blocksWide * 8 + blockX * 8,
                                                            stride: component.blocksWide * 8)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    guard bits.consumedPadding == 0 else { throw Self.corrupt("entropy-coded data ends before the last block (truncated or corrupt)") }
                    guard bits.alignToMarker() else { throw Self.corrupt("stream ends after the scan data without EOI (truncated?)") }
                    end = bits.position
                }
                reader.position = end
                for entry in scan { components[entry.index].decoded = true }
                scans += 1
            case JPEGMarker.eoi:
                break markers
            case JPEGMarker.soi:
                throw Self.corrupt("second SOI marker")
            case 0xD0...0xD7:
                throw Self.corrupt("\(JPEGMarker.name(marker)) outside entropy-coded data")
            default:
                _ = try reader.readSegment(marker)
            }
        }
        guard sawFrame else { throw Self.corrupt("no SOF0/SOF1 frame header before EOI") }
        guard scans > 0 else { throw Self.corrupt("no SOS scan before EOI") }
        if let missing = components.first(where: { !$0.decoded }) { throw Self.corrupt("component \(missing.id) is not in any scan") }
        guard description.bitsAllocated == 8 || description.bitsAllocated == 16, precision <= description.bitsAllocated else {
            throw CodecError(.unsupported, "\(Self.codec): \(precision)-bit samples cannot fill Bits Allocated \(description.bitsAllocated)")
        }
        // Upsample (replication) and interleave.
        let count = components.count
        var values = [Int32](repeating: 0, count: width * height * count)
        for (c, component) in components.enumerated() {
            let stride = component.blocksWide * 8
            let xShift = hMax / component.h, yShift = vMax / component.v
            component.samples.withUnsafeBufferPointer { plane in
                for y in 0..<height {
                    let row = (y / yShift) * stride
                    for x in 0..<width { values[(y * width + x) * count + c] = plane[row + x / xShift] }
                }
            }
        }
        var photometric = description.photometricInterpretation
        let isYBR = count == 3 && (sawAdobeTransform.map { $0 != 0 } ?? photometric.hasPrefix("YBR"))
        if isYBR {
            let maximum = Int32((1 << precision) - 1), center = Double(1 << (precision - 1))
            for i in stride(from: 0, to: values.count, by: 3) {
                let y = Double(values[i]), cb = Double(values[i + 1]) - center, cr = Double(values[i + 2]) - center
                values[i] = min(max(Int32((y + 1.402 * cr).rounded()), 0), maximum)
                values[i + 1] = min(max(Int32((y - 0.344136 * cb - 0.714136 * cr).rounded()), 0), maximum)
                values[i + 2] = min(max(Int32((y + 1.772 * cb).rounded()), 0), maximum)
            }
            photometric = "RGB"
        } else if photometric == "YBR_FULL_422" {
            photometric = "YBR_FULL"
        }
        var out = [UInt8](repeating: 0, count: values.count * description.bitsAllocated / 8)
        if description.bitsAllocated == 8 {
            for (i, value) in values.enumerated() { out[i] = UInt8(truncatingIfNeeded: value) }
        } else {
            for (i, value) in values.enumerated() {
                out[2 * i] = UInt8(truncatingIfNeeded: value)
                out[2 * i + 1] = UInt8(truncatingIfNeeded: value >> 8)
            }
        }
        return DecodedFrame(pixels: Data(out), photometricInterpretation: photometric, planarConfiguration: 0)
    }

    /// Decodes one 8×8 block's Huffman-coded coefficients (ITU T.81 §F.2.2), dequantised, in natural order.
    @inline(__always)
    private static func decodeBlock(_ bits: inout JPEGHuffmanBitReader, into block: inout [Int32], dc: JPEGHuffmanDecodingTable,
                                    ac: JPEGHuffmanDecodingTable, q: [Int32], predictor: inout Int) throws {
        for i in 0..<64 { block[i] = 0 }
        if bits.bitCount < 32 { bits.fill() }
        let s = bits.decodeSymbol(dc)
        guard s >= 0 else { throw corrupt("Huffman code not in the DC table") }
        guard s <= 15 else { throw corrupt("DC difference category \(s) is larger than 15") }
        predictor += extend(bits.bits(s), s)
        block[0] = Int32(truncatingIfNeeded: predictor) &* q[0]
        var k = 1
        while k < 64 {
            if bits.bitCount < 32 { bits.fill() }
            let rs = bits.decodeSymbol(ac)
            guard rs >= 0 else { throw corrupt("Huffman code not in the AC table") }
            let r = rs >> 4, size = rs & 15
            if size == 0 {
                if r != 15 { break }
                k += 16
                continue
            }
            k += r
            guard k < 64 else { throw corrupt("AC coefficient run passes the end of the block") }
            let natural = zigzag[k]
            block[natural] = Int32(truncatingIfNeeded: extend(bits.bits(size), size)) &* q[natural]
            k += 1
        }
        guard k <= 64 else { throw corrupt("AC zero run passes the end of the block") }
    }

    @inline(__always) private static func extend(_ value: Int, _ size: Int) -> Int {
        size == 0 ? 0 : (value < (1 << (size - 1)) ? value - (1 << size) + 1 : value)
    }

    /// The IJG "islow" accurate integer inverse DCT with level shift and range limiting (ITU T.81 §A.3.3).
    static func inverseDCT(_ input: [Int32], precision: Int, into plane: UnsafeMutableBufferPointer<Int32>, offset: Int, stride: Int) {
        let constBits = 13
        let pass1Bits = precision == 8 ? 2 : 1
        let f0_298631336 = 2446, f0_390180644 = 3196, f0_541196100 = 4433, f0_765366865 = 6270, f0_899976223 = 7373
        let f1_175875602 = 9633, f1_501321110 = 12299, f1_847759065 = 15137, f1_961570560 = 16069, f2_053119869 = 16819
        let f2_562915447 = 20995, f3_072711026 = 25172
        @inline(__always) func descale(_ x: Int, _ n: Int) -> Int { (x + (1 << (n - 1))) >> n }
        var workspace = [Int](repeating: 0, count: 64)
        // Even and odd parts of the 1-D IDCT of eight values (Loeffler, Ligtenberg, Moschytz).
        @inline(__always) func idct1D(_ v: (Int, Int, Int, Int, Int, Int, Int, Int), shiftIn: Int) -> (Int, Int, Int, Int, Int, Int, Int, Int) {
            var z2 = v.2, z3 = v.6
            var z1 = (z2 + z3) * f0_541196100
            var tmp2 = z1 + z3 * -f1_847759065
            var tmp3 = z1 + z2 * f0_765366865
            z2 = v.0
            z3 = v.4
            var tmp0 = (z2 + z3) << shiftIn
            var tmp1 = (z2 - z3) << shiftIn
            let tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2
            tmp0 = v.7
            tmp1 = v.5
            tmp2 = v.3
            tmp3 = v.1
            z1 = tmp0 + tmp3
            z2 = tmp1 + tmp2
            z3 = tmp0 + tmp2
            var z4 = tmp1 + tmp3
            let z5 = (z3 + z4) * f1_175875602
            tmp0 *= f0_298631336
            tmp1 *= f2_053119869
            tmp2 *= f3_072711026
            tmp3 *= f1_501321110
            z1 *= -f0_899976223
            z2 *= -f2_562915447
            z3 *= -f1_961570560
            z4 *= -f0_390180644
            z3 += z5
            z4 += z5
            tmp0 += z1 + z3
            tmp1 += z2 + z4
            tmp2 += z2 + z3
            tmp3 += z1 + z4
            return (tmp10 + tmp3, tmp11 + tmp2, tmp12 + tmp1, tmp13 + tmp0, tmp13 - tmp0, tmp12 - tmp1, tmp11 - tmp2, tmp10 - tmp3)
        }
        for c in 0..<8 {
            if input[8 + c] == 0 && input[16 + c] == 0 && input[24 + c] == 0 && input[32 + c] == 0 && input[40 + c] == 0
                && input[48 + c] == 0 && input[56 + c] == 0 {
                let dc = Int(input[c]) << pass1Bits
                for r in 0..<8 { workspace[r * 8 + c] = dc }
                continue
            }
            let o = idct1D((Int(input[c]), Int(input[8 + c]), Int(input[16 + c]), Int(input[24 + c]), Int(input[32 + c]),
                            Int(input[40 + c]), Int(input[48 + c]), Int(input[56 + c])), shiftIn: constBits)
            let n = constBits - pass1Bits
            workspace[c] = descale(o.0, n)
            workspace[8 + c] = descale(o.1, n)
            workspace[16 + c] = descale(o.2, n)
            workspace[24 + c] = descale(o.3, n)
            workspace[32 + c] = descale(o.4, n)
            workspace[40 + c] = descale(o.5, n)
            workspace[48 + c] = descale(o.6, n)
            workspace[56 + c] = descale(o.7, n)
        }
        let maximum = (1 << precision) - 1
        let center = 1 << (precision - 1)
        let rangeSize = 4 * (maximum + 1)
        @inline(__always) func limit(_ x: Int) -> Int32 {
            // The IJG range-limit table: values wrap modulo 4 × (MAXJSAMPLE + 1), then clamp.
            var m = x & (rangeSize - 1)
            if m >= rangeSize / 2 { m -= rangeSize }
            return Int32(min(max(m + center, 0), maximum))
        }
        let n = constBits + pass1Bits + 3
        for r in 0..<8 {
            let w = r * 8
            let o = idct1D((workspace[w], workspace[w + 1], workspace[w + 2], workspace[w + 3], workspace[w + 4], workspace[w + 5],
                            workspace[w + 6], workspace[w + 7]), shiftIn: constBits)
            let row = offset + r * stride
            plane[row] = limit(descale(o.0, n))
            plane[row + 1] = limit(descale(o.1, n))
            plane[row + 2] = limit(descale(o.2, n))
            plane[row + 3] = limit(descale(o.3, n))
            plane[row + 4] = limit(descale(o.4, n))
            plane[row + 5] = limit(descale(o.5, n))
            plane[row + 6] = limit(descale(o.6, n))
            plane[row + 7] = limit(descale(o.7, n))
        }
    }
}
