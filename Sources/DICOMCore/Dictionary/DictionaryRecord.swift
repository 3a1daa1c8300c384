/// One line of the generated record texts, `tag|VRs|VM|R or -|keyword|name`, viewed in place.
///
/// The texts are `StaticString`s in the binary's constant data, so a record is read without copying and the
/// VRs without allocating; only ``entry`` makes Strings. Internal to the generated tables.
struct DictionaryRecord {
    /// The bytes of the line, without its newline.
    let bytes: UnsafeBufferPointer<UInt8>

    /// The record at `offset` in `text`, or nil for a negative offset (what the lookup switches return for no match).
    init?(_ text: StaticString, _ offset: Int) {
        guard offset >= 0, offset < text.utf8CodeUnitCount else { return nil }
        let all = UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        var end = offset
        while end < all.count && all[end] != 0x0A { end += 1 }
        bytes = UnsafeBufferPointer(rebasing: all[offset..<end])
    }

    /// Every record of a text, in order.
    static func all(in text: StaticString) -> [DictionaryRecord] {
        var records: [DictionaryRecord] = []
        var offset = 0
        while let record = DictionaryRecord(text, offset) {
            records.append(record)
            offset += record.bytes.count + 1
        }
        return records
    }

    /// The six fields' ranges within `bytes`.
    private func field(_ number: Int) -> Range<Int> {
        var start = 0, current = 0
        for i in 0..<bytes.count where bytes[i] == UInt8(ascii: "|") {
            if current == number { return start..<i }
            current += 1
            start = i + 1
        }
        return start..<bytes.count
    }

    private func string(_ number: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[field(number)]), as: UTF8.self)
    }

    /// The tag in field 0 (eight hexadecimal digits).
    var tag: UInt32 {
        var value: UInt32 = 0
        for byte in bytes.prefix(8) {
            let digit = byte <= UInt8(ascii: "9") ? byte &- UInt8(ascii: "0") : byte &- UInt8(ascii: "A") &+ 10
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// The VRs of field 1 ("OB or OW", "NONE") packed as in ``DictionaryEntry``, 16 bits each, first lowest.
    var packedVRs: UInt64 {
        let range = field(1)
        var packed: UInt64 = 0, shift: UInt64 = 0
        var i = range.lowerBound
        while i + 1 < range.upperBound {
            if let vr = VR(byte0: bytes[i], byte1: bytes[i + 1]) {
                packed |= UInt64(vr.rawValue) << shift
                shift += 16
            }
            i += 6  // "XX or "
        }
        return packed
    }

    /// The entry for this record, with `tag` (a repeating group's concrete tag) in place of field 0.
    func entry(tag: Tag) -> DictionaryEntry {
        DictionaryEntry(tag: tag, keyword: string(4), name: string(5), vm: string(2),
                        isRetired: bytes[field(3).lowerBound] == UInt8(ascii: "R"), packedVRs: packedVRs)
    }
}
