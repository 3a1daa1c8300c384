import COpenJPEG
import DICOMCore
import Foundation

/// Encodes frames as JPEG 2000 codestreams (PS3.5 §A.4.4) with OpenJPEG.
///
/// Lossless (1.2.840.10008.1.2.4.90) uses the reversible 5/3 wavelet, and for RGB the reversible colour
/// transformation, giving Photometric Interpretation YBR_RCT. Lossy (1.2.840.10008.1.2.4.91) uses the
/// irreversible 9/7 wavelet at ``EncodingOptions/compressionRatio``, and for RGB the irreversible colour
/// transformation (YBR_ICT). Samples of 1–16 bits (Bits Allocated 8 or 16), signed or unsigned, 1 or 3 components.
public struct OpenJPEGEncoder: FrameEncoder {
    public let transferSyntaxUID: String
    public var isLossy: Bool { transferSyntaxUID == TransferSyntax.jpeg2000.uid }
    public var lossyMethod: String? { isLossy ? "ISO_15444_1" : nil }

    /// An encoder for JPEG 2000 Lossless Only (`lossless: true`) or JPEG 2000 (lossy).
    public init(lossless: Bool) {
        transferSyntaxUID = lossless ? TransferSyntax.jpeg2000Lossless.uid : TransferSyntax.jpeg2000.uid
    }

    public func encode(_ frame: Data, description: FrameDescription, options: EncodingOptions) throws -> EncodedFrame {
        try description.validate()
        guard description.bitsAllocated == 8 || description.bitsAllocated == 16 else {
            throw CodecError(.unsupported, "JPEG 2000 encoder: Bits Allocated \(description.bitsAllocated) is not supported (8 or 16)")
        }
        guard description.samplesPerPixel == 1 || description.samplesPerPixel == 3 else {
            throw CodecError(.unsupported, "JPEG 2000 encoder: Samples per Pixel \(description.samplesPerPixel) is not supported (1 or 3)")
        }
        guard frame.count >= description.bytesPerFrame else {
            throw CodecError(.invalidImage, "JPEG 2000 encoder: the frame has \(frame.count) bytes, \(description.bytesPerFrame) expected")
        }
        if isLossy {
            guard options.compressionRatio.isFinite, options.compressionRatio >= 1 else {
                throw CodecError(.invalidImage, "JPEG 2000 encoder: compression ratio \(options.compressionRatio) must be at least 1")
            }
        }
        let components = description.samplesPerPixel
        let rgb = components == 3 && description.photometricInterpretation == "RGB"
        if components == 3, !rgb, description.photometricInterpretation != "YBR_FULL" {
            throw CodecError(.unsupported, "JPEG 2000 encoder: Photometric Interpretation \(description.photometricInterpretation) is not supported for colour (RGB or YBR_FULL)")
        }

        let width = description.columns, height = description.rows
        let precision = description.bitsStored
        var parametersList = [opj_image_cmptparm_t](repeating: opj_image_cmptparm_t(), count: components)
        for index in 0..<components {
            parametersList[index].dx = 1
            parametersList[index].dy = 1
            parametersList[index].w = OPJ_UINT32(width)
            parametersList[index].h = OPJ_UINT32(height)
            parametersList[index].prec = OPJ_UINT32(precision)
            parametersList[index].sgnd = description.isSigned ? 1 : 0
        }
        let colourSpace = components == 3 ? (rgb ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_SYCC) : OPJ_CLRSPC_GRAY
        guard let image = opj_image_create(OPJ_UINT32(components), &parametersList, colourSpace) else {
            throw CodecError(.unsupported, "JPEG 2000 encoder: OpenJPEG could not allocate the image")
        }
        defer { opj_image_destroy(image) }
        image.pointee.x0 = 0
        image.pointee.y0 = 0
        image.pointee.x1 = OPJ_UINT32(width)
        image.pointee.y1 = OPJ_UINT32(height)
        try fill(image, from: frame, description: description)

        var parameters = opj_cparameters_t()
        opj_set_default_encoder_parameters(&parameters)
        parameters.tcp_numlayers = 1
        parameters.cp_disto_alloc = 1
        parameters.tcp_rates.0 = isLossy ? Float(options.compressionRatio) : 0
        parameters.irreversible = isLossy ? 1 : 0
        parameters.tcp_mct = rgb ? 1 : 0
        // At most as many resolution levels as the smaller dimension allows (each level halves it).
        var levels = 1
        while levels < 6, (min(width, height) >> levels) >= 1 { levels += 1 }
        parameters.numresolution = Int32(levels)

        let messages = OpenJPEGMessages()
        let writer = OpenJPEGMemoryWriter()
        // OpenJPEG holds unretained pointers to both objects: keep them alive until the codec and stream are gone.
        defer { withExtendedLifetime(writer) {}; withExtendedLifetime(messages) {} }
        guard let codec = opj_create_compress(OPJ_CODEC_J2K) else {
            throw CodecError(.unsupported, "JPEG 2000 encoder: OpenJPEG could not create an encoder")
        }
        defer { opj_destroy_codec(codec) }
        messages.install(on: codec)
        guard opj_setup_encoder(codec, &parameters, image) != 0 else {
            throw CodecError(.unsupported, "JPEG 2000 encoder: " + messages.summary("encoder setup failed"))
        }
        writer.bytes.reserveCapacity(description.bytesPerFrame / (isLossy ? 4 : 2))
        guard let stream = writer.makeStream() else {
            throw CodecError(.unsupported, "JPEG 2000 encoder: OpenJPEG could not create an output stream")
        }
        defer { opj_stream_destroy(stream) }
        guard opj_start_compress(codec, image, stream) != 0, opj_encode(codec, stream) != 0,
              opj_end_compress(codec, stream) != 0 else {
            throw CodecError(.unsupported, "JPEG 2000 encoder: " + messages.summary("encoding failed"))
        }
        if writer.bytes.count % 2 == 1 { writer.bytes.append(0) }  // fragments have even length (PS3.5 §A.4)
        let bytes = writer.bytes
        let photometric = rgb ? (isLossy ? "YBR_ICT" : "YBR_RCT") : description.photometricInterpretation
        return EncodedFrame(bytes: Data(bytes), photometricInterpretation: photometric, planarConfiguration: 0)
    }

    /// Copies native samples into OpenJPEG's component planes: masks to Bits Stored, sign-extends signed samples,
    /// and de-interleaves colour-by-pixel data.
    private func fill(_ image: UnsafeMutablePointer<opj_image_t>, from frame: Data, description: FrameDescription) throws {
        guard let componentPointers = image.pointee.comps else {
            throw CodecError(.unsupported, "JPEG 2000 encoder: OpenJPEG returned an image without components")
        }
        let components = description.samplesPerPixel
        let pixelCount = description.pixelCount
        let bytesPerSample = description.bitsAllocated / 8
        let bitsStored = description.bitsStored
        let shift = UInt32(description.highBit + 1 - bitsStored)
        let mask = UInt32(truncatingIfNeeded: (UInt64(1) << UInt64(bitsStored)) - 1)
        // Sign extension from Bits Stored as ((v << s) >> s) on Int32; s = 0 for unsigned samples.
        let signShift = description.isSigned ? Int32(32 - bitsStored) : 0
        let planar = description.planarConfiguration == 1
        frame.withUnsafeBytes { raw in
            for index in 0..<components {
                guard let plane = componentPointers[index].data else { continue }
                // Sample i of this component is at (first + i * step) samples.
                let first = planar ? index * pixelCount : index
                let step = planar ? 1 : components
                if bytesPerSample == 1 {
                    for pixel in 0..<pixelCount {
                        let value = (UInt32(raw[first + pixel * step]) &>> shift) & mask
                        plane[pixel] = (Int32(bitPattern: value) &<< signShift) &>> signShift
                    }
                } else {
                    for pixel in 0..<pixelCount {
                        let word = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: (first + pixel * step) * 2, as: UInt16.self))
                        let value = (UInt32(word) &>> shift) & mask
                        plane[pixel] = (Int32(bitPattern: value) &<< signShift) &>> signShift
                    }
                }
            }
        }
    }
}
