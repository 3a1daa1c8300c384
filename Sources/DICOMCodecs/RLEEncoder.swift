import DICOMCore
import Foundation

/// RLE Lossless (1.2.840.10008.1.2.5) frame encoder, PS3.5 Annex G.
///
/// Splits each sample into byte planes (most significant first, G.2), PackBits-encodes each plane row by row
/// (runs never cross a row; runs of three or more identical bytes are replicate runs, G.3.1), pads every segment
/// to an even length with a zero byte and writes the 64-byte header (G.5). Accepts either Planar Configuration;
/// the encoded frame records Planar Configuration 0.
public struct RLEEncoder: FrameEncoder {
    public var transferSyntaxUID: String { TransferSyntax.rleLossless.uid }
    public var isLossy: Bool { false }
    public var lossyMethod: String? { nil }

    public init() {}

    public func encode(_ frame: Data, description: FrameDescription, options: EncodingOptions) throws -> EncodedFrame {
        try description.validate()
        guard description.bitsAllocated % 8 == 0 else {
            throw CodecError(.unsupported, "RLE Lossless: Bits Allocated \(description.bitsAllocated) cannot be encoded")
        }
        let bytesPerSample = description.bitsAllocated / 8
        let samples = description.samplesPerPixel
        let segmentCount = samples * bytesPerSample
        guard segmentCount <= 15 else {
            throw CodecError(.unsupported,
                             "RLE Lossless: \(samples) samples of \(description.bitsAllocated) bits need \(segmentCount) segments, over the limit of 15")
        }
        guard frame.count >= description.bytesPerFrame else {
            throw CodecError(.invalidImage,
                             "RLE Lossless: the frame has \(frame.count) bytes, \(description.bytesPerFrame) expected")
        }
        if description.photometricInterpretation == "YBR_FULL_422" {
            throw CodecError(.unsupported, "RLE Lossless: decode YBR_FULL_422 to YBR_FULL before encoding")
        }
        let rows = description.rows, columns = description.columns
        let pixelCount = description.pixelCount
        var output = [UInt8]()
        output.reserveCapacity(64 + description.bytesPerFrame + description.bytesPerFrame / 64 + 16 * rows)
        output.append(contentsOf: repeatElement(0, count: 64))
        var offsets: [Int] = []
        var row = [UInt8](repeating: 0, count: columns)
        frame.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            for segment in 0..<segmentCount {
                offsets.append(output.count)
                let sample = segment / bytesPerSample
                let plane = segment % bytesPerSample
                let byteInSample = bytesPerSample - 1 - plane
                // Position of pixel p's byte: colour-by-pixel or colour-by-plane.
                let first: Int, step: Int
                if description.planarConfiguration == 0 {
                    first = sample * bytesPerSample + byteInSample
                    step = samples * bytesPerSample
                } else {
                    first = sample * pixelCount * bytesPerSample + byteInSample
                    step = bytesPerSample
                }
                for r in 0..<rows {
                    var position = first + r * columns * step
                    for c in 0..<columns {
                        row[c] = input[position]
                        position += step
                    }
                    RLEEncoder.packBits(row, into: &output)
                }
                if (output.count - offsets[segment]) % 2 == 1 { output.append(0) }
            }
        }
        // Header: number of segments, then the offsets, 32-bit little endian (G.5).
        func put(_ value: Int, at index: Int) {
            let v = UInt32(value)
            output[index] = UInt8(v & 0xFF)
            output[index + 1] = UInt8((v >> 8) & 0xFF)
            output[index + 2] = UInt8((v >> 16) & 0xFF)
            output[index + 3] = UInt8(v >> 24)
        }
        guard output.count <= Int(UInt32.max) else {
            throw CodecError(.unsupported, "RLE Lossless: the encoded frame is larger than 4 GiB")
        }
        put(segmentCount, at: 0)
        for (i, offset) in offsets.enumerated() { put(offset, at: 4 + 4 * i) }
        return EncodedFrame(bytes: Data(output), photometricInterpretation: description.photometricInterpretation,
                            planarConfiguration: 0)
    }

    /// PackBits-encodes one row (G.3.1).
    static func packBits(_ row: [UInt8], into output: inout [UInt8]) {
        let count = row.count
        var i = 0
        row.withUnsafeBufferPointer { bytes in
            while i < count {
                // Length of the run of identical bytes starting at i (at most 128).
                var run = 1
                while i + run < count && run < 128 && bytes[i + run] == bytes[i] { run += 1 }
                if run >= 2 {
                    output.append(UInt8(bitPattern: Int8(1 - run)))
                    output.append(bytes[i])
                    i += run
                    continue
                }
                // Literal: extend until a run of three identical bytes starts, the row ends or 128 bytes.
                var end = i + 1
                while end < count && end - i < 128 {
                    if end + 2 < count && bytes[end] == bytes[end + 1] && bytes[end] == bytes[end + 2] { break }
                    end += 1
                }
                output.append(UInt8(end - i - 1))
                output.append(contentsOf: bytes[i..<end])
                i = end
            }
        }
    }
}
