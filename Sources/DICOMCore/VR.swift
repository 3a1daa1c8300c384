/// A value representation (PS3.5 §6.2): the 34 VRs of the current standard.
///
/// The raw value is the two ASCII characters as they appear in an explicit VR encoding,
/// first character in the high byte.
public enum VR: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case AE = 0x4145, AS = 0x4153, AT = 0x4154, CS = 0x4353, DA = 0x4441, DS = 0x4453, DT = 0x4454
    case FL = 0x464C, FD = 0x4644, IS = 0x4953, LO = 0x4C4F, LT = 0x4C54, OB = 0x4F42, OD = 0x4F44
    case OF = 0x4F46, OL = 0x4F4C, OV = 0x4F56, OW = 0x4F57, PN = 0x504E, SH = 0x5348, SL = 0x534C
    case SQ = 0x5351, SS = 0x5353, ST = 0x5354, SV = 0x5356, TM = 0x544D, UC = 0x5543, UI = 0x5549
    case UL = 0x554C, UN = 0x554E, UR = 0x5552, US = 0x5553, UT = 0x5554, UV = 0x5556

    /// The VR from its two ASCII bytes, or nil when they name no VR.
    @inlinable public init?(byte0: UInt8, byte1: UInt8) {
        self.init(rawValue: UInt16(byte0) << 8 | UInt16(byte1))
    }

    /// The VR from its two-letter name, e.g. "PN".
    public init?(_ name: some StringProtocol) {
        let bytes = Array(name.utf8)
        guard bytes.count == 2 else { return nil }
        self.init(byte0: bytes[0], byte1: bytes[1])
    }

    public var description: String {
        String(decoding: [UInt8(rawValue >> 8), UInt8(rawValue & 0xFF)], as: UTF8.self)
    }

    /// In explicit VR encodings these VRs have two reserved bytes and a 32-bit length (PS3.5 §7.1.2, Table 7.1-1).
    @inlinable public var hasLongLength: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .SQ, .SV, .UC, .UN, .UR, .UT, .UV: return true
        default: return false
        }
    }

    /// Values of these VRs are text (PS3.5 §6.2), padded with a space.
    @inlinable public var isString: Bool {
        switch self {
        case .AE, .AS, .CS, .DA, .DS, .DT, .IS, .LO, .LT, .PN, .SH, .ST, .TM, .UC, .UI, .UR, .UT: return true
        default: return false
        }
    }

    /// Text VRs whose values are affected by Specific Character Set (0008,0005) (PS3.5 §6.1.2.3).
    @inlinable public var usesSpecificCharacterSet: Bool {
        switch self {
        case .SH, .LO, .ST, .LT, .PN, .UC, .UT: return true
        default: return false
        }
    }

    /// Text VRs that hold a single value whatever backslashes they contain (PS3.5 §6.2: LT, ST, UT, UR).
    @inlinable public var isSingleValuedText: Bool {
        switch self {
        case .LT, .ST, .UT, .UR: return true
        default: return false
        }
    }

    /// The byte that pads a value to even length: NUL for UI and binary VRs, space for other text (PS3.5 §6.2).
    @inlinable public var paddingByte: UInt8 {
        if self == .UI { return 0 }
        return isString ? 0x20 : 0
    }

    /// The size of one binary number for numeric VRs, which is also the unit a big-endian value is byte-swapped in;
    /// 1 for byte-oriented and text VRs.
    @inlinable public var wordSize: Int {
        switch self {
        case .US, .SS, .OW, .AT: return 2
        case .UL, .SL, .FL, .OF, .OL: return 4
        case .FD, .OD, .SV, .UV, .OV: return 8
        default: return 1
        }
    }

    /// The fixed length of one value for the binary numeric VRs (US 2, UL 4, FD 8…), or nil.
    @inlinable public var fixedValueLength: Int? {
        switch self {
        case .US, .SS: return 2
        case .UL, .SL, .FL, .AT: return 4
        case .FD, .SV, .UV: return 8
        default: return nil
        }
    }
}
