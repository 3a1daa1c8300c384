import DICOMCore
import Foundation

/// Reads data sets encoded in any uncompressed-header transfer syntax (PS3.5 §7): implicit or explicit VR,
/// little or big endian, with defined or undefined lengths, nested sequences and encapsulated pixel data.
///
/// The reader enters `withUnsafeBytes` once per parse and walks a cursor that checks bounds on every read.
/// Values are slices of the input buffer (no copy); binary values read from big endian are swapped into
/// little endian. Every length is checked against the bytes that remain before anything is sliced.
public enum DataSetReader {
    /// Reads a whole data set that fills `data`.
    ///
    /// - Parameters:
    ///   - data: the encoded data set (for deflated syntaxes, already inflated).
    ///   - transferSyntax: how it is encoded.
    ///   - options: limits and leniency.
    /// - Throws: `DICOMError` with the byte offset of the first problem that is not tolerated.
    public static func read(_ data: Data, transferSyntax: TransferSyntax, options: ReadOptions = ReadOptions()) throws -> DataSet {
        var diagnostics: [ReadDiagnostic] = []
        return try read(data, from: 0, transferSyntax: transferSyntax, options: options, diagnostics: &diagnostics).dataSet
    }

    /// Reads a data set starting at `offset` in `data` and returns it with the offset where reading stopped.
    static func read(_ data: Data, from offset: Int, transferSyntax: TransferSyntax, options: ReadOptions,
                     diagnostics: inout [ReadDiagnostic], offsetBias: Int = 0) throws -> (dataSet: DataSet, end: Int, stoppedAtPixelData: Bool) {
        try data.withUnsafeBytes { raw in
            var parser = Parser(base: data, bytes: raw, explicitVR: transferSyntax.isExplicitVR,
                                bigEndian: transferSyntax.isBigEndian, options: options, offsetBias: offsetBias)
            var cursor = offset
            var dataSet = try parser.readDataSet(at: &cursor, end: raw.count, depth: 0, inherited: options.fallbackCharacterSet,
                                                 topLevel: true)
            dataSet.inheritedCharacterSet = options.fallbackCharacterSet
            dataSet.characterSetOverride = options.characterSetOverride
            diagnostics.append(contentsOf: parser.diagnostics)
            return (dataSet, cursor, parser.stoppedAtPixelData)
        }
    }

    /// Guesses how a bare data set (no File Meta Information) is encoded, from its first element header.
    /// Returns nil when the bytes do not look like a data set at all.
    public static func detectEncoding(of data: Data, at offset: Int = 0) -> TransferSyntax? {
        data.withUnsafeBytes { raw -> TransferSyntax? in
            guard raw.count - offset >= 8 else { return nil }
            let vr0 = raw[offset + 4], vr1 = raw[offset + 5]
            let groupLE = UInt16(raw[offset]) | UInt16(raw[offset + 1]) << 8
            let groupBE = UInt16(raw[offset]) << 8 | UInt16(raw[offset + 1])
            let explicit = VR(byte0: vr0, byte1: vr1) != nil
            if groupLE <= 0x0008 || groupLE == 0x0010 || groupLE == 0x0020 || groupLE == 0x0028 || groupLE == 0xFFFE {
                return explicit ? .explicitVRLittleEndian : .implicitVRLittleEndian
            }
            if explicit && (groupBE <= 0x0008 || groupBE == 0x0010 || groupBE == 0x0020 || groupBE == 0x0028) {
                return .explicitVRBigEndian
            }
            // An unusual first group: trust the VR bytes.
            return explicit ? .explicitVRLittleEndian : (groupLE < 0x7FFF ? .implicitVRLittleEndian : nil)
        }
    }
}

/// The state of one parse: the input, the encoding and the tolerated defects found so far.
struct Parser {
    let base: Data
    let bytes: UnsafeRawBufferPointer
    var explicitVR: Bool
    let bigEndian: Bool
    let options: ReadOptions
    /// Added to offsets in messages, when `bytes` is a part of a larger file (after inflating, for example).
    let offsetBias: Int
    var diagnostics: [ReadDiagnostic] = []
    /// Where the parser is: the tags and item indexes from the top-level data set down to the element being
    /// read. Kept as a stack and formatted only when an error or diagnostic needs it.
    var location: [PathStep] = []
    /// Whether `options.stopBeforePixelData` stopped the parse at a top-level pixel data element.
    var stoppedAtPixelData = false

    /// One step of a tag path.
    enum PathStep {
        case tag(Tag)
        case item(Int)
    }

    init(base: Data, bytes: UnsafeRawBufferPointer, explicitVR: Bool, bigEndian: Bool, options: ReadOptions, offsetBias: Int) {
        self.base = base
        self.bytes = bytes
        self.explicitVR = explicitVR
        self.bigEndian = bigEndian
        self.options = options
        self.offsetBias = offsetBias
    }

    // MARK: Primitive reads (bounds checked by callers through `require`)

    @inline(__always) func u16(_ at: Int) -> UInt16 {
        let v = bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)
        return bigEndian ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
    }

    @inline(__always) func u32(_ at: Int) -> UInt32 {
        let v = bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
    }

    @inline(__always) func tag(_ at: Int) -> Tag { Tag(u16(at), u16(at + 2)) }

    /// The current location as a tag path, e.g. `(0040,0275)[0].(0040,0009)`; empty at the top level.
    var path: String {
        var text = ""
        for step in location {
            switch step {
            case .tag(let tag):
                if !text.isEmpty { text += "." }
                text += tag.description
            case .item(let index):
                text += "[\(index)]"
            }
        }
        return text
    }

    @inline(__always) mutating func enter(_ step: PathStep) { location.append(step) }
    @inline(__always) mutating func leave() { location.removeLast() }

    /// An error at the current location.
    func error(_ code: DICOMError.Code, _ message: String, at offset: Int) -> DICOMError {
        let path = self.path
        return DICOMError(code, message, offset: offset + offsetBias, tagPath: path.isEmpty ? nil : path)
    }

    /// A tolerated defect at the current location.
    mutating func note(_ message: String, at offset: Int) {
        diagnostics.append(ReadDiagnostic(severity: .warning, offset: offset + offsetBias, tagPath: path, message: message))
    }

    @inline(__always) func slice(_ start: Int, _ count: Int) -> Data {
        let s = base.startIndex + start
        return base[s..<(s + count)]
    }

    // MARK: Data sets

    /// Reads elements from `cursor` up to `end`, or up to an Item Delimitation Item when `untilDelimiter`.
    mutating func readDataSet(at cursor: inout Int, end: Int, depth: Int, inherited: SpecificCharacterSet?,
                              topLevel: Bool, untilDelimiter: Bool = false) throws -> DataSet {
        var elements: [DataElement] = []
        elements.reserveCapacity(topLevel ? 64 : 8)
        var sorted = true
        var pixelRepresentation: UInt16? = nil
        var characterSet = inherited
        while cursor < end {
            guard end - cursor >= 8 else {
                if topLevel && isPadding(from: cursor, to: end) {
                    note("\(end - cursor) bytes of zero padding after the last element", at: cursor)
                    cursor = end
                    break
                }
                throw error(.truncated, "the data ends inside an element header (\(end - cursor) bytes left, 8 needed)", at: cursor)
            }
            let elementStart = cursor
            let tag = self.tag(cursor)
            if tag.group == 0xFFFE {
                if tag == .itemDelimitationItem && untilDelimiter {
                    cursor += 8
                    var dataSet = DataSet(sortedElements: elements)
                    if !sorted { dataSet = DataSet(elements) }
                    return dataSet
                }
                if tag == .itemDelimitationItem || tag == .sequenceDelimitationItem {
                    // A delimiter at the end of a defined-length container.
                    if options.tolerated.contains(.looseDelimiters) {
                        note("unexpected \(tag) inside a data set", at: cursor)
                        cursor += 8
                        if tag == .sequenceDelimitationItem { cursor -= 8; break }
                        continue
                    }
                }
                throw error(.malformed, "unexpected \(tag) where a data element belongs", at: cursor)
            }
            if topLevel && options.stopBeforePixelData && tag.group == 0x7FE0 &&
                (tag.element == 0x0010 || tag.element == 0x0008 || tag.element == 0x0009) {
                stoppedAtPixelData = true
                cursor = end
                break
            }
            if tag.rawValue == 0 && topLevel && isPadding(from: cursor, to: end) && options.tolerated.contains(.trailingPadding) {
                note("\(end - cursor) bytes of zero padding after the last element", at: cursor)
                cursor = end
                break
            }
            enter(.tag(tag))
            let element = try readElement(tag: tag, at: &cursor, end: end, depth: depth,
                                          pixelRepresentation: pixelRepresentation, characterSet: characterSet)
            if tag == Tag(0x0028, 0x0103), case .bytes(let v) = element.value, v.count >= 2 {
                pixelRepresentation = UInt16(v[v.startIndex]) | UInt16(v[v.startIndex + 1]) << 8
            } else if tag == .specificCharacterSet, case .bytes(let v) = element.value {
                if let (set, isStandardSpelling) = SpecificCharacterSet.parse(value: v) {
                    characterSet = set
                    if !isStandardSpelling {
                        note("Specific Character Set '\(String(decoding: v, as: UTF8.self))' is not spelled as PS3.3 C.12.1.1.2 spells it; read as \(set)",
                             at: elementStart)
                    }
                } else {
                    note("unknown Specific Character Set '\(String(decoding: v, as: UTF8.self))'; text is decoded with \(characterSet ?? .default)",
                         at: elementStart)
                }
            }
            leave()
            if let last = elements.last, last.tag >= tag {
                if !options.tolerated.contains(.unorderedElements) {
                    throw error(.malformed, "\(tag) follows \(last.tag): elements must be in ascending tag order", at: elementStart)
                }
                note(last.tag == tag ? "\(tag) appears twice; the last one is kept" : "\(tag) follows \(last.tag) out of order",
                     at: elementStart)
                sorted = false
            }
            elements.append(element)
        }
        if untilDelimiter {
            if options.tolerated.contains(.looseDelimiters) {
                note("an undefined-length item ends without an Item Delimitation Item", at: cursor)
            } else {
                throw error(.truncated, "the data ends inside an undefined-length item", at: cursor)
            }
        }
        return sorted ? DataSet(sortedElements: elements) : DataSet(elements)
    }

    func isPadding(from start: Int, to end: Int) -> Bool {
        var i = start
        while i < end { if bytes[i] != 0 { return false }; i += 1 }
        return true
    }

    // MARK: Elements

    mutating func readElement(tag: Tag, at cursor: inout Int, end: Int, depth: Int, pixelRepresentation: UInt16?,
                              characterSet: SpecificCharacterSet?) throws -> DataElement {
        let start = cursor
        var vr: VR
        var length: UInt32
        if explicitVR {
            let b0 = bytes[cursor + 4], b1 = bytes[cursor + 5]
            if let known = VR(byte0: b0, byte1: b1) {
                vr = known
                if vr.hasLongLength {
                    guard end - cursor >= 12 else {
                        throw error(.truncated, "the data ends inside the header of \(tag) \(vr)", at: cursor)
                    }
                    length = u32(cursor + 8)
                    cursor += 12
                } else {
                    length = UInt32(u16(cursor + 6))
                    cursor += 8
                }
            } else if b0 >= 0x41 && b0 <= 0x5A && b1 >= 0x41 && b1 <= 0x5A && options.tolerated.contains(.unknownVR) {
                // An unknown upper-case VR: PS3.5 §6.2 says to treat it like UN with a 32-bit length... but the
                // 2-byte reserved field would be needed; most writers use the short layout for unknown VRs.
                note("unknown VR '\(String(decoding: [b0, b1], as: UTF8.self))' read as UN", at: cursor)
                vr = .UN
                length = UInt32(u16(cursor + 6))
                cursor += 8
            } else if options.tolerated.contains(.vrEncodingMismatch) && looksImplicit(at: cursor, end: end) {
                note("implicit VR element in an explicit VR data set", at: cursor)
                vr = lookupImplicitVR(tag, pixelRepresentation: pixelRepresentation)
                length = u32(cursor + 4)
                cursor += 8
            } else {
                let shown = (b0 >= 0x20 && b0 < 0x7F && b1 >= 0x20 && b1 < 0x7F) ? "'\(String(decoding: [b0, b1], as: UTF8.self))'" :
                    "0x\(hexString(b0, digits: 2))\(hexString(b1, digits: 2))"
                throw error(.invalidVR, "\(tag) has an invalid VR \(shown)", at: cursor + 4)
            }
        } else {
            vr = lookupImplicitVR(tag, pixelRepresentation: pixelRepresentation)
            length = u32(cursor + 4)
            cursor += 8
        }

        if length == 0xFFFF_FFFF {
            switch vr {
            case .SQ:
                return try readUndefinedSequence(tag: tag, at: &cursor, end: end, depth: depth, characterSet: characterSet)
            case .UN where !explicitVR || tag.group != 0x7FE0:
                // PS3.5 §6.2.2: a UN value of undefined length is a sequence encoded in implicit VR little endian.
                let saved = explicitVR
                explicitVR = false
                defer { explicitVR = saved }
                if bigEndian {
                    throw error(.malformed, "\(tag) UN with undefined length cannot be read in big endian", at: start)
                }
                return try readUndefinedSequence(tag: tag, at: &cursor, end: end, depth: depth, characterSet: characterSet)
            case .OB, .OW, .UN:
                return try readEncapsulated(tag: tag, vr: vr, at: &cursor, end: end)
            default:
                throw error(.invalidLength, "\(tag) \(vr) has an undefined length, which only SQ, UN and encapsulated pixel data may have",
                            at: start)
            }
        }

        let count = Int(length)
        guard count <= end - cursor else {
            throw error(.invalidLength, "\(tag) \(vr) has length \(count) but only \(end - cursor) bytes remain", at: start)
        }
        guard count <= options.maximumElementLength else {
            throw error(.limitExceeded, "\(tag) has length \(count), over the limit of \(options.maximumElementLength)", at: start)
        }
        if count & 1 == 1 {
            guard options.tolerated.contains(.oddLength) else {
                throw error(.invalidLength, "\(tag) \(vr) has odd length \(count)", at: start)
            }
            note("\(tag) has odd length \(count)", at: start)
        }
        if vr == .UN && explicitVR && !tag.isPrivate {
            // A known attribute sent as UN (by a system that did not know it): read it with its real VR,
            // as pydicom and DCMTK do. A sequence inside UN is encoded in implicit VR little endian (PS3.5 §6.2.2).
            let known = lookupImplicitVR(tag, pixelRepresentation: pixelRepresentation)
            if known == .SQ && !bigEndian {
                explicitVR = false
                defer { explicitVR = true }
                let items = try readItems(at: &cursor, end: cursor + count, depth: depth, characterSet: characterSet)
                return DataElement(tag: tag, items: items)
            } else if known != .UN && known != .SQ {
                vr = known
            }
        }
        if vr == .SQ {
            let items = try readItems(at: &cursor, end: cursor + count, depth: depth, characterSet: characterSet)
            return DataElement(tag: tag, items: items)
        }
        let value: Data
        if bigEndian && vr.wordSize > 1 {
            value = swapped(cursor, count, wordSize: vr.wordSize)
        } else {
            value = slice(cursor, count)
        }
        cursor += count
        return DataElement(tag: tag, vr: vr, value: .bytes(value))
    }

    /// Whether the header at `at` reads better as implicit VR: a 32-bit length that fits.
    func looksImplicit(at: Int, end: Int) -> Bool {
        let length = u32(at + 4)
        return length == 0xFFFF_FFFF || Int(length) <= end - at - 8
    }

    func swapped(_ start: Int, _ count: Int, wordSize: Int) -> Data {
        var out = Data(count: count)
        out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
            var i = 0
            while i + wordSize <= count {
                for k in 0..<wordSize { dst[i + k] = bytes[start + i + wordSize - 1 - k] }
                i += wordSize
            }
            while i < count { dst[i] = bytes[start + i]; i += 1 }
        }
        return out
    }

    // MARK: Sequences

    mutating func readUndefinedSequence(tag: Tag, at cursor: inout Int, end: Int, depth: Int,
                                        characterSet: SpecificCharacterSet?) throws -> DataElement {
        let items = try readItems(at: &cursor, end: end, depth: depth, characterSet: characterSet, undefined: true)
        return DataElement(tag: tag, items: items, undefinedLength: true)
    }

    /// Reads items up to `end` (defined length) or up to a Sequence Delimitation Item (undefined length).
    mutating func readItems(at cursor: inout Int, end: Int, depth: Int, characterSet: SpecificCharacterSet?, undefined: Bool = false) throws -> [DataSet] {
        guard depth < options.maximumDepth else {
            throw error(.tooDeep, "sequences nest deeper than \(options.maximumDepth) levels", at: cursor)
        }
        var items: [DataSet] = []
        while cursor < end {
            guard end - cursor >= 8 else {
                throw error(.truncated, "the data ends inside an item header", at: cursor)
            }
            let itemStart = cursor
            let tag = self.tag(cursor)
            let length = u32(cursor + 4)
            if tag == .sequenceDelimitationItem {
                cursor += 8
                if !undefined { note("Sequence Delimitation Item in a defined-length sequence", at: itemStart) }
                return items
            }
            guard tag == .item else {
                throw error(.malformed, "\(tag) found where a sequence item (FFFE,E000) belongs", at: cursor)
            }
            cursor += 8
            enter(.item(items.count))
            var item: DataSet
            if length == 0xFFFF_FFFF {
                item = try readDataSet(at: &cursor, end: end, depth: depth + 1, inherited: characterSet,
                                       topLevel: false, untilDelimiter: true)
                item.hadUndefinedLength = true
            } else {
                let count = Int(length)
                guard count <= end - cursor else {
                    throw error(.invalidLength, "item of length \(count) but only \(end - cursor) bytes remain", at: itemStart)
                }
                let itemEnd = cursor + count
                item = try readDataSet(at: &cursor, end: itemEnd, depth: depth + 1, inherited: characterSet,
                                       topLevel: false)
                cursor = itemEnd
            }
            leave()
            item.inheritedCharacterSet = characterSet
            item.characterSetOverride = options.characterSetOverride
            items.append(item)
        }
        if undefined {
            guard options.tolerated.contains(.looseDelimiters) else {
                throw error(.truncated, "the data ends inside an undefined-length sequence", at: cursor)
            }
            note("an undefined-length sequence ends without a Sequence Delimitation Item", at: cursor)
        }
        return items
    }

    // MARK: Encapsulated pixel data (PS3.5 §A.4)

    mutating func readEncapsulated(tag: Tag, vr: VR, at cursor: inout Int, end: Int) throws -> DataElement {
        var offsetTable: Data? = nil
        var fragments: [Data] = []
        while true {
            guard end - cursor >= 8 else {
                throw error(.truncated, "the data ends inside encapsulated pixel data", at: cursor)
            }
            let itemTag = self.tag(cursor)
            let length = u32(cursor + 4)
            if itemTag == .sequenceDelimitationItem {
                cursor += 8
                break
            }
            guard itemTag == .item else {
                throw error(.malformed, "\(itemTag) found where a pixel data fragment item belongs", at: cursor)
            }
            guard length != 0xFFFF_FFFF, Int(length) <= end - cursor - 8 else {
                throw error(.invalidLength, "fragment of length \(length) but only \(end - cursor - 8) bytes remain", at: cursor)
            }
            cursor += 8
            let value = slice(cursor, Int(length))
            cursor += Int(length)
            if offsetTable == nil { offsetTable = value } else { fragments.append(value) }
        }
        let pixels = EncapsulatedPixelData(basicOffsetTable: offsetTable ?? Data(), fragments: fragments)
        return DataElement(tag: tag, vr: vr, value: .encapsulated(pixels), hadUndefinedLength: true)
    }

    func lookupImplicitVR(_ tag: Tag, pixelRepresentation: UInt16?) -> VR {
        DataDictionary.implicitVR(for: tag, pixelRepresentation: pixelRepresentation)
    }
}
