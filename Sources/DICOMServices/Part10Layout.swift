import DICOMCore
import DICOMIO
import Foundation

/// Where the data set starts in a Part 10 file (PS3.10 §7.1), so it can be sent byte for byte as stored.
public enum Part10Layout {
    /// The 128-byte preamble, `DICM` and File Meta Information (PS3.10 §7.1) of a file whose data set is already
    /// encoded in `transferSyntaxUID`: the header is encoded with a non-deflated stand-in carrying the same UID, as
    /// the data set bytes that follow are in the negotiated (possibly deflated) encoding.
    static func header(sopClassUID: String, sopInstanceUID: String, transferSyntaxUID: String, sourceAETitle: String) throws -> Data {
        let known = TransferSyntax(uid: transferSyntaxUID)
        let headerSyntax = TransferSyntax(uid: transferSyntaxUID, name: known?.name ?? transferSyntaxUID)
        let meta = FileMetaInformation.make(sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID,
                                            transferSyntax: headerSyntax, sourceAETitle: sourceAETitle)
        return try DICOMFile(preamble: Data(count: 128), fileMetaInformation: meta, dataSet: DataSet(), transferSyntax: headerSyntax).encoded()
    }

    /// The byte offset of the data set after the preamble, `DICM` and the File Meta Information, located by
    /// the group length (0002,0000); nil when the file has no preamble or no group length element first.
    public static func dataSetOffset(in data: Data) -> Int? {
        guard data.count >= 144 else { return nil }
        let base = data.startIndex
        guard data[base + 128] == 0x44, data[base + 129] == 0x49, data[base + 130] == 0x43, data[base + 131] == 0x4D else { return nil }
        func u16(_ at: Int) -> UInt16 { UInt16(data[base + at]) | UInt16(data[base + at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        guard u16(132) == 0x0002, u16(134) == 0x0000, data[base + 136] == 0x55, data[base + 137] == 0x4C, u16(138) == 4 else { return nil }
        let end = 144 + Int(u32(140))
        guard end <= data.count else { return nil }
        // The first element after the meta group must not belong to group 0002 (a wrong group length).
        if end + 2 <= data.count, u16(end) == 0x0002 { return nil }
        return end
    }

    /// ``dataSetOffset(in:)`` for a file on disk, reading its first 4 KB (the first megabyte when the File Meta
    /// Information is longer): File Meta Information takes a few hundred bytes, and the larger reads of the past cost
    /// about a tenth of sending a 0.5 MB image.
    static func dataSetOffset(ofFileAt path: String) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let short = 4 * 1024
        guard let prefix = try? handle.read(upToCount: short) else { return nil }
        if let offset = dataSetOffset(in: prefix) { return offset }
        guard prefix.count == short, let rest = try? handle.read(upToCount: (1 << 20) - short) else { return nil }
        return dataSetOffset(in: prefix + rest)
    }
}
