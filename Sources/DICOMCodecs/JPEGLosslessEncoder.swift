import DICOMCore
import Foundation

/// Encodes JPEG Lossless, Non-Hierarchical frames (process 14) in pure Swift: First-Order Prediction (selection value 1,
/// transfer syntax 1.2.840.10008.1.2.4.70) by default, or any predictor 2–7 (1.2.840.10008.1.2.4.57).
///
/// Writes one interleaved scan with no point transform (ITU T.81 Annex H), sample precision = Bits Stored
/// (at least 2; Bits Allocated for signed samples), for 1–4 components of 8 or 16 bits allocated. Huffman tables are either optimal for the frame
/// (ITU T.81 Annex K.2, the default) or a fixed table, which is faster to produce and slightly larger.
public struct JPEGLosslessEncoder: FrameEncoder {
    public var transferSyntaxUID: String { predictor == 1 ? TransferSyntax.jpegLosslessSV1.uid : TransferSyntax.jpegLossless.uid }
    public var isLossy: Bool { false }
    public var lossyMethod: String? { nil }
    /// Build a Huffman table from the frame's own statistics (two passes) instead of using a fixed one.
    public var optimizeHuffmanTables: Bool
    /// The predictor (selection value, ITU T.81 Table H.1), 1...7.
    public var predictor: Int
    /// Lines per restart interval (DRI/RSTn); 0 = none. For tests of decoders' restart handling.
    var restartLines = 0

    public init(optimizeHuffmanTables: Bool = true, predictor: Int = 1) {
        self.optimizeHuffmanTables = optimizeHuffmanTables
        self.predictor = predictor
    }

    /// Code lengths for difference categories 0...16 used when tables are not optimised (Kraft sum < 1, so no code is all ones).
    static let fixedCodeLengths = [3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]

    public func encode(_ frame: Data, description: FrameDescription, options: EncodingOptions) throws -> EncodedFrame {
        try description.validate()
        let codec = "JPEG Lossless encoder"
        guard description.bitsAllocated == 8 || description.bitsAllocated == 16 else {
            throw CodecError(.unsupported, "\(codec): Bits Allocated \(description.bitsAllocated) is not supported (8 or 16)")
        }
        guard frame.count >= description.bytesPerFrame else {
            throw CodecError(.invalidImage, "\(codec): frame has \(frame.count) bytes, \(description.bytesPerFrame) expected")
        }
        guard (1...7).contains(predictor) else { throw CodecError(.invalidImage, "\(codec): predictor \(predictor) is not 1...7") }
        // Signed samples narrower than Bits Allocated are coded with their sign-extended bits, as DCMTK does: decoders that
        // do not sign-extend then still return the stored values, and differences across zero stay small.
        let precision = description.isSigned && description.bitsStored < description.bitsAllocated
            ? description.bitsAllocated : max(2, description.bitsStored)
        let components = description.samplesPerPixel
        let width = description.columns, height = description.rows
        let count = width * height * components
        let mask = (1 << precision) - 1
        // Samples in colour-by-pixel order, masked to the precision.
        var samples = [Int32](repeating: 0, count: count)
        frame.withUnsafeBytes { raw in
            let pixelCount = width * height
            samples.withUnsafeMutableBufferPointer { out in
                for i in 0..<count {
                    let sourceIndex: Int
                    if description.planarConfiguration == 1 && components > 1 {
                        sourceIndex = (i % components) * pixelCount + i / components
                    } else {
                        sourceIndex = i
                    }
                    let value: Int
                    if description.bitsAllocated == 8 {
                        value = Int(raw[sourceIndex])
                    } else {
                        value = Int(raw[sourceIndex * 2]) | Int(raw[sourceIndex * 2 + 1]) << 8
                    }
                    out[i] = Int32(value & mask)
                }
            }
        }
        // Differences (ITU T.81 §H.1.2.1) for predictor 1, kept to reuse between the two passes.
        var differences = [Int32](repeating: 0, count: count)
        var frequencies = [Int](repeating: 0, count: 17)
        let initial = Int32(1 << (precision - 1))
        let predictor = self.predictor, restartLines = self.restartLines
        samples.withUnsafeBufferPointer { s in
            differences.withUnsafeMutableBufferPointer { d in
                let stride = width * components
                for y in 0..<height {
                    let row = y * stride
                    let firstLine = y == 0 || (restartLines > 0 && y % restartLines == 0)
                    for x in 0..<width {
                        for c in 0..<components {
                            let i = row + x * components + c
                            let prediction: Int32
                            if firstLine {
                                prediction = x == 0 ? initial : s[i - components]
                            } else if x == 0 {
                                prediction = s[i - stride]
                            } else {
                                let a = s[i - components], b = s[i - stride], cc = s[i - stride - components]
                                switch predictor {
                                case 1: prediction = a
                                case 2: prediction = b
                                case 3: prediction = cc
                                case 4: prediction = a + b - cc
                                case 5: prediction = a + ((b - cc) >> 1)
                                case 6: prediction = b + ((a - cc) >> 1)
                                default: prediction = (a + b) >> 1
                                }
                            }
                            var difference = (s[i] - prediction) & 0xFFFF
                            if difference >= 0x8000 { difference -= 0x10000 }
                            d[i] = difference
                            frequencies[Self.category(difference)] += 1
                        }
                    }
                }
            }
        }
        let lengths = optimizeHuffmanTables ? Self.optimalCodeLengths(frequencies) : Self.fixedCodeLengths
        let (counts, symbols) = Self.tableSpecification(lengths)
        let (codes, codeLengths) = Self.canonicalCodes(counts: counts, symbols: symbols)

        var out: [UInt8] = []
        out.reserveCapacity(count + 64)
        out.appendMarker(JPEGMarker.soi)
        out.appendMarker(JPEGMarker.sof3)
        out.appendUInt16(8 + 3 * components)
        out.append(UInt8(precision))
        out.appendUInt16(height)
        out.appendUInt16(width)
        out.append(UInt8(components))
        for c in 0..<components {
            out.append(UInt8(c + 1))
            out.append(0x11)
            out.append(0)
        }
        out.appendMarker(JPEGMarker.dht)
        out.appendUInt16(2 + 1 + 16 + symbols.count)
        out.append(0x00)
        for n in counts { out.append(UInt8(n)) }
        out.append(contentsOf: symbols)
        if restartLines > 0 {
            out.appendMarker(JPEGMarker.dri)
            out.appendUInt16(4)
            out.appendUInt16(restartLines * width)
        }
        out.appendMarker(JPEGMarker.sos)
        out.appendUInt16(6 + 2 * components)
        out.append(UInt8(components))
        for c in 0..<components {
            out.append(UInt8(c + 1))
            out.append(0x00)
        }
        out.append(UInt8(predictor))  // Ss: the predictor
        out.append(0)  // Se
        out.append(0)  // Ah/Al: no point transform
        var writer = JPEGHuffmanBitWriter()
        writer.bytes = out
        let perLine = width * components
        var restartIndex = 0
        differences.withUnsafeBufferPointer { d in
            for (i, difference) in d.enumerated() {
                if restartLines > 0, i > 0, i % (perLine * restartLines) == 0 {
                    writer.flush()
                    writer.bytes.appendMarker(JPEGMarker.rst0 + UInt8(restartIndex))
                    restartIndex = (restartIndex + 1) & 7
                }
                let category = Self.category(difference)
                writer.write(codes[category], codeLengths[category])
                if category > 0 && category < 16 {
                    writer.write(Int(difference < 0 ? difference - 1 : difference), category)
                }
            }
        }
        writer.flush()
        writer.bytes.appendMarker(JPEGMarker.eoi)
        return EncodedFrame(bytes: Data(writer.bytes), photometricInterpretation: description.photometricInterpretation, planarConfiguration: 0)
    }

    /// SSSS of a difference (ITU T.81 Table H.2).
    @inline(__always) static func category(_ difference: Int32) -> Int {
        if difference == -32768 { return 16 }
        let magnitude = UInt32(difference.magnitude)
        return 32 - magnitude.leadingZeroBitCount
    }

    /// Optimal code lengths for symbols 0...16 limited to 16 bits (ITU T.81 Annex K.2, Figures K.1–K.3); 0 = unused.
    static func optimalCodeLengths(_ frequencies: [Int]) -> [Int] {
        let symbolCount = frequencies.count
        var freq = frequencies + [1]  // the reserved symbol keeps the all-ones code unused
        var codeSize = [Int](repeating: 0, count: symbolCount + 1)
        var others = [Int](repeating: -1, count: symbolCount + 1)
        while true {
            var v1 = -1, v2 = -1
            for i in 0...symbolCount where freq[i] > 0 {
                if v1 < 0 || freq[i] <= freq[v1] { v1 = i }
            }
            for i in 0...symbolCount where freq[i] > 0 && i != v1 {
                if v2 < 0 || freq[i] <= freq[v2] { v2 = i }
            }
            if v2 < 0 { break }
            freq[v1] += freq[v2]
            freq[v2] = 0
            codeSize[v1] += 1
            var node = v1
            while others[node] >= 0 { node = others[node]; codeSize[node] += 1 }
            others[node] = v2
            codeSize[v2] += 1
            node = v2
            while others[node] >= 0 { node = others[node]; codeSize[node] += 1 }
        }
        var bits = [Int](repeating: 0, count: 40)
        for i in 0...symbolCount where codeSize[i] > 0 { bits[codeSize[i]] += 1 }
        var i = 39
        while i > 16 {
            while bits[i] > 0 {
                var j = i - 2
                while bits[j] == 0 { j -= 1 }
                bits[i] -= 2
                bits[i - 1] += 1
                bits[j + 1] += 2
                bits[j] -= 1
            }
            i -= 1
        }
        // Drop the reserved symbol's code: one code of the longest length (ITU T.81 Figure K.3, last step).
        var longest = 16
        while longest > 0 && bits[longest] == 0 { longest -= 1 }
        if longest > 0 { bits[longest] -= 1 }
        // Shortest codes go to the symbols with the smallest code size, ties by symbol value (Annex K.2, Figure K.4).
        let order = (0..<symbolCount).filter { codeSize[$0] > 0 }.sorted {
            codeSize[$0] != codeSize[$1] ? codeSize[$0] < codeSize[$1] : $0 < $1
        }
        var lengths = [Int](repeating: 0, count: symbolCount)
        var index = 0
        for length in 1...16 {
            for _ in 0..<bits[length] where index < order.count {
                lengths[order[index]] = length
                index += 1
            }
        }
        return lengths
    }

    /// BITS and HUFFVAL for a DHT segment from per-symbol code lengths.
    static func tableSpecification(_ lengths: [Int]) -> (counts: [Int], symbols: [UInt8]) {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [UInt8] = []
        for length in 1...16 {
            for (symbol, l) in lengths.enumerated() where l == length {
                counts[length - 1] += 1
                symbols.append(UInt8(symbol))
            }
        }
        return (counts, symbols)
    }

    /// Canonical codes (ITU T.81 Annex C) for each symbol 0...16.
    static func canonicalCodes(counts: [Int], symbols: [UInt8]) -> (codes: [Int], lengths: [Int]) {
        var codes = [Int](repeating: 0, count: 17)
        var lengths = [Int](repeating: 0, count: 17)
        var code = 0, index = 0
        for length in 1...16 {
            for _ in 0..<counts[length - 1] {
                codes[Int(symbols[index])] = code
                lengths[Int(symbols[index])] = length
                code += 1
                index += 1
            }
            code <<= 1
        }
        return (codes, lengths)
    }
}
