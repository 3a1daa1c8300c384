// libFuzzer harness for the libjpeg-turbo decoder path (LibJPEGDecoder over the CJPEGShim setjmp layer). See README.md.
import DICOMCore
import Foundation

/// The harness links only LibJPEGCodec.swift of DICOMCodecs: 12-bit frames, which the decoder hands to
/// `CodecRegistry.twelveBitJPEGDecoder`, end in an `.unsupported` error here (the pure-Swift 12-bit decoder has
/// its own harness, FuzzPureJPEG.swift).
enum CodecRegistry {
    static var twelveBitJPEGDecoder: (any FrameDecoder)? { nil }
}

/// The frame size from the first SOF marker (any of SOF0…SOF15), so that most inputs get past the size check.
/// The last input byte chooses the data set's Photometric Interpretation, Bits Allocated and upsampling.
private func description(for bytes: UnsafeBufferPointer<UInt8>) -> (FrameDescription, fancyUpsampling: Bool)? {
    guard let flags = bytes.last else { return nil }
    var i = 0
    while i + 9 < bytes.count {
        let marker = bytes[i + 1]
        if bytes[i] == 0xFF, (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC {
            let rows = Int(bytes[i + 5]) << 8 | Int(bytes[i + 6])
            let columns = Int(bytes[i + 7]) << 8 | Int(bytes[i + 8])
            let components = Int(bytes[i + 9])
            guard rows > 0, columns > 0, rows * columns <= 1 << 16, [1, 3].contains(components) else { return nil }
            let photometric = components == 1 ? (flags & 1 == 0 ? "MONOCHROME2" : "MONOCHROME1")
                                              : (flags & 1 == 0 ? "YBR_FULL_422" : "RGB")
            let description = FrameDescription(rows: rows, columns: columns, samplesPerPixel: components,
                                               bitsAllocated: flags & 2 == 0 ? 8 : 16, bitsStored: 8,
                                               photometricInterpretation: photometric)
            return (description, flags & 4 == 0)
        }
        i += 1
    }
    return nil
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    guard let (description, fancyUpsampling) = description(for: bytes) else { return 0 }
    guard let frame = try? LibJPEGDecoder(fancyUpsampling: fancyUpsampling).decode(Data(bytes), description: description) else {
        return 0
    }
    precondition(frame.pixels.count == description.bytesPerFrame, "wrong output size")
    // Whatever decodes must re-encode (8-bit, as decoded) and decode again to the same size.
    var decoded = description
    decoded.bitsAllocated = 8
    decoded.photometricInterpretation = frame.photometricInterpretation == "RGB" ? "RGB" : "MONOCHROME2"
    var pixels = frame.pixels
    if description.bitsAllocated == 16 {
        pixels = Data(pixels.enumerated().compactMap { $0.offset % 2 == 0 ? $0.element : nil })
    }
    do {
        let encoded = try LibJPEGEncoder().encode(pixels, description: decoded, options: EncodingOptions(quality: 75))
        var again = decoded
        again.photometricInterpretation = encoded.photometricInterpretation
        let redecoded = try LibJPEGDecoder().decode(encoded.bytes, description: again)
        precondition(redecoded.pixels.count == decoded.bytesPerFrame, "wrong size after a round trip")
    } catch {
        preconditionFailure("a decoded frame did not survive an encode/decode round trip: \(error)")
    }
    return 0
}
