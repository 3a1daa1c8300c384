import DICOMCore
import Foundation

/// Decodes JPEG-LS frames (ITU T.87), lossless (1.2.840.10008.1.2.4.80) and near-lossless (1.2.840.10008.1.2.4.81),
/// in pure Swift.
///
/// Supports 2–16 bit samples, 1–4 components with interleave modes none, line and sample, NEAR, and default or
/// custom (LSE) thresholds. Mapping tables (palettes), point transform and restart intervals are reported as unsupported.
/// Output is native little-endian samples, colour-by-pixel; signed samples are sign-extended as in ``JPEGLosslessDecoder``.
public struct JPEGLSDecoder: FrameDecoder {
    public var transferSyntaxUIDs: Set<String> { [TransferSyntax.jpegLSLossless.uid, TransferSyntax.jpegLSNearLossless.uid] }

    public init() {}

    public func decode(_ frame: Data, description: FrameDescription) throws -> DecodedFrame {
        try description.validate()
        let image = try JPEGLSImageDecoder.decode(frame, expecting: description)
        guard image.width == description.columns, image.height == description.rows else {
            throw CodecError(.corruptStream, "JPEG-LS: frame is \(image.width)×\(image.height) but Columns×Rows is \(description.columns)×\(description.rows)")
        }
        guard image.componentCount == description.samplesPerPixel else {
            throw CodecError(.corruptStream, "JPEG-LS: frame has \(image.componentCount) components but Samples per Pixel is \(description.samplesPerPixel)")
        }
        guard description.bitsAllocated == 8 || description.bitsAllocated == 16 else {
            throw CodecError(.unsupported, "JPEG-LS: Bits Allocated \(description.bitsAllocated) is not supported (8 or 16)")
        }
        guard image.precision <= description.bitsAllocated else {
            throw CodecError(.corruptStream, "JPEG-LS: sample precision \(image.precision) exceeds Bits Allocated \(description.bitsAllocated)")
        }
        let pixels = image.nativePixels(bitsAllocated: description.bitsAllocated,
                                        signExtendFrom: description.isSigned ? min(image.precision, description.bitsStored) : nil)
        return DecodedFrame(pixels: pixels, photometricInterpretation: description.photometricInterpretation, planarConfiguration: 0)
    }
}

/// Parses a JPEG-LS stream and decodes its scans into component planes.
enum JPEGLSImageDecoder {
    static let codec = "JPEG-LS"

    static func corrupt(_ message: String) -> CodecError { CodecError(.corruptStream, "\(codec): \(message)") }

    /// Decodes a stream; with `expecting`, the frame header is checked against it before any sample memory is allocated.
    static func decode(_ data: Data, expecting description: FrameDescription? = nil) throws -> JPEGLosslessImage {
        var reader = JPEGMarkerReader(data, codec: codec)
        guard reader.bytes.count >= 2, reader.bytes[0] == 0xFF, reader.bytes[1] == JPEGMarker.soi else {
            throw corrupt("stream does not start with SOI (0xFFD8)")
        }
        reader.position = 2
        var image = JPEGLosslessImage(width: 0, height: 0, precision: 0, componentCount: 0, samples: [])
        var componentIDs: [Int] = []
        var decoded: [Bool] = []
        var custom: (maxValue: Int, t1: Int, t2: Int, t3: Int, reset: Int) = (0, 0, 0, 0, 0)
        var sawFrame = false
        var scans = 0
        markers: while true {
            let marker = try reader.readMarker()
            switch marker {
            case JPEGMarker.sof55:
                guard !sawFrame else { throw corrupt("second SOF55 marker") }
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "SOF55")
                let precision = try cursor.u8()
                let height = try cursor.u16()
                let width = try cursor.u16()
                let count = try cursor.u8()
                guard (2...16).contains(precision) else { throw CodecError(.unsupported, "\(codec): sample precision \(precision) is not 2...16") }
                guard height > 0, width > 0 else { throw CodecError(.unsupported, "\(codec): frame size \(width)×\(height) (0 = defined later) is not supported") }
                guard (1...4).contains(count) else { throw corrupt("SOF55 gives \(count) components (1...4 supported)") }
                for _ in 0..<count {
                    let id = try cursor.u8()
                    let factors = try cursor.u8()
                    _ = try cursor.u8()
                    guard factors == 0x11 else { throw CodecError(.unsupported, "\(codec): subsampled components (sampling \(factors >> 4)×\(factors & 15)) are not supported") }
                    guard !componentIDs.contains(id) else { throw corrupt("SOF55 repeats component identifier \(id)") }
                    componentIDs.append(id)
                }
                try cursor.requireEnd()
                try JPEGLosslessImage.check(width: width, height: height, components: count, against: description, codec: codec)
                decoded = [Bool](repeating: false, count: count)
                image = JPEGLosslessImage(width: width, height: height, precision: precision, componentCount: count,
                                          samples: [UInt16](repeating: 0, count: width * height * count))
                sawFrame = true
            case 0xC0...0xCF where marker != JPEGMarker.dht && marker != 0xC8 && marker != JPEGMarker.dac:
                throw CodecError(.unsupported, "\(codec): stream is a \(JPEGMarker.name(marker)) JPEG, not JPEG-LS")
            case JPEGMarker.lse:
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "LSE")
                let id = try cursor.u8()
                guard id == 1 else {
                    throw CodecError(.unsupported, "\(codec): LSE segment type \(id) (mapping tables or oversize images) is not supported")
                }
                custom = (try cursor.u16(), try cursor.u16(), try cursor.u16(), try cursor.u16(), try cursor.u16())
                try cursor.requireEnd()
            case JPEGMarker.dri:
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "DRI")
                let interval = try cursor.u16()
                guard interval == 0 else { throw CodecError(.unsupported, "\(codec): restart intervals (DRI \(interval)) are not supported") }
            case JPEGMarker.sos:
                guard sawFrame else { throw corrupt("SOS before SOF55") }
                let range = try reader.readSegment(marker)
                var cursor = JPEGSegmentCursor(reader, range, name: "SOS")
                let count = try cursor.u8()
                guard (1...image.componentCount).contains(count) else { throw corrupt("SOS has \(count) components, the frame has \(image.componentCount)") }
                var indices: [Int] = []
                for _ in 0..<count {
                    let id = try cursor.u8()
                    let mapping = try cursor.u8()
                    guard let index = componentIDs.firstIndex(of: id) else { throw corrupt("SOS names component \(id), which SOF55 does not define") }
                    guard !indices.contains(index), !decoded[index] else { throw corrupt("component \(id) is coded twice") }
                    guard mapping == 0 else { throw CodecError(.unsupported, "\(codec): mapping table \(mapping) is not supported") }
                    indices.append(index)
                }
                let near = try cursor.u8()
                let interleave = try cursor.u8()
                let transform = try cursor.u8()
                try cursor.requireEnd()
                guard transform & 15 == 0 else { throw CodecError(.unsupported, "\(codec): point transform \(transform & 15) is not supported") }
                guard interleave <= 2 else { throw corrupt("interleave mode \(interleave) is not 0, 1 or 2") }
                guard count == 1 || interleave != 0 else { throw corrupt("SOS has \(count) components with interleave mode 0") }
                let maxValue = custom.maxValue != 0 ? custom.maxValue : (1 << image.precision) - 1
                guard maxValue < (1 << image.precision) else { throw corrupt("MAXVAL \(maxValue) exceeds \(image.precision)-bit precision") }
                guard near <= min(255, maxValue / 2) else { throw corrupt("NEAR \(near) is too large for MAXVAL \(maxValue)") }
                let parameters = JPEGLSParameters(maxValue: maxValue, near: near,
                                                   custom: (custom.t1, custom.t2, custom.t3, custom.reset))
                try parameters.validate(codec: codec)
                try decodeScan(&reader, image: &image, componentIndices: indices, parameters: parameters, sampleInterleaved: interleave == 2 && count > 1)
                for index in indices { decoded[index] = true }
                scans += 1
            case JPEGMarker.eoi:
                break markers
            case JPEGMarker.soi:
                throw corrupt("second SOI marker")
            case 0xD0...0xD7:
                throw corrupt("\(JPEGMarker.name(marker)) outside entropy-coded data")
            default:
                _ = try reader.readSegment(marker)
            }
        }
        guard sawFrame else { throw corrupt("no SOF55 frame header before EOI") }
        guard scans > 0 else { throw corrupt("no SOS scan before EOI") }
        if let missing = decoded.firstIndex(of: false) { throw corrupt("component \(componentIDs[missing]) is not in any scan") }
        return image
    }

    private static func decodeScan(_ reader: inout JPEGMarkerReader, image: inout JPEGLosslessImage, componentIndices: [Int],
                                   parameters: JPEGLSParameters, sampleInterleaved: Bool) throws {
        let width = image.width, height = image.height
        let planeSize = width * height
        let count = componentIndices.count
        let lineLength = width + 2
        let contexts = JPEGLSContexts(parameters)
        // Two line buffers (previous, current) per component, with one sample of padding at each end.
        let lines = UnsafeMutablePointer<Int>.allocate(capacity: 2 * lineLength * count)
        lines.initialize(repeating: 0, count: 2 * lineLength * count)
        defer { lines.deallocate() }
        var previous = (0..<count).map { lines + (2 * $0) * lineLength }
        var current = (0..<count).map { lines + (2 * $0 + 1) * lineLength }
        var runIndex = [Int](repeating: 0, count: count)
        let bytes = reader.bytes
        var endPosition = reader.position
        try image.samples.withUnsafeMutableBufferPointer { samples in
            guard let samplesBase = samples.baseAddress else { return }
            try bytes.withUnsafeBufferPointer { byteBuffer in
                guard let byteBase = byteBuffer.baseAddress else { return }
                var coder = JPEGLSSampleDecoder(bits: JPEGLSBitReader(base: byteBase, count: byteBuffer.count, position: reader.position),
                                                contexts: contexts, width: width)
                for y in 0..<height {
                    if sampleInterleaved {
                        try coder.decodeInterleavedLine(previous: previous, current: current, runIndex: &runIndex[0])
                    } else {
                        for c in 0..<count {
                            try coder.decodeLine(previous: previous[c], current: current[c], runIndex: &runIndex[c])
                        }
                    }
                    for c in 0..<count {
                        let plane = samplesBase + componentIndices[c] * planeSize + y * width
                        let line = current[c]
                        for x in 0..<width { plane[x] = UInt16(truncatingIfNeeded: line[x + 1]) }
                        swap(&previous[c], &current[c])
                    }
                }
                guard coder.bits.consumedPadding == 0 else {
                    throw corrupt("entropy-coded data ends before the last sample (truncated or corrupt)")
                }
                guard let marker = coder.bits.markerPosition() else {
                    throw corrupt("stream ends after the scan data without a marker (truncated?)")
                }
                endPosition = marker
            }
        }
        reader.position = endPosition
    }
}

/// Decodes samples of one JPEG-LS scan (ITU T.87 Annex A, decoding per Annex F).
struct JPEGLSSampleDecoder {
    var bits: JPEGLSBitReader
    let contexts: JPEGLSContexts
    let width: Int
    let near: Int
    let limit: Int
    let qbpp: Int

    init(bits: JPEGLSBitReader, contexts: JPEGLSContexts, width: Int) {
        self.bits = bits
        self.contexts = contexts
        self.width = width
        near = contexts.parameters.near
        limit = contexts.parameters.limit
        qbpp = contexts.parameters.qbpp
    }

    private func corrupt(_ message: String) -> CodecError { JPEGLSImageDecoder.corrupt(message) }

    /// Limited-length Golomb decoding (ITU T.87 §A.5.3).
    @inline(__always) private mutating func readGolomb(_ k: Int, limit: Int) throws -> Int {
        let maximumPrefix = limit - qbpp - 1
        guard let prefix = bits.unary(maximum: maximumPrefix) else {
            throw corrupt("Golomb code longer than LIMIT (corrupt entropy-coded data)")
        }
        if prefix < maximumPrefix { return (prefix << k) | bits.bits(k) }
        return bits.bits(qbpp) + 1
    }

    /// One sample in regular mode (ITU T.87 §A.3–A.6) for quantised context `qs`.
    @inline(__always) private mutating func decodeRegular(_ qs: Int, ra: Int, rb: Int, rc: Int) throws -> Int {
        let sign = qs < 0 ? -1 : 1
        let q = qs < 0 ? -qs : qs
        var prediction = JPEGLSContexts.predictMED(ra, rb, rc) + sign * contexts.c[q]
        prediction = min(max(prediction, 0), contexts.parameters.maxValue)
        let k = contexts.golombK(q)
        let mapped = try readGolomb(k, limit: limit)
        var error: Int
        if near == 0 && k == 0 && 2 * contexts.b[q] <= -contexts.n[q] {
            error = mapped & 1 == 1 ? (mapped - 1) >> 1 : -(mapped >> 1) - 1
        } else {
            error = mapped & 1 == 0 ? mapped >> 1 : -((mapped + 1) >> 1)
        }
        contexts.update(q, error)
        return contexts.fixReconstructed(prediction + sign * error * (2 * near + 1))
    }

    /// A run-interruption sample (ITU T.87 §A.7.2).
    @inline(__always) private mutating func decodeRunInterruption(ra: Int, rb: Int, riType: Int, runIndex: Int) throws -> Int {
        let k = contexts.runInterruptionK(riType)
        let glimit = limit - JPEGLSContexts.runLengthOrder[runIndex] - 1
        let mapped = try readGolomb(k, limit: glimit)
        let temp = mapped + riType
        let map = temp & 1
        let magnitude = (temp + map) >> 1
        let q = JPEGLSContexts.regularCount + riType
        let negative = (k != 0 || 2 * contexts.nn[riType] >= contexts.n[q]) == (map == 1)
        let error = negative ? -magnitude : magnitude
        contexts.updateRunInterruption(riType, errorValue: error, mappedError: mapped)
        if riType == 1 { return contexts.fixReconstructed(ra + error * (2 * near + 1)) }
        let sign = rb >= ra ? 1 : -1
        return contexts.fixReconstructed(rb + sign * error * (2 * near + 1))
    }

    /// Run-length bits of run mode (ITU T.87 §A.7.1.2); fills the run in all `lines` from position `x` and returns the
    /// position after the run, and whether the run reached the end of the line.
    @inline(__always) private mutating func decodeRunLength(from x: Int, runIndex: inout Int) throws -> (end: Int, endOfLine: Bool) {
        var i = x
        while bits.bit() {
            let block = 1 << JPEGLSContexts.runLengthOrder[runIndex]
            let count = min(block, width + 1 - i)
            i += count
            if count == block && runIndex < 31 { runIndex += 1 }
            if i > width { return (i, true) }
        }
        let order = JPEGLSContexts.runLengthOrder[runIndex]
        let extra = bits.bits(order)
        guard i + extra <= width else { throw corrupt("run of \(i + extra - x) samples runs past the end of the line") }
        return (i + extra, false)
    }

    /// Decodes one line of one component (interleave mode none or line).
    mutating func decodeLine(previous: UnsafeMutablePointer<Int>, current: UnsafeMutablePointer<Int>, runIndex: inout Int) throws {
        current[0] = previous[1]
        previous[width + 1] = previous[width]
        var x = 1
        while x <= width {
            let ra = current[x - 1], rb = previous[x], rc = previous[x - 1], rd = previous[x + 1]
            let q1 = contexts.q(rd - rb), q2 = contexts.q(rb - rc), q3 = contexts.q(rc - ra)
            if q1 == 0 && q2 == 0 && q3 == 0 {
                let run = try decodeRunLength(from: x, runIndex: &runIndex)
                for i in x..<min(run.end, width + 1) { current[i] = ra }
                x = run.end
                if run.endOfLine { break }
                let interruptionRa = current[x - 1], interruptionRb = previous[x]
                let riType = abs(interruptionRa - interruptionRb) <= near ? 1 : 0
                current[x] = try decodeRunInterruption(ra: interruptionRa, rb: interruptionRb, riType: riType, runIndex: runIndex)
                if runIndex > 0 { runIndex -= 1 }
                x += 1
            } else {
                current[x] = try decodeRegular(81 * q1 + 9 * q2 + q3, ra: ra, rb: rb, rc: rc)
                x += 1
            }
        }
    }

    /// Decodes one line of all components in sample-interleaved mode (ITU T.87 Annex B.3 with a shared RUNindex).
    mutating func decodeInterleavedLine(previous: [UnsafeMutablePointer<Int>], current: [UnsafeMutablePointer<Int>], runIndex: inout Int) throws {
        let count = previous.count
        for c in 0..<count {
            current[c][0] = previous[c][1]
            previous[c][width + 1] = previous[c][width]
        }
        var qs = [Int](repeating: 0, count: count)
        var x = 1
        while x <= width {
            var flat = true
            for c in 0..<count {
                let p = previous[c], r = current[c]
                let ra = r[x - 1], rb = p[x], rc = p[x - 1], rd = p[x + 1]
                qs[c] = 81 * contexts.q(rd - rb) + 9 * contexts.q(rb - rc) + contexts.q(rc - ra)
                if qs[c] != 0 { flat = false }
            }
            if flat {
                let run = try decodeRunLength(from: x, runIndex: &runIndex)
                for c in 0..<count {
                    let value = current[c][x - 1]
                    for i in x..<min(run.end, width + 1) { current[c][i] = value }
                }
                x = run.end
                if run.endOfLine { break }
                for c in 0..<count {
                    current[c][x] = try decodeRunInterruption(ra: current[c][x - 1], rb: previous[c][x], riType: 0, runIndex: runIndex)
                }
                if runIndex > 0 { runIndex -= 1 }
                x += 1
            } else {
                for c in 0..<count {
                    let p = previous[c], r = current[c]
                    r[x] = try decodeRegular(qs[c], ra: r[x - 1], rb: p[x], rc: p[x - 1])
                }
                x += 1
            }
        }
    }
}
