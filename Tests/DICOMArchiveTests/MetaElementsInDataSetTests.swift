import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMArchive

/// A sender that puts group 0002 elements in the data set of a C-STORE (PS3.10 §7.1 keeps them in the File Meta
/// Information): the archive stores the data set as received and its file reads back in the negotiated syntax.
@Suite struct MetaElementsInDataSetTests {
    @Test func storedAndReadBackInTheNegotiatedSyntax() async throws {
        let archive = try await StoreFixtures.archive("meta-in-dataset")
        defer { archive.remove() }
        var dataSet = try StoreFixtures.dataSet(sop: "1.2.3.4.5.77")
        // A (0002,0010) naming another syntax than the one negotiated, and a stray implementation version.
        dataSet.setASCII(Tag(0x0002, 0x0010), vr: .UI, TransferSyntax.explicitVRBigEndian.uid)
        dataSet.setASCII(Tag(0x0002, 0x0013), vr: .SH, "SENDER_1")
        let result = try await archive.store(dataSet, callingAETitle: "CT01")
        #expect(result.status == .success)
        let record = try #require(result.record)
        let file = try DICOMFile(contentsOf: archive.layout.absolute(record.path))
        #expect(file.transferSyntax == .explicitVRLittleEndian)
        #expect(file.fileMetaInformation.string(Tag(0x0002, 0x0016)) == "CT01")
        // Byte for byte as received: the stray elements stay in the data set.
        #expect(file.dataSet == dataSet)
        #expect(record.patientID == "PID-1")
    }
}
