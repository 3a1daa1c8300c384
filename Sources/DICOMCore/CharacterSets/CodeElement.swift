/// A coded character set that ISO 2022 designates into G0 or G1 (PS3.5 §6.1.2.5, PS3.3 Table C.12-3/-4).
///
/// DICOM uses 8-bit ISO 2022 with G0 invoked into GL (bytes 0x21–0x7E) and G1 into GR (0xA1–0xFE);
/// designations are escape sequences and there is no locking or single shift.
enum CodeElement: Hashable, Sendable {
    /// ISO-IR 6, ASCII, in G0: ESC ( B.
    case ascii
    /// ISO-IR 14, JIS X 0201 Romaji, in G0: ESC ( J. Decoded as ASCII, as other toolkits do
    /// (it differs only at 0x5C YEN SIGN and 0x7E OVERLINE, and 0x5C must stay the value delimiter).
    case jisRoman
    /// ISO-IR 87, JIS X 0208 (Kanji), a 94×94 set in G0: ESC $ B.
    case jisX0208
    /// ISO-IR 159, JIS X 0212 (supplementary Kanji), a 94×94 set in G0: ESC $ ( D.
    case jisX0212
    /// The upper half of a single-byte code in G1, e.g. ISO 8859-5 for ISO-IR 144: ESC - L.
    case upperHalf(SingleByteCode)
    /// ISO-IR 149, KS X 1001 (Hangul and Hanja), a 94×94 set in G1: ESC $ ) C.
    case ksX1001
    /// ISO-IR 58, GB 2312, a 94×94 set in G1: ESC $ ) A.
    case gb2312

    /// Whether the element is designated into G0 (else G1).
    var isG0: Bool {
        switch self {
        case .ascii, .jisRoman, .jisX0208, .jisX0212: return true
        case .upperHalf, .ksX1001, .gb2312: return false
        }
    }

    /// Whether a character takes two bytes.
    var isDoubleByte: Bool {
        switch self {
        case .jisX0208, .jisX0212, .ksX1001, .gb2312: return true
        case .ascii, .jisRoman, .upperHalf: return false
        }
    }

    /// The bytes after ESC that designate this element (PS3.3 Table C.12-3/-4), or nil for codes that
    /// ISO 2022 cannot designate (the Windows and KOI8 code pages).
    var escapeSequence: [UInt8]? {
        switch self {
        case .ascii: return [0x28, 0x42]  // ( B
        case .jisRoman: return [0x28, 0x4A]  // ( J
        case .jisX0208: return [0x24, 0x42]  // $ B
        case .jisX0212: return [0x24, 0x28, 0x44]  // $ ( D
        case .ksX1001: return [0x24, 0x29, 0x43]  // $ ) C
        case .gb2312: return [0x24, 0x29, 0x41]  // $ ) A
        case .upperHalf(let code):
            let final: UInt8
            switch code {
            case .latin1: final = 0x41  // - A
            case .latin2: final = 0x42  // - B
            case .latin3: final = 0x43  // - C
            case .latin4: final = 0x44  // - D
            case .greek: final = 0x46  // - F
            case .arabic: final = 0x47  // - G
            case .hebrew: final = 0x48  // - H
            case .cyrillic: final = 0x4C  // - L
            case .latin5: final = 0x4D  // - M
            case .thai: final = 0x54  // - T
            case .latin9: final = 0x62  // - b
            case .katakana: return [0x29, 0x49]  // ) I
            default: return nil
            }
            return [0x2D, final]
        }
    }

    /// The element an escape sequence designates (the bytes after ESC), or nil when unknown.
    /// Accepts the older JIS C 6226-1978 designation ESC $ @ and ESC $ ( B for JIS X 0208 when reading.
    static func designated(by sequence: ArraySlice<UInt8>) -> CodeElement? {
        switch Array(sequence) {
        case [0x28, 0x42]: return .ascii
        case [0x28, 0x4A]: return .jisRoman
        case [0x24, 0x42], [0x24, 0x40], [0x24, 0x28, 0x42]: return .jisX0208
        case [0x24, 0x28, 0x44]: return .jisX0212
        case [0x24, 0x29, 0x43]: return .ksX1001
        case [0x24, 0x29, 0x41]: return .gb2312
        case [0x29, 0x49]: return .upperHalf(.katakana)
        case let bytes where bytes.count == 2 && bytes[0] == 0x2D:
            switch bytes[1] {
            case 0x41: return .upperHalf(.latin1)
            case 0x42: return .upperHalf(.latin2)
            case 0x43: return .upperHalf(.latin3)
            case 0x44: return .upperHalf(.latin4)
            case 0x46: return .upperHalf(.greek)
            case 0x47: return .upperHalf(.arabic)
            case 0x48: return .upperHalf(.hebrew)
            case 0x4C: return .upperHalf(.cyrillic)
            case 0x4D: return .upperHalf(.latin5)
            case 0x54: return .upperHalf(.thai)
            case 0x62: return .upperHalf(.latin9)
            default: return nil
            }
        default: return nil
        }
    }

    /// A readable name for messages.
    var displayName: String {
        switch self {
        case .ascii: return "ASCII (ISO-IR 6)"
        case .jisRoman: return "JIS X 0201 Romaji (ISO-IR 14)"
        case .jisX0208: return "JIS X 0208 (ISO-IR 87)"
        case .jisX0212: return "JIS X 0212 (ISO-IR 159)"
        case .ksX1001: return "KS X 1001 (ISO-IR 149)"
        case .gb2312: return "GB 2312 (ISO-IR 58)"
        case .upperHalf(let code): return code.displayName
        }
    }
}
