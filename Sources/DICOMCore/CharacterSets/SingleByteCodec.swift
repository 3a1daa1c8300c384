/// Decoding and encoding for one `SingleByteCode`, built once from its generated table.
///
/// Decoding writes UTF-8 straight into the new string from a 128-entry table of pre-encoded
/// UTF-8 sequences; encoding looks the scalar up in a reverse dictionary.
final class SingleByteCodec: Sendable {
    let code: SingleByteCode
    /// For bytes 0x80–0xFF: the UTF-8 bytes of the character, packed little-endian, length in the top byte.
    private let utf8: [UInt32]
    /// Scalar value to byte, for the defined bytes 0x80–0xFF.
    private let reverse: [UInt32: UInt8]

    private init(_ code: SingleByteCode) {
        self.code = code
        var utf8: [UInt32] = []
        var reverse: [UInt32: UInt8] = [:]
        for (index, value) in code.upperHalf.enumerated() {
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            var packed: UInt32 = 0
            var length: UInt32 = 0
            for byte in String(scalar).utf8 {
                packed |= UInt32(byte) << (8 * length)
                length += 1
            }
            utf8.append(packed | length << 24)
            if value != 0xFFFD && reverse[UInt32(value)] == nil {
                reverse[UInt32(value)] = UInt8(0x80 + index)
            }
        }
        self.utf8 = utf8
        self.reverse = reverse
    }

    private static let all: [SingleByteCodec] = SingleByteCode.allCases.map(SingleByteCodec.init)

    /// The shared codec for a code.
    static func codec(for code: SingleByteCode) -> SingleByteCodec { all[Int(code.rawValue)] }

    /// The byte for a scalar in the upper half, or nil when the code does not hold it.
    @inline(__always) func upperByte(for scalar: Unicode.Scalar) -> UInt8? { reverse[scalar.value] }

    /// Appends the UTF-8 form of an upper-half byte (0x80–0xFF).
    @inline(__always) func appendUpper(_ byte: UInt8, to output: inout [UInt8]) {
        let packed = utf8[Int(byte &- 0x80)]
        let length = Int(packed >> 24)
        for i in 0..<length { output.append(UInt8(truncatingIfNeeded: packed >> (8 * UInt32(i)))) }
    }

    /// Decodes a whole value; bytes the code does not define become U+FFFD.
    func decode(_ input: UnsafeBufferPointer<UInt8>) -> String {
        if input.isEmpty { return "" }
        return utf8.withUnsafeBufferPointer { table in
            String(unsafeUninitializedCapacity: input.count * 3) { output in
                var j = 0
                for byte in input {
                    if byte < 0x80 {
                        output[j] = byte
                        j += 1
                    } else {
                        let packed = table[Int(byte &- 0x80)]
                        output[j] = UInt8(truncatingIfNeeded: packed)
                        output[j + 1] = UInt8(truncatingIfNeeded: packed >> 8)
                        if packed >> 24 == 3 { output[j + 2] = UInt8(truncatingIfNeeded: packed >> 16) }
                        j += Int(packed >> 24)
                    }
                }
                return j
            }
        }
    }

    /// Encodes a whole string; throws `.unencodableCharacter` naming the first character the code lacks.
    func encode(_ string: String, setName: String) throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(string.utf8.count)
        for (offset, scalar) in string.unicodeScalars.enumerated() {
            if scalar.value < 0x80 {
                output.append(UInt8(scalar.value))
            } else if let byte = reverse[scalar.value] {
                output.append(byte)
            } else {
                throw unencodable(scalar, at: offset, in: setName)
            }
        }
        return output
    }
}

/// The error for a character that a character set cannot hold: names the character, its code point
/// and Unicode name, its position, and the set. The text itself is not quoted (it is often a patient's name).
func unencodable(_ scalar: Unicode.Scalar, at offset: Int, in setName: String, hint: String? = nil) -> DICOMError {
    let name = scalar.properties.name.map { " " + $0 } ?? ""
    let shown = scalar.properties.generalCategory == .control ? "" : "'\(scalar)' "
    var message = "\(shown)(U+\(hexString(scalar.value, digits: 4))\(name)) at character \(offset + 1) cannot be written in \(setName)"
    if let hint { message += "; " + hint }
    return DICOMError(.unencodableCharacter, message)
}
