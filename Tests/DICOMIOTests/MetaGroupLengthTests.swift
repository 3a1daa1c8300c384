import DICOMCore
import Foundation
import Testing
@testable import DICOMIO

/// Where the File Meta Information ends when group 0002 elements follow it in the data set (a sender's defect that the
/// archive stores as received): at the end its Group Length (0002,0000) gives, as DCMTK reads it.
@Suite struct MetaGroupLengthTests {
    /// One explicit VR little endian element with a short (2-byte) length.
    func element(_ group: UInt16, _ number: UInt16, _ vr: String, _ text: String) -> [UInt8] {
        var value = Array(text.utf8)
        if value.count % 2 == 1 { value.append(vr == "UI" ? 0 : 0x20) }
        var out: [UInt8] = []
        for half in [group, number] { out += [UInt8(half & 0xFF), UInt8(half >> 8)] }
        out += Array(vr.utf8)
        out += [UInt8(value.count & 0xFF), UInt8(value.count >> 8)]
        return out + value
    }

    /// A file: preamble, DICM, a meta group in `metaSyntax` with its group length (plus `lengthError`), then `body`.
    func file(metaSyntax: TransferSyntax, lengthError: Int = 0, body: [UInt8]) throws -> Data {
        var meta = DataSet()
        meta.setASCII(Tag(0x0002, 0x0002), vr: .UI, "1.2.840.10008.5.1.4.1.1.7")
        meta.setASCII(Tag(0x0002, 0x0003), vr: .UI, "1.2.3.4")
        meta.setASCII(Tag(0x0002, 0x0010), vr: .UI, metaSyntax.uid)
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        try FileMetaInformation.encode(meta, into: &out)
        if lengthError != 0 {
            // The group length's value sits right after its 8-byte tag/VR/length header, 12 bytes past DICM.
            let at = 132 + 8
            let length = (Int(out[at]) | Int(out[at + 1]) << 8) + lengthError
            out[at] = UInt8(length & 0xFF)
            out[at + 1] = UInt8(length >> 8)
        }
        return Data(out + body)
    }

    var body: [UInt8] {
        element(0x0002, 0x0010, "UI", TransferSyntax.explicitVRBigEndian.uid)
            + element(0x0002, 0x0013, "SH", "ROGUE")
            + element(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7")
            + element(0x0008, 0x0018, "UI", "1.2.3.4")
            + element(0x0010, 0x0010, "PN", "Doe^Jane")
    }

    @Test func groupTwoAfterTheGroupLengthBelongsToTheDataSet() throws {
        for options in [ReadOptions(), ReadOptions.metadataOnly] {
            let read = try DICOMFile(data: file(metaSyntax: .explicitVRLittleEndian, body: body), options: options)
            // The meta group's own syntax rules; the data set's (0002,0010) naming big endian does not.
            #expect(read.transferSyntax == .explicitVRLittleEndian)
            #expect(read.fileMetaInformation.string(Tag(0x0002, 0x0010)) == TransferSyntax.explicitVRLittleEndian.uid)
            #expect(read.fileMetaInformation[Tag(0x0002, 0x0013)] == nil)
            #expect(read.dataSet.string(Tag(0x0002, 0x0013)) == "ROGUE")
            #expect(read.dataSet.string(Tag(0x0010, 0x0010)) == "Doe^Jane")
            #expect(read.diagnostics.contains { $0.message.contains("File Meta Information Group Length") })
        }
    }

    /// A group length that does not end on an element boundary is a damaged length: the group is read by its tags,
    /// as before, and the data set in the syntax it then names.
    @Test func groupLengthOffAnElementIsIgnored() throws {
        let plain = element(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7") + element(0x0010, 0x0010, "PN", "Doe^Jane")
        let read = try DICOMFile(data: file(metaSyntax: .explicitVRLittleEndian, lengthError: 3, body: plain))
        #expect(read.transferSyntax == .explicitVRLittleEndian)
        #expect(read.dataSet.string(Tag(0x0010, 0x0010)) == "Doe^Jane")
        #expect(!read.diagnostics.contains { $0.message.contains("File Meta Information Group Length") })
    }
}
