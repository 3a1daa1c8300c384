import DICOMCore
import Foundation

/// The File Meta Information group (0002) of a Part 10 file (PS3.10 §7.1).
public enum FileMetaInformation {
    /// A complete File Meta Information group for a new file, naming this toolkit as the implementation.
    public static func make(sopClassUID: String, sopInstanceUID: String, transferSyntax: TransferSyntax,
                            sourceAETitle: String? = nil) -> DataSet {
        var meta = DataSet()
        meta.set(DataElement(tag: Tag(0x0002, 0x0001), vr: .OB, bytes: Data([0x00, 0x01])))
        meta.setASCII(Tag(0x0002, 0x0002), vr: .UI, sopClassUID)
        meta.setASCII(Tag(0x0002, 0x0003), vr: .UI, sopInstanceUID)
        meta.setASCII(Tag(0x0002, 0x0010), vr: .UI, transferSyntax.uid)
        meta.setASCII(Tag(0x0002, 0x0012), vr: .UI, UID.implementationClassUID)
        meta.setASCII(Tag(0x0002, 0x0013), vr: .SH, UID.implementationVersionName)
        if let sourceAETitle, !sourceAETitle.isEmpty {
            meta.setASCII(Tag(0x0002, 0x0016), vr: .AE, sourceAETitle)
        }
        return meta
    }

    /// Reads group 0002 elements starting at `offset`, in explicit VR little endian, stopping at the first
    /// element of another group, or where the File Meta Information Group Length (0002,0000) says the group ends when
    /// that falls between two elements (as DCMTK does): group 0002 elements after it were put in the data set by the
    /// file's writer, and belong to it. A group length that does not end on an element is ignored.
    static func read(_ data: Data, at offset: Int, options: ReadOptions,
                     diagnostics: inout [ReadDiagnostic]) throws -> (DataSet, Int) {
        try data.withUnsafeBytes { raw in
            var parser = Parser(base: data, bytes: raw, explicitVR: true, bigEndian: false, options: options, offsetBias: 0)
            var cursor = offset
            var elements: [DataElement] = []
            var groupEnd: Int?
            while raw.count - cursor >= 8 {
                let tag = parser.tag(cursor)
                guard tag.group == 0x0002 else { break }
                if let end = groupEnd, cursor == end {
                    diagnostics.append(ReadDiagnostic(severity: .warning, offset: cursor, tagPath: "\(tag)",
                                                      message: "group 0002 element after the end the File Meta Information Group Length gives; read as part of the data set"))
                    break
                }
                parser.enter(.tag(tag))
                let element = try parser.readElement(tag: tag, at: &cursor, end: raw.count, depth: 0, pixelRepresentation: nil,
                                                     characterSet: nil)
                parser.leave()
                if tag.element == 0x0000, elements.isEmpty, case .bytes(let value) = element.value, value.count == 4,
                   let length = DataSet.binary(value, UInt32.self).first {
                    groupEnd = cursor + Int(length)
                }
                elements.append(element)
            }
            diagnostics.append(contentsOf: parser.diagnostics)
            let ascending = zip(elements, elements.dropFirst()).allSatisfy { $0.tag < $1.tag }
            return (ascending ? DataSet(sortedElements: elements) : DataSet(elements), cursor)
        }
    }

    /// Encodes a meta group in explicit VR little endian with a freshly computed (0002,0000) group length.
    static func encode(_ meta: DataSet, into out: inout [UInt8]) throws {
        var body: [UInt8] = []
        var group = meta
        group.remove(Tag(0x0002, 0x0000))
        var writer = DataSetEncoder(explicitVR: true, bigEndian: false, options: WriteOptions())
        try writer.write(group, into: &body)
        var length = DataSet()
        length.set(DataElement(tag: Tag(0x0002, 0x0000), vr: .UL, bytes: withUnsafeBytes(of: UInt32(body.count).littleEndian) { Data($0) }))
        try writer.write(length, into: &out)
        out.append(contentsOf: body)
    }
}
