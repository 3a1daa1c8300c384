import DICOMCore
import Foundation

/// Decodes JPEG Lossless, Non-Hierarchical frames (ITU T.81 Annex H, process 14), in pure Swift.
///
/// Handles JPEG Lossless (1.2.840.10008.1.2.4.57) and its first-order-prediction subset SV1 (1.2.840.10008.1.2.4.70):
/// predictors 1–7, point transform, 2–16 bit precision, 1–4 components in interleaved or separate scans, restart intervals,
/// and components with different sampling factors (e.g. 2×1 chrominance, "4:2:2"): each component is decoded on its own
/// sample grid in the MCU order of ITU T.81 §A.2.3 and then upsampled to the full frame by replication. An interleaved scan
/// whose components do not fill their last MCU exactly (frame width or height not a multiple of the largest sampling
/// factor) is refused as unsupported. Output is native little-endian samples, colour-by-pixel, full resolution, so a
/// YBR_FULL_422 frame is returned as YBR_FULL. For signed images (Pixel Representation 1) whose Bits Stored
/// is less than Bits Allocated the stored bit pattern is sign-extended to Bits Allocated, as native Pixel Data usually is.
public struct JPEGLosslessDecoder: FrameDecoder {
    public var transferSyntaxUIDs: Set<String> { [TransferSyntax.jpegLossless.uid, TransferSyntax.jpegLosslessSV1.uid] }

    public init() {}

    public func decode(_ frame: Data, description: FrameDescription) throws -> DecodedFrame {
        try description.validate()
        let image = try JPEGLosslessImage(decoding: frame, expecting: description)
        guard image.width == description.columns, image.height == description.rows else {
            throw CodecError(.corruptStream, "JPEG Lossless: frame is \(image.width)×\(image.height) but Columns×Rows is \(description.columns)×\(description.rows)")
        }
        guard image.componentCount == description.samplesPerPixel else {
            throw CodecError(.corruptStream, "JPEG Lossless: frame has \(image.componentCount) components but Samples per Pixel is \(description.samplesPerPixel)")
        }
        guard description.bitsAllocated == 8 || description.bitsAllocated == 16 else {
            throw CodecError(.unsupported, "JPEG Lossless: Bits Allocated \(description.bitsAllocated) is not supported (8 or 16)")
        }
        guard image.precision <= description.bitsAllocated else {
            throw CodecError(.corruptStream, "JPEG Lossless: sample precision \(image.precision) exceeds Bits Allocated \(description.bitsAllocated)")
        }
        let pixels = image.nativePixels(bitsAllocated: description.bitsAllocated,
                                        signExtendFrom: description.isSigned ? min(image.precision, description.bitsStored) : nil)
        // Every component is returned at full resolution: YBR_FULL_422 (PS3.3 §C.7.6.3.1.2) becomes YBR_FULL.
        let photometric = description.photometricInterpretation == "YBR_FULL_422" ? "YBR_FULL" : description.photometricInterpretation
        return DecodedFrame(pixels: pixels, photometricInterpretation: photometric, planarConfiguration: 0)
    }
}

/// A decoded lossless JPEG image: one plane of up to 16-bit samples per component.
struct JPEGLosslessImage {
    var width = 0
    var height = 0
    var precision = 0
    var componentCount = 0
    /// Component planes one after the other, each `width * height` samples.
    var samples: [UInt16] = []

    private static let codec = "JPEG Lossless"

    private struct Component {
        var id: Int
        var decoded = false
        /// Sampling factors H and V (ITU T.81 §A.1.1).
        var horizontal = 1
        var vertical = 1
        /// The component's own dimensions, ⌈X·H/Hmax⌉ × ⌈Y·V/Vmax⌉, and where its plane starts in `samples`.
        var width = 0
        var height = 0
        var offset = 0
    }

    private var components: [Component] = []
    /// True when some component has fewer samples than the frame (planes are upsampled after the last scan).
    private var subsampled = false

    init(width: Int, height: Int, precision: Int, componentCount: Int, samples: [UInt16]) {
        self.width = width
        self.height = height
        self.precision = precision
        self.componentCount = componentCount
        self.samples = samples
    }

    /// Decodes a stream; with `expecting`, the frame header is checked against it before any sample memory is allocated.
    init(decoding data: Data, expecting description: FrameDescription? = nil) throws {
        var reader = JPEGMarkerReader(data, codec: Self.codec)
        guard reader.bytes.count >= 2, reader.bytes[0] == 0xFF, reader.bytes[1] == JPEGMarker.soi else {
            throw reader.corrupt("stream does not start with SOI (0xFFD8)")
        }
        reader.position = 2
        var tables = [JPEGHuffmanDecodingTable?](repeating: nil, count: 4)
        var restartInterval = 0
        var sawFrame = false
        var scans = 0
        markers: while true {
            let marker = try reader.readMarker()
            switch marker {
            case JPEGMarker.sof3:
                guard !sawFrame else { throw reader.corrupt("second SOF marker") }
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "SOF3")
                precision = try cursor.u8()
                height = try cursor.u16()
                width = try cursor.u16()
                componentCount = try cursor.u8()
                guard (2...16).contains(precision) else { throw CodecError(.unsupported, "\(Self.codec): sample precision \(precision) is not 2...16") }
                guard height > 0 else { throw CodecError(.unsupported, "\(Self.codec): frames with the height in a DNL marker (Y = 0) are not supported") }
                guard width > 0 else { throw reader.corrupt("SOF3 gives a width of 0") }
                guard (1...4).contains(componentCount) else { throw reader.corrupt("SOF3 gives \(componentCount) components (1...4 allowed)") }
                for _ in 0..<componentCount {
                    let id = try cursor.u8()
                    let factors = try cursor.u8()
                    _ = try cursor.u8()
                    let hv = (factors >> 4, factors & 15)
                    guard (1...4).contains(hv.0), (1...4).contains(hv.1) else { throw reader.corrupt("SOF3 sampling factors \(hv.0)×\(hv.1) are invalid") }
                    guard !components.contains(where: { $0.id == id }) else { throw reader.corrupt("SOF3 repeats component identifier \(id)") }
                    components.append(Component(id: id, horizontal: hv.0, vertical: hv.1))
                }
                try cursor.requireEnd()
                try Self.check(width: width, height: height, components: componentCount, against: description, codec: Self.codec)
                // Component dimensions (ITU T.81 §A.1.1); upsampling by replication needs whole-number ratios.
                let maxH = components.map(\.horizontal).max() ?? 1, maxV = components.map(\.vertical).max() ?? 1
                var total = 0
                for i in components.indices {
                    let c = components[i]
                    guard maxH % c.horizontal == 0, maxV % c.vertical == 0 else {
                        throw CodecError(.unsupported, "\(Self.codec): component \(c.id) has sampling \(c.horizontal)×\(c.vertical), not a whole fraction of the largest \(maxH)×\(maxV)")
                    }
                    components[i].width = (width * c.horizontal + maxH - 1) / maxH
                    components[i].height = (height * c.vertical + maxV - 1) / maxV
                    components[i].offset = total
                    total += components[i].width * components[i].height
                    if components[i].width != width || components[i].height != height { subsampled = true }
                }
                samples = [UInt16](repeating: 0, count: total)
                sawFrame = true
            case 0xC0, 0xC1, 0xC2:
                throw CodecError(.unsupported, "\(Self.codec): stream is a DCT-based JPEG (\(JPEGMarker.name(marker))), not lossless")
            case 0xC5...0xCF where marker != JPEGMarker.dac && marker != 0xC8:
                throw CodecError(.unsupported, "\(Self.codec): \(JPEGMarker.name(marker)) (hierarchical or arithmetic-coded) is not supported")
            case JPEGMarker.dac:
                throw CodecError(.unsupported, "\(Self.codec): arithmetic coding (DAC) is not supported")
            case JPEGMarker.sof55:
                throw CodecError(.unsupported, "\(Self.codec): stream is JPEG-LS (SOF55), not JPEG Lossless")
            case JPEGMarker.dht:
                for spec in try reader.readHuffmanTableSpecifications(marker) where spec.tableClass == 0 {
                    tables[spec.id] = try JPEGHuffmanDecodingTable(counts: spec.counts, symbols: spec.symbols, codec: Self.codec)
                }
            case JPEGMarker.dri:
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "DRI")
                restartInterval = try cursor.u16()
                try cursor.requireEnd()
            case JPEGMarker.sos:
                guard sawFrame else { throw reader.corrupt("SOS before SOF3") }
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "SOS")
                let scanCount = try cursor.u8()
                guard (1...componentCount).contains(scanCount) else { throw reader.corrupt("SOS has \(scanCount) components, frame has \(componentCount)") }
                var indices: [Int] = []
                var scanTables: [JPEGHuffmanDecodingTable] = []
                for _ in 0..<scanCount {
                    let id = try cursor.u8()
                    let selectors = try cursor.u8()
                    guard let index = components.firstIndex(where: { $0.id == id }) else { throw reader.corrupt("SOS names component \(id), which SOF3 does not define") }
                    guard !indices.contains(index) else { throw reader.corrupt("SOS repeats component \(id)") }
                    guard components[index].decoded == false else { throw reader.corrupt("component \(id) appears in two scans") }
                    let tableID = selectors >> 4
                    guard tableID <= 3, let table = tables[tableID] else { throw reader.corrupt("SOS uses Huffman table \(tableID), which no DHT defined") }
                    indices.append(index)
                    scanTables.append(table)
                }
                let predictor = try cursor.u8()
                _ = try cursor.u8()
                let pointTransform = try cursor.u8() & 15
                try cursor.requireEnd()
                guard (1...7).contains(predictor) else {
                    throw CodecError(.unsupported, "\(Self.codec): predictor \(predictor) is not 1...7 (0 is for hierarchical mode only)")
                }
                guard pointTransform < precision else { throw reader.corrupt("point transform \(pointTransform) is not below precision \(precision)") }
                try decodeScan(&reader, componentIndices: indices, tables: scanTables, predictor: predictor,
                               pointTransform: pointTransform, restartInterval: restartInterval)
                for index in indices { components[index].decoded = true }
                scans += 1
            case JPEGMarker.eoi:
                break markers
            case JPEGMarker.soi:
                throw reader.corrupt("second SOI marker")
            case 0xD0...0xD7:
                throw reader.corrupt("\(JPEGMarker.name(marker)) outside entropy-coded data")
            case JPEGMarker.dnl:
                throw CodecError(.unsupported, "\(Self.codec): DNL marker is not supported")
            default:
                // APPn, COM, DQT and other segments with a length: skip.
                _ = try reader.readSegment(marker)
            }
        }
        guard sawFrame else { throw reader.corrupt("no SOF3 frame header before EOI") }
        guard scans > 0 else { throw reader.corrupt("no SOS scan before EOI") }
        if let missing = components.first(where: { !$0.decoded }) {
            throw reader.corrupt("component \(missing.id) is not in any scan")
        }
        if subsampled { upsample() }
    }

    /// Replaces the component planes by full-frame planes, each sample repeated over its Hmax/H × Vmax/V area.
    private mutating func upsample() {
        let maxH = components.map(\.horizontal).max() ?? 1, maxV = components.map(\.vertical).max() ?? 1
        var full = [UInt16](repeating: 0, count: width * height * componentCount)
        for (index, c) in components.enumerated() {
            let xFactor = maxH / c.horizontal, yFactor = maxV / c.vertical
            let target = index * width * height
            for y in 0..<height {
                let source = c.offset + (y / yFactor) * c.width
                for x in 0..<width { full[target + y * width + x] = samples[source + x / xFactor] }
            }
        }
        samples = full
    }

    /// Throws when a frame header disagrees with the data set's Image Pixel Module.
    static func check(width: Int, height: Int, components: Int, against description: FrameDescription?, codec: String) throws {
        guard let description else { return }
        guard width == description.columns, height == description.rows else {
            throw CodecError(.corruptStream, "\(codec): frame is \(width)×\(height) but Columns×Rows is \(description.columns)×\(description.rows)")
        }
        guard components == description.samplesPerPixel else {
            throw CodecError(.corruptStream, "\(codec): frame has \(components) components but Samples per Pixel is \(description.samplesPerPixel)")
        }
    }

    /// Decodes one scan's entropy-coded data (ITU T.81 §H.2) into the component planes.
    ///
    /// A scan of one component codes its samples line by line on the component's own grid. An interleaved scan codes
    /// MCUs of H×V samples of each of its components in turn (ITU T.81 §A.2.3); with all factors 1 that is one sample of
    /// each component per pixel. Prediction always uses the neighbours on the component's own grid (§H.1.2.1).
    private mutating func decodeScan(_ reader: inout JPEGMarkerReader, componentIndices: [Int], tables: [JPEGHuffmanDecodingTable],
                                     predictor: Int, pointTransform: Int, restartInterval: Int) throws {
        let scanComponents = componentIndices.map { components[$0] }
        let scanCount = componentIndices.count
        let maxH = components.map(\.horizontal).max() ?? 1, maxV = components.map(\.vertical).max() ?? 1
        // MCU grid: one sample per MCU for a single-component scan (§A.2.2), else ⌈X/Hmax⌉ × ⌈Y/Vmax⌉ (§A.2.3).
        let mcuColumns = scanCount == 1 ? scanComponents[0].width : (width + maxH - 1) / maxH
        let mcuRows = scanCount == 1 ? scanComponents[0].height : (height + maxV - 1) / maxV
        let interleavedSampling = scanCount > 1 && scanComponents.contains { $0.horizontal != 1 || $0.vertical != 1 }
        if scanCount > 1 {
            for c in scanComponents where c.width != mcuColumns * c.horizontal || c.height != mcuRows * c.vertical {
                throw CodecError(.unsupported, "\(Self.codec): component \(c.id) (\(c.width)×\(c.height), sampling \(c.horizontal)×\(c.vertical)) does not fill the interleaved scan's last MCU; frame \(width)×\(height) is not a multiple of the \(maxH)×\(maxV) MCU")
            }
        }
        var rowsPerInterval = 0
        if restartInterval > 0 {
            guard restartInterval % mcuColumns == 0 else {
                throw CodecError(.unsupported, "\(Self.codec): restart interval \(restartInterval) is not a multiple of the \(mcuColumns) MCUs in a line")
            }
            rowsPerInterval = restartInterval / mcuColumns
        }
        let initial = 1 << (precision - pointTransform - 1)
        let bytes = reader.bytes
        var endPosition = reader.position
        try samples.withUnsafeMutableBufferPointer { samplesBuffer in
            guard let samplesBase = samplesBuffer.baseAddress else { return }
            try bytes.withUnsafeBufferPointer { byteBuffer in
                guard let byteBase = byteBuffer.baseAddress else { return }
                var bits = JPEGHuffmanBitReader(base: byteBase, count: byteBuffer.count, position: reader.position)
                var expectedRestart = 0
                let planes = scanComponents.map { samplesBase + $0.offset }
                let planeWidths = scanComponents.map(\.width)
                for y in 0..<mcuRows {
                    var firstLine = y == 0
                    if rowsPerInterval > 0, y > 0, y % rowsPerInterval == 0 {
                        guard bits.consumedPadding == 0 else {
                            throw CodecError(.corruptStream, "\(Self.codec): entropy-coded data ends before MCU row \(y) (truncated or corrupt)")
                        }
                        guard bits.alignToMarker() else {
                            throw CodecError(.corruptStream, "\(Self.codec): stream ends where restart marker RST\(expectedRestart) was expected before MCU row \(y)")
                        }
                        let code = byteBase[bits.position + 1]
                        guard code == JPEGMarker.rst0 + UInt8(expectedRestart) else {
                            throw CodecError(.corruptStream, "\(Self.codec): expected RST\(expectedRestart) before MCU row \(y), found \(JPEGMarker.name(code))")
                        }
                        bits.position += 2
                        expectedRestart = (expectedRestart + 1) & 7
                        firstLine = true
                    }
                    if scanCount == 1 {
                        try Self.decodeLine(&bits, row: planes[0] + y * mcuColumns, width: mcuColumns, table: tables[0], predictor: predictor,
                                            firstLine: firstLine, initial: initial, line: y)
                    } else if !interleavedSampling {
                        for x in 0..<mcuColumns {
                            for c in 0..<scanCount {
                                let row = planes[c] + y * mcuColumns
                                let prediction = Self.predict(row: row, x: x, width: mcuColumns, predictor: predictor, firstLine: firstLine, initial: initial)
                                let difference = try Self.decodeDifference(&bits, tables[c], line: y)
                                row[x] = UInt16(truncatingIfNeeded: prediction &+ difference)
                            }
                        }
                    } else {
                        for mcu in 0..<mcuColumns {
                            for c in 0..<scanCount {
                                let h = scanComponents[c].horizontal, v = scanComponents[c].vertical, planeWidth = planeWidths[c]
                                for dy in 0..<v {
                                    let line = y * v + dy
                                    let row = planes[c] + line * planeWidth
                                    for dx in 0..<h {
                                        let x = mcu * h + dx
                                        // Only the component's first line in a restart interval is a "first line".
                                        let prediction = Self.predict(row: row, x: x, width: planeWidth, predictor: predictor,
                                                                      firstLine: firstLine && dy == 0, initial: initial)
                                        let difference = try Self.decodeDifference(&bits, tables[c], line: line)
                                        row[x] = UInt16(truncatingIfNeeded: prediction &+ difference)
                                    }
                                }
                            }
                        }
                    }
                }
                guard bits.consumedPadding == 0 else {
                    throw CodecError(.corruptStream, "\(Self.codec): entropy-coded data ends before the last sample (truncated or corrupt)")
                }
                guard bits.alignToMarker() else {
                    throw CodecError(.corruptStream, "\(Self.codec): stream ends after the scan data without EOI (truncated?)")
                }
                endPosition = bits.position
            }
        }
        reader.position = endPosition
        if pointTransform > 0 {
            for c in scanComponents {
                for i in c.offset..<(c.offset + c.width * c.height) { samples[i] = samples[i] << UInt16(pointTransform) }
            }
        }
    }

    @inline(__always)
    private static func predict(row: UnsafeMutablePointer<UInt16>, x: Int, width: Int, predictor: Int, firstLine: Bool, initial: Int) -> Int {
        if firstLine { return x == 0 ? initial : Int(row[x - 1]) }
        if x == 0 { return Int(row[x - width]) }
        let a = Int(row[x - 1]), b = Int(row[x - width]), c = Int(row[x - width - 1])
        switch predictor {
        case 1: return a
        case 2: return b
        case 3: return c
        case 4: return a + b - c
        case 5: return a + ((b - c) >> 1)
        case 6: return b + ((a - c) >> 1)
        default: return (a + b) >> 1
        }
    }

    /// Decodes one difference: a Huffman-coded category SSSS and SSSS extra bits (ITU T.81 §H.1.2.2, Table H.2).
    @inline(__always)
    private static func decodeDifference(_ bits: inout JPEGHuffmanBitReader, _ table: JPEGHuffmanDecodingTable, line: Int) throws -> Int {
        if bits.bitCount < 32 { bits.fill() }
        let category = bits.decodeSymbol(table)
        if category == 0 { return 0 }
        guard category > 0 else { throw CodecError(.corruptStream, "JPEG Lossless: Huffman code not in the table on line \(line)") }
        if category >= 16 {
            guard category == 16 else { throw CodecError(.corruptStream, "JPEG Lossless: difference category \(category) on line \(line) is not 0...16") }
            return 32768
        }
        let value = bits.bits(category)
        return value < (1 << (category - 1)) ? value - (1 << category) + 1 : value
    }

    /// One line of a single-component scan; the predictor is hoisted out of the sample loop.
    @inline(__always)
    private static func decodeLine(_ bits: inout JPEGHuffmanBitReader, row: UnsafeMutablePointer<UInt16>, width: Int,
                                   table: JPEGHuffmanDecodingTable, predictor: Int, firstLine: Bool, initial: Int, line: Int) throws {
        if firstLine {
            var previous = initial
            for x in 0..<width {
                let value = UInt16(truncatingIfNeeded: previous &+ (try decodeDifference(&bits, table, line: line)))
                row[x] = value
                previous = Int(value)
            }
            return
        }
        let above = row - width
        var left = Int(UInt16(truncatingIfNeeded: Int(above[0]) &+ (try decodeDifference(&bits, table, line: line))))
        row[0] = UInt16(left)
        switch predictor {
        case 1:
            for x in 1..<max(1, width) {
                left = Int(UInt16(truncatingIfNeeded: left &+ (try decodeDifference(&bits, table, line: line))))
                row[x] = UInt16(left)
            }
        case 2:
            for x in 1..<max(1, width) {
                row[x] = UInt16(truncatingIfNeeded: Int(above[x]) &+ (try decodeDifference(&bits, table, line: line)))
            }
        default:
            for x in 1..<max(1, width) {
                let prediction = predict(row: row, x: x, width: width, predictor: predictor, firstLine: false, initial: initial)
                row[x] = UInt16(truncatingIfNeeded: prediction &+ (try decodeDifference(&bits, table, line: line)))
            }
        }
    }

    /// The samples as native little-endian Pixel Data, colour-by-pixel.
    func nativePixels(bitsAllocated: Int, signExtendFrom bits: Int?) -> Data {
        let planeSize = width * height
        let count = planeSize * componentCount
        var extendShift = 0
        if let bits, bits < bitsAllocated { extendShift = bitsAllocated - bits }
        if bitsAllocated == 8 {
            var out = [UInt8](repeating: 0, count: count)
            for c in 0..<componentCount {
                for i in 0..<planeSize {
                    var value = UInt8(truncatingIfNeeded: samples[c * planeSize + i])
                    if extendShift > 0 { value = UInt8(bitPattern: Int8(bitPattern: value << UInt8(extendShift)) >> Int8(extendShift)) }
                    out[i * componentCount + c] = value
                }
            }
            return Data(out)
        }
        var out = [UInt8](repeating: 0, count: count * 2)
        out.withUnsafeMutableBufferPointer { buffer in
            samples.withUnsafeBufferPointer { source in
                for c in 0..<componentCount {
                    for i in 0..<planeSize {
                        var value = source[c * planeSize + i]
                        if extendShift > 0 { value = UInt16(bitPattern: Int16(bitPattern: value << UInt16(extendShift)) >> Int16(extendShift)) }
                        let o = (i * componentCount + c) * 2
                        buffer[o] = UInt8(truncatingIfNeeded: value)
                        buffer[o + 1] = UInt8(truncatingIfNeeded: value >> 8)
                    }
                }
            }
        }
        return Data(out)
    }
}
