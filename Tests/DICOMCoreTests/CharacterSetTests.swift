import Foundation
import Testing
@testable import DICOMCore

/// Bytes from a string of code points 0x00–0xFF, so expected values can be written as the standard prints
/// them, e.g. "\u{1B}$B;3ED" for ESC $ B followed by 3B 33 45 44.
func latin1Bytes(_ text: String) -> [UInt8] {
    text.unicodeScalars.map { scalar in
        precondition(scalar.value < 0x100, "latin1Bytes takes code points up to 0xFF")
        return UInt8(scalar.value)
    }
}

func set(_ terms: String...) throws -> SpecificCharacterSet { try SpecificCharacterSet(terms: terms) }

@Suite struct CharacterSetTests {
    // MARK: Terms

    @Test func defaultAndEmptyTerms() throws {
        #expect(try SpecificCharacterSet(terms: []) == .default)
        #expect(try SpecificCharacterSet(terms: [""]) == .default)
        #expect(try SpecificCharacterSet(terms: [" "]) == .default)
        #expect(SpecificCharacterSet.default.description == "ISO_IR 6")
        #expect(try SpecificCharacterSet(terms: ["ISO_IR 192"]) == .utf8)
        #expect(try SpecificCharacterSet(terms: ["ISO_IR 6"]).decode(latin1Bytes("ABC"), vr: .LO) == "ABC")
    }

    @Test func everyDefinedTermIsAccepted() throws {
        let expected = ["ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110", "ISO_IR 144", "ISO_IR 127", "ISO_IR 126",
                        "ISO_IR 138", "ISO_IR 148", "ISO_IR 203", "ISO_IR 13", "ISO_IR 166",
                        "ISO 2022 IR 6", "ISO 2022 IR 100", "ISO 2022 IR 101", "ISO 2022 IR 109", "ISO 2022 IR 110",
                        "ISO 2022 IR 144", "ISO 2022 IR 127", "ISO 2022 IR 126", "ISO 2022 IR 138", "ISO 2022 IR 148",
                        "ISO 2022 IR 203", "ISO 2022 IR 13", "ISO 2022 IR 166", "ISO 2022 IR 87", "ISO 2022 IR 159",
                        "ISO 2022 IR 149", "ISO 2022 IR 58", "ISO_IR 192", "GB18030", "GBK"]
        for term in expected {
            let charset = try SpecificCharacterSet(terms: [term])
            #expect(charset.terms == [term])
            #expect(SpecificCharacterSet.definedTerms.contains(term))
            // Every set holds ASCII both ways.
            #expect(try charset.encode("Smith^John", vr: .PN) == Array("Smith^John".utf8))
            #expect(charset.decode(Array("Smith^John".utf8), vr: .PN) == "Smith^John")
        }
    }

    @Test func unknownTermThrowsNamingIt() {
        do {
            _ = try SpecificCharacterSet(terms: ["ISO_IR 100", "ISO_IR 999"])
            Issue.record("expected an error")
        } catch let error as DICOMError {
            #expect(error.code == .unknownCharacterSet)
            #expect(error.message.contains("'ISO_IR 999'"))
            #expect(error.message.contains("value 2"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: DICOMError.self) { try SpecificCharacterSet(terms: ["ISO-IR 100"]) }
        #expect(throws: DICOMError.self) { try SpecificCharacterSet(terms: ["UTF-8"]) }
    }

    // MARK: Single-byte sets

    @Test func russianInISOIR144IsByteExact() throws {
        let cyrillic = try set("ISO_IR 144")
        let bytes: [UInt8] = [0xB8, 0xD2, 0xD0, 0xDD, 0xDE, 0xD2, 0x5E, 0xB8, 0xD2, 0xD0, 0xDD]  // ISO 8859-5
        #expect(try cyrillic.encode("Иванов^Иван", vr: .PN) == bytes)
        #expect(cyrillic.decode(bytes, vr: .PN) == "Иванов^Иван")
        #expect(cyrillic.decodePersonName(bytes) == PersonName(familyName: "Иванов", givenName: "Иван"))
    }

    /// David Clunie's character set test files (as shipped with pydicom): chrRuss, chrGreek, chrHbrw, chrArab, chrGerm.
    @Test func clunieSamples() throws {
        let samples: [(String, [UInt8], String)] = [
            ("ISO_IR 144", [0xBB, 0xEE, 0xDA, 0x63, 0x65, 0xDC, 0xD1, 0x79, 0x70, 0xD3], "Люкceмбypг"),
            ("ISO_IR 126", [0xC4, 0xE9, 0xEF, 0xED, 0xF5, 0xF3, 0xE9, 0xEF, 0xF2], "Διονυσιος"),
            ("ISO_IR 138", [0xF9, 0xF8, 0xE5, 0xEF, 0x5E, 0xE3, 0xE1, 0xE5, 0xF8, 0xE4], "שרון^דבורה"),
            ("ISO_IR 127", [0xE2, 0xC8, 0xC7, 0xE6, 0xEA, 0x5E, 0xE4, 0xE6, 0xD2, 0xC7, 0xD1], "قباني^لنزار"),
            ("ISO_IR 100", [0xC4, 0x6E, 0x65, 0x61, 0x73, 0x5E, 0x52, 0xFC, 0x64, 0x69, 0x67, 0x65, 0x72], "Äneas^Rüdiger"),
        ]
        for (term, bytes, text) in samples {
            let charset = try set(term)
            #expect(charset.decode(bytes, vr: .PN) == text, "\(term)")
            #expect(try charset.encode(text, vr: .PN) == bytes, "\(term)")
        }
    }

    @Test func otherSingleByteSamples() throws {
        let samples: [(String, String, [UInt8])] = [
            ("ISO_IR 166", "สมชาย^ใจดี", [0xCA, 0xC1, 0xAA, 0xD2, 0xC2, 0x5E, 0xE3, 0xA8, 0xB4, 0xD5]),
            ("ISO_IR 101", "Dvořák^Antonín", [0x44, 0x76, 0x6F, 0xF8, 0xE1, 0x6B, 0x5E, 0x41, 0x6E, 0x74, 0x6F, 0x6E, 0xED, 0x6E]),
            ("ISO_IR 100", "Müller^Jürgen", [0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72, 0x5E, 0x4A, 0xFC, 0x72, 0x67, 0x65, 0x6E]),
            ("ISO_IR 148", "Şahin^Gül", [0xDE, 0x61, 0x68, 0x69, 0x6E, 0x5E, 0x47, 0xFC, 0x6C]),
            ("ISO_IR 203", "Œdipe€", [0xBC, 0x64, 0x69, 0x70, 0x65, 0xA4]),
            ("ISO_IR 13", "ﾔﾏﾀﾞ^ﾀﾛｳ", [0xD4, 0xCF, 0xC0, 0xDE, 0x5E, 0xC0, 0xDB, 0xB3]),
        ]
        for (term, text, bytes) in samples {
            let charset = try set(term)
            #expect(try charset.encode(text, vr: .PN) == bytes, "\(term)")
            #expect(charset.decode(bytes, vr: .PN) == text, "\(term)")
        }
    }

    @Test func undefinedSingleBytesDecodeAsReplacement() throws {
        // 0xA5 is not defined in ISO 8859-3; C1 bytes belong to no DICOM repertoire.
        #expect(try set("ISO_IR 109").decode([0x41, 0xA5, 0x42], vr: .LO) == "A\u{FFFD}B")
        #expect(try set("ISO_IR 100").decode([0x80, 0x9F], vr: .LO) == "\u{FFFD}\u{FFFD}")
        #expect(try set("ISO_IR 13").decode([0xE0], vr: .LO) == "\u{FFFD}")
        #expect(SpecificCharacterSet.default.decode([0x41, 0xC4, 0x42], vr: .LO) == "A\u{FFFD}B")
        #expect(SpecificCharacterSet.utf8.decode([0x41, 0xC3], vr: .LO) == "A\u{FFFD}")
    }

    // MARK: Unencodable characters

    @Test func kyrgyzInISOIR144ThrowsNamingTheLetter() throws {
        do {
            _ = try set("ISO_IR 144").encode("Асанбеков^Үмүт", vr: .PN)
            Issue.record("expected an error")
        } catch let error as DICOMError {
            #expect(error.code == .unencodableCharacter)
            #expect(error.message.contains("'Ү'"))
            #expect(error.message.contains("U+04AE"))
            #expect(error.message.contains("CYRILLIC CAPITAL LETTER STRAIGHT U"))
            #expect(error.message.contains("character 11"))
            #expect(error.message.contains("ISO_IR 144"))
        }
        for (text, code) in [("Ңурлан", "U+04A2"), ("Өмүр", "U+04E8")] {
            #expect { try set("ISO_IR 144").encode(text, vr: .PN) } throws: { error in
                (error as? DICOMError)?.message.contains(code) == true
            }
        }
    }

    @Test func persianInISOIR127ThrowsForPersianLettersOnly() throws {
        let arabic = try set("ISO_IR 127")
        #expect(try arabic.encode("احمد^علي", vr: .PN) == [0xC7, 0xCD, 0xE5, 0xCF, 0x5E, 0xD9, 0xE4, 0xEA])
        for (letter, code) in [("پ", "U+067E"), ("چ", "U+0686"), ("ژ", "U+0698"), ("گ", "U+06AF"), ("ک", "U+06A9"), ("ی", "U+06CC")] {
            #expect { try arabic.encode("احمد^\(letter)", vr: .PN) } throws: { error in
                guard let error = error as? DICOMError else { return false }
                return error.code == .unencodableCharacter && error.message.contains("'\(letter)'")
                    && error.message.contains(code) && error.message.contains("ISO_IR 127")
            }
        }
        #expect { try arabic.encode("پرویز", vr: .PN) } throws: { ($0 as? DICOMError)?.message.contains("U+067E") == true }
    }

    @Test func defaultRepertoireRefusesNonASCII() {
        #expect { try SpecificCharacterSet.default.encode("Müller", vr: .PN) } throws: { error in
            guard let error = error as? DICOMError else { return false }
            return error.message.contains("U+00FC") && error.message.contains("ISO_IR 6") && error.message.contains("ISO_IR 192")
        }
        // VRs outside SH, LO, ST, LT, PN, UC, UT keep to the default repertoire whatever the set.
        #expect(throws: DICOMError.self) { try SpecificCharacterSet.utf8.encode("Ü", vr: .CS) }
        #expect(throws: DICOMError.self) { try SpecificCharacterSet.utf8.encode("a\u{1B}b", vr: .CS) }
    }

    @Test func decomposedTextIsComposedBeforeGivingUp() throws {
        // "é" as e + COMBINING ACUTE ACCENT fits ISO 8859-1 once composed.
        #expect(try set("ISO_IR 100").encode("Re\u{301}my", vr: .PN) == [0x52, 0xE9, 0x6D, 0x79])
    }

    // MARK: Unicode sets

    @Test func kyrgyzAndPersianRoundTripThroughUTF8() throws {
        for text in ["Асанбеков^Үмүт", "Ңурлан^Өмүр", "احمدی^پرویز", "چ ژ گ ک ی", "Асанбеков^Үмүт=Ңурлан^Өмүр"] {
            let bytes = try SpecificCharacterSet.utf8.encode(text, vr: .PN)
            #expect(bytes == Array(text.utf8))
            #expect(SpecificCharacterSet.utf8.decode(bytes, vr: .PN) == text)
        }
    }

    @Test func gb18030PersonNameExample() throws {
        // PS3.5 Example K.1-1 (and Clunie's chrX2): "Wang^XiaoDong=王^小东=" in GB18030.
        let gb = try set("GB18030")
        let bytes = latin1Bytes("Wang^XiaoDong=\u{CD}\u{F5}^\u{D0}\u{A1}\u{B6}\u{AB}=")
        #expect(try gb.encode("Wang^XiaoDong=王^小东=", vr: .PN) == bytes)
        #expect(gb.decode(bytes, vr: .PN) == "Wang^XiaoDong=王^小东=")
        // Four-byte sequences cover all of Unicode.
        #expect(try gb.encode("𠀀", vr: .LO) == [0x95, 0x32, 0x82, 0x36])
        #expect(gb.decode([0x95, 0x32, 0x82, 0x36], vr: .LO) == "𠀀")
        #expect(try gb.encode("Үмүт پرویز", vr: .LO).count > 0)
        #expect(gb.decode(try gb.encode("Үмүт پرویز", vr: .LO), vr: .LO) == "Үмүт پرویز")
        // Truncated and invalid sequences.
        #expect(gb.decode([0x41, 0xCD], vr: .LO) == "A\u{FFFD}")
        let broken = gb.decode([0x95, 0x32, 0x41], vr: .LO)
        #expect(broken.hasPrefix("\u{FFFD}") && broken.hasSuffix("A"))
    }

    @Test func gbkPersonName() throws {
        let gbk = try set("GBK")
        let bytes = latin1Bytes("Wang^XiaoDong=\u{CD}\u{F5}^\u{D0}\u{A1}\u{B6}\u{AB}")
        #expect(try gbk.encode("Wang^XiaoDong=王^小东", vr: .PN) == bytes)
        #expect(gbk.decode(bytes, vr: .PN) == "Wang^XiaoDong=王^小东")
        // GBK has no four-byte sequences: a Cyrillic Ү is not there.
        #expect { try gbk.encode("Ү", vr: .LO) } throws: { ($0 as? DICOMError)?.message.contains("U+04AE") == true }
    }

    // MARK: Data sets

    private func dataSet(characterSet terms: String, name bytes: [UInt8]) -> DataSet {
        DataSet([
            DataElement(tag: Tag(0x0008, 0x0005), vr: .CS, bytes: Data(terms.utf8)),
            DataElement(tag: Tag(0x0010, 0x0010), vr: .PN, bytes: Data(bytes)),
        ])
    }

    @Test func personNamesRoundTripThroughADataSet() throws {
        for name in ["Асанбеков^Үмүт", "Ңурлан^Өмүр", "احمدی^پرویز", "چژگکی^Иванов"] {
            var bytes = try SpecificCharacterSet.utf8.encodePersonName(PersonName(name))
            if bytes.count % 2 == 1 { bytes.append(0x20) }  // padding, as a writer adds
            let dataSet = dataSet(characterSet: "ISO_IR 192", name: bytes)
            #expect(dataSet.characterSet == .utf8)
            let stored = try #require(dataSet[Tag(0x0010, 0x0010)]?.bytes)
            #expect(dataSet.characterSet.decodePersonName(stored) == PersonName(name))
            #expect(dataSet.characterSet.decodePersonName(stored).dicomString == name)
        }
    }

    @Test func dataSetResolvesDeclaredInheritedAndOverriddenSets() throws {
        let cyrillic: [UInt8] = [0xB8, 0xD2, 0xD0, 0xDD, 0xDE, 0xD2]
        var dataSet = dataSet(characterSet: "ISO_IR 144", name: cyrillic)
        #expect(dataSet.characterSet == (try set("ISO_IR 144")))
        #expect(dataSet.characterSet.decode(cyrillic, vr: .PN) == "Иванов")
        // Windows-1251 bytes labelled ISO_IR 100: the caller overrides.
        let windows: [UInt8] = [0xC8, 0xE2, 0xE0, 0xED, 0xEE, 0xE2]
        dataSet = self.dataSet(characterSet: "ISO_IR 100", name: windows)
        #expect(dataSet.characterSet.decode(windows, vr: .PN) == "Èâàíîâ")
        dataSet.characterSetOverride = try SpecificCharacterSet(fallbackEncodingName: "windows-1251")
        #expect(dataSet.characterSet.decode(windows, vr: .PN) == "Иванов")
        // No (0008,0005): the inherited set applies.
        var item = DataSet([DataElement(tag: Tag(0x0010, 0x0010), vr: .PN, bytes: Data(cyrillic))])
        #expect(item.characterSet == .default)
        item.inheritedCharacterSet = try set("ISO_IR 144")
        #expect(item.characterSet.decode(cyrillic, vr: .PN) == "Иванов")
    }
}
