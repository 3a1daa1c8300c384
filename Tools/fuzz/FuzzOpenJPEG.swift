// libFuzzer harness for the OpenJPEG wrapper (JPEG 2000 decoding from memory). See README.md.
import DICOMCore
import Foundation

/// The image size from the codestream's SIZ marker (FF51), so that most inputs get past the size check.
private func description(for bytes: UnsafeBufferPointer<UInt8>) -> FrameDescription? {
    var i = 0
    while i + 41 < bytes.count {
        if bytes[i] == 0xFF, bytes[i + 1] == 0x51 {
            func u32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
            let columns = u32(i + 6) - u32(i + 14), rows = u32(i + 10) - u32(i + 18)
            let components = Int(bytes[i + 38]) << 8 | Int(bytes[i + 39])
            let precision = Int(bytes[i + 40] & 0x7F) + 1
            guard rows > 0, columns > 0, rows <= 512, columns <= 512, [1, 3].contains(components), precision <= 16 else { return nil }
            return FrameDescription(rows: rows, columns: columns, samplesPerPixel: components, bitsAllocated: precision > 8 ? 16 : 8,
                                    bitsStored: precision, isSigned: bytes[i + 40] & 0x80 != 0,
                                    photometricInterpretation: components == 3 ? "RGB" : "MONOCHROME2")
        }
        i += 1
    }
    return nil
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    guard let description = description(for: bytes) else { return 0 }
    if let frame = try? OpenJPEGDecoder().decode(Data(bytes), description: description) {
        precondition(frame.pixels.count == description.bytesPerFrame, "wrong output size")
    }
    return 0
}
