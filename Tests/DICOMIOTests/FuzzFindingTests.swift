import DICOMCore
import Foundation
import Testing
@testable import DICOMIO

/// Regression tests for what `Tools/fuzz/fuzz-dataset` found (Tools/fuzz/README.md, "Findings"). The findings are
/// harness inputs: the first byte picks the reader, the rest is what the reader gets.
@Suite struct FuzzFindingTests {
    /// A finding from Tools/fuzz/findings, without the harness's mode byte.
    func finding(_ name: String) throws -> Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Tools/fuzz/findings/\(name)").standardized
        return try Data(contentsOf: url).dropFirst()
    }

    /// dataset-group0002-in-dataset.bin: a file whose data set holds group 0002 elements, among them a (0002,0010)
    /// naming Explicit VR Big Endian (read with `.metadataOnly`, tolerating the elements out of order). `encoded()`
    /// wrote them straight after the File Meta Information; reading the result back took them as part of the meta
    /// group, read the data set as big endian and failed ("(022E,3000) UI has length 12288 but only 48 bytes
    /// remain"). Group 0002 is now left out of the data set when a file is written.
    @Test func groupTwoInTheDataSetIsNotWrittenAfterTheMetaGroup() throws {
        let file = try DICOMFile(data: finding("dataset-group0002-in-dataset.bin"), options: .metadataOnly)
        #expect(file.transferSyntax == .explicitVRLittleEndian)
        #expect(file.dataSet.contains(Tag(0x0002, 0x0010)))
        let again = try DICOMFile(data: file.encoded())
        #expect(again.transferSyntax == .explicitVRLittleEndian)
        #expect(again.dataSet.elements(in: Tag(0x0002, 0x0000)...Tag(0x0002, 0xFFFF)).isEmpty)
        #expect(again.dataSet[Tag(0x2E02, 0x0030)]?.bytes == file.dataSet[Tag(0x2E02, 0x0030)]?.bytes)
    }

    /// The same defect from a data set built in memory (as a C-STORE receiver holds it): the file written for it
    /// reads back in its own transfer syntax with every other element intact.
    @Test func storedDataSetWithGroupTwoReadsBack() throws {
        var dataSet = DataSet()
        dataSet.setASCII(Tag(0x0002, 0x0010), vr: .UI, TransferSyntax.explicitVRBigEndian.uid)
        dataSet.setASCII(Tag(0x0002, 0x0013), vr: .SH, "OTHER")
        dataSet.setASCII(Tag(0x0008, 0x0016), vr: .UI, "1.2.840.10008.5.1.4.1.1.7")
        dataSet.setASCII(Tag(0x0008, 0x0018), vr: .UI, "1.2.3.4")
        dataSet.setASCII(Tag(0x0010, 0x0010), vr: .PN, "Doe^Jane")
        for syntax in [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian,
                       .deflatedExplicitVRLittleEndian] {
            let written = try DICOMFile(dataSet: dataSet, transferSyntax: syntax).encoded()
            let read = try DICOMFile(data: written)
            #expect(read.transferSyntax == syntax)
            #expect(read.fileMetaInformation.string(Tag(0x0002, 0x0010)) == syntax.uid)
            #expect(read.dataSet.string(Tag(0x0010, 0x0010)) == "Doe^Jane")
            #expect(!read.dataSet.contains(Tag(0x0002, 0x0010)))
        }
    }
}
