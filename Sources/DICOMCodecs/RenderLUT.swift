import DICOMCore
import Foundation

/// A lookup table item of a Modality LUT, VOI LUT or palette (PS3.3 §C.11.1, §C.11.2, §C.7.6.3.1.5):
/// LUT Descriptor (entries, first value mapped, bits per entry) and LUT Data.
struct RenderLUT: Sendable, Equatable {
    var firstMapped: Int
    var bitsPerEntry: Int
    var entries: [Int]

    /// Reads a LUT from a descriptor and its data; `signedInput` says the first value mapped is SS.
    init(descriptor: [Int], data: DataElement?, signedInput: Bool, name: String) throws {
        guard descriptor.count == 3 else {
            throw CodecError(.invalidImage, "\(name) LUT Descriptor has \(descriptor.count) values, 3 expected")
        }
        let count = descriptor[0] == 0 ? 65536 : descriptor[0]
        var first = descriptor[1]
        if signedInput, first > 32767 { first -= 65536 }
        guard (1...65536).contains(count), (-32768...65535).contains(first) else {
            throw CodecError(.invalidImage, "\(name) LUT Descriptor \(descriptor) is out of range")
        }
        guard (1...16).contains(descriptor[2]) else {
            throw CodecError(.invalidImage, "\(name) LUT Descriptor bits per entry \(descriptor[2]) must be 1...16")
        }
        guard let bytes = data?.bytes else {
            throw CodecError(.invalidImage, "\(name) LUT Data is missing")
        }
        firstMapped = first
        bitsPerEntry = descriptor[2]
        if bytes.count == count * 2 {
            entries = DataSet.binary(bytes, UInt16.self).map(Int.init)
        } else if bitsPerEntry <= 8, bytes.count == count || bytes.count == count + 1 {
            entries = bytes.prefix(count).map(Int.init)  // 8-bit entries packed into OW, two per word
        } else {
            throw CodecError(.invalidImage, "\(name) LUT Data has \(bytes.count) bytes for \(count) entries of \(bitsPerEntry) bits")
        }
    }

    /// Reads the LUT of a sequence item holding LUT Descriptor (0028,3002) and LUT Data (0028,3006).
    init(item: DataSet, signedInput: Bool, name: String) throws {
        guard let descriptor = item.integers(.lutDescriptor) else {
            throw CodecError(.invalidImage, "\(name) LUT Descriptor (0028,3002) is missing")
        }
        try self.init(descriptor: descriptor, data: item[.lutData], signedInput: signedInput, name: name)
    }

    /// The entry for an input value; values outside the table take the first or last entry.
    @inline(__always) func lookup(_ value: Int) -> Int {
        let index = value - firstMapped
        if index <= 0 { return entries[0] }
        if index >= entries.count { return entries[entries.count - 1] }
        return entries[index]
    }

    /// The largest value an entry can hold.
    var maximumOutput: Int { (1 << bitsPerEntry) - 1 }
}
