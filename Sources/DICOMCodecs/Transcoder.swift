import DICOMCore
import Foundation

/// Re-encodes a data set's Pixel Data from one transfer syntax to another.
///
/// Frames are decoded with ``ImageFrames`` and, for an encapsulated target, encoded with
/// ``CodecRegistry/encoder(for:)``. The Image Pixel Module follows the pixels: Photometric Interpretation and
/// Planar Configuration as decoded or encoded (a JPEG colour frame decodes to RGB; JPEG Baseline stores
/// YBR_FULL_422). Lossy compression (PS3.3 §C.7.6.1.1.5) sets Lossy Image Compression (0028,2110) to "01" and
/// appends a value to Lossy Image Compression Ratio (0028,2112) and Method (0028,2114).
///
/// A lossy result is a new image: like DCMTK's `dcmcjpeg` by default (`--uid-default`), and as PS3.4 and
/// PS3.3 §C.12.1.1.1 expect for a change of pixel values, the result gets a new SOP Instance UID, Image Type
/// value 1 DERIVED, a Source Image Sequence item referencing the original, and a Derivation Description
/// (``Options/newInstanceWhenLossy``). Lossless transcoding keeps the SOP Instance UID: the pixels are unchanged.
public struct Transcoder: Sendable {
    /// How to transcode.
    public struct Options: Sendable, Equatable {
        /// Permit a lossy target syntax; without it a lossy encoder throws ``CodecError`` `.lossyNotAllowed`.
        public var allowLossy: Bool
        /// Options handed to the encoder (JPEG quality, JPEG 2000 ratio, JPEG-LS NEAR).
        public var encoding: EncodingOptions
        /// Give a lossy result a new SOP Instance UID, Image Type DERIVED and a Source Image Sequence.
        public var newInstanceWhenLossy: Bool

        public init(allowLossy: Bool = false, encoding: EncodingOptions = EncodingOptions(), newInstanceWhenLossy: Bool = true) {
            self.allowLossy = allowLossy
            self.encoding = encoding
            self.newInstanceWhenLossy = newInstanceWhenLossy
        }
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Whether a transcoding from `source` to `target` is possible with the built-in codecs (without trying it).
    public static func canTranscode(from source: TransferSyntax, to target: TransferSyntax) -> Bool {
        let decodes = !source.isEncapsulated || source.uid == TransferSyntax.encapsulatedUncompressed.uid
            || CodecRegistry.decoder(for: source.uid) != nil
        let encodes = !target.isEncapsulated || CodecRegistry.encoder(for: target.uid) != nil
        return source.uid == target.uid || (decodes && encodes)
    }

    /// The data set with its Pixel Data encoded in `target`. A data set without Pixel Data (7FE0,0010) is returned
    /// unchanged (the transfer syntax is the writer's business); so is one whose syntax does not change.
    /// - Throws: ``CodecError``: `.noCodec` when no decoder or encoder exists, `.lossyNotAllowed` for a lossy
    ///   target without ``Options/allowLossy``, or what the codecs throw.
    public func transcode(_ dataSet: DataSet, from source: TransferSyntax, to target: TransferSyntax) throws -> DataSet {
        guard source.uid != target.uid, dataSet.contains(.pixelData) else { return dataSet }
        let encoder: (any FrameEncoder)?
        if target.isEncapsulated {
            guard let found = CodecRegistry.encoder(for: target.uid) else {
                throw CodecError(.noCodec, "no encoder for \(target.name) (\(target.uid))")
            }
            if found.isLossy && !options.allowLossy {
                throw CodecError(.lossyNotAllowed,
                                 "\(target.name) is lossy; allow lossy compression explicitly to transcode to it")
            }
            encoder = found
        } else {
            encoder = nil
        }
        let frames = try ImageFrames(dataSet: dataSet, transferSyntax: source)
        var result = dataSet
        result.remove(.extendedOffsetTable)
        result.remove(.extendedOffsetTableLengths)
        result.remove(.encapsulatedPixelDataValueTotalLength)
        if source.isLossy {
            // Once lossy, always marked lossy (PS3.3 §C.7.6.1.1.5).
            result.setASCII(.lossyImageCompression, vr: .CS, "01")
        }
        let description = frames.description
        if let encoder {
            var encoded: [Data] = []
            encoded.reserveCapacity(frames.count)
            var photometric = description.photometricInterpretation
            var planar = description.planarConfiguration
            for index in 0..<frames.count {
                let decoded = try frames.decodedFrame(at: index)
                var single = description
                single.numberOfFrames = 1
                single.photometricInterpretation = decoded.photometricInterpretation
                single.planarConfiguration = decoded.planarConfiguration
                let frame = try encoder.encode(decoded.pixels, description: single, options: options.encoding)
                photometric = frame.photometricInterpretation
                planar = frame.planarConfiguration
                encoded.append(frame.bytes)
            }
            let pixels = ImageFrames.encapsulate(encoded)
            result.set(DataElement(tag: .pixelData, vr: .OB, value: .encapsulated(pixels), hadUndefinedLength: true))
            if pixels.basicOffsetTable.isEmpty && encoded.count > 1 {
                let (offsets, lengths) = ImageFrames.extendedOffsetTable(for: encoded)
                result.set(DataElement(tag: .extendedOffsetTable, vr: .OV, bytes: offsets))
                result.set(DataElement(tag: .extendedOffsetTableLengths, vr: .OV, bytes: lengths))
            }
            try setColour(&result, photometric: photometric, planar: planar, samples: description.samplesPerPixel)
            if encoder.isLossy {
                let compressed = encoded.reduce(0) { $0 + $1.count }
                let original = description.bytesPerFrame * frames.count
                let ratio = compressed > 0 ? Double(original) / Double(compressed) : 0
                try markLossy(&result, ratio: ratio, method: encoder.lossyMethod ?? "", target: target)
            }
        } else {
            let decoded = try frames.decodedPixelData()
            var pixels = decoded.pixels
            if target.isBigEndian && description.bitsAllocated == 32 {
                // The writer swaps OW in 16-bit words; pre-swap the halves of each 32-bit sample so the file holds
                // big-endian 32-bit values (the reader undoes both, see ImageFrames).
                pixels = ImageFrames.nativeLittleEndian(pixels, vr: .OW, bitsAllocated: 32)
            }
            if pixels.count % 2 == 1 { pixels.append(0) }
            let vr: VR = description.bitsAllocated > 8 ? .OW : .OB
            result.set(DataElement(tag: .pixelData, vr: vr, bytes: pixels))
            try setColour(&result, photometric: decoded.photometricInterpretation, planar: decoded.planarConfiguration,
                          samples: description.samplesPerPixel)
        }
        return result
    }

    private func setColour(_ dataSet: inout DataSet, photometric: String, planar: Int, samples: Int) throws {
        try dataSet.set(.photometricInterpretation, vr: .CS, string: photometric)
        if samples > 1 {
            try dataSet.set(.planarConfiguration, vr: .US, integers: [planar])
        } else {
            dataSet.remove(.planarConfiguration)
        }
    }

    private func markLossy(_ dataSet: inout DataSet, ratio: Double, method: String, target: TransferSyntax) throws {
        let previouslyLossy = dataSet.string(.lossyImageCompression)?.trimmingCharacters(in: .whitespaces) == "01"
        dataSet.setASCII(.lossyImageCompression, vr: .CS, "01")
        // Values are appended in the order compressions were applied (PS3.3 §C.7.6.1.1.5).
        var ratios = previouslyLossy ? (dataSet.strings(.lossyImageCompressionRatio) ?? []) : []
        var methods = previouslyLossy ? (dataSet.strings(.lossyImageCompressionMethod) ?? []) : []
        ratios.append(DecimalString.format((ratio * 100).rounded() / 100))
        methods.append(method)
        try dataSet.set(.lossyImageCompressionRatio, vr: .DS, strings: ratios)
        try dataSet.set(.lossyImageCompressionMethod, vr: .CS, strings: methods)

        guard options.newInstanceWhenLossy else { return }
        let oldInstance = dataSet.string(.sopInstanceUID)
        let sopClass = dataSet.string(.sopClassUID)
        if let oldInstance, let sopClass {
            var reference = DataSet()
            try reference.set(.referencedSOPClassUID, vr: .UI, string: sopClass)
            try reference.set(.referencedSOPInstanceUID, vr: .UI, string: oldInstance)
            var items = dataSet.items(.sourceImageSequence) ?? []
            items.append(reference)
            dataSet.set(DataElement(tag: .sourceImageSequence, items: items))
        }
        try dataSet.set(.sopInstanceUID, vr: .UI, string: UID.make())
        if var imageType = dataSet.strings(.imageType), !imageType.isEmpty {
            imageType[0] = "DERIVED"
            try dataSet.set(.imageType, vr: .CS, strings: imageType)
        }
        var derivation = dataSet.string(.derivationDescription)?.trimmingCharacters(in: .whitespaces) ?? ""
        let note = "Lossy compression with \(target.name), quality \(options.encoding.quality), "
            + "compression ratio \(DecimalString.format((ratio * 100).rounded() / 100))"
        derivation = derivation.isEmpty ? note : derivation + "; " + note
        // Derivation Description is ST: at most 1024 characters.
        try dataSet.set(.derivationDescription, vr: .ST, string: String(derivation.suffix(1024)))
    }
}
