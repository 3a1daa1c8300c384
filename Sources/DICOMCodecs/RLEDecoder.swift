import DICOMCore
import Foundation

/// RLE Lossless (1.2.840.10008.1.2.5) frame decoder, PS3.5 Annex G.
///
/// A frame is a 64-byte header (the number of segments and up to 15 segment offsets, 32-bit little endian, G.5)
/// followed by PackBits segments, one per byte plane: for each sample in turn, its most significant byte first
/// (G.2). Every segment must decode to exactly Rows × Columns bytes. The output is colour-by-pixel
/// (Planar Configuration 0) little-endian samples.
public struct RLEDecoder: FrameDecoder {
    public var transferSyntaxUIDs: Set<String> { [TransferSyntax.rleLossless.uid] }

    public init() {}

    public func decode(_ frame: Data, description: FrameDescription) throws -> DecodedFrame {
        try description.validate()
        let bytesPerSample = description.bitsAllocated / 8
        guard description.bitsAllocated % 8 == 0 else {
            throw CodecError(.unsupported, "RLE Lossless: Bits Allocated \(description.bitsAllocated) is not supported")
        }
        let samples = description.samplesPerPixel
        let segmentCount = samples * bytesPerSample
        guard segmentCount <= 15 else {
            throw CodecError(.unsupported,
                             "RLE Lossless: \(samples) samples of \(description.bitsAllocated) bits need \(segmentCount) segments, over the limit of 15")
        }
        let pixelCount = description.pixelCount
        var output = Data(count: description.bytesPerFrame)
        try frame.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard input.count >= 64 else {
                throw CodecError(.corruptStream, "RLE Lossless: the frame has \(input.count) bytes, less than the 64-byte header")
            }
            let declared = Int(UInt32(littleEndian: input.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
            guard declared == segmentCount else {
                throw CodecError(.corruptStream,
                                 "RLE Lossless: the header declares \(declared) segments but \(samples) sample(s) of "
                                 + "\(description.bitsAllocated) bits need \(segmentCount)")
            }
            var offsets: [Int] = []
            for i in 0..<segmentCount {
                let offset = Int(UInt32(littleEndian: input.loadUnaligned(fromByteOffset: 4 + 4 * i, as: UInt32.self)))
                if i == 0 && offset != 64 {
                    throw CodecError(.corruptStream, "RLE Lossless: the first segment offset is \(offset), not 64")
                }
                if let last = offsets.last, offset <= last {
                    throw CodecError(.corruptStream, "RLE Lossless: segment \(i + 1) offset \(offset) is not after segment \(i)'s \(last)")
                }
                guard offset < input.count else {
                    throw CodecError(.corruptStream,
                                     "RLE Lossless: segment \(i + 1) offset \(offset) is past the end of the frame (\(input.count) bytes)")
                }
                offsets.append(offset)
            }
            guard let source = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            try output.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) in
                guard let base = out.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                let stride = samples * bytesPerSample
                for segment in 0..<segmentCount {
                    let sample = segment / bytesPerSample
                    let plane = segment % bytesPerSample // 0 = most significant byte
                    let start = sample * bytesPerSample + (bytesPerSample - 1 - plane)
                    let end = segment + 1 < segmentCount ? offsets[segment + 1] : input.count
                    try RLEDecoder.decodeSegment(source, from: offsets[segment], to: end,
                                                 into: base + start, count: pixelCount, stride: stride, segment: segment + 1)
                }
            }
        }
        return DecodedFrame(pixels: output, photometricInterpretation: description.photometricInterpretation,
                            planarConfiguration: 0)
    }

    /// Decodes one PackBits segment (G.3.2) into `count` bytes written `stride` apart.
    static func decodeSegment(_ input: UnsafePointer<UInt8>, from start: Int, to end: Int,
                              into target: UnsafeMutablePointer<UInt8>, count: Int, stride: Int, segment: Int) throws {
        var position = start
        var written = 0
        var destination = target
        while written < count {
            guard position < end else {
                throw CodecError(.corruptStream,
                                 "RLE Lossless: segment \(segment) ends after \(written) of \(count) bytes")
            }
            let header = Int(Int8(bitPattern: input[position]))
            position += 1
            if header >= 0 {
                let length = header + 1
                guard length <= end - position else {
                    throw CodecError(.corruptStream,
                                     "RLE Lossless: segment \(segment) literal run of \(length) bytes is cut off by the segment end")
                }
                guard length <= count - written else {
                    throw CodecError(.corruptStream,
                                     "RLE Lossless: segment \(segment) decodes to more than \(count) bytes")
                }
                if stride == 1 {
                    destination.update(from: input + position, count: length)
                    destination += length
                } else {
                    for k in 0..<length {
                        destination.pointee = input[position + k]
                        destination += stride
                    }
                }
                position += length
                written += length
            } else if header != -128 {
                let length = 1 - header
                guard position < end else {
                    throw CodecError(.corruptStream,
                                     "RLE Lossless: segment \(segment) replicate run has no byte before the segment end")
                }
                guard length <= count - written else {
                    throw CodecError(.corruptStream,
                                     "RLE Lossless: segment \(segment) decodes to more than \(count) bytes")
                }
                let value = input[position]
                position += 1
                if stride == 1 {
                    destination.update(repeating: value, count: length)
                    destination += length
                } else {
                    for _ in 0..<length {
                        destination.pointee = value
                        destination += stride
                    }
                }
                written += length
            }
        }
    }
}
