import DICOMCodecs
import DICOMCore
import DICOMIO
import Foundation
import Testing

/// Rendering to 8 bits: the PS3.3 §C.11 formulas on synthetic frames, and real files compared with DCMTK's dcm2pnm.
@Suite struct RenderTests {

    // MARK: Helpers

    /// The first frame of native Pixel Data as a decoded frame.
    static func nativeFrame(_ dataSet: DataSet, _ description: FrameDescription) throws -> DecodedFrame {
        let bytes = try #require(dataSet[.pixelData]?.bytes, "no native Pixel Data")
        // Native YBR_FULL_422 holds 2 bytes a pixel (Y1 Y2 Cb Cr per pair); the renderer expands it.
        let length = description.photometricInterpretation == "YBR_FULL_422" ? description.pixelCount * 2 : description.bytesPerFrame
        #expect(bytes.count >= length)
        return DecodedFrame(pixels: bytes.prefix(length),
                            photometricInterpretation: description.photometricInterpretation,
                            planarConfiguration: description.planarConfiguration)
    }

    static func pydicomFile(_ relative: String) throws -> String {
        let base = try OpenJPEGTests.python("""
            import os, warnings
            warnings.simplefilter("ignore")
            import pydicom.data
            print(os.path.join(os.path.dirname(pydicom.data.__file__), "test_files"))
            """, [])
        let path = base + "/" + relative
        #expect(FileManager.default.fileExists(atPath: path), "pydicom test file \(relative) is missing")
        return path
    }

    /// A binary PGM (P5) or PPM (P6) image: width, height, samples per pixel, 8-bit samples.
    static func readPNM(_ data: Data) throws -> RenderedImage {
        var fields: [String] = []
        var index = data.startIndex
        while fields.count < 4, index < data.endIndex {
            while index < data.endIndex, [0x20, 0x0A, 0x0D, 0x09].contains(data[index]) { index += 1 }
            if index < data.endIndex, data[index] == 0x23 {  // comment
                while index < data.endIndex, data[index] != 0x0A { index += 1 }
                continue
            }
            var token = ""
            while index < data.endIndex, ![0x20, 0x0A, 0x0D, 0x09].contains(data[index]) {
                token.append(Character(UnicodeScalar(data[index])))
                index += 1
            }
            fields.append(token)
        }
        index += 1  // one whitespace byte after maxval
        guard fields.count == 4, let width = Int(fields[1]), let height = Int(fields[2]), fields[3] == "255" else {
            throw CodecError(.corruptStream, "not an 8-bit binary PNM: \(fields)")
        }
        let samples = fields[0] == "P6" ? 3 : 1
        let pixels = [UInt8](data[index...])
        guard pixels.count == width * height * samples else { throw CodecError(.corruptStream, "PNM size mismatch") }
        return RenderedImage(width: width, height: height, samplesPerPixel: samples, pixels: pixels)
    }

    /// Renders `path` with DCMTK's dcm2pnm (binary PNM output) and `options`.
    static func dcm2pnm(_ path: String, _ options: [String]) throws -> RenderedImage {
        let tool = "/usr/bin/dcm2pnm"
        #expect(FileManager.default.isExecutableFile(atPath: tool), "DCMTK dcm2pnm is not installed")
        let output = NSTemporaryDirectory() + "dcm2pnm-\(UUID().uuidString).pnm"
        defer { unlink(output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["+op"] + options + [path, output]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CodecError(.unsupported, "dcm2pnm \(options) \(path) exited with \(process.terminationStatus)")
        }
        return try readPNM(Data(contentsOf: URL(fileURLWithPath: output)))
    }

    /// Renders a native file with our renderer.
    static func render(_ path: String, _ options: RenderOptions) throws -> RenderedImage {
        let file = try DICOMFile(contentsOf: path)
        let description = try FrameDescription(dataSet: file.dataSet)
        return try FrameRenderer.render(try nativeFrame(file.dataSet, description), description: description,
                                        dataSet: file.dataSet, options: options)
    }

    /// Largest per-sample difference, and how many samples differ at all.
    static func difference(_ a: RenderedImage, _ b: RenderedImage) -> (maximum: Int, differing: Int) {
        guard a.width == b.width, a.height == b.height, a.samplesPerPixel == b.samplesPerPixel,
              a.pixels.count == b.pixels.count else { return (Int.max, Int.max) }
        var maximum = 0, differing = 0
        for (x, y) in zip(a.pixels, b.pixels) where x != y {
            maximum = max(maximum, abs(Int(x) - Int(y)))
            differing += 1
        }
        return (maximum, differing)
    }

    // MARK: Against DCMTK

    struct DCMTKCase: Sendable, CustomStringConvertible {
        var file: String
        var options: RenderOptions
        var dcmtk: [String]
        var description: String { "\(file) \(dcmtk)" }
    }

    static let dcmtkCases: [DCMTKCase] = [
        DCMTKCase(file: "CT_small.dcm", options: RenderOptions(voi: .window(center: 40, width: 400)), dcmtk: ["+Ww", "40", "400"]),
        DCMTKCase(file: "CT_small.dcm", options: RenderOptions(voi: .window(center: -600, width: 1500)), dcmtk: ["+Ww", "-600", "1500"]),
        DCMTKCase(file: "CT_small.dcm", options: RenderOptions(voi: .minMax), dcmtk: ["+Wm"]),
        DCMTKCase(file: "CT_small.dcm", options: RenderOptions(voi: .window(center: 40, width: 400, function: .sigmoid)),
                  dcmtk: ["+Ww", "40", "400", "+Wfs"]),
        DCMTKCase(file: "MR_small.dcm", options: RenderOptions(voi: .file(index: 0)), dcmtk: ["+Wi", "1"]),
        DCMTKCase(file: "dicomdirtests/77654033/CR3/6278", options: RenderOptions(voi: .file(index: 0)), dcmtk: ["+Wi", "1"]),
        DCMTKCase(file: "dicomdirtests/77654033/CR3/6278", options: RenderOptions(voi: .minMax), dcmtk: ["+Wm"]),
        DCMTKCase(file: "J2K_pixelrep_mismatch.dcm", options: RenderOptions(voi: .window(center: 40, width: 40)), dcmtk: ["+Ww", "40", "40"]),
        DCMTKCase(file: "examples_rgb_color.dcm", options: RenderOptions(), dcmtk: []),
        DCMTKCase(file: "SC_rgb_small_odd.dcm", options: RenderOptions(), dcmtk: []),
        DCMTKCase(file: "examples_palette.dcm", options: RenderOptions(), dcmtk: []),
        DCMTKCase(file: "SC_ybr_full_422_uncompressed.dcm", options: RenderOptions(), dcmtk: []),
        DCMTKCase(file: "liver_1frame.dcm", options: RenderOptions(voi: .minMax), dcmtk: ["+Wm"]),
        DCMTKCase(file: "rtdose_1frame.dcm", options: RenderOptions(voi: .minMax), dcmtk: ["+Wm"]),
    ]

    @Test(arguments: dcmtkCases)
    func matchesDCMTK(_ testCase: DCMTKCase) throws {
        let path = try Self.pydicomFile(testCase.file)
        if testCase.file.hasPrefix("J2K") { return try matchesDCMTKCompressed(path, testCase) }
        let ours = try Self.render(path, testCase.options)
        let theirs = try Self.dcm2pnm(path, testCase.dcmtk)
        let (maximum, differing) = Self.difference(ours, theirs)
        #expect(maximum <= 1, "\(testCase): largest difference \(maximum), \(differing) samples differ")
    }

    /// A JPEG 2000 file: decoded with OpenJPEG, then rendered; DCMTK without a J2K codec cannot read it, so it
    /// renders pydicom's decoded pixels written as a native copy.
    func matchesDCMTKCompressed(_ path: String, _ testCase: DCMTKCase) throws {
        let native = NSTemporaryDirectory() + "native-\(UUID().uuidString).dcm"
        defer { unlink(native) }
        _ = try OpenJPEGTests.python("""
            import sys, warnings
            warnings.simplefilter("ignore")
            import pydicom
            from pydicom.uid import ExplicitVRLittleEndian
            ds = pydicom.dcmread(sys.argv[1])
            ds.decompress()
            ds.save_as(sys.argv[2], enforce_file_format=True)
            """, [path, native])
        let file = try DICOMFile(contentsOf: path)
        let description = try FrameDescription(dataSet: file.dataSet)
        let fragments = try #require(file.dataSet[.pixelData]?.encapsulated).fragments.reduce(into: Data()) { $0.append($1) }
        let decoded = try OpenJPEGDecoder().decode(fragments, description: description)
        let ours = try FrameRenderer.render(decoded, description: description, dataSet: file.dataSet, options: testCase.options)
        let theirs = try Self.dcm2pnm(native, testCase.dcmtk)
        let (maximum, differing) = Self.difference(ours, theirs)
        #expect(maximum <= 1, "\(testCase): largest difference \(maximum), \(differing) samples differ")
    }

    // MARK: Formulas (PS3.3 §C.11.2.1.2)

    static func grayscale(_ values: [Int], bitsAllocated: Int = 16, bitsStored: Int? = nil, signed: Bool = false,
                          photometric: String = "MONOCHROME2") -> (DecodedFrame, FrameDescription) {
        let description = FrameDescription(rows: 1, columns: values.count, bitsAllocated: bitsAllocated, bitsStored: bitsStored,
                                           isSigned: signed, photometricInterpretation: photometric)
        var data = Data()
        for value in values {
            let pattern = UInt32(bitPattern: Int32(value))
            for byte in 0..<(bitsAllocated / 8) { data.append(UInt8(truncatingIfNeeded: pattern >> (8 * byte))) }
        }
        return (DecodedFrame(pixels: data, photometricInterpretation: photometric, planarConfiguration: 0), description)
    }

    @Test func linearWindowFollowsTheStandard() throws {
        // c = 100, w = 51: x ≤ 74.5 → 0; x > 124.5 → 255; else ((x − 99.5)/50 + 0.5)·255.
        let (frame, description) = Self.grayscale([0, 74, 75, 99, 100, 124, 125, 1000])
        let image = try FrameRenderer.render(frame, description: description, dataSet: DataSet(),
                                             options: RenderOptions(voi: .window(center: 100, width: 51)))
        let expected = [0, 0, 3, 125, 130, 252, 255, 255].map(UInt8.init)
        #expect(image.pixels == expected)
        #expect(image.samplesPerPixel == 1)
    }

    @Test func linearExactAndSigmoid() throws {
        let (frame, description) = Self.grayscale([0, 50, 100, 150, 200])
        let exact = try FrameRenderer.render(frame, description: description, dataSet: DataSet(),
                                             options: RenderOptions(voi: .window(center: 100, width: 100, function: .linearExact)))
        #expect(exact.pixels == [0, 0, 128, 255, 255])  // (x − c)/w + 0.5: 0, 0.5, 1 at 50, 100, 150 (50 ≤ c − w/2 → 0)
        let sigmoid = try FrameRenderer.render(frame, description: description, dataSet: DataSet(),
                                               options: RenderOptions(voi: .window(center: 100, width: 100, function: .sigmoid)))
        // 255 / (1 + exp(−4(x − 100)/100))
        let expected = [0, 50, 100, 150, 200].map { x in UInt8((255 / (1 + exp(-4 * (Double(x) - 100) / 100))).rounded()) }
        #expect(sigmoid.pixels == expected)
    }

    @Test func fileWindowFunctionAndIndex() throws {
        var dataSet = DataSet()
        try dataSet.set(.windowCenter, vr: .DS, strings: ["100", "1000"])
        try dataSet.set(.windowWidth, vr: .DS, strings: ["51", "2001"])
        let (frame, description) = Self.grayscale([74, 100, 125, 1000])
        let first = try FrameRenderer.render(frame, description: description, dataSet: dataSet)
        #expect(first.pixels == [0, 130, 255, 255])
        let second = try FrameRenderer.render(frame, description: description, dataSet: dataSet, options: RenderOptions(voi: .file(index: 1)))
        #expect(second.pixels == [9, 13, 16, 128])  // ((x − 999.5)/2000 + 0.5)·255
        #expect(throws: CodecError.self) {
            try FrameRenderer.render(frame, description: description, dataSet: dataSet, options: RenderOptions(voi: .file(index: 2)))
        }
        dataSet.setASCII(.voilutFunction, vr: .CS, "SIGMOID")
        let sigmoid = try FrameRenderer.render(frame, description: description, dataSet: dataSet)
        #expect(sigmoid.pixels[1] == 128)
        dataSet.setASCII(.voilutFunction, vr: .CS, "CUBIC")
        #expect(throws: CodecError.self) { try FrameRenderer.render(frame, description: description, dataSet: dataSet) }
    }

    @Test func rescaleMonochrome1AndSignedPixels() throws {
        var dataSet = DataSet()
        try dataSet.set(.rescaleSlope, vr: .DS, strings: ["2"])
        try dataSet.set(.rescaleIntercept, vr: .DS, strings: ["-1024"])
        // Signed 12-bit in 16: −2048 … 2047 → −5120 … 3070 after rescale.
        let (frame, description) = Self.grayscale([-2048, 0, 512, 2047], bitsStored: 12, signed: true, photometric: "MONOCHROME1")
        let image = try FrameRenderer.render(frame, description: description, dataSet: dataSet,
                                             options: RenderOptions(voi: .window(center: 0, width: 2049)))
        // modality −5120 → 0 → inverted 255; 0 → −1024 → 0 → 255; 512 → 0 → 128 → 127; 2047 → 3070 → 255 → 0.
        #expect(image.pixels == [255, 255, 127, 0])
        // Bits above Bits Stored are ignored: 0xF000 | 5 is 5.
        let (masked, maskedDescription) = Self.grayscale([0xF005, 0x0FFF, 0], bitsStored: 12)
        let minMax = try FrameRenderer.render(masked, description: maskedDescription, dataSet: DataSet(), options: RenderOptions(voi: .minMax))
        #expect(minMax.pixels[1] == 255 && minMax.pixels[2] == 0 && minMax.pixels[0] < 5)
    }

    @Test func modalityAndVOILUTSequences() throws {
        // Modality LUT: 4 entries from stored value 10, 16 bits: 10→0, 11→1000, 12→2000, 13→3000.
        var modality = DataSet()
        try modality.set(.lutDescriptor, vr: .US, integers: [4, 10, 16])
        modality.set(DataElement(tag: .lutData, vr: .OW, bytes: Data([0, 0, 0xE8, 0x03, 0xD0, 0x07, 0xB8, 0x0B])))
        var dataSet = DataSet()
        dataSet.set(DataElement(tag: .modalityLUTSequence, items: [modality]))
        let (frame, description) = Self.grayscale([9, 10, 11, 12, 13, 14])
        let windowed = try FrameRenderer.render(frame, description: description, dataSet: dataSet,
                                                options: RenderOptions(voi: .window(center: 1500.5, width: 3001)))
        #expect(windowed.pixels == [0, 0, 85, 170, 255, 255])
        // VOI LUT: 3 entries from 1000, 8 bits: 1000→0, 1001→128, 1002→255.
        var voi = DataSet()
        try voi.set(.lutDescriptor, vr: .US, integers: [3, 1000, 8])
        voi.set(DataElement(tag: .lutData, vr: .OW, bytes: Data([0, 0, 128, 0, 255, 0])))
        var voiDataSet = DataSet()
        voiDataSet.set(DataElement(tag: .voilutSequence, items: [voi]))
        let (frame2, description2) = Self.grayscale([999, 1000, 1001, 1002, 1003])
        let image = try FrameRenderer.render(frame2, description: description2, dataSet: voiDataSet)
        #expect(image.pixels == [0, 0, 128, 255, 255])
    }

    @Test func minMaxAndHistogramWindows() throws {
        let (frame, description) = Self.grayscale(Array(0..<100) + [10_000])
        let minMax = try FrameRenderer.render(frame, description: description, dataSet: DataSet(), options: RenderOptions(voi: .minMax))
        #expect(minMax.pixels.first == 0 && minMax.pixels.last == 255)
        #expect(minMax.pixels[99] < 5)  // the outlier squeezes everything else
        let histogram = try FrameRenderer.render(frame, description: description, dataSet: DataSet(),
                                                 options: RenderOptions(voi: .histogram(clip: 0.01)))
        #expect(histogram.pixels[99] == 255 && histogram.pixels[1] == 0 && histogram.pixels[50] > 100)
    }

    @Test func colourModels() throws {
        // Planar RGB, 2 pixels: R plane, G plane, B plane.
        let planar = FrameDescription(rows: 1, columns: 2, samplesPerPixel: 3, bitsAllocated: 8, planarConfiguration: 1,
                                      photometricInterpretation: "RGB")
        let rgb = try FrameRenderer.render(DecodedFrame(pixels: Data([1, 2, 3, 4, 5, 6]), photometricInterpretation: "RGB", planarConfiguration: 1),
                                           description: planar, dataSet: DataSet())
        #expect(rgb.pixels == [1, 3, 5, 2, 4, 6])
        // YBR_FULL grey (Cb = Cr = 128) stays grey; pure red Y=76 Cb=85 Cr=255 comes back near (255, 0, 0).
        let ybr = FrameDescription(rows: 1, columns: 2, samplesPerPixel: 3, bitsAllocated: 8, photometricInterpretation: "YBR_FULL")
        let converted = try FrameRenderer.render(DecodedFrame(pixels: Data([100, 128, 128, 76, 85, 255]), photometricInterpretation: "YBR_FULL", planarConfiguration: 0),
                                                 description: ybr, dataSet: DataSet())
        #expect(Array(converted.pixels[0..<3]) == [100, 100, 100])
        #expect(converted.pixels[3] >= 250 && converted.pixels[4] <= 3 && converted.pixels[5] <= 3)
        // 16-bit RGB keeps the top 8 stored bits.
        let deep = FrameDescription(rows: 1, columns: 1, samplesPerPixel: 3, bitsAllocated: 16, photometricInterpretation: "RGB")
        let deepImage = try FrameRenderer.render(DecodedFrame(pixels: Data([0xFF, 0xFF, 0x00, 0x80, 0x00, 0x00]), photometricInterpretation: "RGB", planarConfiguration: 0),
                                                 description: deep, dataSet: DataSet())
        #expect(deepImage.pixels == [255, 128, 0])
    }

    @Test func functionalGroupsGivePerFrameWindowAndRescale() throws {
        // Enhanced multi-frame: shared Pixel Value Transformation, per-frame Frame VOI LUT (PS3.3 §C.7.6.16).
        var transformation = DataSet()
        try transformation.set(.rescaleIntercept, vr: .DS, strings: ["-100"])
        try transformation.set(.rescaleSlope, vr: .DS, strings: ["1"])
        var shared = DataSet()
        shared.set(DataElement(tag: Tag(rawValue: 0x0028_9145), items: [transformation]))
        var frames: [DataSet] = []
        for center in ["0", "100"] {
            var voi = DataSet()
            try voi.set(.windowCenter, vr: .DS, strings: [center])
            try voi.set(.windowWidth, vr: .DS, strings: ["101"])
            var group = DataSet()
            group.set(DataElement(tag: Tag(rawValue: 0x0028_9132), items: [voi]))
            frames.append(group)
        }
        var dataSet = DataSet()
        dataSet.set(DataElement(tag: Tag(rawValue: 0x5200_9229), items: [shared]))
        dataSet.set(DataElement(tag: Tag(rawValue: 0x5200_9230), items: frames))
        let (frame, description) = Self.grayscale([100, 200])  // modality 0 and 100
        let first = try FrameRenderer.render(frame, description: description, dataSet: FrameRenderer.attributes(of: dataSet, frame: 0))
        let second = try FrameRenderer.render(frame, description: description, dataSet: FrameRenderer.attributes(of: dataSet, frame: 1))
        #expect(first.pixels == [129, 255])  // ((0 + 0.5)/100 + 0.5)·255 = 128.8
        #expect(second.pixels == [0, 129])
    }

    @Test func badInputThrows() throws {
        let (frame, description) = Self.grayscale([1, 2, 3])
        #expect(throws: CodecError.self) {
            try FrameRenderer.render(frame, description: description, dataSet: DataSet(), options: RenderOptions(voi: .window(center: 0, width: 0.5)))
        }
        var short = frame
        short.pixels = short.pixels.prefix(3)
        #expect(throws: CodecError.self) { try FrameRenderer.render(short, description: description, dataSet: DataSet()) }
        var palette = description
        palette.photometricInterpretation = "PALETTE COLOR"
        let paletteFrame = DecodedFrame(pixels: frame.pixels, photometricInterpretation: "PALETTE COLOR", planarConfiguration: 0)
        #expect(throws: CodecError.self) { try FrameRenderer.render(paletteFrame, description: palette, dataSet: DataSet()) }
        let cmyk = DecodedFrame(pixels: frame.pixels, photometricInterpretation: "CMYK", planarConfiguration: 0)
        #expect(throws: CodecError.self) { try FrameRenderer.render(cmyk, description: description, dataSet: DataSet()) }
    }
}
