import DICOMCore
import Foundation
import Testing

/// Splitting and trimming text values (PS3.5 §6.2), done on UTF-8 bytes.
@Suite struct DataSetValuesTests {
    static func dataSet(_ vr: VR, _ bytes: [UInt8], characterSet: String? = nil) -> DataSet {
        var dataSet = DataSet()
        if let characterSet { dataSet.setASCII(.specificCharacterSet, vr: .CS, characterSet) }
        dataSet[.patientComments] = DataElement(tag: .patientComments, vr: vr, bytes: Data(bytes))
        return dataSet
    }

    @Test func multipleValuesArePaddedOnEitherSide() {
        let dataSet = Self.dataSet(.LO, Array(" A \\B\\\\  C  \0".utf8))
        #expect(dataSet.strings(.patientComments) == ["A", "B", "", "C"])
        #expect(dataSet.string(.patientComments) == "A")
        #expect(dataSet.text(.patientComments) == "A \\B\\\\  C")
    }

    @Test func singleValueFastPath() {
        #expect(Self.dataSet(.LO, Array("  Head first  ".utf8)).strings(.patientComments) == ["Head first"])
        #expect(Self.dataSet(.UI, Array("1.2.840.10008.1.2.1\0".utf8)).string(.patientComments) == "1.2.840.10008.1.2.1")
        #expect(Self.dataSet(.LO, [0x20, 0x20]).strings(.patientComments) == [""])
        #expect(Self.dataSet(.LO, [0, 0]).strings(.patientComments) == [""])
        #expect(Self.dataSet(.LO, []).strings(.patientComments) == [])
        #expect(Self.dataSet(.LO, []).string(.patientComments) == nil)
    }

    @Test func textVRsKeepLeadingSpacesAndBackslashes() {
        let dataSet = Self.dataSet(.LT, Array("  indented \\ text  ".utf8))
        #expect(dataSet.strings(.patientComments) == ["  indented \\ text"])
    }

    @Test func nonASCIIValuesSplitAndTrim() {
        // "Иванов \ Пётр " in ISO 8859-5 (ISO_IR 144): 0xB8 0xD2 0xD0 0xDD 0xDE 0xD2 | 0xBF 0xF1 0xE2 0xE0.
        let bytes: [UInt8] = [0xB8, 0xD2, 0xD0, 0xDD, 0xDE, 0xD2, 0x20, 0x5C, 0x20, 0xBF, 0xF1, 0xE2, 0xE0, 0x20]
        #expect(Self.dataSet(.LO, bytes, characterSet: "ISO_IR 144").strings(.patientComments) == ["Иванов", "Пётр"])
        let persian = Array(" کریمی \\پژمان ".utf8)
        #expect(Self.dataSet(.LO, persian, characterSet: "ISO_IR 192").strings(.patientComments) == ["کریمی", "پژمان"])
    }
}
