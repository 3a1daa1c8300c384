// libFuzzer harness for the pure-Swift JPEG decoders (JPEG Lossless, JPEG-LS, JPEG Extended). See README.md.
import DICOMCore
import Foundation

/// Takes the frame size from the first SOF marker so that most inputs get past the size check.
private func description(for bytes: [UInt8]) -> FrameDescription? {
    var i = 0
    while i + 9 < bytes.count {
        if bytes[i] == 0xFF, [0xC0, 0xC1, 0xC3, 0xF7].contains(bytes[i + 1]) {
            let precision = Int(bytes[i + 4])
            let rows = Int(bytes[i + 5]) << 8 | Int(bytes[i + 6])
            let columns = Int(bytes[i + 7]) << 8 | Int(bytes[i + 8])
            let components = Int(bytes[i + 9])
            guard (1...16).contains(precision), rows > 0, columns > 0, rows * columns <= 1 << 16, [1, 3, 4].contains(components) else {
                return nil
            }
            return FrameDescription(rows: rows, columns: columns, samplesPerPixel: components,
                                    bitsAllocated: precision > 8 ? 16 : 8, bitsStored: precision, isSigned: bytes.count % 2 == 1)
        }
        i += 1
    }
    return nil
}

private let decoders: [any FrameDecoder] = [JPEGLosslessDecoder(), JPEGLSDecoder(), JPEGExtendedDecoder()]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: start, count: count))
    guard let description = description(for: bytes) else { return 0 }
    let data = Data(bytes)
    for decoder in decoders {
        if let frame = try? decoder.decode(data, description: description) {
            precondition(frame.pixels.count == description.bytesPerFrame, "wrong output size")
        }
    }
    return 0
}
