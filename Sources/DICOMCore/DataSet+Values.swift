import Foundation

// Typed reading and writing of values (PS3.5 §6.2). Text is decoded with the data set's resolved
// character set; binary values are little endian in `DataElement`.

extension DataSet {
    // MARK: Text

    /// The decoded text of an element, all values joined as stored (backslashes kept), padding removed.
    public func text(_ tag: Tag) -> String? {
        guard let element = self[tag], case .bytes(let data) = element.value else { return nil }
        return DataSet.trim(decodeText(data, vr: element.vr), vr: element.vr)
    }

    /// The values of a text element split at backslashes (except for LT, ST, UT and UR, which hold one value),
    /// each with its padding removed. Nil when absent; empty when present with no value.
    public func strings(_ tag: Tag) -> [String]? {
        guard let element = self[tag], case .bytes(let data) = element.value else { return nil }
        if data.isEmpty { return [] }
        let decoded = decodeText(data, vr: element.vr)
        if element.vr.isSingleValuedText || !element.vr.isString || !decoded.utf8.contains(0x5C) {
            return [DataSet.trim(decoded, vr: element.vr)]
        }
        return decoded.utf8.split(separator: 0x5C, omittingEmptySubsequences: false).map {
            DataSet.trim(Substring($0), vr: element.vr)
        }
    }

    /// The first value of a text element, padding removed; nil when absent or empty.
    public func string(_ tag: Tag) -> String? {
        guard let values = strings(tag), let first = values.first else { return nil }
        return first
    }

    func decodeText(_ data: Data, vr: VR) -> String {
        if vr.usesSpecificCharacterSet {
            return characterSet.decode(data, vr: vr)
        }
        // Other text VRs use the default repertoire: decode ASCII fast, anything else leniently as UTF-8.
        return String(decoding: data, as: UTF8.self)
    }

    /// Removes DICOM padding: trailing spaces and NULs always; leading spaces too except for LT, ST, UT (PS3.5 §6.2).
    /// Works on the UTF-8 bytes: space and NUL are single bytes that never occur inside a multi-byte character.
    static func trim(_ value: String, vr: VR) -> String {
        trim(Substring(value), vr: vr)
    }

    static func trim(_ value: Substring, vr: VR) -> String {
        let bytes = value.utf8
        var start = bytes.startIndex, end = bytes.endIndex
        while end > start {
            let before = bytes.index(before: end)
            guard bytes[before] == 0x20 || bytes[before] == 0 else { break }
            end = before
        }
        if !(vr == .LT || vr == .ST || vr == .UT || vr == .UR) {
            while start < end && bytes[start] == 0x20 { start = bytes.index(after: start) }
        }
        if start == bytes.startIndex && end == bytes.endIndex { return String(value) }
        return String(Substring(bytes[start..<end]))
    }

    /// Sets a text element from values, encoded in this data set's character set and padded to even length.
    /// Throws `.unencodableCharacter` when the character set cannot hold a character.
    public mutating func set(_ tag: Tag, vr: VR, strings values: [String]) throws {
        let joined = values.joined(separator: "\\")
        var bytes: [UInt8]
        if vr.usesSpecificCharacterSet {
            do {
                bytes = try characterSet.encode(joined, vr: vr)
            } catch var error as DICOMError {
                error.tagPath = tag.description
                throw error
            }
        } else {
            bytes = Array(joined.utf8)
            if let bad = joined.unicodeScalars.first(where: { $0.value > 0x7E || ($0.value < 0x20 && $0 != "\u{1B}") }) {
                throw DICOMError(.unencodableCharacter,
                                 "'\(bad)' (U+\(hexString(bad.value, digits: 4))) is not allowed in a \(vr) value",
                                 tagPath: tag.description)
            }
        }
        if bytes.count & 1 == 1 { bytes.append(vr.paddingByte) }
        self[tag] = DataElement(tag: tag, vr: vr, bytes: Data(bytes))
    }

    /// Sets a single-valued text element. See `set(_:vr:strings:)`.
    public mutating func set(_ tag: Tag, vr: VR, string value: String) throws {
        try set(tag, vr: vr, strings: [value])
    }

    /// Sets a text element known to be ASCII (UIDs, codes, dates); characters outside ASCII are replaced by their UTF-8 bytes.
    public mutating func setASCII(_ tag: Tag, vr: VR, _ value: String) {
        var bytes = Array(value.utf8)
        if bytes.count & 1 == 1 { bytes.append(vr.paddingByte) }
        self[tag] = DataElement(tag: tag, vr: vr, bytes: Data(bytes))
    }

    // MARK: Numbers

    /// The values of a numeric element: IS and DS text, or US, SS, UL, SL, SV, UV, FL, FD binary values.
    /// Nil when absent, not numeric, or a value does not parse.
    public func doubles(_ tag: Tag) -> [Double]? {
        guard let element = self[tag], case .bytes(let data) = element.value else { return nil }
        switch element.vr {
        case .DS, .IS:
            guard let values = strings(tag) else { return nil }
            var result: [Double] = []
            for value in values where !value.isEmpty {
                guard let number = Double(value) else { return nil }
                result.append(number)
            }
            return result
        case .FL, .OF: return DataSet.binary(data, Float.self).map(Double.init)
        case .FD, .OD: return DataSet.binary(data, Double.self)
        default: return integers(tag).map { $0.map(Double.init) }
        }
    }

    /// The first numeric value as a Double.
    public func double(_ tag: Tag) -> Double? { doubles(tag)?.first }

    /// The values of an integer element: IS text or US, SS, UL, SL, SV, UV, OW, OL, AT binary values
    /// (UV values beyond Int.max are clamped). Nil when absent or a value does not parse.
    public func integers(_ tag: Tag) -> [Int]? {
        guard let element = self[tag], case .bytes(let data) = element.value else { return nil }
        switch element.vr {
        case .IS, .DS:
            guard let values = strings(tag) else { return nil }
            var result: [Int] = []
            for value in values where !value.isEmpty {
                if let number = Int(value.hasPrefix("+") ? String(value.dropFirst()) : value) {
                    result.append(number)
                } else if let number = Double(value), number.rounded() == number, abs(number) < 9e18 {
                    result.append(Int(number))
                } else {
                    return nil
                }
            }
            return result
        case .US, .OW: return DataSet.binary(data, UInt16.self).map(Int.init)
        case .SS: return DataSet.binary(data, Int16.self).map(Int.init)
        case .UL, .OL: return DataSet.binary(data, UInt32.self).map(Int.init)
        case .SL: return DataSet.binary(data, Int32.self).map(Int.init)
        case .SV, .OV: return DataSet.binary(data, Int64.self).map(Int.init)
        case .UV: return DataSet.binary(data, UInt64.self).map { Int(clamping: $0) }
        default: return nil
        }
    }

    /// The first integer value.
    public func integer(_ tag: Tag) -> Int? { integers(tag)?.first }

    /// Binary values of a fixed-size type read from little-endian bytes; a trailing partial value is ignored.
    public static func binary<T: FixedWidthInteger>(_ data: Data, _ type: T.Type) -> [T] {
        data.withUnsafeBytes { raw in
            let n = raw.count / MemoryLayout<T>.size
            return (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
    }

    static func binary(_ data: Data, _ type: Float.Type) -> [Float] {
        binary(data, UInt32.self).map { Float(bitPattern: $0) }
    }

    static func binary(_ data: Data, _ type: Double.Type) -> [Double] {
        binary(data, UInt64.self).map { Double(bitPattern: $0) }
    }

    /// The values of a UInt16 element (US, OW).
    public func uint16s(_ tag: Tag) -> [UInt16]? { self[tag]?.bytes.map { DataSet.binary($0, UInt16.self) } }
    /// The values of a UInt32 element (UL, OL).
    public func uint32s(_ tag: Tag) -> [UInt32]? { self[tag]?.bytes.map { DataSet.binary($0, UInt32.self) } }

    /// The tags of an AT element.
    public func tags(_ tag: Tag) -> [Tag]? {
        guard let values = uint16s(tag) else { return nil }
        return stride(from: 0, to: values.count - 1, by: 2).map { Tag(values[$0], values[$0 + 1]) }
    }

    /// Sets binary integer values with the encoding of `vr` (US, SS, UL, SL, SV, UV, AT as pairs, OW, OL), or IS text.
    public mutating func set(_ tag: Tag, vr: VR, integers values: [Int]) throws {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: Int, _ type: T.Type) throws {
            guard let v = T(exactly: value) else {
                throw DICOMError(.invalidValue, "\(value) does not fit in \(vr)", tagPath: tag.description)
            }
            withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
        }
        for value in values {
            switch vr {
            case .US, .OW, .AT: try append(value, UInt16.self)
            case .SS: try append(value, Int16.self)
            case .UL, .OL: try append(value, UInt32.self)
            case .SL: try append(value, Int32.self)
            case .SV, .OV: try append(value, Int64.self)
            case .UV: try append(value, UInt64.self)
            case .IS:
                try set(tag, vr: .IS, strings: values.map(String.init))
                return
            default:
                throw DICOMError(.invalidValue, "\(vr) does not hold binary integers", tagPath: tag.description)
            }
        }
        self[tag] = DataElement(tag: tag, vr: vr, bytes: Data(bytes))
    }

    /// Sets floating-point values as FL, FD, OF, OD binary values, or as DS text (at most 16 characters per value).
    public mutating func set(_ tag: Tag, vr: VR, doubles values: [Double]) throws {
        var bytes: [UInt8] = []
        switch vr {
        case .FL, .OF:
            for value in values { withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        case .FD, .OD:
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        case .DS:
            try set(tag, vr: .DS, strings: values.map(DecimalString.format))
            return
        default:
            throw DICOMError(.invalidValue, "\(vr) does not hold floating-point values", tagPath: tag.description)
        }
        self[tag] = DataElement(tag: tag, vr: vr, bytes: Data(bytes))
    }
}

/// Formatting of Decimal String values (PS3.5 §6.2: at most 16 characters).
public enum DecimalString {
    /// The shortest text for `value` that fits in 16 characters.
    public static func format(_ value: Double) -> String {
        if value.isNaN || value.isInfinite { return "0" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        let plain = "\(value)"
        if plain.count <= 16 { return plain }
        for digits in stride(from: 15, through: 1, by: -1) {
            let text = String(format: "%.\(digits)g", value)
            if text.count <= 16 { return text }
        }
        return String(format: "%.6e", value)
    }
}
