import COpenJPEG
import DICOMCore
import Foundation

/// Decodes JPEG 2000 frames (PS3.5 §A.4.4 and §8.2.4) with OpenJPEG: a J2K codestream or a JP2 file,
/// 1 or 3 components of 1–32 bits (Bits Allocated 8, 16 or 32), signed or unsigned.
///
/// A codestream that applies the multiple component transformation (YBR_RCT / YBR_ICT, PS3.3 §C.7.6.3.1.2)
/// is returned as RGB: OpenJPEG inverts the transformation while decoding.
/// When the codestream's signedness differs from Pixel Representation (a known encoder defect), samples are
/// sign-extended or masked at the codestream precision, as pydicom does.
public struct OpenJPEGDecoder: FrameDecoder {
    public let transferSyntaxUIDs: Set<String>

    /// JPEG 2000 Part 1 (.90, .91), Part 2 multi-component (.92, .93; only Part 1 features are decoded)
    /// and High-Throughput JPEG 2000 (.201, .202, .203; OpenJPEG 2.5 decodes HT code-blocks).
    public static let supportedTransferSyntaxUIDs: Set<String> = [
        TransferSyntax.jpeg2000Lossless.uid, TransferSyntax.jpeg2000.uid,
        TransferSyntax.jpeg2000Part2Lossless.uid, TransferSyntax.jpeg2000Part2.uid,
        TransferSyntax.htj2kLossless.uid, TransferSyntax.htj2kLosslessRPCL.uid, TransferSyntax.htj2k.uid,
    ]

    /// Worker threads OpenJPEG may use per frame (1 = decode on the calling thread only).
    public var threads: Int

    public init(transferSyntaxUIDs: Set<String> = OpenJPEGDecoder.supportedTransferSyntaxUIDs, threads: Int = 1) {
        self.transferSyntaxUIDs = transferSyntaxUIDs
        self.threads = threads
    }

    /// The container of a JPEG 2000 frame, recognised from its first bytes.
    enum Container {
        case codestream, jp2
    }

    static func container(of frame: Data) -> Container? {
        let jp2Signature: [UInt8] = [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A]
        if frame.count >= 12, frame.prefix(12).elementsEqual(jp2Signature) { return .jp2 }
        // SOC (FF4F) followed by SIZ (FF51), ITU-T T.800 §A.4.1.
        if frame.count >= 4, frame.prefix(4).elementsEqual([0xFF, 0x4F, 0xFF, 0x51]) { return .codestream }
        return nil
    }

    /// The contents of the first Contiguous Codestream box ('jp2c') of a JP2 file (ISO/IEC 15444-1 §I.5.4).
    static func contiguousCodestream(in file: Data) throws -> Data {
        var offset = 0
        let bytes = [UInt8](file)
        func readUInt32(_ at: Int) -> UInt64 {
            UInt64(bytes[at]) << 24 | UInt64(bytes[at + 1]) << 16 | UInt64(bytes[at + 2]) << 8 | UInt64(bytes[at + 3])
        }
        while offset + 8 <= bytes.count {
            var length = readUInt32(offset)
            let type = readUInt32(offset + 4)
            var header = 8
            if length == 1 {  // XLBox: 64-bit length follows
                guard offset + 16 <= bytes.count else { break }
                length = readUInt32(offset + 8) << 32 | readUInt32(offset + 12)
                header = 16
            } else if length == 0 {  // the box runs to the end of the file
                length = UInt64(bytes.count - offset)
            }
            guard length >= UInt64(header), length <= UInt64(bytes.count - offset) else {
                if type == 0x6A70_3263, UInt64(header) <= UInt64(bytes.count - offset) {
                    // A truncated last codestream box: hand over what there is; the decoder reports the damage.
                    return Data(bytes[(offset + header)...])
                }
                throw CodecError(.corruptStream, "JPEG 2000: JP2 box at offset \(offset) has length \(length), beyond the \(bytes.count) bytes of the frame")
            }
            if type == 0x6A70_3263 {  // 'jp2c'
                return Data(bytes[(offset + header)..<(offset + Int(length))])
            }
            offset += Int(length)
        }
        throw CodecError(.corruptStream, "JPEG 2000: the JP2 file has no Contiguous Codestream ('jp2c') box")
    }

    public func decode(_ frame: Data, description: FrameDescription) throws -> DecodedFrame {
        try description.validate()
        guard [8, 16, 32].contains(description.bitsAllocated) else {
            throw CodecError(.unsupported, "JPEG 2000: Bits Allocated \(description.bitsAllocated) is not supported (8, 16 or 32)")
        }
        guard let container = Self.container(of: frame) else {
            throw CodecError(.corruptStream, "JPEG 2000: the frame starts with neither a codestream SOC/SIZ marker nor a JP2 signature box")
        }
        // A JP2 file is decoded through its Contiguous Codestream box: the codestream alone is what DICOM needs
        // (Photometric Interpretation comes from the data set, not from the JP2 colour specification box).
        // (An earlier SIGSEGV of OpenJPEG's JP2 reader on pydicom's GDCMJ2K_TextGBR.dcm was the memory stream's
        // end-of-stream value, fixed in OpenJPEGStreams.swift: see `openJPEGEndOfStream`.)
        let codestream = container == .jp2 ? try Self.contiguousCodestream(in: frame) : frame
        return try codestream.withUnsafeBytes { raw in
            try decode(raw, container: .codestream, description: description)
        }
    }

    private func decode(_ raw: UnsafeRawBufferPointer, container: Container, description: FrameDescription) throws -> DecodedFrame {
        let messages = OpenJPEGMessages()
        let reader = OpenJPEGMemoryReader(raw)
        // OpenJPEG holds unretained pointers to both objects: keep them alive until the codec and stream are gone.
        defer { withExtendedLifetime(reader) {}; withExtendedLifetime(messages) {} }
        guard let codec = opj_create_decompress(container == .jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K) else {
            throw CodecError(.unsupported, "JPEG 2000: OpenJPEG could not create a decoder")
        }
        defer { opj_destroy_codec(codec) }
        messages.install(on: codec)
        guard let stream = reader.makeStream() else {
            throw CodecError(.unsupported, "JPEG 2000: OpenJPEG could not create an input stream")
        }
        defer { opj_stream_destroy(stream) }

        var parameters = opj_dparameters_t()
        opj_set_default_decoder_parameters(&parameters)
        guard opj_setup_decoder(codec, &parameters) != 0 else {
            throw CodecError(.unsupported, "JPEG 2000: " + messages.summary("decoder setup failed"))
        }
        // Strict mode: a truncated codestream is an error, not a partially decoded image.
        _ = opj_decoder_set_strict_mode(codec, 1)
        if threads > 1 { _ = opj_codec_set_threads(codec, Int32(threads)) }

        var imagePointer: UnsafeMutablePointer<opj_image_t>?
        guard opj_read_header(stream, codec, &imagePointer) != 0, let image = imagePointer else {
            if let imagePointer { opj_image_destroy(imagePointer) }
            throw CodecError(.corruptStream, "JPEG 2000: cannot read the main header: " + messages.summary("invalid header"))
        }
        defer { opj_image_destroy(image) }

        // Check the header against the data set before OpenJPEG allocates the image.
        let width = Int(image.pointee.x1) - Int(image.pointee.x0)
        let height = Int(image.pointee.y1) - Int(image.pointee.y0)
        guard width == description.columns, height == description.rows else {
            throw CodecError(.corruptStream, "JPEG 2000: the codestream is \(width)×\(height), the data set says \(description.columns)×\(description.rows) (Columns×Rows)")
        }
        let componentCount = Int(image.pointee.numcomps)
        guard componentCount == description.samplesPerPixel else {
            throw CodecError(.corruptStream, "JPEG 2000: the codestream has \(componentCount) components, Samples per Pixel is \(description.samplesPerPixel)")
        }
        var multipleComponentTransform = false
        if let info = opj_get_cstr_info(codec) {
            multipleComponentTransform = info.pointee.m_default_tile_info.mct != 0
            var infoPointer: UnsafeMutablePointer<opj_codestream_info_v2_t>? = info
            opj_destroy_cstr_info(&infoPointer)
        }

        guard opj_decode(codec, stream, image) != 0, opj_end_decompress(codec, stream) != 0 else {
            throw CodecError(.corruptStream, "JPEG 2000: decoding failed: " + messages.summary("corrupt codestream"))
        }

        guard let components = image.pointee.comps else {
            throw CodecError(.corruptStream, "JPEG 2000: the decoded image has no components")
        }
        let pixelCount = description.pixelCount
        for index in 0..<componentCount {
            let component = components[index]
            guard component.dx == 1, component.dy == 1, Int(component.w) == width, Int(component.h) == height,
                  component.data != nil else {
                throw CodecError(.unsupported, "JPEG 2000: component \(index) is subsampled (\(component.dx)×\(component.dy)) or incomplete")
            }
            guard component.prec >= 1, Int(component.prec) <= description.bitsAllocated else {
                throw CodecError(.corruptStream, "JPEG 2000: component \(index) has \(component.prec) bits, more than Bits Allocated \(description.bitsAllocated)")
            }
        }

        let bytesPerSample = description.bitsAllocated / 8
        var output = Data(count: pixelCount * componentCount * bytesPerSample)
        output.withUnsafeMutableBytes { target in
            for index in 0..<componentCount {
                let component = components[index]
                guard let data = component.data else { continue }
                let precision = Int(component.prec)
                // Sign correction when the codestream and Pixel Representation disagree (see the type's
                // documentation), as one branch-free step: ((v & mask) << shift) >> shift.
                var mask: Int32 = -1
                var shift: Int32 = 0
                if (component.sgnd != 0) != description.isSigned, precision < 32 {
                    if description.isSigned {
                        shift = Int32(32 - precision)
                    } else {
                        mask = Int32(truncatingIfNeeded: (UInt32(1) << UInt32(precision)) &- 1)
                    }
                }
                let stride = componentCount * bytesPerSample
                var position = index * bytesPerSample
                switch bytesPerSample {
                case 1:
                    for pixel in 0..<pixelCount {
                        target[position] = UInt8(truncatingIfNeeded: ((data[pixel] & mask) &<< shift) &>> shift)
                        position += stride
                    }
                case 2:
                    for pixel in 0..<pixelCount {
                        let value = UInt16(truncatingIfNeeded: ((data[pixel] & mask) &<< shift) &>> shift)
                        target.storeBytes(of: value.littleEndian, toByteOffset: position, as: UInt16.self)
                        position += stride
                    }
                default:
                    for pixel in 0..<pixelCount {
                        let value = UInt32(bitPattern: ((data[pixel] & mask) &<< shift) &>> shift)
                        target.storeBytes(of: value.littleEndian, toByteOffset: position, as: UInt32.self)
                        position += stride
                    }
                }
            }
        }

        var photometric = description.photometricInterpretation
        if componentCount == 3, multipleComponentTransform {
            photometric = "RGB"
        }
        return DecodedFrame(pixels: output, photometricInterpretation: photometric, planarConfiguration: 0)
    }
}
