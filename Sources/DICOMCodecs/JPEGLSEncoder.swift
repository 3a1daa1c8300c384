import DICOMCore
import Foundation

/// Encodes JPEG-LS frames (ITU T.87) in pure Swift: lossless (1.2.840.10008.1.2.4.80) or near-lossless
/// (1.2.840.10008.1.2.4.81, maximum error ``EncodingOptions/nearLossless``).
///
/// Writes default thresholds (no LSE segment), sample precision = Bits Stored (at least 2; Bits Allocated for signed samples), 1–4 components of 8 or
/// 16 bits allocated; colour frames are line-interleaved unless ``interleave`` says otherwise. No colour transform.
public struct JPEGLSEncoder: FrameEncoder {
    /// How the components of a colour frame are interleaved (ITU T.87 §B.2, ILV).
    public enum Interleave: Int, Sendable {
        /// One scan per component (ILV 0).
        case none = 0
        /// Line-interleaved (ILV 1).
        case line = 1
        /// Sample-interleaved (ILV 2).
        case sample = 2
    }

    /// Produce near-lossless .81 (NEAR from the options) instead of lossless .80.
    public var nearLossless: Bool
    public var interleave: Interleave

    public init(nearLossless: Bool = false, interleave: Interleave = .line) {
        self.nearLossless = nearLossless
        self.interleave = interleave
    }

    public var transferSyntaxUID: String { nearLossless ? TransferSyntax.jpegLSNearLossless.uid : TransferSyntax.jpegLSLossless.uid }
    public var isLossy: Bool { nearLossless }
    public var lossyMethod: String? { nearLossless ? "ISO_14495_1" : nil }

    public func encode(_ frame: Data, description: FrameDescription, options: EncodingOptions) throws -> EncodedFrame {
        try description.validate()
        let codec = "JPEG-LS encoder"
        guard description.bitsAllocated == 8 || description.bitsAllocated == 16 else {
            throw CodecError(.unsupported, "\(codec): Bits Allocated \(description.bitsAllocated) is not supported (8 or 16)")
        }
        guard frame.count >= description.bytesPerFrame else {
            throw CodecError(.invalidImage, "\(codec): frame has \(frame.count) bytes, \(description.bytesPerFrame) expected")
        }
        // Signed samples narrower than Bits Allocated are coded with their sign-extended bits, as DCMTK does: decoders that
        // do not sign-extend then still return the stored values, and differences across zero stay small.
        let precision = description.isSigned && description.bitsStored < description.bitsAllocated
            ? description.bitsAllocated : max(2, description.bitsStored)
        let maxValue = (1 << precision) - 1
        let near = nearLossless ? options.nearLossless : 0
        guard near >= 0, near <= min(255, maxValue / 2) else {
            throw CodecError(.invalidImage, "\(codec): NEAR \(near) must be 0...\(min(255, maxValue / 2)) for \(precision)-bit samples")
        }
        let components = description.samplesPerPixel
        let width = description.columns, height = description.rows
        let planeSize = width * height
        // Component planes, masked to the precision.
        var planes = [Int](repeating: 0, count: planeSize * components)
        frame.withUnsafeBytes { raw in
            planes.withUnsafeMutableBufferPointer { out in
                for c in 0..<components {
                    for i in 0..<planeSize {
                        let sourceIndex = description.planarConfiguration == 1 ? c * planeSize + i : i * components + c
                        let value = description.bitsAllocated == 8
                            ? Int(raw[sourceIndex])
                            : Int(raw[sourceIndex * 2]) | Int(raw[sourceIndex * 2 + 1]) << 8
                        out[c * planeSize + i] = value & maxValue
                    }
                }
            }
        }
        let parameters = JPEGLSParameters(maxValue: maxValue, near: near)
        let mode: Interleave = components == 1 ? .none : interleave

        var out: [UInt8] = []
        out.reserveCapacity(planes.count + 64)
        out.appendMarker(JPEGMarker.soi)
        out.appendMarker(JPEGMarker.sof55)
        out.appendUInt16(8 + 3 * components)
        out.append(UInt8(precision))
        out.appendUInt16(height)
        out.appendUInt16(width)
        out.append(UInt8(components))
        for c in 0..<components {
            out.append(UInt8(c + 1))
            out.append(0x11)
            out.append(0)
        }
        let scans: [[Int]] = mode == .none ? (0..<components).map { [$0] } : [Array(0..<components)]
        for scan in scans {
            out.appendMarker(JPEGMarker.sos)
            out.appendUInt16(6 + 2 * scan.count)
            out.append(UInt8(scan.count))
            for c in scan {
                out.append(UInt8(c + 1))
                out.append(0)
            }
            out.append(UInt8(near))
            out.append(UInt8(mode.rawValue))
            out.append(0)
            out = planes.withUnsafeBufferPointer { source in
                // `planes` holds at least one sample (Rows and Columns are at least 1), so the base address exists.
                guard let base = source.baseAddress else { return out }
                return Self.encodeScan(source: base, planeSize: planeSize, components: scan, width: width, height: height,
                                       parameters: parameters, sampleInterleaved: mode == .sample, into: out)
            }
        }
        out.appendMarker(JPEGMarker.eoi)
        return EncodedFrame(bytes: Data(out), photometricInterpretation: description.photometricInterpretation, planarConfiguration: 0)
    }

    private static func encodeScan(source: UnsafePointer<Int>, planeSize: Int, components: [Int], width: Int, height: Int,
                                   parameters: JPEGLSParameters, sampleInterleaved: Bool, into bytes: [UInt8]) -> [UInt8] {
        let count = components.count
        let lineLength = width + 2
        let lines = UnsafeMutablePointer<Int>.allocate(capacity: 2 * lineLength * count)
        lines.initialize(repeating: 0, count: 2 * lineLength * count)
        defer { lines.deallocate() }
        var previous = (0..<count).map { lines + (2 * $0) * lineLength }
        var current = (0..<count).map { lines + (2 * $0 + 1) * lineLength }
        var runIndex = [Int](repeating: 0, count: count)
        var coder = JPEGLSSampleEncoder(bits: JPEGLSBitWriter(bytes: bytes), contexts: JPEGLSContexts(parameters), width: width)
        for y in 0..<height {
            // Input samples at offset -1 so that input[x] is the sample at line position x (1...width).
            let inputs = components.map { source + $0 * planeSize + y * width - 1 }
            if sampleInterleaved {
                coder.encodeInterleavedLine(inputs: inputs, previous: previous, current: current, runIndex: &runIndex[0])
            } else {
                for c in 0..<count {
                    coder.encodeLine(input: inputs[c], previous: previous[c], current: current[c], runIndex: &runIndex[c])
                }
            }
            for c in 0..<count { swap(&previous[c], &current[c]) }
        }
        coder.bits.flush()
        return coder.bits.bytes
    }
}

/// Encodes samples of one JPEG-LS scan (ITU T.87 Annex A); the inverse of ``JPEGLSSampleDecoder``.
struct JPEGLSSampleEncoder {
    var bits: JPEGLSBitWriter
    let contexts: JPEGLSContexts
    let width: Int
    let near: Int
    let limit: Int
    let qbpp: Int
    let range: Int

    init(bits: JPEGLSBitWriter, contexts: JPEGLSContexts, width: Int) {
        self.bits = bits
        self.contexts = contexts
        self.width = width
        near = contexts.parameters.near
        limit = contexts.parameters.limit
        qbpp = contexts.parameters.qbpp
        range = contexts.parameters.range
    }

    /// Limited-length Golomb coding (ITU T.87 §A.5.3).
    @inline(__always) private mutating func writeGolomb(_ value: Int, _ k: Int, limit: Int) {
        let maximumPrefix = limit - qbpp - 1
        let high = value >> k
        if high < maximumPrefix {
            bits.writeZeros(high)
            bits.write(1, 1)
            bits.write(value & ((1 << k) - 1), k)
        } else {
            bits.writeZeros(maximumPrefix)
            bits.write(1, 1)
            bits.write(value - 1, qbpp)
        }
    }

    /// Quantises (near-lossless) and reduces an error modulo RANGE (ITU T.87 §A.4.4, A.4.5).
    @inline(__always) private func reduce(_ value: Int) -> Int {
        var error = value
        if near > 0 {
            error = error > 0 ? (error + near) / (2 * near + 1) : -((near - error) / (2 * near + 1))
        }
        if error < 0 { error += range }
        if error >= (range + 1) / 2 { error -= range }
        return error
    }

    @inline(__always) private mutating func encodeRegular(_ qs: Int, sample: Int, ra: Int, rb: Int, rc: Int) -> Int {
        let sign = qs < 0 ? -1 : 1
        let q = qs < 0 ? -qs : qs
        var prediction = JPEGLSContexts.predictMED(ra, rb, rc) + sign * contexts.c[q]
        prediction = min(max(prediction, 0), contexts.parameters.maxValue)
        let error = reduce(sign * (sample - prediction))
        let k = contexts.golombK(q)
        let mapped: Int
        if near == 0 && k == 0 && 2 * contexts.b[q] <= -contexts.n[q] {
            mapped = error >= 0 ? 2 * error + 1 : -2 * (error + 1)
        } else {
            mapped = error >= 0 ? 2 * error : -2 * error - 1
        }
        writeGolomb(mapped, k, limit: limit)
        contexts.update(q, error)
        return contexts.fixReconstructed(prediction + sign * error * (2 * near + 1))
    }

    @inline(__always) private mutating func encodeRunInterruption(sample: Int, ra: Int, rb: Int, riType: Int, runIndex: Int) -> Int {
        let prediction = riType == 1 ? ra : rb
        let sign = (riType == 0 && ra > rb) ? -1 : 1
        let error = reduce(sign * (sample - prediction))
        let k = contexts.runInterruptionK(riType)
        let q = JPEGLSContexts.regularCount + riType
        let nn = contexts.nn[riType], n = contexts.n[q]
        let map = (k == 0 && error > 0 && 2 * nn < n) || (error < 0 && 2 * nn >= n) || (error < 0 && k != 0)
        let mapped = 2 * abs(error) - riType - (map ? 1 : 0)
        writeGolomb(mapped, k, limit: limit - JPEGLSContexts.runLengthOrder[runIndex] - 1)
        contexts.updateRunInterruption(riType, errorValue: error, mappedError: mapped)
        return contexts.fixReconstructed(prediction + sign * error * (2 * near + 1))
    }

    /// Run-length bits of run mode (ITU T.87 §A.7.1.2).
    @inline(__always) private mutating func writeRunLength(_ length: Int, endOfLine: Bool, runIndex: inout Int) {
        var remaining = length
        while remaining >= 1 << JPEGLSContexts.runLengthOrder[runIndex] {
            bits.write(1, 1)
            remaining -= 1 << JPEGLSContexts.runLengthOrder[runIndex]
            if runIndex < 31 { runIndex += 1 }
        }
        if endOfLine {
            if remaining > 0 { bits.write(1, 1) }
        } else {
            bits.write(0, 1)
            bits.write(remaining, JPEGLSContexts.runLengthOrder[runIndex])
        }
    }

    mutating func encodeLine(input: UnsafePointer<Int>, previous: UnsafeMutablePointer<Int>, current: UnsafeMutablePointer<Int>, runIndex: inout Int) {
        current[0] = previous[1]
        previous[width + 1] = previous[width]
        var x = 1
        while x <= width {
            let ra = current[x - 1], rb = previous[x], rc = previous[x - 1], rd = previous[x + 1]
            let q1 = contexts.q(rd - rb), q2 = contexts.q(rb - rc), q3 = contexts.q(rc - ra)
            if q1 == 0 && q2 == 0 && q3 == 0 {
                var length = 0
                while x + length <= width && abs(input[x + length] - ra) <= near {
                    current[x + length] = ra
                    length += 1
                }
                let endOfLine = x + length > width
                writeRunLength(length, endOfLine: endOfLine, runIndex: &runIndex)
                x += length
                if endOfLine { break }
                let interruptionRa = current[x - 1], interruptionRb = previous[x]
                let riType = abs(interruptionRa - interruptionRb) <= near ? 1 : 0
                current[x] = encodeRunInterruption(sample: input[x], ra: interruptionRa, rb: interruptionRb, riType: riType, runIndex: runIndex)
                if runIndex > 0 { runIndex -= 1 }
                x += 1
            } else {
                current[x] = encodeRegular(81 * q1 + 9 * q2 + q3, sample: input[x], ra: ra, rb: rb, rc: rc)
                x += 1
            }
        }
    }

    mutating func encodeInterleavedLine(inputs: [UnsafePointer<Int>], previous: [UnsafeMutablePointer<Int>],
                                        current: [UnsafeMutablePointer<Int>], runIndex: inout Int) {
        let count = inputs.count
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
                var length = 0
                while x + length <= width && (0..<count).allSatisfy({ abs(inputs[$0][x + length] - current[$0][x - 1]) <= near }) {
                    for c in 0..<count { current[c][x + length] = current[c][x - 1] }
                    length += 1
                }
                let endOfLine = x + length > width
                writeRunLength(length, endOfLine: endOfLine, runIndex: &runIndex)
                x += length
                if endOfLine { break }
                for c in 0..<count {
                    current[c][x] = encodeRunInterruption(sample: inputs[c][x], ra: current[c][x - 1], rb: previous[c][x], riType: 0, runIndex: runIndex)
                }
                if runIndex > 0 { runIndex -= 1 }
                x += 1
            } else {
                for c in 0..<count {
                    let p = previous[c], r = current[c]
                    r[x] = encodeRegular(qs[c], sample: inputs[c][x], ra: r[x - 1], rb: p[x], rc: p[x - 1])
                }
                x += 1
            }
        }
    }
}
