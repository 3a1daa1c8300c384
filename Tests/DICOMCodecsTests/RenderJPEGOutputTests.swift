import DICOMCodecs
import DICOMCore
import Foundation
import Testing

/// JPEG output of rendered images: libjpeg's file read back by the libjpeg decoder, close to the input.
@Suite struct RenderJPEGOutputTests {

    static func image(samplesPerPixel: Int) -> RenderedImage {
        let width = 64, height = 48
        var pixels = [UInt8]()
        for y in 0..<height {
            for x in 0..<width {
                for s in 0..<samplesPerPixel { pixels.append(UInt8((x * 3 + y * 2 + s * 60) & 255)) }
            }
        }
        return RenderedImage(width: width, height: height, samplesPerPixel: samplesPerPixel, pixels: pixels)
    }

    @Test(arguments: [1, 3])
    func jpegReadsBackClose(_ samplesPerPixel: Int) throws {
        let original = Self.image(samplesPerPixel: samplesPerPixel)
        let jpeg = try ImageOutput.encode(original, format: .jpeg, quality: 95)
        #expect(jpeg.prefix(2) == Data([0xFF, 0xD8]))
        #expect(jpeg.suffix(2) == Data([0xFF, 0xD9]))
        let description = FrameDescription(rows: original.height, columns: original.width, samplesPerPixel: samplesPerPixel,
                                           bitsAllocated: 8,
                                           photometricInterpretation: samplesPerPixel == 3 ? "YBR_FULL" : "MONOCHROME2")
        let decoded = try LibJPEGDecoder().decode(jpeg, description: description)
        #expect(decoded.pixels.count == original.pixels.count)
        let squared = zip(decoded.pixels, original.pixels).reduce(0.0) { $0 + pow(Double(Int($1.0) - Int($1.1)), 2) }
        let psnr = 10 * log10(255 * 255 / max(1e-9, squared / Double(original.pixels.count)))
        #expect(psnr > 35, "PSNR \(psnr) dB")
        let small = try ImageOutput.encode(original, format: .jpeg, quality: 10)
        #expect(small.count < jpeg.count)
    }

    @Test func jpegRejectsBadInput() {
        #expect(throws: CodecError.self) { try JPEGImageWriter.encode(Self.image(samplesPerPixel: 1), quality: 0) }
        #expect(throws: CodecError.self) {
            try JPEGImageWriter.encode(RenderedImage(width: 3, height: 3, samplesPerPixel: 1, pixels: [1, 2]), quality: 90)
        }
    }
}
