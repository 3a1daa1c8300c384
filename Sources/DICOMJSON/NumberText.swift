import Foundation

/// Conversions between DICOM Decimal String (DS) and Integer String (IS) text (PS3.5 §6.2) and JSON
/// number literals (RFC 8259 §6), keeping the digits as written where both grammars allow it.
enum NumberText {
    /// The JSON number for a DS value (already trimmed of spaces), keeping its digits: "1.50" stays "1.50",
    /// "+.5" becomes "0.5", "1." becomes "1", "007" becomes "7". Nil when the text is not a decimal number.
    static func jsonNumber(decimalString text: Substring) -> String? {
        var bytes = Array(text.utf8)[...]
        guard !bytes.isEmpty else { return nil }
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        let integerDigits = bytes.prefix(while: isDigit)
        bytes = bytes.dropFirst(integerDigits.count)
        var fractionDigits: ArraySlice<UInt8> = []
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            fractionDigits = bytes.prefix(while: isDigit)
            bytes = bytes.dropFirst(fractionDigits.count)
        }
        guard !integerDigits.isEmpty || !fractionDigits.isEmpty else { return nil }
        var exponent = ""
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            var sign = ""
            if let s = bytes.first, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") {
                sign = s == UInt8(ascii: "-") ? "-" : "+"
                bytes = bytes.dropFirst()
            }
            let digits = bytes.prefix(while: isDigit)
            guard !digits.isEmpty else { return nil }
            bytes = bytes.dropFirst(digits.count)
            exponent = String(UnicodeScalar(e)) + sign + String(decoding: digits, as: UTF8.self)
        }
        guard bytes.isEmpty else { return nil }
        let trimmedInteger = integerDigits.drop { $0 == UInt8(ascii: "0") }
        var result = negative ? "-" : ""
        result += trimmedInteger.isEmpty ? "0" : String(decoding: trimmedInteger, as: UTF8.self)
        if !fractionDigits.isEmpty { result += "." + String(decoding: fractionDigits, as: UTF8.self) }
        return result + exponent
    }

    /// The JSON number for an IS value (already trimmed): an optionally signed run of digits, written
    /// without a plus sign or leading zeros. Nil when the text is not an integer that fits in 64 bits.
    static func jsonNumber(integerString text: Substring) -> String? {
        var digits = text
        if digits.first == "+" || digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy(isDigit) else { return nil }
        if text.first == "+" { return Int64(digits).map { String($0) } }
        return Int64(text).map { String($0) }
    }

    /// DS text of at most 16 characters (PS3.5 Table 6.2-1) for a JSON number literal: the literal itself
    /// when it fits, else the shortest representation of its value that fits.
    static func decimalString(jsonNumber literal: String) -> String? {
        guard let value = Double(literal), value.isFinite else { return nil }
        if literal.utf8.count <= 16 { return literal }
        return decimalString(value)
    }

    /// The shortest DS text of at most 16 characters that reads back as `value`, or else the closest
    /// 16-character approximation.
    static func decimalString(_ value: Double) -> String? {
        guard value.isFinite else { return nil }
        var shortest = "\(value)"
        if shortest.hasSuffix(".0") { shortest.removeLast(2) }
        if shortest.utf8.count <= 16 { return shortest }
        for precision in stride(from: 16, through: 1, by: -1) {
            var candidate = String(format: "%.\(precision)g", value)
            if candidate.contains("e") {
                // "1.5e+20" is valid DS text; drop a "+" and leading exponent zeros to save room.
                candidate = candidate.replacingOccurrences(of: "e+", with: "e")
                while let range = candidate.range(of: "e0") { candidate.replaceSubrange(range, with: "e") }
                while let range = candidate.range(of: "e-0") { candidate.replaceSubrange(range, with: "e-") }
            }
            if candidate.utf8.count <= 16 { return candidate }
        }
        return nil
    }

    /// An integer from a JSON number literal: exact for plain integer literals, and for literals with a
    /// fraction or exponent ("1.0", "1e3") when their value is integral. Nil when not integral or out of range.
    static func integer<T: FixedWidthInteger>(jsonNumber literal: String, as: T.Type) -> T? {
        if let exact = T(literal) { return exact }
        guard literal.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }),
              let value = Double(literal), value.isFinite, value.rounded() == value else { return nil }
        return T(exactly: value)
    }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}
