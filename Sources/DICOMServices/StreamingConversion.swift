import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Converts the data set of a Part 10 file to another transfer syntax into a temporary file, one frame or one slice
/// of Pixel Data at a time, so that an instance of any size is sent without being held in memory (issue #3).
///
/// Two conversions stream:
/// - compressed → native (Explicit/Implicit VR Little Endian, Explicit VR Big Endian): frames are decoded one at a
///   time with ``ImageFrames`` and written as native Pixel Data (PS3.5 §8.1), with the Image Pixel Module changes
///   that DICOMCodecs' ``Transcoder`` makes;
/// - native → native: the Pixel Data value is copied in slices, its words swapped when the byte order changes
///   (PS3.5 §7.3), as the reader and writer do.
///
/// The file is mapped read-only (`mmap`) and its elements are located by walking the element headers; a frame's
/// fragments are slices of the mapping, and the pages of each frame or slice are given back (`MADV_DONTNEED`) once
/// written, so resident memory stays at about one compressed and one decoded frame plus the other elements.
/// The result equals, byte for byte, what ``OutgoingDataSet/encoded(fileAt:in:)`` builds in memory.
///
/// What does not stream (``convert(fileAt:to:temporaryDirectory:)`` returns nil and the caller converts in
/// memory): a deflated source or target, a file without File Meta Information group length, a data set without
/// Pixel Data (7FE0,0010) or with Float Pixel Data, an element layout the walker does not follow, and multi-frame
/// Bits Allocated 1 images whose frames do not end on a byte boundary.
enum StreamingConversion {
    /// Pixel Data bytes handled at a time when native Pixel Data is copied (a multiple of every word size).
    static let sliceLength = 4 << 20

    /// Whether a conversion from `source` to `target` may stream (a given file can still decline).
    static func canStream(from source: TransferSyntax, to target: TransferSyntax) -> Bool {
        source.uid != target.uid && !source.isDeflated && !target.isDeflated && !target.isEncapsulated
            && Transcoder.canTranscode(from: source, to: target)
    }

    /// Writes the data set of the Part 10 file at `path`, encoded in `target`, to a new file in `temporaryDirectory`
    /// and returns that file's path; the caller removes it. Returns nil when this file does not stream (see the type's
    /// documentation); nothing is left behind then.
    /// - Throws: ``DICOMServiceError`` `invalidInput` naming the file and what failed ("frame 7 of 20: …"), or
    ///   `CancellationError` when the task is cancelled (checked between frames and slices); the partial temporary
    ///   file is removed either way.
    static func convert(fileAt path: String, to target: TransferSyntax, temporaryDirectory: String) throws -> String? {
        let mapped: MappedFile
        do {
            mapped = try MappedFile(path: path)
        } catch {
            throw DICOMServiceError(.invalidInput, "\(path): \(error)")
        }
        guard let plan = try makePlan(for: mapped, path: path, target: target) else { return nil }
        let output = (temporaryDirectory as NSString).appendingPathComponent("dicom-send-\(UUID().uuidString).dcmds")
        guard FileManager.default.createFile(atPath: output, contents: nil),
              let handle = FileHandle(forWritingAtPath: output) else {
            throw DICOMServiceError(.invalidInput, "\(path): cannot create a temporary file in \(temporaryDirectory)")
        }
        do {
            defer { try? handle.close() }
            try write(plan, mapped: mapped, to: handle, path: path, target: target)
            return output
        } catch is StreamDeclined {
            try? FileManager.default.removeItem(atPath: output)
            return nil
        } catch let cancelled as CancellationError {
            try? FileManager.default.removeItem(atPath: output)
            throw cancelled
        } catch {
            try? FileManager.default.removeItem(atPath: output)
            if let error = error as? DICOMServiceError { throw error }
            throw DICOMServiceError(.invalidInput, "\(path): cannot write the converted data set to \(output): \(error)")
        }
    }

    // MARK: Planning

    /// What to write: the elements before and after Pixel Data, and where the Pixel Data lies in the file.
    struct Plan {
        var source: TransferSyntax
        var before: DataSet
        var after: DataSet
        var pixels: PixelDataLocation
    }

    /// Reads everything but the Pixel Data value and locates it; nil when the file does not stream.
    static func makePlan(for mapped: MappedFile, path: String, target: TransferSyntax) throws -> Plan? {
        let data = mapped.data
        guard let start = Part10Layout.dataSetOffset(in: data) else { return nil }
        let header: DICOMFile
        do {
            header = try DICOMFile(data: data, options: .metadataOnly)
        } catch {
            throw DICOMServiceError(.invalidInput, "\(path): \(error)")
        }
        let source = header.transferSyntax
        guard canStream(from: source, to: target) else { return nil }
        // A data set encoded otherwise than its transfer syntax says is read by the tolerant reader in memory.
        if let detected = DataSetReader.detectEncoding(of: data, at: start), !source.isBigEndian,
           detected.isExplicitVR != source.isExplicitVR {
            return nil
        }
        let pixelRepresentation = header.dataSet.integer(Tag(0x0028, 0x0103)).map { UInt16(truncatingIfNeeded: $0) }
        let found: PixelDataLocation? = data.withUnsafeBytes { raw in
            let walker = ElementWalker(raw: raw, bigEndian: source.isBigEndian, walked: { mapped.release($0) })
            return try? walker.locatePixelData(from: start, explicitVR: source.isExplicitVR,
                                               pixelRepresentation: pixelRepresentation)
        }
        guard let pixels = found else { return nil }
        guard pixels.vr == .OB || pixels.vr == .OW else { return nil }
        guard source.isEncapsulated == (pixels.length == nil) else { return nil }
        var after = DataSet()
        if pixels.end < data.count {
            do {
                after = try DataSetReader.read(data[pixels.end..<data.count], transferSyntax: source)
            } catch {
                throw DICOMServiceError(.invalidInput, "\(path): the elements after Pixel Data: \(error)")
            }
        }
        // Everything before Pixel Data: the metadata read stops there (it also stops at Float Pixel Data, which
        // comes before it and is not streamed).
        let before = header.dataSet
        if before.contains(Tag(0x7FE0, 0x0008)) || before.contains(Tag(0x7FE0, 0x0009)) { return nil }
        return Plan(source: source, before: before, after: after, pixels: pixels)
    }

    // MARK: Writing

    static func write(_ plan: Plan, mapped: MappedFile, to handle: FileHandle, path: String, target: TransferSyntax) throws {
        if plan.source.isEncapsulated {
            try writeDecompressed(plan, mapped: mapped, to: handle, path: path, target: target)
        } else {
            try writeReencoded(plan, mapped: mapped, to: handle, path: path, target: target)
        }
    }

    /// Native → native: the Pixel Data value copied slice by slice, words swapped when the byte order changes.
    static func writeReencoded(_ plan: Plan, mapped: MappedFile, to handle: FileHandle, path: String, target: TransferSyntax) throws {
        let location = plan.pixels
        guard let length = location.length else { return }
        let padded = length + length & 1
        guard padded <= 0xFFFF_FFFE else {
            throw DICOMServiceError(.invalidInput, "\(path): Pixel Data of \(padded) bytes is too long for a 32-bit length")
        }
        try handle.write(contentsOf: encode(plan.before, target, path))
        try handle.write(contentsOf: pixelDataHeader(vr: location.vr, length: UInt32(padded), target: target))
        let swapWords = plan.source.isBigEndian != target.isBigEndian ? location.vr.wordSize : 1
        var position = location.valueOffset
        let end = location.valueOffset + length
        while position < end {
            try Task.checkCancellation()
            let next = min(end, position + sliceLength)
            var slice = Data(mapped.data[position..<next])
            if swapWords > 1 { slice = reversingGroups(slice, of: swapWords) }
            try handle.write(contentsOf: slice)
            mapped.release(position..<next)
            position = next
        }
        if length & 1 == 1 { try handle.write(contentsOf: Data([location.vr.paddingByte])) }
        try handle.write(contentsOf: encode(plan.after, target, path))
    }

    /// Compressed → native: frames decoded one at a time, as ``Transcoder`` does for the whole data set.
    static func writeDecompressed(_ plan: Plan, mapped: MappedFile, to handle: FileHandle, path: String, target: TransferSyntax) throws {
        let source = plan.source
        let location = plan.pixels
        let data = mapped.data
        let fragments = location.items.map { data[$0] }
        var dataSet = plan.before
        dataSet.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: location.vr,
                                value: .encapsulated(EncapsulatedPixelData(basicOffsetTable: fragments.first ?? Data(),
                                                                           fragments: Array(fragments.dropFirst()))),
                                hadUndefinedLength: true))
        func failure(_ error: Error, frame: Int? = nil, of count: Int = 0) -> DICOMServiceError {
            let which = frame.map { "frame \($0 + 1) of \(count): " } ?? ""
            return DICOMServiceError(.invalidInput, "\(path): cannot decompress to \(target.name): \(which)\(error)")
        }
        let frames: ImageFrames
        do {
            frames = try ImageFrames(dataSet: dataSet, transferSyntax: source)
        } catch {
            throw failure(error)
        }
        let description = frames.description
        let count = frames.count
        guard count > 0 else { throw failure(CodecError(.invalidImage, "the image has no frames")) }
        if description.bitsAllocated == 1 && (description.pixelCount * description.samplesPerPixel) % 8 != 0 && count > 1 {
            throw StreamDeclined()
        }
        let total = description.bytesPerFrame * count
        let padded = total + total & 1
        guard padded <= 0xFFFF_FFFE else {
            throw DICOMServiceError(.invalidInput, "\(path): decompressed Pixel Data of \(padded) bytes is too long for a 32-bit length")
        }
        // The first frame decides Photometric Interpretation and Planar Configuration, which come before Pixel Data.
        func decode(_ index: Int) throws -> DecodedFrame {
            do {
                let frame = try frames.decodedFrame(at: index)
                guard frame.pixels.count == description.bytesPerFrame else {
                    throw CodecError(.corruptStream, "decoded to \(frame.pixels.count) bytes, \(description.bytesPerFrame) expected")
                }
                return frame
            } catch {
                throw failure(error, frame: index, of: count)
            }
        }
        let first = try decode(0)
        var before = plan.before
        before.remove(Tag(0x7FE0, 0x0001))
        before.remove(Tag(0x7FE0, 0x0002))
        before.remove(Tag(0x7FE0, 0x0003))
        if source.isLossy {
            // Once lossy, always marked lossy (PS3.3 §C.7.6.1.1.5).
            before.setASCII(Tag(0x0028, 0x2110), vr: .CS, "01")
        }
        do {
            try before.set(Tag(0x0028, 0x0004), vr: .CS, string: first.photometricInterpretation)
            if description.samplesPerPixel > 1 {
                try before.set(Tag(0x0028, 0x0006), vr: .US, integers: [first.planarConfiguration])
            } else {
                before.remove(Tag(0x0028, 0x0006))
            }
        } catch {
            throw failure(error)
        }
        let vr: VR = description.bitsAllocated > 8 ? .OW : .OB
        try handle.write(contentsOf: encode(before, target, path))
        try handle.write(contentsOf: pixelDataHeader(vr: vr, length: UInt32(padded), target: target))
        // Big endian OW: the writer swaps 16-bit words; 32-bit samples are pre-swapped by halves (see Transcoder),
        // which together reverse each 4-byte sample.
        let swapGroup = target.isBigEndian && vr == .OW ? (description.bitsAllocated == 32 ? 4 : 2) : 1
        func emit(_ frame: DecodedFrame, _ index: Int) throws {
            let pixels = swapGroup > 1 ? reversingGroups(frame.pixels, of: swapGroup) : frame.pixels
            try handle.write(contentsOf: pixels)
            // Frames may share fragments in any order: give back the pages of the whole Pixel Data value (cheap
            // where none are resident).
            mapped.release(location.valueOffset..<location.end)
        }
        try emit(first, 0)
        for index in 1..<count {
            // A cancelled send stops between frames; the partial file is removed.
            try Task.checkCancellation()
            try emit(try decode(index), index)
        }
        if total & 1 == 1 { try handle.write(contentsOf: Data([0])) }
        try handle.write(contentsOf: encode(plan.after, target, path))
    }

    /// Thrown inside writing when the file turns out not to stream; ``convert(fileAt:to:temporaryDirectory:)``
    /// then returns nil.
    struct StreamDeclined: Error {}

    static func encode(_ dataSet: DataSet, _ target: TransferSyntax, _ path: String) throws -> Data {
        do {
            return try DataSetWriter.encode(dataSet, transferSyntax: target)
        } catch {
            throw DICOMServiceError(.invalidInput, "\(path): cannot encode in \(target.name): \(error)")
        }
    }

    /// The header of Pixel Data (7FE0,0010) with a defined length, as DataSetWriter writes it (PS3.5 §7.1).
    static func pixelDataHeader(vr: VR, length: UInt32, target: TransferSyntax) -> Data {
        var out = Data()
        func put16(_ value: UInt16) {
            withUnsafeBytes(of: target.isBigEndian ? value.bigEndian : value.littleEndian) { out.append(contentsOf: $0) }
        }
        func put32(_ value: UInt32) {
            withUnsafeBytes(of: target.isBigEndian ? value.bigEndian : value.littleEndian) { out.append(contentsOf: $0) }
        }
        put16(0x7FE0)
        put16(0x0010)
        if target.isExplicitVR {
            out.append(UInt8(vr.rawValue >> 8))
            out.append(UInt8(vr.rawValue & 0xFF))
            out.append(0)
            out.append(0)
        }
        put32(length)
        return out
    }

    /// `data` with the bytes of every whole group of `size` reversed; a shorter tail is kept as it is.
    static func reversingGroups(_ data: Data, of size: Int) -> Data {
        var out = Data(count: data.count)
        data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                let count = src.count
                var i = 0
                if size == 2 {
                    while i + 2 <= count {
                        d.storeBytes(of: s.load(fromByteOffset: i + 1, as: UInt8.self), toByteOffset: i, as: UInt8.self)
                        d.storeBytes(of: s.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i + 1, as: UInt8.self)
                        i += 2
                    }
                } else {
                    while i + size <= count {
                        for k in 0..<size {
                            d.storeBytes(of: s.load(fromByteOffset: i + size - 1 - k, as: UInt8.self), toByteOffset: i + k, as: UInt8.self)
                        }
                        i += size
                    }
                }
                while i < count {
                    d.storeBytes(of: s.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self)
                    i += 1
                }
            }
        }
        return out
    }
}

/// Where Pixel Data (7FE0,0010) lies in a file: its header, value and, when encapsulated, its items.
struct PixelDataLocation: Equatable {
    /// The offset of the element's tag.
    var headerOffset: Int
    var vr: VR
    /// The offset of the first value byte (of the first item when encapsulated).
    var valueOffset: Int
    /// The value length; nil for encapsulated Pixel Data (undefined length, PS3.5 §A.4).
    var length: Int?
    /// Encapsulated: the value ranges of the Basic Offset Table item and of each fragment item, in order.
    var items: [Range<Int>]
    /// The offset just past the element (past the Sequence Delimitation Item when encapsulated).
    var end: Int
}

/// Walks the top-level element headers of a data set, skipping values (and sequences of any nesting) without
/// reading them, to find Pixel Data. Every length is checked against the bytes that remain.
struct ElementWalker {
    let raw: UnsafeRawBufferPointer
    let bigEndian: Bool
    /// Called with the ranges of encapsulated Pixel Data walked so far (every few megabytes), whose pages may then be
    /// given back: each item header read from a mapping brings in its neighbouring pages too.
    var walked: (Range<Int>) -> Void = { _ in }

    struct Malformed: Error {
        var offset: Int
        var message: String
    }

    static let maximumDepth = 64
    static let item = Tag(0xFFFE, 0xE000)
    static let itemDelimitation = Tag(0xFFFE, 0xE00D)
    static let sequenceDelimitation = Tag(0xFFFE, 0xE0DD)
    static let pixelData = Tag(0x7FE0, 0x0010)

    func u16(_ at: Int) -> UInt16 {
        let v = raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)
        return bigEndian ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
    }

    func u32(_ at: Int) -> UInt32 {
        let v = raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
    }

    func tag(_ at: Int) -> Tag { Tag(u16(at), u16(at + 2)) }

    /// The element header at `at`: VR (nil when implicit), value length (nil when undefined) and header size.
    func header(at: Int, explicitVR: Bool) throws -> (vr: VR?, length: Int?, size: Int) {
        guard raw.count - at >= 8 else { throw Malformed(offset: at, message: "truncated element header") }
        if explicitVR {
            guard let vr = VR(byte0: raw[at + 4], byte1: raw[at + 5]) else {
                throw Malformed(offset: at, message: "unknown VR")
            }
            if vr.hasLongLength {
                guard raw.count - at >= 12 else { throw Malformed(offset: at, message: "truncated element header") }
                let length = u32(at + 8)
                return (vr, length == 0xFFFF_FFFF ? nil : Int(length), 12)
            }
            return (vr, Int(u16(at + 6)), 8)
        }
        let length = u32(at + 4)
        return (nil, length == 0xFFFF_FFFF ? nil : Int(length), 8)
    }

    /// Moves `cursor` past `length` value bytes, checking they are there.
    func skip(_ length: Int, at cursor: inout Int, limit: Int) throws {
        guard length <= limit - cursor else { throw Malformed(offset: cursor, message: "value of \(length) bytes runs past the end") }
        cursor += length
    }

    /// The top-level Pixel Data from `start` on; nil when the data set has none.
    func locatePixelData(from start: Int, explicitVR: Bool, pixelRepresentation: UInt16?) throws -> PixelDataLocation? {
        var cursor = start
        let end = raw.count
        while end - cursor >= 8 {
            let tag = self.tag(cursor)
            if tag == Self.pixelData {
                return try pixelData(at: cursor, explicitVR: explicitVR, pixelRepresentation: pixelRepresentation)
            }
            if tag > Self.pixelData || tag.rawValue == 0 { return nil }
            try skipElement(at: &cursor, explicitVR: explicitVR, depth: 0)
        }
        return nil
    }

    func pixelData(at start: Int, explicitVR: Bool, pixelRepresentation: UInt16?) throws -> PixelDataLocation {
        let (explicit, length, size) = try header(at: start, explicitVR: explicitVR)
        let vr = explicit ?? DataDictionary.implicitVR(for: Self.pixelData, pixelRepresentation: pixelRepresentation)
        var cursor = start + size
        if let length {
            let valueOffset = cursor
            try skip(length, at: &cursor, limit: raw.count)
            return PixelDataLocation(headerOffset: start, vr: vr, valueOffset: valueOffset, length: length, items: [], end: cursor)
        }
        var items: [Range<Int>] = []
        let valueOffset = cursor
        var released = cursor
        while true {
            guard raw.count - cursor >= 8 else { throw Malformed(offset: cursor, message: "truncated encapsulated Pixel Data") }
            let itemTag = tag(cursor)
            let itemLength = u32(cursor + 4)
            if itemTag == Self.sequenceDelimitation {
                cursor += 8
                break
            }
            guard itemTag == Self.item, itemLength != 0xFFFF_FFFF else {
                throw Malformed(offset: cursor, message: "\(itemTag) where a fragment item belongs")
            }
            cursor += 8
            let itemStart = cursor
            try skip(Int(itemLength), at: &cursor, limit: raw.count)
            items.append(itemStart..<cursor)
            if cursor - released >= StreamingConversion.sliceLength {
                walked(released..<cursor)
                released = cursor
            }
        }
        walked(released..<cursor)
        return PixelDataLocation(headerOffset: start, vr: vr, valueOffset: valueOffset, length: nil, items: items, end: cursor)
    }

    /// Moves `cursor` past the element that starts there, its sequences included.
    func skipElement(at cursor: inout Int, explicitVR: Bool, depth: Int) throws {
        let (vr, length, size) = try header(at: cursor, explicitVR: explicitVR)
        cursor += size
        if let length {
            try skip(length, at: &cursor, limit: raw.count)
            return
        }
        switch vr {
        case nil, .SQ?:
            try skipItems(at: &cursor, explicitVR: explicitVR, depth: depth + 1)
        case .UN? where !bigEndian:
            // PS3.5 §6.2.2: a UN value of undefined length is a sequence in implicit VR little endian.
            try skipItems(at: &cursor, explicitVR: false, depth: depth + 1)
        default:
            throw Malformed(offset: cursor, message: "undefined length for \(vr.map { "\($0)" } ?? "an implicit VR")")
        }
    }

    /// Moves `cursor` past the items of an undefined-length sequence and its Sequence Delimitation Item.
    func skipItems(at cursor: inout Int, explicitVR: Bool, depth: Int) throws {
        guard depth <= Self.maximumDepth else { throw Malformed(offset: cursor, message: "sequences nest too deep") }
        while true {
            guard raw.count - cursor >= 8 else { throw Malformed(offset: cursor, message: "truncated sequence") }
            let itemTag = tag(cursor)
            let length = u32(cursor + 4)
            cursor += 8
            if itemTag == Self.sequenceDelimitation { return }
            guard itemTag == Self.item else { throw Malformed(offset: cursor - 8, message: "\(itemTag) where an item belongs") }
            if length != 0xFFFF_FFFF {
                try skip(Int(length), at: &cursor, limit: raw.count)
                continue
            }
            while true {
                guard raw.count - cursor >= 8 else { throw Malformed(offset: cursor, message: "truncated item") }
                if tag(cursor) == Self.itemDelimitation {
                    cursor += 8
                    break
                }
                try skipElement(at: &cursor, explicitVR: explicitVR, depth: depth)
            }
        }
    }
}

/// A file mapped read-only; its pages can be given back once read.
final class MappedFile: @unchecked Sendable {
    /// The whole file, without a copy; indices are file offsets.
    let data: Data
    private let base: UnsafeMutableRawPointer?
    private let count: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DICOMServiceError(.invalidInput, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DICOMServiceError(.invalidInput, "cannot stat: \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        count = size
        guard size > 0 else {
            base = nil
            data = Data()
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw DICOMServiceError(.invalidInput, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = address
        data = Data(bytesNoCopy: address, count: size, deallocator: .custom { pointer, count in munmap(pointer, count) })
    }

    /// Drops the resident pages of `range` from this process (they are read again from the file if touched).
    func release(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))
        let start = max(0, range.lowerBound / page * page)
        let end = min(count, range.upperBound)
        guard end > start else { return }
        _ = madvise(base + start, end - start, MADV_DONTNEED)
    }
}
