import DICOMCodecs
import Foundation
import Testing

/// PNG output, checked by an independent reader: Python's zlib and a PNG chunk parser (no PIL needed).
@Suite struct PNGWriterTests {

    /// Parses a PNG with python: checks every chunk CRC, inflates IDAT, undoes filters 0–4; prints
    /// "width height colourtype" and writes the raw samples to a file.
    static let reader = """
        import sys, struct, zlib
        data = open(sys.argv[1], "rb").read()
        assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", "signature"
        pos, idat, chunks = 8, b"", []
        while pos < len(data):
            (length,) = struct.unpack(">I", data[pos:pos+4]); kind = data[pos+4:pos+8]
            body = data[pos+8:pos+8+length]; (crc,) = struct.unpack(">I", data[pos+8+length:pos+12+length])
            assert zlib.crc32(kind + body) & 0xffffffff == crc, "CRC of " + kind.decode()
            chunks.append(kind)
            if kind == b"IHDR": w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", body)
            if kind == b"IDAT": idat += body
            pos += 12 + length
        assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND", chunks
        assert depth == 8 and inter == 0
        spp = {0: 1, 2: 3}[ctype]; stride = w * spp
        raw = zlib.decompress(idat); out = bytearray(); prev = bytearray(stride)
        for y in range(h):
            f = raw[y*(stride+1)]; line = bytearray(raw[y*(stride+1)+1:(y+1)*(stride+1)])
            for i in range(stride):
                a = line[i-spp] if i >= spp else 0; b = prev[i]; c = prev[i-spp] if i >= spp else 0
                if f == 1: line[i] = (line[i] + a) & 255
                elif f == 2: line[i] = (line[i] + b) & 255
                elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
                elif f == 4:
                    p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
                else: assert f == 0, f
            out += line; prev = line
        open(sys.argv[2], "wb").write(out)
        print(w, h, ctype)
        """

    static func decode(_ png: Data) throws -> (String, [UInt8]) {
        let base = NSTemporaryDirectory() + "png-\(UUID().uuidString)"
        defer { unlink(base + ".png"); unlink(base + ".raw") }
        try png.write(to: URL(fileURLWithPath: base + ".png"))
        let header = try OpenJPEGTests.python(reader, [base + ".png", base + ".raw"])
        return (header, [UInt8](try Data(contentsOf: URL(fileURLWithPath: base + ".raw"))))
    }

    @Test(arguments: [1, 3])
    func pythonReadsWhatWeWrite(_ samplesPerPixel: Int) throws {
        let width = 37, height = 23
        var pixels = [UInt8]()
        for y in 0..<height {
            for x in 0..<width {
                for s in 0..<samplesPerPixel { pixels.append(UInt8((x * 7 + y * 3 + s * 50 + (x * y) % 5) & 255)) }
            }
        }
        let image = RenderedImage(width: width, height: height, samplesPerPixel: samplesPerPixel, pixels: pixels)
        let png = try PNGWriter.encode(image)
        let (header, decoded) = try Self.decode(png)
        #expect(header == "\(width) \(height) \(samplesPerPixel == 3 ? 2 : 0)")
        #expect(decoded == pixels)
        #expect(try ImageOutput.encode(image, format: .png) == png)
    }

    @Test func rejectsInconsistentImages() {
        #expect(throws: CodecError.self) {
            try PNGWriter.encode(RenderedImage(width: 4, height: 4, samplesPerPixel: 1, pixels: [UInt8](repeating: 0, count: 15)))
        }
        #expect(throws: CodecError.self) {
            try PNGWriter.encode(RenderedImage(width: 2, height: 2, samplesPerPixel: 2, pixels: [UInt8](repeating: 0, count: 8)))
        }
        #expect(throws: CodecError.self) {
            try PNGWriter.encode(RenderedImage(width: 0, height: 0, samplesPerPixel: 1, pixels: []))
        }
    }

    @Test func formatNames() {
        #expect(ImageOutputFormat(name: "PNG") == .png)
        #expect(ImageOutputFormat(name: "jpg") == .jpeg)
        #expect(ImageOutputFormat(name: "jpeg") == .jpeg)
        #expect(ImageOutputFormat(name: "gif") == nil)
    }
}
