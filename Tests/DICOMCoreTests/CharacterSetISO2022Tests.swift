import Foundation
import Testing
@testable import DICOMCore

/// ISO 2022 code extensions (PS3.5 §6.1.2.5) against the standard's own examples, byte for byte.
@Suite struct CharacterSetISO2022Tests {
    /// Checks both directions: the text encodes to exactly these bytes and the bytes decode to the text.
    private func check(_ terms: [String], _ text: String, _ bytes: [UInt8], vr: VR = .PN,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let charset = try SpecificCharacterSet(terms: terms)
        let encoded = try charset.encode(text, vr: vr)
        #expect(encoded == bytes, "encoded \(encoded.map { hexString($0, digits: 2) })", sourceLocation: sourceLocation)
        #expect(charset.decode(bytes, vr: vr) == text, sourceLocation: sourceLocation)
    }

    // MARK: PS3.5 Annex H (Japanese)

    @Test func exampleH31JapaneseWithJISX0208() throws {
        // PS3.5 Example H.3-1; (0008,0005) "\ISO 2022 IR 87" (Clunie's chrH31).
        let bytes = latin1Bytes("Yamada^Tarou=\u{1B}$B;3ED\u{1B}(B^\u{1B}$BB@O:\u{1B}(B=\u{1B}$B$d$^$@\u{1B}(B^\u{1B}$B$?$m$&\u{1B}(B")
        try check(["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう", bytes)
        let name = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"]).decodePersonName(bytes)
        #expect(name.alphabetic.familyName == "Yamada")
        #expect(name.ideographic.givenName == "太郎")
        #expect(name.phonetic.familyName == "やまだ")
    }

    @Test func exampleH32JapaneseWithJISX0201AndJISX0208() throws {
        // PS3.5 Example H.3-2; (0008,0005) "ISO 2022 IR 13\ISO 2022 IR 87" (Clunie's chrH32): half-width
        // Katakana in G1 without escapes, Kanji in G0, and G0 back to JIS X 0201 Romaji with ESC ( J.
        let bytes = latin1Bytes("\u{D4}\u{CF}\u{C0}\u{DE}^\u{C0}\u{DB}\u{B3}=\u{1B}$B;3ED\u{1B}(J^\u{1B}$BB@O:\u{1B}(J=\u{1B}$B$d$^$@\u{1B}(J^\u{1B}$B$?$m$&\u{1B}(J")
        try check(["ISO 2022 IR 13", "ISO 2022 IR 87"], "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう", bytes)
    }

    @Test func japaneseWithExplicitIR6AndPadding() throws {
        // Clunie's chrJapMultiExplicitIR6: value 1 "ISO 2022 IR 6", trailing space padding.
        let bytes = latin1Bytes("\u{1B}$B$d$^$@\u{1B}(B^\u{1B}$B$?$m$&\u{1B}(B ")
        let charset = try SpecificCharacterSet(terms: ["ISO 2022 IR 6", "ISO 2022 IR 87"])
        #expect(charset.decode(bytes, vr: .PN) == "やまだ^たろう ")
        #expect(charset.decodePersonName(bytes).dicomString == "やまだ^たろう")
    }

    @Test func jisX0212() throws {
        // 丂 (U+4E02) is row 16, cell 1 of JIS X 0212: ESC $ ( D 30 21, then back to ASCII.
        try check(["", "ISO 2022 IR 159"], "A丂B", latin1Bytes("A\u{1B}$(D0!\u{1B}(BB"), vr: .LO)
        // With both Japanese sets declared, JIS X 0208 characters use ESC $ B and 0212-only ones ESC $ ( D.
        try check(["", "ISO 2022 IR 87", "ISO 2022 IR 159"], "山丂", latin1Bytes("\u{1B}$B;3\u{1B}$(D0!\u{1B}(B"), vr: .LO)
    }

    // MARK: PS3.5 Annex I (Korean)

    @Test func exampleI21KoreanPersonName() throws {
        // PS3.5 Example I.2-1; (0008,0005) "\ISO 2022 IR 149" (Clunie's chrI2). ESC $ ) C before each component.
        let bytes = latin1Bytes("Hong^Gildong=\u{1B}$)C\u{FB}\u{F3}^\u{1B}$)C\u{D1}\u{CE}\u{D4}\u{D7}=\u{1B}$)C\u{C8}\u{AB}^\u{1B}$)C\u{B1}\u{E6}\u{B5}\u{BF}")
        try check(["", "ISO 2022 IR 149"], "Hong^Gildong=洪^吉洞=홍^길동", bytes)
    }

    @Test func exampleI22KoreanLongText() throws {
        // PS3.5 Example I.2-2: in LT the designation stands at the start of each line that uses Hangul.
        let text = "The 1st line includes 길동.\r\nThe 2nd line includes 길동, too.\r\nThe 3rd line."
        let bytes = latin1Bytes("\u{1B}$)CThe 1st line includes \u{B1}\u{E6}\u{B5}\u{BF}.\r\n\u{1B}$)CThe 2nd line includes \u{B1}\u{E6}\u{B5}\u{BF}, too.\r\nThe 3rd line.")
        try check(["", "ISO 2022 IR 149"], text, bytes, vr: .LT)
    }

    @Test func koreanWithoutEscapesWhenValue1IsIR149() throws {
        // A common real-world form: EUC-KR bytes under a lone "ISO 2022 IR 149" (Clunie's chrKoreanMulti has escapes).
        let charset = try SpecificCharacterSet(terms: ["ISO 2022 IR 149"])
        #expect(charset.decode(latin1Bytes("\u{B1}\u{E8}\u{C8}\u{F1}\u{C1}\u{DF}"), vr: .PN) == "김희중")
        #expect(charset.decode(latin1Bytes("\u{1B}$)C\u{B1}\u{E8}\u{C8}\u{F1}\u{C1}\u{DF}\u{1B}(B "), vr: .PN) == "김희중 ")
        let escaped = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 149"])
        #expect(escaped.decode(latin1Bytes("\u{1B}$)C\u{B1}\u{E8}\u{C8}\u{F1}\u{C1}\u{DF}\u{1B}(B "), vr: .PN) == "김희중 ")
    }

    // MARK: PS3.5 Annex K (Chinese)

    @Test func exampleK21ChinesePersonNameGB2312() throws {
        // PS3.5 Example K.2-1; (0008,0005) "\ISO 2022 IR 58".
        let bytes = latin1Bytes("Zhang^XiaoDong=\u{1B}$)A\u{D5}\u{C5}^\u{1B}$)A\u{D0}\u{A1}\u{B6}\u{AB}=")
        try check(["", "ISO 2022 IR 58"], "Zhang^XiaoDong=张^小东=", bytes)
    }

    @Test func exampleK22ChineseLongTextGB2312() throws {
        // PS3.5 Example K.2-2: the designation stands just before the first Hanzi of each line.
        let text = "1.第一行文字。\r\n2.第二行文字。\r\n3.第三行文字。\r\n"
        let bytes = latin1Bytes(
            "1.\u{1B}$)A\u{B5}\u{DA}\u{D2}\u{BB}\u{D0}\u{D0}\u{CE}\u{C4}\u{D7}\u{D6}\u{A1}\u{A3}\r\n"
                + "2.\u{1B}$)A\u{B5}\u{DA}\u{B6}\u{FE}\u{D0}\u{D0}\u{CE}\u{C4}\u{D7}\u{D6}\u{A1}\u{A3}\r\n"
                + "3.\u{1B}$)A\u{B5}\u{DA}\u{C8}\u{FD}\u{D0}\u{D0}\u{CE}\u{C4}\u{D7}\u{D6}\u{A1}\u{A3}\r\n")
        try check(["", "ISO 2022 IR 58"], text, bytes, vr: .LT)
    }

    // MARK: Single-byte sets with code extensions

    @Test func singleByteSetsSwitchG1() throws {
        let terms = ["ISO 2022 IR 100", "ISO 2022 IR 144", "ISO 2022 IR 126"]
        // Latin-1 is the initial G1; Cyrillic and Greek are designated; G1 returns to Latin-1 (ESC - A)
        // before each delimiter and at the end, as value 1 designates a G1 set.
        let text = "Müller^Иван\\Διονυσιος"
        let bytes = latin1Bytes("M\u{FC}ller^\u{1B}-L\u{B8}\u{D2}\u{D0}\u{DD}\u{1B}-A\\\u{1B}-F\u{C4}\u{E9}\u{EF}\u{ED}\u{F5}\u{F3}\u{E9}\u{EF}\u{F2}\u{1B}-A")
        try check(terms, text, bytes)
        // A reader resets to Latin-1 at the delimiter even when the writer did not switch back.
        let charset = try SpecificCharacterSet(terms: terms)
        #expect(charset.decode(latin1Bytes("\u{1B}-L\u{B8}^\u{FC}"), vr: .PN) == "И^ü")
        #expect(charset.decode(latin1Bytes("\u{1B}-L\u{B8}\\\u{FC}"), vr: .LO) == "И\\ü")
        // In LT a backslash is text, not a delimiter: the Cyrillic designation stays.
        #expect(charset.decode(latin1Bytes("\u{1B}-L\u{B8}\\\u{B8}"), vr: .LT) == "И\\И")
        // CR, LF, FF and TAB reset too.
        #expect(charset.decode(latin1Bytes("\u{1B}-L\u{B8}\t\u{B8}"), vr: .LT) == "И\t¸")
    }

    @Test func thaiAndHebrewDesignations() throws {
        try check(["", "ISO 2022 IR 166"], "A สม", latin1Bytes("A \u{1B}-T\u{CA}\u{C1}"), vr: .LO)
        try check(["", "ISO 2022 IR 138"], "שרון", latin1Bytes("\u{1B}-H\u{F9}\u{F8}\u{E5}\u{EF}"), vr: .LO)
    }

    @Test func unencodableWithCodeExtensionsNamesTheSet() throws {
        let charset = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"])
        #expect { try charset.encode("山田^Үмүт", vr: .PN) } throws: { error in
            guard let error = error as? DICOMError else { return false }
            return error.code == .unencodableCharacter && error.message.contains("U+04AE")
                && error.message.contains("ISO 2022 IR 87") && error.message.contains("character 4")
        }
        #expect(throws: DICOMError.self) { try charset.encode("a\u{1B}b", vr: .LO) }
    }

    // MARK: Malformed input

    @Test func malformedEscapeSequencesBecomeReplacementCharacters() throws {
        let charset = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"])
        // Unknown designation (ESC % G): replaced, state unchanged.
        #expect(charset.decode(latin1Bytes("abc\u{1B}%Gdef"), vr: .LO) == "abc\u{FFFD}def")
        // ESC at the end, and ESC followed by a non-escape byte.
        #expect(charset.decode(latin1Bytes("abc\u{1B}"), vr: .LO) == "abc\u{FFFD}")
        #expect(charset.decode(latin1Bytes("a\u{1B}\u{1B}$B;3\u{1B}(B"), vr: .LO) == "a\u{FFFD}山")
        // Too many intermediate bytes.
        #expect(charset.decode(latin1Bytes("\u{1B}$$$$$Bx"), vr: .LO).hasPrefix("\u{FFFD}"))
        // GR bytes with no G1 set designated.
        #expect(charset.decode(latin1Bytes("a\u{C4}b"), vr: .LO) == "a\u{FFFD}b")
    }

    @Test func truncatedMultiByteSequencesBecomeReplacementCharacters() throws {
        let japanese = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"])
        #expect(japanese.decode(latin1Bytes("\u{1B}$B;3E"), vr: .LO) == "山\u{FFFD}")
        #expect(japanese.decode(latin1Bytes("\u{1B}$B;"), vr: .LO) == "\u{FFFD}")
        // A pair that is no character of JIS X 0208 (row 0x7E is empty).
        #expect(japanese.decode(latin1Bytes("\u{1B}$B~~;3"), vr: .LO) == "\u{FFFD}山")
        let korean = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 149"])
        #expect(korean.decode(latin1Bytes("\u{1B}$)C\u{B1}\u{E6}\u{B5}"), vr: .LO) == "길\u{FFFD}")
        #expect(korean.decode(latin1Bytes("\u{1B}$)C\u{B1}\u{FF}"), vr: .LO) == "\u{FFFD}\u{FFFD}")
        let chinese = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 58"])
        #expect(chinese.decode(latin1Bytes("\u{1B}$)A\u{D5}"), vr: .LO) == "\u{FFFD}")
    }

    @Test func concurrentDecodingSharesConvertersSafely() async throws {
        // iconv converters are not thread-safe; the pool hands each call its own.
        let charset = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"])
        let bytes = latin1Bytes("Yamada^Tarou=\u{1B}$B;3ED\u{1B}(B^\u{1B}$BB@O:\u{1B}(B=\u{1B}$B$d$^$@\u{1B}(B^\u{1B}$B$?$m$&\u{1B}(B")
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    (0..<200).allSatisfy { _ in
                        charset.decode(bytes, vr: .PN) == "Yamada^Tarou=山田^太郎=やまだ^たろう"
                            && (try? charset.encode("山田^太郎", vr: .PN)) == latin1Bytes("\u{1B}$B;3ED\u{1B}(B^\u{1B}$BB@O:\u{1B}(B")
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }

    @Test func randomBytesNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        let sets = try [["", "ISO 2022 IR 87", "ISO 2022 IR 159"], ["ISO 2022 IR 13", "ISO 2022 IR 87"],
                        ["", "ISO 2022 IR 149"], ["", "ISO 2022 IR 58"], ["ISO 2022 IR 100", "ISO 2022 IR 144"],
                        ["GB18030"], ["GBK"], ["ISO_IR 192"], ["ISO_IR 166"]].map { try SpecificCharacterSet(terms: $0) }
        let alphabet: [UInt8] = [0x1B, 0x24, 0x28, 0x29, 0x2D, 0x42, 0x43, 0x41, 0x4A, 0x44, 0x49, 0x5C, 0x5E, 0x3D, 0x0D, 0x0A,
                                 0x21, 0x3B, 0x7E, 0x80, 0x8F, 0x95, 0x32, 0xA1, 0xB0, 0xD4, 0xFE, 0xFF]
        for _ in 0..<300 {
            let length = Int.random(in: 0...40, using: &generator)
            let bytes = (0..<length).map { _ in
                Bool.random(using: &generator) ? alphabet.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            }
            for charset in sets {
                for vr in [VR.PN, .LO, .LT] {
                    let text = charset.decode(bytes, vr: vr)
                    #expect(text.unicodeScalars.count <= bytes.count)
                }
            }
        }
    }
}
