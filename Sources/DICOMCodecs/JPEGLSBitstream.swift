import Foundation

/// Reads JPEG-LS entropy-coded data MSB first (ITU T.87 §A.1, §9.1): after a 0xFF byte the next byte carries 7 bits,
/// and 0xFF followed by a byte with its high bit set is a marker, where reading stops. Past the marker or the end of the
/// data it supplies zero bits and counts them, so truncation is reported instead of reading out of bounds.
struct JPEGLSBitReader {
    let base: UnsafePointer<UInt8>
    let count: Int
    var position: Int
    var buffer: UInt64 = 0
    var bitCount = 0
    var reachedMarker = false
    var paddingBits = 0
    private var afterFF = false

    init(base: UnsafePointer<UInt8>, count: Int, position: Int) {
        self.base = base
        self.count = count
        self.position = position
    }

    @inline(__always) mutating func fill() {
        // Fast path: no 0xFF among the next eight bytes (and none just before), so whole bytes can be taken at once.
        if !reachedMarker && !afterFF && position + 8 <= count {
            let word = UInt64(bigEndian: UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self))
            let inverted = ~word
            if (inverted &- 0x0101_0101_0101_0101) & ~inverted & 0x8080_8080_8080_8080 == 0 {
                let taken = (64 - bitCount) >> 3
                buffer |= (word >> UInt64(64 - 8 * taken)) << UInt64(64 - bitCount - 8 * taken)
                position += taken
                bitCount += 8 * taken
                return
            }
        }
        while bitCount <= 56 {
            if !reachedMarker && position < count {
                let value = base[position]
                if afterFF {
                    if value & 0x80 != 0 {
                        // Cannot follow a data 0xFF in a valid stream (the 0xFF would have been taken as a marker).
                        reachedMarker = true
                        continue
                    }
                    buffer |= UInt64(value) << UInt64(57 - bitCount)
                    bitCount += 7
                    position += 1
                    afterFF = false
                } else if value == 0xFF {
                    if position + 1 >= count || base[position + 1] & 0x80 != 0 {
                        reachedMarker = true
                        continue
                    }
                    buffer |= UInt64(0xFF) << UInt64(56 - bitCount)
                    bitCount += 8
                    position += 1
                    afterFF = true
                } else {
                    buffer |= UInt64(value) << UInt64(56 - bitCount)
                    bitCount += 8
                    position += 1
                }
            } else {
                paddingBits += 8
                bitCount += 8
            }
        }
    }

    var consumedPadding: Int { max(0, paddingBits - bitCount) }

    @inline(__always) mutating func skip(_ n: Int) {
        buffer = n >= 64 ? 0 : buffer << UInt64(n)
        bitCount -= n
    }

    /// Reads `n` (0...32) bits.
    @inline(__always) mutating func bits(_ n: Int) -> Int {
        if n == 0 { return 0 }
        if bitCount < n { fill() }
        let value = Int(buffer >> UInt64(64 - n))
        skip(n)
        return value
    }

    @inline(__always) mutating func bit() -> Bool {
        if bitCount < 1 { fill() }
        let value = buffer >> 63 != 0
        skip(1)
        return value
    }

    /// Counts zero bits up to the next 1 bit, which is consumed; nil when more than `maximum` zeros follow.
    @inline(__always) mutating func unary(maximum: Int) -> Int? {
        var zeros = 0
        while true {
            if bitCount < 32 { fill() }
            let leading = buffer.leadingZeroBitCount
            if leading < bitCount {
                zeros += leading
                skip(leading + 1)
                return zeros <= maximum ? zeros : nil
            }
            zeros += bitCount
            skip(bitCount)
            if zeros > maximum { return nil }
        }
    }

    /// The position of the marker after the entropy-coded data, or nil when the data ends without one.
    mutating func markerPosition() -> Int? {
        var p = min(position, count)
        while p + 1 < count {
            if base[p] == 0xFF && base[p + 1] & 0x80 != 0 {
                return p
            }
            p += 1
        }
        return nil
    }
}

/// Writes JPEG-LS entropy-coded data with the bit stuffing of ITU T.87 §A.1: after each 0xFF byte a 0 bit is inserted.
struct JPEGLSBitWriter {
    var bytes: [UInt8]
    private var buffer: UInt64 = 0
    private var bitCount = 0
    private var lastWasFF = false

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    @inline(__always) mutating func write(_ value: Int, _ n: Int) {
        if n == 0 { return }
        if n > 32 {
            write(0, n - 32)
            write(value, 32)
            return
        }
        buffer = (buffer << UInt64(n)) | (UInt64(truncatingIfNeeded: value) & ((1 << UInt64(n)) - 1))
        bitCount += n
        drain()
    }

    @inline(__always) private mutating func drain() {
        while true {
            let width = lastWasFF ? 7 : 8
            guard bitCount >= width else { return }
            bitCount -= width
            let byte = UInt8(truncatingIfNeeded: (buffer >> UInt64(bitCount)) & ((1 << UInt64(width)) - 1))
            bytes.append(byte)
            lastWasFF = byte == 0xFF
        }
    }

    /// Writes `count` zero bits.
    @inline(__always) mutating func writeZeros(_ count: Int) {
        var remaining = count
        while remaining > 0 {
            let n = min(remaining, 32)
            write(0, n)
            remaining -= n
        }
    }

    /// Pads the last byte with zero bits; after a final 0xFF a zero byte keeps the following marker unambiguous.
    mutating func flush() {
        let width = lastWasFF ? 7 : 8
        if bitCount > 0 { write(0, width - bitCount) }
        if lastWasFF { bytes.append(0) }
    }
}
