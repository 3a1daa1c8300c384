import Foundation

/// JPEG marker codes used by the pure-Swift codecs (ITU T.81 Table B.1, ITU T.87 Table C.1).
enum JPEGMarker {
    static let soi: UInt8 = 0xD8
    static let eoi: UInt8 = 0xD9
    static let sos: UInt8 = 0xDA
    static let dqt: UInt8 = 0xDB
    static let dnl: UInt8 = 0xDC
    static let dri: UInt8 = 0xDD
    static let dht: UInt8 = 0xC4
    static let dac: UInt8 = 0xCC
    static let sof3: UInt8 = 0xC3
    static let sof55: UInt8 = 0xF7
    static let lse: UInt8 = 0xF8
    static let rst0: UInt8 = 0xD0

    /// A human-readable name for error messages.
    static func name(_ code: UInt8) -> String {
        switch code {
        case 0xC0...0xCF where code != 0xC4 && code != 0xC8 && code != 0xCC: return "SOF\(code - 0xC0)"
        case dht: return "DHT"
        case dac: return "DAC"
        case 0xD0...0xD7: return "RST\(code - 0xD0)"
        case soi: return "SOI"
        case eoi: return "EOI"
        case sos: return "SOS"
        case dqt: return "DQT"
        case dnl: return "DNL"
        case dri: return "DRI"
        case 0xE0...0xEF: return "APP\(code - 0xE0)"
        case 0xFE: return "COM"
        case sof55: return "SOF55"
        case lse: return "LSE"
        default: return String(format: "0xFF%02X", code)
        }
    }
}

/// Reads the marker segments of a JPEG or JPEG-LS stream (ITU T.81 §B.1.1), checking every length against the data.
struct JPEGMarkerReader {
    let bytes: [UInt8]
    var position = 0
    /// The codec name used in error messages.
    let codec: String

    init(_ data: Data, codec: String) {
        bytes = [UInt8](data)
        self.codec = codec
    }

    func corrupt(_ message: String) -> CodecError {
        CodecError(.corruptStream, "\(codec): \(message)")
    }

    /// Reads a DHT segment (ITU T.81 §B.2.4.2): each table's class (0 DC or lossless, 1 AC), identifier, code counts
    /// (BITS) and symbols (HUFFVAL), checked against the segment length.
    mutating func readHuffmanTableSpecifications(_ marker: UInt8) throws -> [(tableClass: Int, id: Int, counts: [Int], symbols: [UInt8])] {
        let range = try readSegment(marker)
        var cursor = JPEGSegmentCursor(self, range, name: "DHT")
        var result: [(tableClass: Int, id: Int, counts: [Int], symbols: [UInt8])] = []
        while cursor.remaining > 0 {
            let classAndID = try cursor.u8()
            let tableClass = classAndID >> 4, id = classAndID & 15
            guard tableClass <= 1, id <= 3 else { throw corrupt("DHT table class \(tableClass) / identifier \(id) is invalid") }
            var counts: [Int] = []
            for _ in 0..<16 { counts.append(try cursor.u8()) }
            let total = counts.reduce(0, +)
            guard total <= 256, total <= cursor.remaining else {
                throw corrupt("DHT table \(id) declares \(total) codes but the segment holds \(cursor.remaining) bytes")
            }
            var symbols: [UInt8] = []
            for _ in 0..<total { symbols.append(UInt8(try cursor.u8())) }
            result.append((tableClass, id, counts, symbols))
        }
        return result
    }

    /// Reads the next marker code, skipping fill bytes (0xFF) before it.
    mutating func readMarker() throws -> UInt8 {
        guard position < bytes.count else { throw corrupt("stream ends at byte \(position) where a marker was expected (truncated?)") }
        guard bytes[position] == 0xFF else {
            throw corrupt(String(format: "expected a marker at byte %d, found 0x%02X", position, bytes[position]))
        }
        while position < bytes.count, bytes[position] == 0xFF { position += 1 }
        guard position < bytes.count else { throw corrupt("stream ends inside a marker at byte \(position)") }
        let code = bytes[position]
        position += 1
        guard code != 0 else { throw corrupt("stuffed byte 0xFF00 at byte \(position - 2) outside entropy-coded data") }
        return code
    }

    /// Reads a marker segment's length field and returns the payload's range, advancing past it.
    mutating func readSegment(_ marker: UInt8) throws -> Range<Int> {
        guard position + 2 <= bytes.count else { throw corrupt("\(JPEGMarker.name(marker)) segment truncated at byte \(position)") }
        let length = Int(bytes[position]) << 8 | Int(bytes[position + 1])
        guard length >= 2 else { throw corrupt("\(JPEGMarker.name(marker)) segment length \(length) is less than 2") }
        guard position + length <= bytes.count else {
            throw corrupt("\(JPEGMarker.name(marker)) segment length \(length) at byte \(position) runs past the end of the stream (\(bytes.count) bytes)")
        }
        let range = (position + 2)..<(position + length)
        position += length
        return range
    }
}

/// A bounds-checked cursor over a marker segment's payload.
struct JPEGSegmentCursor {
    let bytes: [UInt8]
    var position: Int
    let end: Int
    let name: String
    let codec: String

    init(_ reader: JPEGMarkerReader, _ range: Range<Int>, name: String) {
        bytes = reader.bytes
        position = range.lowerBound
        end = range.upperBound
        self.name = name
        codec = reader.codec
    }

    var remaining: Int { end - position }

    mutating func u8() throws -> Int {
        guard position < end else { throw CodecError(.corruptStream, "\(codec): \(name) segment is too short") }
        defer { position += 1 }
        return Int(bytes[position])
    }

    mutating func u16() throws -> Int {
        let high = try u8()
        return high << 8 | (try u8())
    }

    func requireEnd() throws {
        guard position == end else {
            throw CodecError(.corruptStream, "\(codec): \(name) segment has \(end - position) unexpected trailing bytes")
        }
    }
}

/// A Huffman decoding table (ITU T.81 §C and Annex F.2.2.3), with a 9-bit lookahead table for short codes.
final class JPEGHuffmanDecodingTable: @unchecked Sendable {
    static let lookaheadBits = 9
    /// Indexed by the next 9 bits: `length << 8 | symbol`, or 0 when the code is longer than 9 bits.
    let lookahead: UnsafeMutablePointer<UInt16>
    /// For code lengths 1...16: the largest code of that length, or -1 when there is none.
    let maxCode: UnsafeMutablePointer<Int32>
    /// For code lengths 1...16: index in `values` of the first code of that length minus that code.
    let valueOffset: UnsafeMutablePointer<Int32>
    let values: UnsafeMutablePointer<UInt8>
    let valueCount: Int

    /// Builds the table from the DHT counts (BITS, 16 entries) and symbols (HUFFVAL); throws when the codes overflow.
    init(counts: [Int], symbols: [UInt8], codec: String) throws {
        lookahead = .allocate(capacity: 1 << Self.lookaheadBits)
        lookahead.initialize(repeating: 0, count: 1 << Self.lookaheadBits)
        maxCode = .allocate(capacity: 18)
        maxCode.initialize(repeating: -1, count: 18)
        valueOffset = .allocate(capacity: 18)
        valueOffset.initialize(repeating: 0, count: 18)
        valueCount = symbols.count
        values = .allocate(capacity: max(1, symbols.count))
        values.initialize(repeating: 0, count: max(1, symbols.count))
        for (index, symbol) in symbols.enumerated() { values[index] = symbol }
        var code = 0
        var index = 0
        for length in 1...16 {
            let count = counts[length - 1]
            if count > 0 {
                valueOffset[length] = Int32(index - code)
                for _ in 0..<count {
                    guard code < (1 << length) else {
                        throw CodecError(.corruptStream, "\(codec): DHT code lengths overflow (too many codes of length \(length))")
                    }
                    if length <= Self.lookaheadBits {
                        let shift = Self.lookaheadBits - length
                        let entry = UInt16(length << 8) | UInt16(symbols[index])
                        for fill in 0..<(1 << shift) { lookahead[(code << shift) | fill] = entry }
                    }
                    code += 1
                    index += 1
                }
                maxCode[length] = Int32(code - 1)
            }
            code <<= 1
        }
        maxCode[17] = Int32.max
    }

    deinit {
        lookahead.deallocate()
        maxCode.deallocate()
        valueOffset.deallocate()
        values.deallocate()
    }
}

/// Reads the entropy-coded segment of a Huffman-coded JPEG scan MSB first, removing stuffed zero bytes (ITU T.81 §F.1.2.3).
///
/// Stops at the first marker; past it (or past the end of the data) it supplies zero bits and counts them, so the caller can
/// report a truncated stream instead of reading out of bounds.
struct JPEGHuffmanBitReader {
    let base: UnsafePointer<UInt8>
    let count: Int
    var position: Int
    /// Bits left-aligned: the next bit is bit 63.
    var buffer: UInt64 = 0
    var bitCount = 0
    /// A marker (0xFF followed by non-zero) was reached; `position` points at its 0xFF.
    var reachedMarker = false
    /// Zero bits supplied after the marker or the end of the data.
    var paddingBits = 0

    init(base: UnsafePointer<UInt8>, count: Int, position: Int) {
        self.base = base
        self.count = count
        self.position = position
    }

    /// Tops the buffer up to at least 57 bits.
    @inline(__always) mutating func fill() {
        // Fast path: the next eight bytes hold no 0xFF, so whole bytes can be taken at once.
        if !reachedMarker && position + 8 <= count {
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
            var byte: UInt64 = 0
            if !reachedMarker && position < count {
                let value = base[position]
                if value != 0xFF {
                    byte = UInt64(value)
                    position += 1
                } else if position + 1 < count && base[position + 1] == 0 {
                    byte = 0xFF
                    position += 2
                } else {
                    reachedMarker = true
                    paddingBits += 8
                }
            } else {
                paddingBits += 8
            }
            buffer |= byte << UInt64(56 - bitCount)
            bitCount += 8
        }
    }

    /// Zero bits consumed beyond the real data.
    var consumedPadding: Int { max(0, paddingBits - bitCount) }

    @inline(__always) mutating func skip(_ n: Int) {
        buffer <<= UInt64(n)
        bitCount -= n
    }

    /// Decodes one Huffman symbol; returns -1 for a code that is not in the table.
    @inline(__always) mutating func decodeSymbol(_ table: JPEGHuffmanDecodingTable) -> Int {
        if bitCount < 16 { fill() }
        let entry = table.lookahead[Int(buffer >> UInt64(64 - JPEGHuffmanDecodingTable.lookaheadBits))]
        if entry != 0 {
            skip(Int(entry >> 8))
            return Int(entry & 0xFF)
        }
        var length = JPEGHuffmanDecodingTable.lookaheadBits + 1
        while length <= 16 {
            let code = Int32(truncatingIfNeeded: buffer >> UInt64(64 - length))
            if code <= table.maxCode[length] {
                let index = Int(table.valueOffset[length] + code)
                guard index >= 0, index < table.valueCount else { return -1 }
                skip(length)
                return Int(table.values[index])
            }
            length += 1
        }
        return -1
    }

    /// Reads `n` (0...16) bits as an unsigned value.
    @inline(__always) mutating func bits(_ n: Int) -> Int {
        if n == 0 { return 0 }
        if bitCount < n { fill() }
        let value = Int(buffer >> UInt64(64 - n))
        skip(n)
        return value
    }

    /// Discards buffered bits and moves to the marker following the entropy-coded data (for RSTn and end of scan).
    /// Returns false when no marker follows (end of data).
    mutating func alignToMarker() -> Bool {
        // Bytes already loaded into the buffer are consumed; scan forward to the next marker.
        buffer = 0
        bitCount = 0
        paddingBits = 0
        reachedMarker = false
        while position < count {
            if base[position] == 0xFF {
                if position + 1 < count, base[position + 1] == 0 { position += 2; continue }
                if position + 1 < count, base[position + 1] == 0xFF { position += 1; continue }
                return position + 1 < count
            }
            position += 1
        }
        return false
    }
}

/// Writes a Huffman-coded entropy segment MSB first with 0xFF00 byte stuffing (ITU T.81 §F.1.2.3).
struct JPEGHuffmanBitWriter {
    var bytes: [UInt8] = []
    var buffer: UInt64 = 0
    var bitCount = 0

    @inline(__always) mutating func write(_ value: Int, _ n: Int) {
        if n == 0 { return }
        buffer = (buffer << UInt64(n)) | (UInt64(truncatingIfNeeded: value) & ((1 << UInt64(n)) - 1))
        bitCount += n
        while bitCount >= 8 {
            bitCount -= 8
            let byte = UInt8(truncatingIfNeeded: buffer >> UInt64(bitCount))
            bytes.append(byte)
            if byte == 0xFF { bytes.append(0) }
        }
    }

    /// Pads the last byte with 1 bits (ITU T.81 §F.1.2.3).
    mutating func flush() {
        if bitCount > 0 { write((1 << (8 - bitCount)) - 1, 8 - bitCount) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendMarker(_ code: UInt8) {
        append(0xFF)
        append(code)
    }

    mutating func appendUInt16(_ value: Int) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }
}
