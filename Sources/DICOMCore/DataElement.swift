import Foundation

/// One data element: a tag, its value representation and its value (PS3.5 §7.1).
///
/// Values stay as the raw bytes that were read until a typed accessor interprets them, so reading
/// and writing an unchanged element gives back the same bytes. Binary values are held in little-endian
/// byte order whatever the transfer syntax they were read from; the writer swaps for big endian.
public struct DataElement: Sendable, Equatable {
    public var tag: Tag
    public var vr: VR
    public var value: Value

    /// The value of a data element.
    public enum Value: Sendable, Equatable {
        /// Raw value bytes, including any padding byte, little endian for binary VRs.
        /// The `Data` may be a slice of a larger buffer (its `startIndex` need not be 0).
        case bytes(Data)
        /// The items of a sequence (VR SQ), each a nested data set.
        case sequence([DataSet])
        /// Encapsulated (compressed) pixel data: a Basic Offset Table and fragments (PS3.5 §A.4).
        case encapsulated(EncapsulatedPixelData)
    }

    /// Whether the element was read with an undefined length (0xFFFFFFFF); the writer can keep it that way.
    public var hadUndefinedLength: Bool

    public init(tag: Tag, vr: VR, value: Value, hadUndefinedLength: Bool = false) {
        self.tag = tag
        self.vr = vr
        self.value = value
        self.hadUndefinedLength = hadUndefinedLength
    }

    /// An element with raw bytes.
    public init(tag: Tag, vr: VR, bytes: Data) {
        self.init(tag: tag, vr: vr, value: .bytes(bytes))
    }

    /// A sequence element.
    public init(tag: Tag, items: [DataSet], undefinedLength: Bool = false) {
        self.init(tag: tag, vr: .SQ, value: .sequence(items), hadUndefinedLength: undefinedLength)
    }

    /// The raw bytes, or nil for sequences and encapsulated pixel data.
    @inlinable public var bytes: Data? {
        if case .bytes(let data) = value { return data }
        return nil
    }

    /// The items, or nil when this is not a sequence.
    @inlinable public var items: [DataSet]? {
        if case .sequence(let items) = value { return items }
        return nil
    }

    /// The encapsulated pixel data, or nil.
    @inlinable public var encapsulated: EncapsulatedPixelData? {
        if case .encapsulated(let pixels) = value { return pixels }
        return nil
    }

    /// The byte length of a raw value (0 for sequences and encapsulated data, whose length depends on the encoding).
    public var valueLength: Int {
        if case .bytes(let data) = value { return data.count }
        return 0
    }

    public static func == (lhs: DataElement, rhs: DataElement) -> Bool {
        lhs.tag == rhs.tag && lhs.vr == rhs.vr && lhs.value == rhs.value
    }
}

/// Encapsulated pixel data (PS3.5 §A.4): the Basic Offset Table item and the fragments, kept as read.
public struct EncapsulatedPixelData: Sendable, Equatable {
    /// The value of the first item: the Basic Offset Table, possibly empty.
    public var basicOffsetTable: Data
    /// The values of the following items, one fragment each.
    public var fragments: [Data]

    public init(basicOffsetTable: Data = Data(), fragments: [Data]) {
        self.basicOffsetTable = basicOffsetTable
        self.fragments = fragments
    }

    /// The Basic Offset Table as offsets (little endian 32-bit), empty when the table is empty.
    public var offsets: [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(basicOffsetTable.count / 4)
        basicOffsetTable.withUnsafeBytes { raw in
            var i = 0
            while i + 4 <= raw.count {
                result.append(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                i += 4
            }
        }
        return result
    }
}
