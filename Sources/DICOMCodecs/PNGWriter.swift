import CZlib
import Foundation

/// Writes a ``RenderedImage`` as PNG (ISO/IEC 15948): 8-bit grayscale (colour type 0) or 8-bit RGB (colour type 2),
/// no interlacing, every row with filter type 0 or 2 (whichever is smaller), zlib deflate for the IDAT chunk.
public enum PNGWriter {
    /// The PNG file bytes for `image`.
    public static func encode(_ image: RenderedImage, compressionLevel: Int = 6) throws -> Data {
        guard image.samplesPerPixel == 1 || image.samplesPerPixel == 3 else {
            throw CodecError(.unsupported, "PNG: \(image.samplesPerPixel) samples per pixel (1 or 3 supported)")
        }
        guard image.width > 0, image.height > 0, image.width <= 0x7FFF_FFFF, image.height <= 0x7FFF_FFFF,
              image.pixels.count == image.width * image.height * image.samplesPerPixel else {
            throw CodecError(.invalidImage, "PNG: \(image.pixels.count) samples do not make a \(image.width)×\(image.height) image")
        }
        let rowBytes = image.width * image.samplesPerPixel
        var filtered = [UInt8](repeating: 0, count: (rowBytes + 1) * image.height)
        image.pixels.withUnsafeBufferPointer { pixels in
            for row in 0..<image.height {
                let source = row * rowBytes
                let target = row * (rowBytes + 1)
                // Filter "Up" (2) when it helps, else "None" (0): a cheap choice that shrinks smooth images.
                var costNone = 0, costUp = 0
                if row > 0 {
                    for i in 0..<rowBytes {
                        costNone += Int(Int8(bitPattern: pixels[source + i]).magnitude)
                        costUp += Int(Int8(bitPattern: pixels[source + i] &- pixels[source - rowBytes + i]).magnitude)
                    }
                }
                if row > 0, costUp < costNone {
                    filtered[target] = 2
                    for i in 0..<rowBytes { filtered[target + 1 + i] = pixels[source + i] &- pixels[source - rowBytes + i] }
                } else {
                    filtered[target] = 0
                    for i in 0..<rowBytes { filtered[target + 1 + i] = pixels[source + i] }
                }
            }
        }
        var compressedLength = compressBound(uLong(filtered.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        let status = compress2(&compressed, &compressedLength, filtered, uLong(filtered.count),
                               Int32(max(0, min(9, compressionLevel))))
        guard status == Z_OK else {
            throw CodecError(.unsupported, "PNG: zlib compress2 failed with status \(status)")
        }
        compressed.removeSubrange(Int(compressedLength)...)

        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = [UInt8]()
        header.appendBigEndian(UInt32(image.width))
        header.appendBigEndian(UInt32(image.height))
        header += [8, image.samplesPerPixel == 3 ? 2 : 0, 0, 0, 0]  // depth, colour type, deflate, filter 0, no interlace
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", compressed, to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// Appends length, type, data and CRC-32 (over type and data) of one chunk.
    static func appendChunk(_ type: String, _ data: [UInt8], to png: inout Data) {
        var chunk = [UInt8]()
        chunk.appendBigEndian(UInt32(data.count))
        let typeAndData = Array(type.utf8) + data
        chunk += typeAndData
        let crc = typeAndData.withUnsafeBufferPointer { buffer in
            crc32(crc32(0, nil, 0), buffer.baseAddress, uInt(buffer.count))
        }
        chunk.appendBigEndian(UInt32(truncatingIfNeeded: crc))
        png.append(contentsOf: chunk)
    }
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}
