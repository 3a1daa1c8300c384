import Testing
@testable import DICOMCore

@Suite struct PersonNameTests {
    @Test func parsesGroupsAndComponents() {
        let name = PersonName("Yamada^Tarou=山田^太郎=やまだ^たろう")
        #expect(name.alphabetic == PersonName.ComponentGroup(familyName: "Yamada", givenName: "Tarou"))
        #expect(name.ideographic.familyName == "山田")
        #expect(name.ideographic.givenName == "太郎")
        #expect(name.phonetic.familyName == "やまだ")
        #expect(name.phonetic.givenName == "たろう")
        let full = PersonName("Adams^John Robert Quincy^B^Rev.^B.A. M.Div.")
        #expect(full.alphabetic.familyName == "Adams")
        #expect(full.alphabetic.givenName == "John Robert Quincy")
        #expect(full.alphabetic.middleName == "B")
        #expect(full.alphabetic.namePrefix == "Rev.")
        #expect(full.alphabetic.nameSuffix == "B.A. M.Div.")
    }

    @Test func formatsBackDroppingTrailingEmptyComponentsAndGroups() {
        #expect(PersonName(familyName: "Иванов", givenName: "Иван").dicomString == "Иванов^Иван")
        #expect(PersonName(familyName: "Иванов").dicomString == "Иванов")
        #expect(PersonName(familyName: "Иванов", namePrefix: "Dr.").dicomString == "Иванов^^^Dr.")
        #expect(PersonName("Wang^XiaoDong=王^小东=").dicomString == "Wang^XiaoDong=王^小东")
        #expect(PersonName("Smith^^^^").dicomString == "Smith")
        #expect(PersonName("=山田^太郎").dicomString == "=山田^太郎")
        #expect(PersonName("").dicomString == "")
        #expect(PersonName("").isEmpty)
        for text in ["Hong^Gildong=洪^吉洞=홍^길동", "Асанбеков^Үмүт", "احمدی^پرویز", "^Given", "=^吉洞"] {
            #expect(PersonName(text).dicomString == text)
        }
    }

    @Test func removesTrailingPaddingOnly() {
        #expect(PersonName("Иванов^Иван ").dicomString == "Иванов^Иван")
        #expect(PersonName("Иванов^Иван\0").alphabetic.givenName == "Иван")
        #expect(PersonName(" Leading^Space").alphabetic.familyName == " Leading")
    }

    @Test func lenientParseKeepsExtraComponentsAndGroups() {
        #expect(PersonName("a^b^c^d^e^f").alphabetic.nameSuffix == "e^f")
        #expect(PersonName("a^b^c^d^e^f").dicomString == "a^b^c^d^e^f")
        #expect(PersonName("a=b=c=d").dicomString == "a=b=c=d")
    }

    @Test func strictParseRejectsTooManyGroupsOrComponents() throws {
        #expect(try PersonName(validating: "Yamada^Tarou=山田^太郎=やまだ^たろう").ideographic.familyName == "山田")
        #expect { try PersonName(validating: "a=b=c=d") } throws: { error in
            guard let error = error as? DICOMError else { return false }
            return error.code == .invalidValue && error.message.contains("4 component groups")
        }
        #expect { try PersonName(validating: "a^b^c^d^e^f") } throws: { ($0 as? DICOMError)?.message.contains("6 components") == true }
        #expect(throws: DICOMError.self) { try PersonName(validating: "a\\b") }
    }

    @Test func readableDescription() {
        #expect(PersonName("Yamada^Tarou=山田^太郎=やまだ^たろう").description == "Yamada Tarou (山田 太郎; やまだ たろう)")
        #expect(PersonName("Иванов^Иван^Петрович^Dr.").description == "Dr. Иванов Иван Петрович")
        #expect(PersonName("=山田^太郎").description == "山田 太郎")
        #expect(PersonName("").description == "")
    }

    @Test func decodeAndEncodeThroughCharacterSets() throws {
        let korean = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 149"])
        let name = PersonName("Hong^Gildong=洪^吉洞=홍^길동")
        let bytes = try korean.encodePersonName(name)
        #expect(korean.decodePersonName(bytes) == name)
        let names = [PersonName("Иванов^Иван"), PersonName("Асанбеков^Үмүт")]
        let utf8 = try SpecificCharacterSet.utf8.encodePersonNames(names)
        #expect(utf8 == Array("Иванов^Иван\\Асанбеков^Үмүт".utf8))
        #expect(SpecificCharacterSet.utf8.decodePersonNames(utf8) == names)
        #expect { try SpecificCharacterSet(terms: ["ISO_IR 144"]).encodePersonName(names[1]) } throws: { error in
            (error as? DICOMError)?.message.contains("U+04AE") == true
        }
    }
}
