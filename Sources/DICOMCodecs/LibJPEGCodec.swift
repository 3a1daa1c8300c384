import CJPEGShim
import DICOMCore
import Foundation

/// The start-of-frame facts of a JPEG codestream (ISO/IEC 10918-1 §B.2.2), read without libjpeg.
struct JPEGFrameHeader: Equatable {
    /// The SOF marker's second byte: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, 0xC3 lossless, ...
    var marker: UInt8
    var precision: Int
    var rows: Int
    var columns: Int
    var components: Int

    /// Whether the process is lossless (SOF3, SOF7, SOF11, SOF15), which libjpeg-turbo cannot decode.
    var isLossless: Bool { marker & 0x03 == 0x03 }

    /// Walks the marker segments from SOI to the first SOF; throws when the stream is not JPEG or has no frame header.
    init(_ stream: Data) throws {
        let found: JPEGFrameHeader? = try stream.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            let count = bytes.count
            guard count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else {
                throw CodecError(.corruptStream, "JPEG: the frame does not start with an SOI marker (FFD8)")
            }
            var position = 2
            while position + 4 <= count {
                guard bytes[position] == 0xFF else {
                    throw CodecError(.corruptStream, "JPEG: expected a marker at byte \(position), found \(bytes[position])")
                }
                let marker = bytes[position + 1]
                if marker == 0xFF { position += 1; continue } // fill byte
                if marker == 0x01 || (0xD0...0xD7).contains(marker) { position += 2; continue }
                if marker == 0xDA || marker == 0xD9 { return nil }
                let length = Int(bytes[position + 2]) << 8 | Int(bytes[position + 3])
                guard length >= 2, position + 2 + length <= count else {
                    throw CodecError(.corruptStream, "JPEG: marker FF\(String(marker, radix: 16, uppercase: true)) segment length \(length) runs past the end")
                }
                let isFrame = (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
                if isFrame {
                    guard length >= 8 else { throw CodecError(.corruptStream, "JPEG: SOF segment of \(length) bytes is too short") }
                    let p = position + 4
                    return JPEGFrameHeader(marker: marker, precision: Int(bytes[p]),
                                           rows: Int(bytes[p + 1]) << 8 | Int(bytes[p + 2]),
                                           columns: Int(bytes[p + 3]) << 8 | Int(bytes[p + 4]),
                                           components: Int(bytes[p + 5]))
                }
                position += 2 + length
            }
            return nil
        }
        guard let found else { throw CodecError(.corruptStream, "JPEG: no frame header (SOF) before the scan or the end of the stream") }
        self = found
    }

    private init(marker: UInt8, precision: Int, rows: Int, columns: Int, components: Int) {
        self.marker = marker
        self.precision = precision
        self.rows = rows
        self.columns = columns
        self.components = components
    }
}

/// JPEG Baseline (process 1, 1.2.840.10008.1.2.4.50) and 8-bit JPEG Extended (process 2, .51) decoder on the
/// system libjpeg (libjpeg-turbo, 8-bit samples).
///
/// Colour frames are returned as RGB (Photometric Interpretation RGB), as pydicom and DCMTK do: a stream with an
/// Adobe APP14 marker follows its transform flag, one with a JFIF marker is YCbCr, otherwise the data set's
/// Photometric Interpretation (YBR_* or RGB) says how the components were stored. 12-bit process 4 frames go to
/// ``CodecRegistry/twelveBitJPEGDecoder``. Truncated or corrupt entropy-coded data is an error, not grey fill.
public struct LibJPEGDecoder: FrameDecoder {
    public var transferSyntaxUIDs: Set<String> { [TransferSyntax.jpegBaseline.uid, TransferSyntax.jpegExtended.uid] }

    /// Chrominance upsampling by interpolation (libjpeg's default) rather than by replication.
    public var fancyUpsampling: Bool

    public init(fancyUpsampling: Bool = true) {
        self.fancyUpsampling = fancyUpsampling
    }

    public func decode(_ frame: Data, description: FrameDescription) throws -> DecodedFrame {
        try description.validate()
        let header = try JPEGFrameHeader(frame)
        if header.isLossless {
            throw CodecError(.unsupported, "JPEG: the frame is lossless JPEG (SOF\(header.marker & 0x0F)), not baseline or extended")
        }
        if header.precision > 8 {
            guard let twelveBit = CodecRegistry.twelveBitJPEGDecoder else {
                throw CodecError(.unsupported,
                                 "12-bit JPEG Extended needs a 12-bit JPEG decoder; the system libjpeg decodes 8-bit samples only")
            }
            return try twelveBit.decode(frame, description: description)
        }
        guard header.precision == 8 else {
            throw CodecError(.corruptStream, "JPEG: sample precision \(header.precision) is not allowed for process 1 or 2")
        }
        guard header.rows == description.rows, header.columns == description.columns,
              header.components == description.samplesPerPixel else {
            throw CodecError(.corruptStream,
                             "JPEG: the stream is \(header.columns)×\(header.rows) with \(header.components) component(s) but the "
                             + "data set says \(description.columns)×\(description.rows) with \(description.samplesPerPixel)")
        }
        guard description.bitsAllocated == 8 || description.bitsAllocated == 16 else {
            throw CodecError(.unsupported, "JPEG: 8-bit samples cannot fill Bits Allocated \(description.bitsAllocated)")
        }
        let sampleCount = description.pixelCount * description.samplesPerPixel
        var samples = Data(count: sampleCount)
        var info = cjpegshim_info()
        var message = [CChar](repeating: 0, count: 256)
        let hintYBR: Int32 = description.photometricInterpretation.hasPrefix("YBR") ? 1 : 0
        let status = frame.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
            samples.withUnsafeMutableBytes { (output: UnsafeMutableRawBufferPointer) -> Int32 in
                guard let source = input.baseAddress?.assumingMemoryBound(to: UInt8.self),
                      let target = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return -1 }
                return cjpegshim_decode(source, UInt(input.count), hintYBR, fancyUpsampling ? 1 : 0,
                                        target, UInt(output.count), &info, &message, message.count)
            }
        }
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard status == 0 else {
            throw CodecError(.corruptStream, "JPEG: libjpeg: \(text.isEmpty ? "decoding failed" : text)")
        }
        guard info.serious_warnings == 0 else {
            throw CodecError(.corruptStream, "JPEG: libjpeg: \(text) (the frame is truncated or corrupt)")
        }
        if description.bitsAllocated == 16 {
            var wide = Data(count: sampleCount * 2)
            samples.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
                wide.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                    for i in 0..<sampleCount { dst[2 * i] = src[i] }
                }
            }
            samples = wide
        }
        let photometric = description.samplesPerPixel == 3 ? "RGB" : description.photometricInterpretation
        return DecodedFrame(pixels: samples, photometricInterpretation: photometric, planarConfiguration: 0)
    }
}

/// JPEG Baseline (process 1, 1.2.840.10008.1.2.4.50) encoder on the system libjpeg.
///
/// Accepts 8-bit unsigned MONOCHROME1/2, RGB or YBR_FULL frames (either Planar Configuration). Colour is stored
/// as YCbCr with 4:2:2 chrominance subsampling, recorded as YBR_FULL_422 (PS3.5 §8.2.1), as DCMTK's dcmcjpeg does
/// by default. ``EncodingOptions/quality`` (1...100) sets the IJG quality.
public struct LibJPEGEncoder: FrameEncoder {
    public var transferSyntaxUID: String { TransferSyntax.jpegBaseline.uid }
    public var isLossy: Bool { true }
    public var lossyMethod: String? { "ISO_10918_1" }

    public init() {}

    public func encode(_ frame: Data, description d: FrameDescription, options: EncodingOptions) throws -> EncodedFrame {
        try d.validate()
        guard d.bitsAllocated == 8, d.bitsStored <= 8 else {
            throw CodecError(.unsupported,
                             "JPEG Baseline: Bits Allocated \(d.bitsAllocated), Bits Stored \(d.bitsStored) cannot be encoded (8-bit samples only)")
        }
        guard !d.isSigned else {
            throw CodecError(.unsupported, "JPEG Baseline: signed (Pixel Representation 1) samples cannot be encoded")
        }
        guard (1...100).contains(options.quality) else {
            throw CodecError(.invalidImage, "JPEG Baseline: quality \(options.quality) must be 1...100")
        }
        let photometric = d.photometricInterpretation
        let inputYBR: Int32
        switch (d.samplesPerPixel, photometric) {
        case (1, "MONOCHROME1"), (1, "MONOCHROME2"): inputYBR = 0
        case (3, "RGB"): inputYBR = 0
        case (3, "YBR_FULL"): inputYBR = 1
        default:
            throw CodecError(.unsupported,
                             "JPEG Baseline: \(d.samplesPerPixel) sample(s) with Photometric Interpretation \(photometric) cannot be encoded")
        }
        guard frame.count >= d.bytesPerFrame else {
            throw CodecError(.invalidImage, "JPEG Baseline: the frame has \(frame.count) bytes, \(d.bytesPerFrame) expected")
        }
        var interleaved = Data(frame.prefix(d.bytesPerFrame))
        if d.samplesPerPixel == 3 && d.planarConfiguration == 1 {
            interleaved = LibJPEGEncoder.interleave(interleaved, pixelCount: d.pixelCount)
        }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var outputSize: UInt = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = interleaved.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
            guard let source = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return -1 }
            return cjpegshim_encode(source, Int32(d.columns), Int32(d.rows), Int32(d.samplesPerPixel), inputYBR,
                                    Int32(options.quality), 2, &output, &outputSize, &message, message.count)
        }
        defer { if let output { cjpegshim_free(output) } }
        guard status == 0, let output else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CodecError(.corruptStream, "JPEG Baseline: libjpeg: \(text.isEmpty ? "encoding failed" : text)")
        }
        let bytes = Data(bytes: output, count: Int(outputSize))
        return EncodedFrame(bytes: bytes, photometricInterpretation: d.samplesPerPixel == 3 ? "YBR_FULL_422" : photometric,
                            planarConfiguration: 0)
    }

    /// Colour-by-plane samples (R…G…B…) rearranged colour-by-pixel.
    static func interleave(_ planar: Data, pixelCount: Int) -> Data {
        var out = Data(count: pixelCount * 3)
        planar.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                for p in 0..<pixelCount {
                    dst[3 * p] = src[p]
                    dst[3 * p + 1] = src[pixelCount + p]
                    dst[3 * p + 2] = src[2 * pixelCount + p]
                }
            }
        }
        return out
    }
}
