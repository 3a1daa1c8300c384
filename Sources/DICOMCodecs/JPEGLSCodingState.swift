import Foundation

/// The coding parameters of a JPEG-LS scan (ITU T.87 §A.2, §C.2.4.1.1).
struct JPEGLSParameters: Equatable {
    var maxValue: Int
    var near: Int
    var t1: Int
    var t2: Int
    var t3: Int
    var reset: Int
    /// RANGE, qbpp, bpp and LIMIT (ITU T.87 §A.2.1).
    var range: Int { (maxValue + 2 * near) / (2 * near + 1) + 1 }
    var qbpp: Int { Self.ceilLog2(range) }
    var bpp: Int { max(2, Self.ceilLog2(maxValue + 1)) }
    var limit: Int { 2 * (bpp + max(8, bpp)) }

    static func ceilLog2(_ value: Int) -> Int {
        var bits = 0
        while (1 << bits) < value { bits += 1 }
        return bits
    }

    /// Parameters with the default thresholds for `maxValue` and `near` (ITU T.87 §C.2.4.1.1.1); `custom` overrides
    /// the ones given as non-zero in an LSE segment.
    init(maxValue: Int, near: Int, custom: (t1: Int, t2: Int, t3: Int, reset: Int) = (0, 0, 0, 0)) {
        self.maxValue = maxValue
        self.near = near
        func clamp(_ i: Int, _ j: Int) -> Int { (i > maxValue || i < j) ? j : i }
        var t1: Int, t2: Int, t3: Int
        if maxValue >= 128 {
            let factor = (min(maxValue, 4095) + 128) / 256
            t1 = clamp(factor * (3 - 2) + 2 + 3 * near, near + 1)
            t2 = clamp(factor * (7 - 3) + 3 + 5 * near, t1)
            t3 = clamp(factor * (21 - 4) + 4 + 7 * near, t2)
        } else {
            let factor = 256 / (maxValue + 1)
            t1 = clamp(max(2, 3 / factor + 3 * near), near + 1)
            t2 = clamp(max(3, 7 / factor + 5 * near), t1)
            t3 = clamp(max(4, 21 / factor + 7 * near), t2)
        }
        self.t1 = custom.t1 != 0 ? custom.t1 : t1
        self.t2 = custom.t2 != 0 ? custom.t2 : t2
        self.t3 = custom.t3 != 0 ? custom.t3 : t3
        self.reset = custom.reset != 0 ? custom.reset : 64
    }

    /// Checks the relations ITU T.87 §C.2.4.1.1 requires, so coding cannot divide by zero or index out of range.
    func validate(codec: String) throws {
        guard maxValue >= 1, maxValue < 65536 else { throw CodecError(.corruptStream, "\(codec): MAXVAL \(maxValue) is out of range") }
        guard near >= 0, near <= min(255, maxValue / 2) else { throw CodecError(.corruptStream, "\(codec): NEAR \(near) is out of range for MAXVAL \(maxValue)") }
        guard near + 1 <= t1, t1 <= t2, t2 <= t3, t3 <= max(maxValue, 1) else {
            throw CodecError(.corruptStream, "\(codec): thresholds T1=\(t1) T2=\(t2) T3=\(t3) are invalid for MAXVAL \(maxValue), NEAR \(near)")
        }
        guard reset >= 3, reset <= max(255, maxValue) else { throw CodecError(.corruptStream, "\(codec): RESET \(reset) is out of range") }
    }
}

/// The context variables A, B, C, N (365 regular contexts) and the two run-interruption contexts with Nn (ITU T.87 §A.2.2).
final class JPEGLSContexts {
    static let regularCount = 365
    let a: UnsafeMutablePointer<Int>
    let b: UnsafeMutablePointer<Int>
    let c: UnsafeMutablePointer<Int>
    let n: UnsafeMutablePointer<Int>
    /// Nn for the run-interruption contexts 365 and 366, indexed 0 and 1.
    let nn: UnsafeMutablePointer<Int>
    let parameters: JPEGLSParameters
    /// The quantisation of a local gradient to -4...4, for gradients -maxValue...maxValue (offset by maxValue).
    let quantization: UnsafeMutablePointer<Int8>
    let quantizationOffset: Int

    static let runLengthOrder: [Int] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15]

    init(_ parameters: JPEGLSParameters) {
        self.parameters = parameters
        let total = Self.regularCount + 2
        a = .allocate(capacity: total)
        b = .allocate(capacity: total)
        c = .allocate(capacity: total)
        n = .allocate(capacity: total)
        nn = .allocate(capacity: 2)
        let initialA = max(2, (parameters.range + 32) / 64)
        a.initialize(repeating: initialA, count: total)
        b.initialize(repeating: 0, count: total)
        c.initialize(repeating: 0, count: total)
        n.initialize(repeating: 1, count: total)
        nn.initialize(repeating: 0, count: 2)
        quantizationOffset = parameters.maxValue + 2 * parameters.near + 1
        let size = 2 * quantizationOffset + 1
        quantization = .allocate(capacity: size)
        for i in 0..<size { quantization[i] = Int8(Self.quantize(i - quantizationOffset, parameters)) }
    }

    deinit {
        a.deallocate(); b.deallocate(); c.deallocate(); n.deallocate(); nn.deallocate(); quantization.deallocate()
    }

    /// Gradient quantisation (ITU T.87 §A.3.3, Figure A.4).
    static func quantize(_ d: Int, _ p: JPEGLSParameters) -> Int {
        if d <= -p.t3 { return -4 }
        if d <= -p.t2 { return -3 }
        if d <= -p.t1 { return -2 }
        if d < -p.near { return -1 }
        if d <= p.near { return 0 }
        if d < p.t1 { return 1 }
        if d < p.t2 { return 2 }
        if d < p.t3 { return 3 }
        return 4
    }

    /// Quantised gradient; `d` is always within ±(maxValue) for valid samples, clamped defensively.
    @inline(__always) func q(_ d: Int) -> Int {
        let index = min(max(d + quantizationOffset, 0), 2 * quantizationOffset)
        return Int(quantization[index])
    }

    /// Golomb parameter k of a regular context (ITU T.87 §A.5.1).
    @inline(__always) func golombK(_ q: Int) -> Int {
        Self.smallestShift(n[q], reaching: a[q])
    }

    /// The smallest k (at most 24) with `value << k >= target`, from the operands' bit lengths: `value << d` has the bit
    /// length of `target` when d is their difference, so k is d or d + 1.
    @inline(__always) static func smallestShift(_ value: Int, reaching target: Int) -> Int {
        guard value > 0, target > value else { return 0 }
        var k = value.leadingZeroBitCount - target.leadingZeroBitCount
        if (value << k) < target { k += 1 }
        return min(k, 24)
    }

    /// Updates a regular context after coding `errorValue` (ITU T.87 §A.6, Figures A.12 and A.13).
    @inline(__always) func update(_ q: Int, _ errorValue: Int) {
        let p = parameters
        b[q] += errorValue * (2 * p.near + 1)
        a[q] += abs(errorValue)
        if n[q] == p.reset {
            a[q] >>= 1
            b[q] >>= 1
            n[q] >>= 1
        }
        n[q] += 1
        if b[q] <= -n[q] {
            b[q] += n[q]
            if c[q] > -128 { c[q] -= 1 }
            if b[q] <= -n[q] { b[q] = -n[q] + 1 }
        } else if b[q] > 0 {
            b[q] -= n[q]
            if c[q] < 127 { c[q] += 1 }
            if b[q] > 0 { b[q] = 0 }
        }
    }

    /// Golomb parameter for a run-interruption context (ITU T.87 §A.7.2.1).
    @inline(__always) func runInterruptionK(_ riType: Int) -> Int {
        let q = Self.regularCount + riType
        let temp = riType == 1 ? a[q] + (n[q] >> 1) : a[q]
        return Self.smallestShift(n[q], reaching: temp)
    }

    /// Updates a run-interruption context (ITU T.87 §A.7.2.2, Figure A.23).
    @inline(__always) func updateRunInterruption(_ riType: Int, errorValue: Int, mappedError: Int) {
        let q = Self.regularCount + riType
        if errorValue < 0 { nn[riType] += 1 }
        a[q] += (mappedError + 1 - riType) >> 1
        if n[q] == parameters.reset {
            a[q] >>= 1
            n[q] >>= 1
            nn[riType] >>= 1
        }
        n[q] += 1
    }

    /// The median edge detector prediction (ITU T.87 §A.4.1).
    @inline(__always) static func predictMED(_ ra: Int, _ rb: Int, _ rc: Int) -> Int {
        if rc >= max(ra, rb) { return min(ra, rb) }
        if rc <= min(ra, rb) { return max(ra, rb) }
        return ra + rb - rc
    }

    /// Brings a reconstructed value back into 0...maxValue (ITU T.87 §A.4.4 modulo and clamp).
    @inline(__always) func fixReconstructed(_ value: Int) -> Int {
        let p = parameters
        var v = value
        if v < -p.near {
            v += p.range * (2 * p.near + 1)
        } else if v > p.maxValue + p.near {
            v -= p.range * (2 * p.near + 1)
        }
        return min(max(v, 0), p.maxValue)
    }
}
