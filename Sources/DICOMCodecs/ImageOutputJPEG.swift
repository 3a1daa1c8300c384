import CJPEGShim
import Foundation

/// Writes a ``RenderedImage`` as a baseline JPEG file (ISO/IEC 10918-1, JFIF) through libjpeg.
/// libjpeg runs behind the CJPEGShim layer, so its errors come back as ``CodecError`` instead of ending the process.
public enum JPEGImageWriter {
    /// The JPEG file bytes for `image` at `quality` 1...100; colour is stored as YCbCr without subsampling.
    public static func encode(_ image: RenderedImage, quality: Int) throws -> Data {
        guard image.samplesPerPixel == 1 || image.samplesPerPixel == 3 else {
            throw CodecError(.unsupported, "JPEG: \(image.samplesPerPixel) samples per pixel (1 or 3 supported)")
        }
        guard (1...65500).contains(image.width), (1...65500).contains(image.height),
              image.pixels.count == image.width * image.height * image.samplesPerPixel else {
            throw CodecError(.invalidImage, "JPEG: \(image.pixels.count) samples do not make a \(image.width)×\(image.height) image (at most 65500 a side)")
        }
        guard (1...100).contains(quality) else {
            throw CodecError(.invalidImage, "JPEG: quality \(quality) must be 1...100")
        }
        var output: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            cjpegshim_encode(pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(image.samplesPerPixel),
                             0, Int32(quality), 1, &output, &size, &message, message.count)
        }
        guard status == 0, let output else {
            throw CodecError(.unsupported, "JPEG: libjpeg failed: \(String(cString: message))")
        }
        defer { cjpegshim_free(output) }
        return Data(bytes: output, count: Int(size))
    }
}
