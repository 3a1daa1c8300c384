// libFuzzer harness for the pure-Swift RLE Lossless decoder. See README.md.
import DICOMCore
import Foundation

/// The first 3 bytes choose the image (rows 1...64, columns 1...64, Bits Allocated 8/16/32 and 1 or 3 samples); the
/// rest is the RLE frame (64-byte header and segments).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 3 else { return 0 }
    let bytes = UnsafeBufferPointer(start: start, count: count)
    let rows = Int(bytes[0] & 63) + 1
    let columns = Int(bytes[1] & 63) + 1
    let bits = [8, 16, 32, 8][Int(bytes[2] & 3)]
    let samples = bytes[2] & 4 == 0 ? 1 : 3
    let description = FrameDescription(rows: rows, columns: columns, samplesPerPixel: samples, bitsAllocated: bits,
                                       photometricInterpretation: samples == 3 ? "RGB" : "MONOCHROME2")
    let frame = Data(UnsafeBufferPointer(rebasing: bytes[3...]))
    if let decoded = try? RLEDecoder().decode(frame, description: description) {
        precondition(decoded.pixels.count == description.bytesPerFrame, "wrong output size")
        // What decodes must encode and decode back to the same pixels.
        if let encoded = try? RLEEncoder().encode(decoded.pixels, description: description, options: EncodingOptions()) {
            let again = try? RLEDecoder().decode(encoded.bytes, description: description)
            precondition(again?.pixels == decoded.pixels, "RLE round trip differs")
        }
    }
    return 0
}
