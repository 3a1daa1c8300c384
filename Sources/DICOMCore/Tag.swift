/// A data element tag: a group number and an element number (PS3.5 §7.1).
///
/// Tags order numerically, group first, which is the order elements take in a data set.
public struct Tag: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The tag as one 32-bit number, group in the high 16 bits.
    public let rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable public init(_ group: UInt16, _ element: UInt16) {
        rawValue = UInt32(group) << 16 | UInt32(element)
    }

    @inlinable public init(group: UInt16, element: UInt16) { self.init(group, element) }

    @inlinable public var group: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 16) }
    @inlinable public var element: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// Private tags have an odd group number (PS3.5 §7.8), except groups 0001, 0003, 0005, 0007 and FFFF which are not allowed.
    @inlinable public var isPrivate: Bool { group & 1 == 1 }

    /// A private creator element (gggg,0010-00FF) in an odd group (PS3.5 §7.8.1).
    @inlinable public var isPrivateCreator: Bool { isPrivate && element >= 0x0010 && element <= 0x00FF }

    /// For a private data element (gggg,xxyy) with xx ≥ 0x10, the tag of the private creator element that reserves its block.
    public var privateCreatorTag: Tag? {
        guard isPrivate, element >= 0x1000 else { return nil }
        return Tag(group, element >> 8)
    }

    /// Group length elements (gggg,0000).
    @inlinable public var isGroupLength: Bool { element == 0 }

    /// The command group (0000) of a DIMSE command set.
    @inlinable public var isCommand: Bool { group == 0 }

    /// File Meta Information (0002,eeee).
    @inlinable public var isFileMeta: Bool { group == 2 }

    /// Item (FFFE,E000), Item Delimitation (FFFE,E00D) and Sequence Delimitation (FFFE,E0DD) tags.
    @inlinable public var isDelimiter: Bool { group == 0xFFFE }

    @inlinable public static func < (lhs: Tag, rhs: Tag) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `(gggg,eeee)` in upper-case hexadecimal, as DCMTK and the standard print tags.
    public var description: String {
        "(\(hex4(group)),\(hex4(element)))"
    }

    /// Parses `gggg,eeee`, `(gggg,eeee)` or `ggggeeee` (hexadecimal).
    public init?(parsing text: some StringProtocol) {
        var s = Substring(text)
        if s.hasPrefix("(") && s.hasSuffix(")") { s = s.dropFirst().dropLast() }
        let digits = s.filter { $0 != "," }
        guard digits.count == 8, s.count == 8 || (s.count == 9 && s[s.index(s.startIndex, offsetBy: 4)] == ","),
              let value = UInt32(digits, radix: 16) else { return nil }
        self.init(rawValue: value)
    }
}

@usableFromInline func hex4(_ value: UInt16) -> String {
    let digits: [UInt8] = Array("0123456789ABCDEF".utf8)
    var out = [UInt8](repeating: 0, count: 4)
    var v = value
    for i in (0..<4).reversed() { out[i] = digits[Int(v & 0xF)]; v >>= 4 }
    return String(decoding: out, as: UTF8.self)
}

/// Upper-case hexadecimal with a fixed number of digits.
public func hexString(_ value: some BinaryInteger & FixedWidthInteger, digits: Int) -> String {
    let s = String(value, radix: 16, uppercase: true)
    return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
}

/// Bytes as lower-case hexadecimal, two digits each (how SHA-256 digests and certificate fingerprints are written).
public func lowercaseHex(_ bytes: some Sequence<UInt8>) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.underestimatedCount * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}
