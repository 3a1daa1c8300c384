/// One Defined Term of Specific Character Set (0008,0005) and what it stands for
/// (PS3.3 Tables C.12-2, C.12-3, C.12-4 and C.12-5).
struct DefinedTerm: Sendable {
    /// How text in this term is encoded.
    enum Form: Sendable, Equatable {
        /// A single-byte or ISO 2022 term: the elements it designates into G0 and G1.
        case iso2022(g0: CodeElement?, g1: CodeElement?)
        /// ISO_IR 192: Unicode in UTF-8, no code extensions (Table C.12-5).
        case utf8
        /// GB18030, no code extensions (Table C.12-5).
        case gb18030
        /// GBK, no code extensions (Table C.12-5).
        case gbk
    }

    /// The term as written in (0008,0005).
    let term: String
    let form: Form
    /// Whether this is an "ISO 2022 …" term, which allows code extension escape sequences.
    let codeExtensions: Bool
    /// What the term stands for, for messages.
    let displayName: String

    /// Every Defined Term of the current standard, plus "ISO_IR 6", which many writers use for the default
    /// repertoire although the standard says to leave value 1 empty.
    static let all: [DefinedTerm] = {
        var terms: [DefinedTerm] = [
            DefinedTerm(term: "ISO_IR 6", form: .iso2022(g0: .ascii, g1: nil), codeExtensions: false,
                        displayName: "the default repertoire (ASCII)"),
            DefinedTerm(term: "ISO 2022 IR 6", form: .iso2022(g0: .ascii, g1: nil), codeExtensions: true,
                        displayName: "the default repertoire (ASCII)"),
        ]
        // Table C.12-2 (no code extensions) and C.12-3 (with code extensions): single-byte sets.
        let singleByte: [(Int, CodeElement, CodeElement)] = [
            (100, .ascii, .upperHalf(.latin1)), (101, .ascii, .upperHalf(.latin2)),
            (109, .ascii, .upperHalf(.latin3)), (110, .ascii, .upperHalf(.latin4)),
            (144, .ascii, .upperHalf(.cyrillic)), (127, .ascii, .upperHalf(.arabic)),
            (126, .ascii, .upperHalf(.greek)), (138, .ascii, .upperHalf(.hebrew)),
            (148, .ascii, .upperHalf(.latin5)), (203, .ascii, .upperHalf(.latin9)),
            (13, .jisRoman, .upperHalf(.katakana)), (166, .ascii, .upperHalf(.thai)),
        ]
        for (number, g0, g1) in singleByte {
            let name = number == 13 ? "JIS X 0201 (Romaji and Katakana)" : g1.displayName
            terms.append(DefinedTerm(term: "ISO_IR \(number)", form: .iso2022(g0: g0, g1: g1),
                                     codeExtensions: false, displayName: name))
            terms.append(DefinedTerm(term: "ISO 2022 IR \(number)", form: .iso2022(g0: g0, g1: g1),
                                     codeExtensions: true, displayName: name))
        }
        // Table C.12-4: multi-byte sets with code extensions.
        let multiByte: [(Int, CodeElement?, CodeElement?)] = [
            (87, .jisX0208, nil), (159, .jisX0212, nil), (149, nil, .ksX1001), (58, nil, .gb2312),
        ]
        for (number, g0, g1) in multiByte {
            terms.append(DefinedTerm(term: "ISO 2022 IR \(number)", form: .iso2022(g0: g0, g1: g1),
                                     codeExtensions: true, displayName: (g0 ?? g1)!.displayName))
        }
        // Table C.12-5: multi-byte sets without code extensions.
        terms.append(DefinedTerm(term: "ISO_IR 192", form: .utf8, codeExtensions: false, displayName: "Unicode in UTF-8"))
        terms.append(DefinedTerm(term: "GB18030", form: .gb18030, codeExtensions: false, displayName: "GB 18030"))
        terms.append(DefinedTerm(term: "GBK", form: .gbk, codeExtensions: false, displayName: "GBK"))
        return terms
    }()

    private static let byTerm: [String: DefinedTerm] = Dictionary(uniqueKeysWithValues: all.map { ($0.term, $0) })

    /// The Defined Term spelled exactly so, or nil.
    static func named(_ term: String) -> DefinedTerm? { byTerm[term] }
}
