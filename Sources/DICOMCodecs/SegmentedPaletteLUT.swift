import DICOMCore
import Foundation

/// Expands Segmented Palette Color Lookup Table Data (0028,1221-1224) into plain table entries (PS3.3 §C.7.9.2).
///
/// The data is a series of 16-bit words forming segments, each starting with an opcode word and a length word:
/// - discrete (opcode 0, Table C.7-25): `length` entries follow verbatim;
/// - linear (opcode 1, Table C.7-26): one word Y1 follows; `length` entries join the previous segment's last entry
///   Y0 to Y1 on a straight line, Y0 excluded and Y1 included (a linear segment cannot come first);
/// - indirect (opcode 2, Table C.7-27): the least and then the most significant 16 bits of a 32-bit byte offset follow,
///   from the start of the data to an earlier segment; `length` segments from there are expanded again. An indirect
///   segment shall not point to or copy another indirect segment (§C.7.9.2.3), which bounds the work.
///
/// The standard calls the offset a byte offset. Some toolkits treat it as a word index; when the byte offset does not
/// land on the start of a segment but the same number read as a word index does, that reading is taken.
///
/// With 8 bits per entry, pydicom and GDCM write (and read) the segments as bytes rather than words: opcode, length
/// and entries one byte each, the indirect offset four bytes. ``expand(bytes:entryCount:name:)`` reads that form. Anything
/// else — a reserved opcode, a segment running past the data, an offset not at an earlier segment, an indirect
/// segment copying an indirect segment, a table longer or shorter than the descriptor's entry count — is an error.
enum SegmentedPaletteLUT {
    /// One parsed segment: its opcode, its length word and where its payload starts (word index).
    private struct Segment {
        var opcode: Int
        var length: Int
        var payload: Int
        var start: Int
    }

    /// The expanded table for `words` (the element's 16-bit values), which must hold exactly `entryCount` entries
    /// once expanded. `name` names the table in errors (e.g. "Segmented Red Palette Color Lookup Table Data").
    static func expand(_ words: [UInt16], entryCount: Int, name: String) throws -> [Int] {
        try expand(units: words, unitBytes: 2, entryCount: entryCount, name: name)
    }

    /// The expanded table for segments coded in bytes (8-bit entries as pydicom and GDCM code them): each opcode,
    /// length and entry is one byte, an indirect segment's offset four bytes (little endian), a byte offset.
    static func expand(bytes: [UInt8], entryCount: Int, name: String) throws -> [Int] {
        try expand(units: bytes.map(UInt16.init), unitBytes: 1, entryCount: entryCount, name: name)
    }

    /// Expands segments made of `unitBytes`-byte units (2: words, 1: bytes).
    private static func expand(units words: [UInt16], unitBytes: Int, entryCount: Int, name: String) throws -> [Int] {
        guard entryCount > 0, entryCount <= 65536 else {
            throw CodecError(.invalidImage, "\(name): the descriptor's entry count \(entryCount) is not 1...65536")
        }
        // Pass 1: split the words into segments (a trailing odd padding word is tolerated only if it is 0).
        var segments: [Segment] = []
        var index = 0
        while index < words.count {
            if index == words.count - 1, words[index] == 0, !segments.isEmpty { break }
            guard index + 1 < words.count else {
                throw CodecError(.invalidImage, "\(name): a segment at word \(index) has no length word")
            }
            let opcode = Int(words[index]), length = Int(words[index + 1])
            let payloadWords: Int
            switch opcode {
            case 0: payloadWords = length
            case 1: payloadWords = 1
            case 2: payloadWords = 4 / unitBytes
            default:
                throw CodecError(.invalidImage, "\(name): segment at word \(index) has opcode \(opcode) (0 discrete, 1 linear, 2 indirect; 3 and above are reserved)")
            }
            guard index + 2 + payloadWords <= words.count else {
                throw CodecError(.invalidImage, "\(name): the segment at word \(index) needs \(payloadWords) words after its header, only \(words.count - index - 2) remain")
            }
            segments.append(Segment(opcode: opcode, length: length, payload: index + 2, start: index))
            index += 2 + payloadWords
        }
        guard !segments.isEmpty else { throw CodecError(.invalidImage, "\(name) is empty") }

        // Pass 2: expand, never past entryCount.
        var table: [Int] = []
        table.reserveCapacity(entryCount)
        for (number, segment) in segments.enumerated() {
            if segment.opcode == 2 {
                var offset = 0
                for k in 0..<(4 / unitBytes) { offset |= Int(words[segment.payload + k]) << (8 * unitBytes * k) }
                let first = try indirectTarget(offset: offset, unitBytes: unitBytes, segments: segments, before: number, name: name)
                guard first + segment.length <= number else {
                    throw CodecError(.invalidImage, "\(name): the indirect segment at word \(segment.start) copies \(segment.length) segments from segment \(first), past itself")
                }
                for copied in segments[first..<(first + segment.length)] {
                    guard copied.opcode != 2 else {
                        throw CodecError(.invalidImage, "\(name): the indirect segment at word \(segment.start) copies another indirect segment (PS3.3 §C.7.9.2.3)")
                    }
                    try append(copied, words: words, to: &table, limit: entryCount, name: name)
                }
            } else {
                try append(segment, words: words, to: &table, limit: entryCount, name: name)
            }
        }
        guard table.count == entryCount else {
            throw CodecError(.invalidImage, "\(name) expands to \(table.count) entries, the descriptor gives \(entryCount)")
        }
        return table
    }

    /// The index of the segment an indirect offset points to: read as a byte offset, else as a word index.
    private static func indirectTarget(offset: Int, unitBytes: Int, segments: [Segment], before number: Int, name: String) throws -> Int {
        let earlier = segments[..<number]
        if offset % unitBytes == 0, let found = earlier.firstIndex(where: { $0.start == offset / unitBytes }) { return found }
        if let found = earlier.firstIndex(where: { $0.start == offset }) { return found }
        throw CodecError(.invalidImage, "\(name): the indirect segment at word \(segments[number].start) points to byte offset \(offset), which is not the start of an earlier segment")
    }

    /// Appends one discrete or linear segment's entries.
    private static func append(_ segment: Segment, words: [UInt16], to table: inout [Int], limit: Int, name: String) throws {
        guard table.count + segment.length <= limit else {
            throw CodecError(.invalidImage, "\(name): the segment at word \(segment.start) takes the table past the descriptor's \(limit) entries")
        }
        if segment.opcode == 0 {
            for word in words[segment.payload..<(segment.payload + segment.length)] { table.append(Int(word)) }
            return
        }
        guard let y0 = table.last else {
            throw CodecError(.invalidImage, "\(name): the linear segment at word \(segment.start) has no previous segment to start from")
        }
        let y1 = Int(words[segment.payload]), n = segment.length
        // Entry i (1...n) lies on the line from (0, Y0) to (n, Y1): (Y0·n + (Y1 − Y0)·i) / n, rounded half to even.
        for i in stride(from: 1, through: n, by: 1) {
            table.append(roundedQuotient(y0 * n + (y1 - y0) * i, n))
        }
    }

    /// `numerator / denominator` (denominator > 0) rounded to the nearest integer, ties to even.
    private static func roundedQuotient(_ numerator: Int, _ denominator: Int) -> Int {
        var quotient = numerator / denominator, remainder = numerator % denominator
        if remainder < 0 { quotient -= 1; remainder += denominator }
        let twice = 2 * remainder
        if twice > denominator || (twice == denominator && quotient % 2 != 0) { quotient += 1 }
        return quotient
    }
}

extension RenderLUT {
    /// A palette channel from its descriptor (0028,1101-1103) and Segmented Palette Color Lookup Table Data
    /// (0028,1221-1223), expanded by ``SegmentedPaletteLUT``.
    init(descriptor: [Int], segmentedData: DataElement?, name: String) throws {
        guard descriptor.count == 3 else {
            throw CodecError(.invalidImage, "\(name) Lookup Table Descriptor has \(descriptor.count) values, 3 expected")
        }
        let count = descriptor[0] == 0 ? 65536 : descriptor[0]
        guard (1...65536).contains(count), (0...65535).contains(descriptor[1]) else {
            throw CodecError(.invalidImage, "\(name) Lookup Table Descriptor \(descriptor) is out of range")
        }
        guard descriptor[2] == 8 || descriptor[2] == 16 else {
            throw CodecError(.invalidImage, "\(name) Lookup Table Descriptor bits per entry \(descriptor[2]) must be 8 or 16")
        }
        guard let bytes = segmentedData?.bytes else {
            throw CodecError(.invalidImage, "Segmented \(name) Lookup Table Data is missing")
        }
        guard bytes.count % 2 == 0 || descriptor[2] == 8 else {
            throw CodecError(.invalidImage, "Segmented \(name) Lookup Table Data has an odd length \(bytes.count); it is OW")
        }
        let label = "Segmented \(name) Lookup Table Data"
        func wordCoded() throws -> [Int] {
            let entries = try SegmentedPaletteLUT.expand(DataSet.binary(bytes, UInt16.self), entryCount: count, name: label)
            if descriptor[2] == 8, entries.contains(where: { $0 > 255 }) {
                throw CodecError(.invalidImage, "\(label): the 16-bit segments hold entries above 255, with 8 bits per entry")
            }
            return entries
        }
        let entries: [Int]
        do {
            entries = try wordCoded()
        } catch let wordError as CodecError where descriptor[2] == 8 {
            // 8 bits per entry: the segments may be coded in bytes (as pydicom and GDCM write them).
            guard let byteCoded = try? SegmentedPaletteLUT.expand(bytes: [UInt8](bytes), entryCount: count, name: label) else {
                throw wordError
            }
            entries = byteCoded
        }
        let maximum = (1 << descriptor[2]) - 1
        if let bad = entries.firstIndex(where: { $0 > maximum }) {
            throw CodecError(.invalidImage, "Segmented \(name) Lookup Table Data: entry \(bad) is \(entries[bad]), above the \(descriptor[2])-bit maximum \(maximum)")
        }
        self.init(firstMapped: descriptor[1], bitsPerEntry: descriptor[2], entries: entries)
    }

    /// A table from already expanded entries.
    init(firstMapped: Int, bitsPerEntry: Int, entries: [Int]) {
        self.firstMapped = firstMapped
        self.bitsPerEntry = bitsPerEntry
        self.entries = entries
    }
}
