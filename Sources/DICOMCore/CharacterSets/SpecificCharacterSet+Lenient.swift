import Foundation

extension SpecificCharacterSet {
    /// Every Defined Term this type knows, as the standard spells them (PS3.3 Tables C.12-2 to C.12-5).
    public static var definedTerms: [String] { DefinedTerm.all.map(\.term) }

    /// A character set from (0008,0005) values as real-world files spell them, or nil when a term is not
    /// recognisable at all (after pydicom's fallbacks for misspelled terms).
    ///
    /// Accepts the standard spellings and, case-insensitively and ignoring `-`, `_` and spaces:
    /// "ISO-IR 100", "ISO_IR_100", "ISOIR100", "ISO 2022 IR100"; "ISO_IR 87", "ISO_IR 149", "ISO_IR 58", "ISO_IR 159"
    /// for their ISO 2022 forms; "ISO 2022 IR 192" for ISO_IR 192; and code names such as "UTF-8", "Latin1",
    /// "ISO-8859-5", "TIS-620", "EUC-KR", "GB2312", "GB 18030" and "ASCII". The resulting `terms` are the
    /// standard spellings.
    public init?(lenientTerms: [String]) {
        var canonical: [String] = []
        for (index, raw) in lenientTerms.enumerated() {
            let term = raw.trimmingCharacters(in: .whitespaces)
            if term.isEmpty {
                canonical.append("")
                continue
            }
            guard let fixed = SpecificCharacterSet.canonicalTerm(term) else { return nil }
            // The default repertoire as value 1 of several is written as an empty value 1.
            canonical.append(fixed == "ISO_IR 6" && (lenientTerms.count > 1 || index > 0) ? "" : fixed)
        }
        guard let set = try? SpecificCharacterSet(terms: canonical) else { return nil }
        self = set
    }

    /// The standard spelling of a possibly misspelled term, or nil.
    static func canonicalTerm(_ term: String) -> String? {
        if DefinedTerm.named(term) != nil { return term }
        let key = term.uppercased().filter { $0 != " " && $0 != "-" && $0 != "_" }
        if let alias = codeNameAliases[key] { return alias }
        func number(after prefix: String) -> Int? {
            guard key.hasPrefix(prefix) else { return nil }
            return Int(key.dropFirst(prefix.count))
        }
        if let n = number(after: "ISO2022IR") ?? number(after: "ISOIR") ?? number(after: "IR") {
            let withExtensions = key.hasPrefix("ISO2022IR")
            switch n {
            case 192: return "ISO_IR 192"
            case 6: return withExtensions ? "ISO 2022 IR 6" : "ISO_IR 6"
            case 87, 159, 149, 58: return "ISO 2022 IR \(n)"
            default:
                let candidate = withExtensions ? "ISO 2022 IR \(n)" : "ISO_IR \(n)"
                return DefinedTerm.named(candidate) != nil ? candidate : nil
            }
        }
        return nil
    }

    /// Code names (upper case, without `-`, `_` and spaces) that real-world files put in (0008,0005).
    private static let codeNameAliases: [String: String] = [
        "ASCII": "ISO_IR 6", "USASCII": "ISO_IR 6", "ISO646": "ISO_IR 6",
        "UTF8": "ISO_IR 192", "UNICODE": "ISO_IR 192", "ISO10646": "ISO_IR 192",
        "GB18030": "GB18030", "GBK": "GBK", "CP936": "GBK",
        "GB2312": "ISO 2022 IR 58", "EUCCN": "ISO 2022 IR 58",
        "EUCKR": "ISO 2022 IR 149", "KSC5601": "ISO 2022 IR 149", "KSX1001": "ISO 2022 IR 149",
        "JISX0208": "ISO 2022 IR 87", "JISX0212": "ISO 2022 IR 159", "JISX0201": "ISO_IR 13",
        "LATIN1": "ISO_IR 100", "ISO88591": "ISO_IR 100", "ISO8859": "ISO_IR 100",
        "LATIN2": "ISO_IR 101", "ISO88592": "ISO_IR 101",
        "LATIN3": "ISO_IR 109", "ISO88593": "ISO_IR 109",
        "LATIN4": "ISO_IR 110", "ISO88594": "ISO_IR 110",
        "CYRILLIC": "ISO_IR 144", "ISO88595": "ISO_IR 144",
        "ARABIC": "ISO_IR 127", "ISO88596": "ISO_IR 127",
        "GREEK": "ISO_IR 126", "ISO88597": "ISO_IR 126",
        "HEBREW": "ISO_IR 138", "ISO88598": "ISO_IR 138",
        "LATIN5": "ISO_IR 148", "ISO88599": "ISO_IR 148",
        "LATIN9": "ISO_IR 203", "ISO885915": "ISO_IR 203",
        "THAI": "ISO_IR 166", "TIS620": "ISO_IR 166", "ISO885911": "ISO_IR 166",
    ]

    /// Non-DICOM single-byte codes for `init(fallbackEncodingName:)`, by normalised name.
    private static let fallbackCodes: [String: (SingleByteCode, String)] = [
        "WINDOWS1250": (.windows1250, "windows-1250"), "CP1250": (.windows1250, "windows-1250"),
        "WINDOWS1251": (.windows1251, "windows-1251"), "CP1251": (.windows1251, "windows-1251"),
        "WINDOWS1252": (.windows1252, "windows-1252"), "CP1252": (.windows1252, "windows-1252"),
        "WINDOWS1253": (.windows1253, "windows-1253"), "CP1253": (.windows1253, "windows-1253"),
        "WINDOWS1254": (.windows1254, "windows-1254"), "CP1254": (.windows1254, "windows-1254"),
        "WINDOWS1255": (.windows1255, "windows-1255"), "CP1255": (.windows1255, "windows-1255"),
        "WINDOWS1256": (.windows1256, "windows-1256"), "CP1256": (.windows1256, "windows-1256"),
        "KOI8R": (.koi8R, "KOI8-R"), "KOI8U": (.koi8U, "KOI8-U"),
    ]

    /// A character set chosen by the caller for files that declare one set and hold another (for example
    /// Windows-1251 bytes labelled ISO_IR 100, or no (0008,0005) at all); use it as `DataSet.characterSetOverride`
    /// or `inheritedCharacterSet`.
    ///
    /// Accepts, case-insensitively: "windows-1250" to "windows-1256" (or "cp1250" …), "KOI8-R", "KOI8-U", any
    /// DICOM term or alias that `init(lenientTerms:)` accepts (e.g. "ISO_IR 144", "latin1", "UTF-8"), and any
    /// other code name glibc iconv knows (e.g. "SHIFT_JIS", "BIG5", "EUC-JP"). Throws `.unknownCharacterSet`
    /// naming the code otherwise. Sets that are not DICOM terms have `isDefinedByDICOM == false`; do not
    /// write their `terms` into (0008,0005).
    public init(fallbackEncodingName name: String) throws {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw DICOMError(.unknownCharacterSet, "no character encoding named: the fallback encoding name is empty")
        }
        let key = trimmed.uppercased().filter { $0 != " " && $0 != "-" && $0 != "_" }
        if let (code, canonical) = SpecificCharacterSet.fallbackCodes[key] {
            self.init(terms: [canonical], mode: .singleByte(code), displayName: "\(canonical) (\(code.displayName))", isDefinedByDICOM: false)
            return
        }
        if let set = SpecificCharacterSet(lenientTerms: [trimmed]) {
            self = set
            return
        }
        if !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && !$0.isWhitespace }), IconvCodes.pools(for: trimmed) != nil {
            self.init(terms: [trimmed], mode: .iconv(trimmed), displayName: "\(trimmed) (through iconv)", isDefinedByDICOM: false)
            return
        }
        throw DICOMError(.unknownCharacterSet,
                         "unknown character encoding '\(trimmed)': not a DICOM Defined Term, a Windows or KOI8 code page, or a code iconv knows")
    }
}
