import DICOMCore
import Foundation

/// Renders one decoded frame to an 8-bit grayscale or RGB image, following the grayscale pipeline of
/// PS3.4 §N.2 (Modality LUT → VOI LUT → Presentation LUT) and the colour models of PS3.3 §C.7.6.3.1.2.
///
/// Grayscale: stored values (signed or unsigned, Bits Allocated 1, 8, 16 or 32, Bits Stored ≤ Bits Allocated) pass
/// through Rescale Slope/Intercept or the Modality LUT Sequence, then a window (LINEAR, LINEAR_EXACT or SIGMOID)
/// or the VOI LUT Sequence, then MONOCHROME1 is inverted. Colour: RGB (8 or 16 bits, either planar configuration),
/// YBR_FULL and YBR_FULL_422 converted to RGB, PALETTE COLOR through its red, green and blue LUTs (plain or segmented,
/// PS3.3 §C.7.9.2).
public enum FrameRenderer {
    /// Renders `frame`, described by `description` and `dataSet` (which holds the LUTs and windows).
    /// For an enhanced multi-frame image, the frame's functional groups can be folded in with
    /// ``attributes(of:frame:)`` first.
    public static func render(_ frame: DecodedFrame, description: FrameDescription, dataSet: DataSet,
                              options: RenderOptions = RenderOptions()) throws -> RenderedImage {
        try description.validate()
        let photometric = frame.photometricInterpretation.trimmingCharacters(in: .whitespaces)
        switch photometric {
        case "MONOCHROME1", "MONOCHROME2":
            guard description.samplesPerPixel == 1 else {
                throw CodecError(.invalidImage, "\(photometric) needs Samples per Pixel 1, not \(description.samplesPerPixel)")
            }
            return try renderGrayscale(frame, description: description, dataSet: dataSet, options: options,
                                       invert: photometric == "MONOCHROME1")
        case "PALETTE COLOR":
            return try renderPalette(frame, description: description, dataSet: dataSet)
        case "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT":
            return try renderColour(frame, description: description, photometric: photometric)
        default:
            throw CodecError(.unsupported, "rendering Photometric Interpretation \(photometric) is not supported")
        }
    }

    /// The data set's attributes with those of the Shared and Per-Frame Functional Groups Sequences for
    /// `frame` (0-based) merged in — Pixel Value Transformation and Frame VOI LUT macros (PS3.3 §C.7.6.16).
    public static func attributes(of dataSet: DataSet, frame: Int) -> DataSet {
        var result = dataSet
        let shared = dataSet.items(Tag(rawValue: 0x5200_9229))?.first
        let perFrame = dataSet.items(Tag(rawValue: 0x5200_9230)).flatMap { frame < $0.count ? $0[frame] : nil }
        for group in [shared, perFrame] {
            guard let group else { continue }
            // Pixel Value Transformation (0028,9145), Frame VOI LUT (0028,9132).
            for macro in [Tag(rawValue: 0x0028_9145), Tag(rawValue: 0x0028_9132)] {
                guard let item = group.items(macro)?.first else { continue }
                for element in item { result.set(element) }
            }
        }
        return result
    }

    // MARK: Stored values

    /// The stored values of one sample plane as Int: High Bit honoured, masked to Bits Stored, sign-extended when signed.
    static func storedValues(_ frame: DecodedFrame, description: FrameDescription, sampleCount: Int) throws -> [Int] {
        let bitsAllocated = description.bitsAllocated
        let needed = (sampleCount * bitsAllocated + 7) / 8
        guard frame.pixels.count >= needed else {
            throw CodecError(.corruptStream, "the frame has \(frame.pixels.count) bytes of pixel data, \(needed) expected")
        }
        let bitsStored = description.bitsStored
        let shift = description.highBit + 1 - bitsStored
        let mask: UInt64 = bitsStored >= 64 ? .max : (UInt64(1) << UInt64(bitsStored)) - 1
        let signShift = 64 - bitsStored
        let signed = description.isSigned
        var values = [Int](repeating: 0, count: sampleCount)
        frame.pixels.withUnsafeBytes { raw in
            @inline(__always) func finish(_ value: UInt64) -> Int {
                let v = (value >> UInt64(shift)) & mask
                return signed ? Int(Int64(bitPattern: v << UInt64(signShift)) >> Int64(signShift)) : Int(truncatingIfNeeded: v)
            }
            switch bitsAllocated {
            case 1:
                for i in 0..<sampleCount { values[i] = Int((raw[i >> 3] >> UInt8(i & 7)) & 1) }
            case 8:
                for i in 0..<sampleCount { values[i] = finish(UInt64(raw[i])) }
            case 16:
                for i in 0..<sampleCount {
                    values[i] = finish(UInt64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                }
            case 32:
                for i in 0..<sampleCount {
                    values[i] = finish(UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                }
            default:
                for i in 0..<sampleCount {
                    values[i] = finish(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                }
            }
        }
        return values
    }

    // MARK: Grayscale

    static func renderGrayscale(_ frame: DecodedFrame, description: FrameDescription, dataSet: DataSet,
                                options: RenderOptions, invert: Bool) throws -> RenderedImage {
        let count = description.pixelCount
        let stored = try storedValues(frame, description: description, sampleCount: count)
        let modality = try ModalityTransform(dataSet: dataSet, description: description, ignore: options.ignoreModalityLUT)
        let voi = try VOITransform.resolve(options.voi, dataSet: dataSet, description: description,
                                           stored: stored, modality: modality)
        var output = [UInt8](repeating: 0, count: count)
        // Table over the stored value range when it is small; per pixel otherwise.
        let low = stored.min() ?? 0, high = stored.max() ?? 0
        if high - low < 1 << 20 {
            var table = [UInt8](repeating: 0, count: high - low + 1)
            for value in low...high {
                let y = voi.apply(modality.apply(value))
                table[value - low] = invert ? 255 - y : y
            }
            for i in 0..<count { output[i] = table[stored[i] - low] }
        } else {
            for i in 0..<count {
                let y = voi.apply(modality.apply(stored[i]))
                output[i] = invert ? 255 - y : y
            }
        }
        return RenderedImage(width: description.columns, height: description.rows, samplesPerPixel: 1, pixels: output)
    }

    // MARK: Colour

    static func renderColour(_ frame: DecodedFrame, description: FrameDescription, photometric: String) throws -> RenderedImage {
        guard description.samplesPerPixel == 3 else {
            throw CodecError(.invalidImage, "\(photometric) needs Samples per Pixel 3, not \(description.samplesPerPixel)")
        }
        let count = description.pixelCount
        var rgb = [UInt8](repeating: 0, count: count * 3)
        if photometric == "YBR_FULL_422", frame.pixels.count < count * 3 * description.bitsAllocated / 8 {
            // Native YBR_FULL_422 (PS3.3 §C.7.6.3.1.2): Y1 Y2 Cb Cr per pair of pixels in a row, 8 bits.
            guard description.bitsAllocated == 8, description.columns % 2 == 0,
                  frame.pixels.count >= count * 2 else {
                throw CodecError(.invalidImage, "YBR_FULL_422 pixel data needs 8 bits, an even number of columns and 2 bytes a pixel")
            }
            frame.pixels.withUnsafeBytes { raw in
                for pair in 0..<(count / 2) {
                    let base = pair * 4
                    let cb = Int(raw[base + 2]), cr = Int(raw[base + 3])
                    for k in 0..<2 {
                        let (r, g, b) = ybrToRGB(Int(raw[base + k]), cb, cr)
                        let o = (pair * 2 + k) * 3
                        rgb[o] = r; rgb[o + 1] = g; rgb[o + 2] = b
                    }
                }
            }
            return RenderedImage(width: description.columns, height: description.rows, samplesPerPixel: 3, pixels: rgb)
        }
        let samples = try storedValues(frame, description: description, sampleCount: count * 3)
        let downShift = max(0, description.bitsStored - 8)
        let planar = frame.planarConfiguration == 1
        for i in 0..<count {
            var c = [0, 0, 0]
            for s in 0..<3 {
                let index = planar ? s * count + i : i * 3 + s
                var v = samples[index]
                if description.isSigned { v += 1 << (description.bitsStored - 1) }
                c[s] = min(255, max(0, v >> downShift))
            }
            if photometric == "RGB" {
                rgb[i * 3] = UInt8(c[0]); rgb[i * 3 + 1] = UInt8(c[1]); rgb[i * 3 + 2] = UInt8(c[2])
            } else {
                let (r, g, b) = ybrToRGB(c[0], c[1], c[2])
                rgb[i * 3] = r; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = b
            }
        }
        return RenderedImage(width: description.columns, height: description.rows, samplesPerPixel: 3, pixels: rgb)
    }

    /// YBR_FULL to RGB (PS3.3 §C.7.6.3.1.2, the inverse of the ITU-R BT.601 full-range equations).
    @inline(__always) static func ybrToRGB(_ y: Int, _ cb: Int, _ cr: Int) -> (UInt8, UInt8, UInt8) {
        let yy = Double(y), b = Double(cb) - 128, r = Double(cr) - 128
        func clamp(_ v: Double) -> UInt8 { UInt8(min(255, max(0, (v).rounded()))) }
        return (clamp(yy + 1.402 * r), clamp(yy - 0.344136 * b - 0.714136 * r), clamp(yy + 1.772 * b))
    }

    static func renderPalette(_ frame: DecodedFrame, description: FrameDescription, dataSet: DataSet) throws -> RenderedImage {
        guard description.samplesPerPixel == 1 else {
            throw CodecError(.invalidImage, "PALETTE COLOR needs Samples per Pixel 1, not \(description.samplesPerPixel)")
        }
        let channels: [(Tag, Tag, Tag, String)] = [
            (.redPaletteColorLookupTableDescriptor, .redPaletteColorLookupTableData, .segmentedRedPaletteColorLookupTableData, "Red Palette Color"),
            (.greenPaletteColorLookupTableDescriptor, .greenPaletteColorLookupTableData, .segmentedGreenPaletteColorLookupTableData, "Green Palette Color"),
            (.bluePaletteColorLookupTableDescriptor, .bluePaletteColorLookupTableData, .segmentedBluePaletteColorLookupTableData, "Blue Palette Color"),
        ]
        var luts: [RenderLUT] = []
        for (descriptorTag, dataTag, segmentedTag, name) in channels {
            guard let descriptor = dataSet.integers(descriptorTag) else {
                throw CodecError(.invalidImage, "\(name) Lookup Table Descriptor \(descriptorTag) is missing")
            }
            // Plain LUT Data (PS3.3 §C.7.6.3.1.6) when present, else the segmented form (§C.7.9.2).
            if !dataSet.contains(dataTag), dataSet.contains(segmentedTag) {
                luts.append(try RenderLUT(descriptor: descriptor, segmentedData: dataSet[segmentedTag], name: name))
            } else {
                luts.append(try RenderLUT(descriptor: descriptor, data: dataSet[dataTag], signedInput: false, name: name))
            }
        }
        // Entries are 8 or 16 bits; some writers declare 16 but store 8-bit values.
        let shifts = luts.map { lut in lut.bitsPerEntry > 8 && (lut.entries.max() ?? 0) > 255 ? lut.bitsPerEntry - 8 : 0 }
        let count = description.pixelCount
        let indices = try storedValues(frame, description: description, sampleCount: count)
        var rgb = [UInt8](repeating: 0, count: count * 3)
        for i in 0..<count {
            for s in 0..<3 {
                rgb[i * 3 + s] = UInt8(clamping: luts[s].lookup(indices[i]) >> shifts[s])
            }
        }
        return RenderedImage(width: description.columns, height: description.rows, samplesPerPixel: 3, pixels: rgb)
    }
}
