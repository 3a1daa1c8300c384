import DICOMCore
import Foundation

/// The frames of a data set's Pixel Data (7FE0,0010), native or encapsulated, one at a time.
///
/// Native Pixel Data (PS3.5 §8.1) is sliced per frame, including Bits Allocated 1 frames that do not start on a
/// byte boundary. Encapsulated Pixel Data (PS3.5 §A.4) is split into frames by, in this order: the Extended Offset
/// Table (7FE0,0001)/(7FE0,0002); the Basic Offset Table; one fragment per frame when there are as many fragments
/// as frames; all fragments for a single frame; or else fragments that start a JPEG (FFD8) or JPEG 2000 (FF4F)
/// codestream. Inconsistent tables throw ``CodecError`` with kind `.corruptStream`.
public struct ImageFrames: Sendable {
    /// The Image Pixel Module of the data set.
    public let description: FrameDescription
    /// The transfer syntax the Pixel Data is encoded in.
    public let transferSyntax: TransferSyntax

    private enum Storage: Sendable {
        /// Native samples, little endian (the reader already swapped big-endian words).
        case native(Data)
        /// Fragments, and for each frame the fragment range and, from the Extended Offset Table, an exact length.
        case encapsulated(fragments: [Data], frames: [(range: Range<Int>, length: Int?)])
    }

    private let storage: Storage

    /// The number of frames.
    public var count: Int { description.numberOfFrames }

    /// Reads the Image Pixel Module and locates every frame of the Pixel Data.
    /// - Throws: ``CodecError`` when attributes are missing or invalid, the Pixel Data is absent or too short,
    ///   or the offset tables do not match the fragments.
    public init(dataSet: DataSet, transferSyntax: TransferSyntax) throws {
        let description = try FrameDescription(dataSet: dataSet)
        self.description = description
        self.transferSyntax = transferSyntax
        guard let element = dataSet[.pixelData] else {
            throw CodecError(.invalidImage, "the data set has no Pixel Data (7FE0,0010)")
        }
        switch element.value {
        case .sequence:
            throw CodecError(.invalidImage, "Pixel Data (7FE0,0010) is a sequence")
        case .bytes(var data):
            if transferSyntax.isEncapsulated {
                throw CodecError(.corruptStream,
                                 "Pixel Data has a defined length but \(transferSyntax.name) requires encapsulated fragments")
            }
            if transferSyntax.isBigEndian {
                data = ImageFrames.nativeLittleEndian(data, vr: element.vr, bitsAllocated: description.bitsAllocated)
            }
            let needed = ImageFrames.nativeByteCount(description, frames: description.numberOfFrames)
            guard data.count >= needed else {
                throw CodecError(.corruptStream,
                                 "Pixel Data has \(data.count) bytes but \(description.numberOfFrames) frame(s) of "
                                 + "\(description.rows)×\(description.columns)×\(description.samplesPerPixel) at "
                                 + "\(description.bitsAllocated) bits need \(needed)")
            }
            storage = .native(data)
        case .encapsulated(let pixels):
            guard transferSyntax.isEncapsulated else {
                throw CodecError(.corruptStream, "Pixel Data is encapsulated but \(transferSyntax.name) is a native syntax")
            }
            let frames = try ImageFrames.locateFrames(pixels, dataSet: dataSet, frameCount: description.numberOfFrames)
            storage = .encapsulated(fragments: pixels.fragments, frames: frames)
        }
    }

    /// The stored bytes of one frame: for encapsulated Pixel Data all fragments of the frame concatenated
    /// (trimmed to the Extended Offset Table length when there is one); for native Pixel Data the frame's samples.
    public func compressedFrame(at index: Int) throws -> Data {
        guard index >= 0, index < count else {
            throw CodecError(.invalidImage, "frame \(index) is out of range (the image has \(count) frame(s))")
        }
        switch storage {
        case .native(let data):
            return ImageFrames.nativeFrame(data, index: index, description: description)
        case .encapsulated(let fragments, let frames):
            let frame = frames[index]
            var result: Data
            if frame.range.count == 1 {
                result = fragments[frame.range.lowerBound]
            } else {
                result = Data()
                result.reserveCapacity(frame.range.reduce(0) { $0 + fragments[$1].count })
                for i in frame.range { result.append(fragments[i]) }
            }
            if let length = frame.length {
                guard length <= result.count else {
                    throw CodecError(.corruptStream,
                                     "Extended Offset Table Lengths gives frame \(index) \(length) bytes but its fragments hold \(result.count)")
                }
                result = result.prefix(length)
            }
            return result
        }
    }

    /// One frame as native little-endian samples (Explicit VR Little Endian layout).
    ///
    /// Encapsulated frames are decoded by ``CodecRegistry/decoder(for:)``; a syntax without a decoder throws
    /// ``CodecError`` with kind `.noCodec`. Native YBR_FULL_422 frames (two luminance samples per chrominance pair,
    /// PS3.3 §C.7.6.3.1.2) are expanded to YBR_FULL so that every decoded frame holds ``FrameDescription/bytesPerFrame``.
    public func decodedFrame(at index: Int) throws -> DecodedFrame {
        let bytes = try compressedFrame(at: index)
        switch storage {
        case .native:
            if description.photometricInterpretation == "YBR_FULL_422" && description.samplesPerPixel == 3 {
                return DecodedFrame(pixels: ImageFrames.expandYBR422(bytes, description: description),
                                    photometricInterpretation: "YBR_FULL", planarConfiguration: 0)
            }
            return DecodedFrame(pixels: bytes, photometricInterpretation: description.photometricInterpretation,
                                planarConfiguration: description.planarConfiguration)
        case .encapsulated:
            if transferSyntax.uid == TransferSyntax.encapsulatedUncompressed.uid {
                guard bytes.count >= description.bytesPerFrame else {
                    throw CodecError(.corruptStream,
                                     "frame \(index) has \(bytes.count) bytes, \(description.bytesPerFrame) expected")
                }
                return DecodedFrame(pixels: bytes.prefix(description.bytesPerFrame),
                                    photometricInterpretation: description.photometricInterpretation,
                                    planarConfiguration: description.planarConfiguration)
            }
            guard let decoder = CodecRegistry.decoder(for: transferSyntax.uid) else {
                throw CodecError(.noCodec, "no decoder for \(transferSyntax.name) (\(transferSyntax.uid))")
            }
            var single = description
            single.numberOfFrames = 1
            let decoded = try decoder.decode(bytes, description: single)
            guard decoded.pixels.count == description.bytesPerFrame else {
                throw CodecError(.corruptStream,
                                 "frame \(index) decoded to \(decoded.pixels.count) bytes, \(description.bytesPerFrame) expected")
            }
            return decoded
        }
    }

    /// All frames decoded and concatenated, as native Pixel Data would hold them (Bits Allocated 1 frames packed
    /// back to back without padding between frames).
    public func decodedPixelData() throws -> (pixels: Data, photometricInterpretation: String, planarConfiguration: Int) {
        var frames: [DecodedFrame] = []
        frames.reserveCapacity(count)
        for i in 0..<count { frames.append(try decodedFrame(at: i)) }
        let photometric = frames.first?.photometricInterpretation ?? description.photometricInterpretation
        let planar = frames.first?.planarConfiguration ?? description.planarConfiguration
        if description.bitsAllocated == 1 && (description.pixelCount * description.samplesPerPixel) % 8 != 0 {
            let bitsPerFrame = description.pixelCount * description.samplesPerPixel
            var out = Data(count: (bitsPerFrame * count + 7) / 8)
            out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                for (f, frame) in frames.enumerated() {
                    frame.pixels.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
                        for bit in 0..<bitsPerFrame where src[bit >> 3] & (1 << (bit & 7)) != 0 {
                            let target = f * bitsPerFrame + bit
                            dst[target >> 3] |= UInt8(1 << (target & 7))
                        }
                    }
                }
            }
            return (out, photometric, planar)
        }
        var out = Data(capacity: description.bytesPerFrame * count)
        for frame in frames { out.append(frame.pixels) }
        return (out, photometric, planar)
    }

    // MARK: Native

    /// Bytes that `frames` frames occupy in native Pixel Data (bits packed across frames for Bits Allocated 1).
    static func nativeByteCount(_ d: FrameDescription, frames: Int) -> Int {
        if d.bitsAllocated == 1 { return (d.pixelCount * d.samplesPerPixel * frames + 7) / 8 }
        if d.photometricInterpretation == "YBR_FULL_422" && d.samplesPerPixel == 3 {
            return ybr422FrameBytes(d) * frames
        }
        return d.bytesPerFrame * frames
    }

    static func ybr422FrameBytes(_ d: FrameDescription) -> Int {
        // Two samples per pixel on average: Y Y Cb Cr for each horizontal pair (odd widths round up).
        (d.columns + 1) / 2 * 4 * d.rows * (d.bitsAllocated / 8)
    }

    static func nativeFrame(_ data: Data, index: Int, description d: FrameDescription) -> Data {
        if d.bitsAllocated == 1 {
            let bitsPerFrame = d.pixelCount * d.samplesPerPixel
            let firstBit = index * bitsPerFrame
            if firstBit % 8 == 0 {
                let start = data.startIndex + firstBit / 8
                return Data(data[start..<(start + (bitsPerFrame + 7) / 8)])
            }
            // The frame starts inside a byte: shift its bits down to bit 0 (PS3.5 §8.1.1, little-endian bit order).
            var out = Data(count: (bitsPerFrame + 7) / 8)
            data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
                out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                    for bit in 0..<bitsPerFrame {
                        let s = firstBit + bit
                        if src[s >> 3] & UInt8(1 << (s & 7)) != 0 { dst[bit >> 3] |= UInt8(1 << (bit & 7)) }
                    }
                }
            }
            return out
        }
        let size = (d.photometricInterpretation == "YBR_FULL_422" && d.samplesPerPixel == 3) ? ybr422FrameBytes(d) : d.bytesPerFrame
        let start = data.startIndex + index * size
        return Data(data[start..<(start + size)])
    }

    /// Big-endian Pixel Data as the reader leaves it (OW words already swapped) turned into little-endian samples.
    static func nativeLittleEndian(_ data: Data, vr: VR, bitsAllocated: Int) -> Data {
        let wordSize = vr.wordSize
        let sampleSize = bitsAllocated / 8
        guard sampleSize > 1, sampleSize != wordSize else { return data }
        if wordSize == 2 && sampleSize == 4 {
            // 32-bit samples in OW: the reader swapped each 16-bit half; swap the halves as well.
            return permuted(data, group: 4) { raw, i in
                (raw[i + 2], raw[i + 3], raw[i], raw[i + 1])
            }
        }
        if wordSize == 1 {
            // Samples wider than a byte in OB (not allowed by PS3.5 but seen): reverse each sample.
            var out = Data(data)
            out.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
                var i = 0
                while i + sampleSize <= raw.count {
                    var a = i, b = i + sampleSize - 1
                    while a < b { raw.swapAt(a, b); a += 1; b -= 1 }
                    i += sampleSize
                }
            }
            return out
        }
        return data
    }

    private static func permuted(_ data: Data, group: Int,
                                 _ body: (UnsafeRawBufferPointer, Int) -> (UInt8, UInt8, UInt8, UInt8)) -> Data {
        var out = Data(data)
        data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                var i = 0
                while i + group <= src.count {
                    let (a, b, c, d) = body(src, i)
                    dst[i] = a; dst[i + 1] = b; dst[i + 2] = c; dst[i + 3] = d
                    i += group
                }
            }
        }
        return out
    }

    /// Native YBR_FULL_422 (Y1 Y2 Cb Cr per horizontal pair) expanded to YBR_FULL colour-by-pixel.
    static func expandYBR422(_ frame: Data, description d: FrameDescription) -> Data {
        let bytesPerSample = d.bitsAllocated / 8
        let pairsPerRow = (d.columns + 1) / 2
        var out = Data(count: d.bytesPerFrame)
        frame.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                for row in 0..<d.rows {
                    for pair in 0..<pairsPerRow {
                        let s = ((row * pairsPerRow) + pair) * 4 * bytesPerSample
                        for k in 0..<2 {
                            let column = pair * 2 + k
                            guard column < d.columns else { break }
                            let o = (row * d.columns + column) * 3 * bytesPerSample
                            for b in 0..<bytesPerSample {
                                dst[o + b] = src[s + k * bytesPerSample + b]
                                dst[o + bytesPerSample + b] = src[s + 2 * bytesPerSample + b]
                                dst[o + 2 * bytesPerSample + b] = src[s + 3 * bytesPerSample + b]
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    // MARK: Encapsulated

    private static func locateFrames(_ pixels: EncapsulatedPixelData, dataSet: DataSet,
                                     frameCount: Int) throws -> [(range: Range<Int>, length: Int?)] {
        let fragments = pixels.fragments
        guard !fragments.isEmpty else {
            throw CodecError(.corruptStream, "encapsulated Pixel Data has no fragments")
        }
        // Offsets in the tables count from the first byte of the first fragment's item tag (PS3.5 §A.4).
        var itemStarts: [Int: Int] = [:]
        var position = 0
        for (i, fragment) in fragments.enumerated() {
            itemStarts[position] = i
            position += 8 + fragment.count
        }

        func ranges(from offsets: [Int], table: String) throws -> [Range<Int>] {
            guard offsets.count == frameCount else {
                throw CodecError(.corruptStream,
                                 "\(table) has \(offsets.count) entries but Number of Frames is \(frameCount)")
            }
            var starts: [Int] = []
            for (f, offset) in offsets.enumerated() {
                guard let fragment = itemStarts[offset] else {
                    if offset >= position {
                        throw CodecError(.corruptStream,
                                         "\(table) offset \(offset) of frame \(f) is past the end of the fragments (\(position) bytes)")
                    }
                    throw CodecError(.corruptStream, "\(table) offset \(offset) of frame \(f) is not the start of a fragment")
                }
                if let last = starts.last, fragment <= last {
                    throw CodecError(.corruptStream, "\(table) offsets are not increasing at frame \(f)")
                }
                starts.append(fragment)
            }
            guard starts.first == 0 else {
                throw CodecError(.corruptStream, "\(table) does not start at the first fragment")
            }
            return starts.indices.map { k in starts[k]..<(k + 1 < starts.count ? starts[k + 1] : fragments.count) }
        }

        if let extended = dataSet[.extendedOffsetTable]?.bytes, !extended.isEmpty {
            guard extended.count % 8 == 0 else {
                throw CodecError(.corruptStream, "Extended Offset Table length \(extended.count) is not a multiple of 8")
            }
            let offsets = try DataSet.binary(extended, UInt64.self).map { value -> Int in
                guard value <= UInt64(Int.max) else { throw CodecError(.corruptStream, "Extended Offset Table offset \(value) is too large") }
                return Int(value)
            }
            var lengths: [Int?] = Array(repeating: nil, count: offsets.count)
            if let lengthBytes = dataSet[.extendedOffsetTableLengths]?.bytes, !lengthBytes.isEmpty {
                let values = DataSet.binary(lengthBytes, UInt64.self)
                guard lengthBytes.count % 8 == 0, values.count == offsets.count else {
                    throw CodecError(.corruptStream,
                                     "Extended Offset Table Lengths has \(lengthBytes.count / 8) entries, the table \(offsets.count)")
                }
                lengths = values.map { $0 <= UInt64(Int.max) ? Int($0) : Int.max }
            }
            let found = try ranges(from: offsets, table: "Extended Offset Table")
            return zip(found, lengths).map { ($0, $1) }
        }
        if !pixels.basicOffsetTable.isEmpty {
            guard pixels.basicOffsetTable.count % 4 == 0 else {
                throw CodecError(.corruptStream, "Basic Offset Table length \(pixels.basicOffsetTable.count) is not a multiple of 4")
            }
            return try ranges(from: pixels.offsets.map { Int($0) }, table: "Basic Offset Table").map { ($0, nil) }
        }
        if fragments.count == frameCount {
            return (0..<frameCount).map { ($0..<($0 + 1), nil) }
        }
        if frameCount == 1 {
            return [(0..<fragments.count, nil)]
        }
        guard fragments.count > frameCount else {
            throw CodecError(.corruptStream,
                             "\(fragments.count) fragment(s) cannot hold \(frameCount) frames")
        }
        // No table: a frame begins at each fragment that starts a JPEG (SOI FFD8) or JPEG 2000 (SOC FF4F) codestream.
        var starts: [Int] = []
        for (i, fragment) in fragments.enumerated() where fragment.count >= 2 {
            let b0 = fragment[fragment.startIndex], b1 = fragment[fragment.startIndex + 1]
            if b0 == 0xFF && (b1 == 0xD8 || b1 == 0x4F) { starts.append(i) }
        }
        guard starts.count == frameCount, starts.first == 0 else {
            throw CodecError(.corruptStream,
                             "\(fragments.count) fragments without an offset table: found \(starts.count) codestream starts "
                             + "for \(frameCount) frames")
        }
        return starts.indices.map { k in (starts[k]..<(k + 1 < starts.count ? starts[k + 1] : fragments.count), nil) }
    }

    /// Builds encapsulated Pixel Data (PS3.5 §A.4) from encoded frames: one fragment per frame, each padded with a
    /// zero byte to an even length, and a Basic Offset Table with one offset per frame. When the offsets would not
    /// fit in 32 bits the Basic Offset Table is left empty (use ``extendedOffsetTable(for:)`` then).
    public static func encapsulate(_ frames: [Data]) -> EncapsulatedPixelData {
        var fragments: [Data] = []
        fragments.reserveCapacity(frames.count)
        var table = Data(capacity: frames.count * 4)
        var offset: UInt64 = 0
        var fits = true
        for frame in frames {
            var fragment = frame
            if fragment.count % 2 == 1 { fragment.append(0) }
            if offset > UInt64(UInt32.max) { fits = false }
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: offset).littleEndian) { table.append(contentsOf: $0) }
            offset += 8 + UInt64(fragment.count)
            fragments.append(fragment)
        }
        return EncapsulatedPixelData(basicOffsetTable: fits ? table : Data(), fragments: fragments)
    }

    /// The Extended Offset Table (7FE0,0001) and Extended Offset Table Lengths (7FE0,0002) values (64-bit little
    /// endian, VR OV) for fragments built by ``encapsulate(_:)`` from `frames`.
    public static func extendedOffsetTable(for frames: [Data]) -> (offsets: Data, lengths: Data) {
        var offsets = Data(capacity: frames.count * 8)
        var lengths = Data(capacity: frames.count * 8)
        var offset: UInt64 = 0
        for frame in frames {
            withUnsafeBytes(of: offset.littleEndian) { offsets.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt64(frame.count).littleEndian) { lengths.append(contentsOf: $0) }
            offset += 8 + UInt64(frame.count + frame.count % 2)
        }
        return (offsets, lengths)
    }
}
