import Foundation
import DICOMCore

extension EncapsulatedPixelData {
    /// The Value Field of encapsulated Pixel Data as it appears in an undefined-length element
    /// (PS3.5 §A.4): an Item (FFFE,E000) holding the Basic Offset Table, then one Item per fragment,
    /// each with a 32-bit little-endian length. The closing Sequence Delimitation Item is not included,
    /// as in pydicom; `init(valueField:)` accepts it either way.
    ///
    /// PS3.18 §F.2.7 carries this whole Value Field base64-encoded in "InlineBinary".
    var valueField: Data {
        var out = Data()
        out.reserveCapacity(8 + basicOffsetTable.count + fragments.reduce(0) { $0 + 8 + $1.count })
        func appendItem(_ value: Data) {
            var header: [UInt8] = [0xFE, 0xFF, 0x00, 0xE0]
            let length = UInt32(truncatingIfNeeded: value.count)
            header += [UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8),
                       UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 24)]
            out.append(contentsOf: header)
            out.append(value)
        }
        appendItem(basicOffsetTable)
        for fragment in fragments { appendItem(fragment) }
        return out
    }

    /// Whether the bytes begin with an Item tag (FFFE,E000) in little-endian order, the sign of an
    /// encapsulated Value Field rather than native pixel data.
    static func looksEncapsulated(_ data: Data) -> Bool {
        data.count >= 8 && data.starts(with: [0xFE, 0xFF, 0x00, 0xE0])
    }

    /// Parses an encapsulated Value Field: Items with explicit lengths, optionally closed by a Sequence
    /// Delimitation Item. Throws `.malformed` or `.truncated` naming the offset of the bad item.
    init(valueField data: Data, tagPath: String) throws {
        let bytes = [UInt8](data)
        var items: [Data] = []
        var offset = 0
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        while offset < bytes.count {
            guard bytes.count - offset >= 8 else {
                throw DICOMError(.truncated, "encapsulated pixel data ends inside an item header", offset: offset, tagPath: tagPath)
            }
            let tag = u32(offset)
            let length = Int(u32(offset + 4))
            if tag == 0xE0DD_FFFE {
                guard offset + 8 == bytes.count else {
                    throw DICOMError(.malformed, "data follows the Sequence Delimitation Item of encapsulated pixel data", offset: offset, tagPath: tagPath)
                }
                break
            }
            guard tag == 0xE000_FFFE else {
                throw DICOMError(.malformed, "expected an Item (FFFE,E000) in encapsulated pixel data, found (\(hexString(UInt16(tag & 0xFFFF), digits: 4)),\(hexString(UInt16(tag >> 16), digits: 4)))", offset: offset, tagPath: tagPath)
            }
            guard length != 0xFFFF_FFFF, length <= bytes.count - offset - 8 else {
                throw DICOMError(.truncated, "encapsulated pixel data item of length \(length) runs past the end of the value", offset: offset, tagPath: tagPath)
            }
            items.append(Data(bytes[(offset + 8)..<(offset + 8 + length)]))
            offset += 8 + length
        }
        guard let first = items.first else {
            throw DICOMError(.malformed, "encapsulated pixel data has no Basic Offset Table item", tagPath: tagPath)
        }
        self.init(basicOffsetTable: first, fragments: Array(items.dropFirst()))
    }
}
