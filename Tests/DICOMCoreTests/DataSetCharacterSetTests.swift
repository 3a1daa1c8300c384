import DICOMCore
import Foundation
import Testing

/// `DataSet.characterSet`: lenient reading of (0008,0005) and the cached set kept in step with every change.
@Suite struct DataSetCharacterSetTests {
    /// "Иванов^Иван" in ISO 8859-5 (ISO_IR 144), padded to even length.
    static let cyrillicName: [UInt8] = [0xB8, 0xD2, 0xD0, 0xDD, 0xDE, 0xD2, 0x5E, 0xB8, 0xD2, 0xD0, 0xDD, 0x20]
    static let russian = "Иванов^Иван"

    static func dataSet(declaring value: [UInt8]?) -> DataSet {
        var dataSet = DataSet()
        if let value { dataSet[.specificCharacterSet] = DataElement(tag: .specificCharacterSet, vr: .CS, bytes: Data(value)) }
        dataSet[.patientName] = DataElement(tag: .patientName, vr: .PN, bytes: Data(cyrillicName))
        return dataSet
    }

    @Test func standardSpelling() {
        let dataSet = Self.dataSet(declaring: Array("ISO_IR 144".utf8))
        #expect(dataSet.characterSet.terms == ["ISO_IR 144"])
        #expect(dataSet.string(.patientName) == Self.russian)
    }

    /// Values as real devices write them, which pydicom and DCMTK read: case, spaces, NUL padding, hyphens.
    @Test(arguments: ["iso_ir 144", " ISO_IR 144 ", "ISO_IR 144\0\0", "ISO-IR 144", "ISO_IR_144", "ISOIR144",
                      "ISO_IR  144", "iso-8859-5", "Cyrillic"])
    func slightlyMalformedValuesStillDecode(_ value: String) {
        let dataSet = Self.dataSet(declaring: Array(value.utf8))
        #expect(dataSet.characterSet.terms == ["ISO_IR 144"], "\(value)")
        #expect(dataSet.string(.patientName) == Self.russian, "\(value)")
    }

    @Test func parseReportsWhetherTheSpellingWasStandard() throws {
        let exact = try #require(SpecificCharacterSet.parse(value: Data("ISO_IR 192".utf8)))
        #expect(exact.set == .utf8)
        #expect(exact.isStandardSpelling)
        let padded = try #require(SpecificCharacterSet.parse(value: Data("ISO_IR 100 ".utf8)))
        #expect(padded.set.terms == ["ISO_IR 100"])
        #expect(padded.isStandardSpelling, "trailing padding is part of the encoding, not a misspelling")
        let lower = try #require(SpecificCharacterSet.parse(value: Data("utf-8".utf8)))
        #expect(lower.set == .utf8)
        #expect(!lower.isStandardSpelling)
        let multi = try #require(SpecificCharacterSet.parse(value: Data("\\ISO 2022 IR 87".utf8)))
        #expect(multi.set.terms == ["", "ISO 2022 IR 87"])
        #expect(multi.isStandardSpelling)
        let lenientMulti = try #require(SpecificCharacterSet.parse(value: Data("\\iso 2022 ir 149".utf8)))
        #expect(lenientMulti.set.terms == ["", "ISO 2022 IR 149"])
        #expect(!lenientMulti.isStandardSpelling)
        #expect(SpecificCharacterSet.parse(value: Data())?.set == .default)
        #expect(SpecificCharacterSet.parse(value: Data("KLINGON".utf8)) == nil)
        #expect(SpecificCharacterSet.parse(value: Data("ISO_IR 100\\KLINGON".utf8)) == nil)
    }

    @Test func unrecognisableValueFallsBackToTheInheritedSet() throws {
        var dataSet = Self.dataSet(declaring: Array("KLINGON ".utf8))
        #expect(dataSet.characterSet == .default)
        dataSet.inheritedCharacterSet = try SpecificCharacterSet(terms: ["ISO_IR 144"])
        #expect(dataSet.string(.patientName) == Self.russian)
    }

    @Test func precedenceOverrideDeclaredInherited() throws {
        let latin1 = try SpecificCharacterSet(terms: ["ISO_IR 100"])
        let cyrillic = try SpecificCharacterSet(terms: ["ISO_IR 144"])
        var dataSet = Self.dataSet(declaring: nil)
        #expect(dataSet.characterSet == .default)
        dataSet.inheritedCharacterSet = cyrillic
        #expect(dataSet.characterSet == cyrillic)
        dataSet.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 100")
        #expect(dataSet.characterSet == latin1, "the declared set wins over the inherited one")
        dataSet.characterSetOverride = cyrillic
        #expect(dataSet.characterSet == cyrillic, "the override wins over the declared set")
        #expect(dataSet.string(.patientName) == Self.russian)
    }

    /// The cached set follows every way of changing (0008,0005).
    @Test func cachedSetFollowsEveryChange() throws {
        let cyrillic = try SpecificCharacterSet(terms: ["ISO_IR 144"])
        let latin1 = try SpecificCharacterSet(terms: ["ISO_IR 100"])
        var dataSet = Self.dataSet(declaring: nil)
        #expect(dataSet.characterSet == .default)

        dataSet.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 144")              // insert
        #expect(dataSet.characterSet == cyrillic)
        dataSet.set(DataElement(tag: .specificCharacterSet, vr: .CS, bytes: Data("ISO_IR 100".utf8)))  // replace
        #expect(dataSet.characterSet == latin1)
        #expect(dataSet.remove(.specificCharacterSet) != nil)                        // remove
        #expect(dataSet.characterSet == .default)
        #expect(dataSet.remove(.specificCharacterSet) == nil)
        #expect(dataSet.characterSet == .default)

        dataSet[.specificCharacterSet] = DataElement(tag: .specificCharacterSet, vr: .CS, bytes: Data("ISO_IR 144".utf8))
        #expect(dataSet.characterSet == cyrillic)
        dataSet[.specificCharacterSet] = nil                                         // subscript removal
        #expect(dataSet.characterSet == .default)

        // An element stored under another key lands under its own tag, and the cache follows both.
        dataSet[.patientID] = DataElement(tag: .specificCharacterSet, vr: .CS, bytes: Data("ISO_IR 144".utf8))
        #expect(dataSet.characterSet == cyrillic)
        dataSet[.specificCharacterSet] = DataElement(tag: .patientID, vr: .LO, bytes: Data("ID".utf8))
        #expect(dataSet.characterSet == .default)
        #expect(dataSet.string(.patientID) == "ID")

        dataSet.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 144")
        dataSet.removeAll { $0.group == 0x0010 }                                      // other tags: unchanged
        #expect(dataSet.characterSet == cyrillic)
        dataSet.removeAll { $0.group == 0x0008 }                                      // (0008,0005) removed
        #expect(dataSet.characterSet == .default)
    }

    @Test func initializersResolveTheDeclaredSet() throws {
        let cyrillic = try SpecificCharacterSet(terms: ["ISO_IR 144"])
        let declaration = DataElement(tag: .specificCharacterSet, vr: .CS, bytes: Data("ISO_IR 144".utf8))
        let name = DataElement(tag: .patientName, vr: .PN, bytes: Data(Self.cyrillicName))
        let fileMeta = DataElement(tag: Tag(0x0002, 0x0010), vr: .UI, bytes: Data("1.2.840.10008.1.2.1\0".utf8))
        let earlier = DataElement(tag: Tag(0x0008, 0x0001), vr: .UL, bytes: Data([0, 0, 0, 0]))

        let sorted = DataSet(sortedElements: [fileMeta, earlier, declaration, name])
        #expect(sorted.characterSet == cyrillic)
        #expect(sorted.string(.patientName) == Self.russian)
        let unordered = DataSet([name, declaration])
        #expect(unordered.characterSet == cyrillic)
        #expect(DataSet(sortedElements: [earlier, name]).characterSet == .default)
        #expect(DataSet(sortedElements: []).characterSet == .default)
        // A (0008,0005) that is not text (a broken file read as a sequence) declares nothing.
        #expect(DataSet(sortedElements: [DataElement(tag: .specificCharacterSet, items: [])]).characterSet == .default)
    }

    /// A value type: changing a copy's (0008,0005) leaves the original's set alone, and equality ignores the cache.
    @Test func copiesAreIndependent() throws {
        let original = Self.dataSet(declaring: Array("ISO_IR 144".utf8))
        var copy = original
        copy.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 100")
        #expect(original.characterSet.terms == ["ISO_IR 144"])
        #expect(copy.characterSet.terms == ["ISO_IR 100"])
        #expect(original != copy)
        copy.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 144")
        #expect(original == copy)
    }

    /// Writing text goes through the cached set too: it encodes in the declared set and rejects what it cannot hold.
    @Test func encodingUsesTheDeclaredSet() throws {
        var dataSet = DataSet()
        dataSet.setASCII(.specificCharacterSet, vr: .CS, "iso_ir 144")
        try dataSet.set(.patientName, vr: .PN, string: Self.russian)
        #expect(dataSet[.patientName]?.bytes == Data(Self.cyrillicName))
        #expect(throws: DICOMError.self) { try dataSet.set(.patientName, vr: .PN, string: "کریمی^پژمان") }
        dataSet.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 192")
        try dataSet.set(.patientName, vr: .PN, string: "کریمی^پژمان")
        #expect(dataSet.string(.patientName) == "کریمی^پژمان")
    }

    /// Items inherit through the reader; a data set built by hand resolves its own declaration in items too.
    @Test func itemWithItsOwnDeclaration() throws {
        var item = DataSet()
        item.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 144")
        item[.patientName] = DataElement(tag: .patientName, vr: .PN, bytes: Data(Self.cyrillicName))
        var dataSet = DataSet()
        dataSet[.otherPatientIDsSequence] = DataElement(tag: .otherPatientIDsSequence, items: [item])
        #expect(dataSet.items(.otherPatientIDsSequence)?.first?.string(.patientName) == Self.russian)
    }
}
