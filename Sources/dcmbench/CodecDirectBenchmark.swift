import CLibJPEG
import COpenJPEG
import DICOMCodecs
import DICOMCore
import Foundation

/// The cost of the codec wrappers: the same JPEG Baseline and JPEG 2000 frames decoded through ``LibJPEGDecoder`` /
/// ``OpenJPEGDecoder`` and through a plain loop of libjpeg / OpenJPEG calls made from Swift (the floor any wrapper
/// has to pay). The issue's target: the wrappers within 10% of the direct calls.
struct CodecDirectBenchmark {
    var repeats: Int
    var report: BenchReport

    func run() throws {
        var table = Table("Wrapper vs direct C library calls (MB/s of decoded pixels), best of \(10 * repeats) alternating rounds",
                          ["codec", "frame", "wrapper", "direct C calls", "wrapper ÷ direct"])
        table.notes.append("Direct libjpeg: jpeg_CreateDecompress, jpeg_mem_src, jpeg_read_header, jpeg_start_decompress, "
                           + "jpeg_read_scanlines row by row into the output buffer, jpeg_finish/destroy (default error "
                           + "manager, output RGB). Direct OpenJPEG: a memory stream, opj_read_header, opj_decode, "
                           + "opj_end_decompress, then the components copied to 16-bit native samples. Both directly "
                           + "from Swift, without the wrappers' checks and error capture; the direct loops reuse one output "
                           + "buffer, the wrappers return a new one per frame. Wrapper and direct batches alternate.")
        var freshBuffer: [String: Double] = [:]
        let (rgbDescription, rgbPixels) = CodecBenchmark.rgbFrame()
        let (ctDescription, ctPixels) = CodecBenchmark.ctFrame()
        var gray = FrameDescription(rows: 512, columns: 512, bitsAllocated: 8, bitsStored: 8)
        gray.photometricInterpretation = "MONOCHROME2"
        let grayPixels = Data((0..<(512 * 512)).map { i -> UInt8 in
            let ct = Int(ctPixels[2 * i]) | Int(ctPixels[2 * i + 1]) << 8
            return UInt8(clamping: ct / 12)
        })

        for (name, description, pixels) in [("RGB 512×512 8-bit", rgbDescription, rgbPixels), ("CT 512×512 as 8-bit", gray, grayPixels)] {
            log("codec wrappers: JPEG Baseline, \(name) ...")
            let encoded = try LibJPEGEncoder().encode(pixels, description: description, options: EncodingOptions(quality: 90))
            var frameDescription = description
            frameDescription.photometricInterpretation = encoded.photometricInterpretation
            let decoder = LibJPEGDecoder()
            let count = description.pixelCount * description.samplesPerPixel
            var output = [UInt8](repeating: 0, count: count)
            let times = try alternating([{
                _ = try decoder.decode(encoded.bytes, description: frameDescription)
            }, {
                try Self.libjpegDecode(encoded.bytes, into: &output)
            }, {
                // As the wrapper must: a new zero-filled output buffer for every frame.
                var fresh = [UInt8](repeating: 0, count: count)
                try Self.libjpegDecode(encoded.bytes, into: &fresh)
            }])
            let (wrapped, direct) = (times[0], times[1])
            freshBuffer[name] = times[2]
            let wrapperOutput = try decoder.decode(encoded.bytes, description: frameDescription).pixels
            guard wrapperOutput.elementsEqual(output) else { throw BenchError("direct libjpeg output differs from LibJPEGDecoder's") }
            add(&table, "JPEG Baseline (libjpeg-turbo)", name, Double(output.count), wrapped, direct)
        }

        for lossless in [true, false] {
            let name = "CT 512×512 16-bit" + (lossless ? "" : ", 10:1")
            log("codec wrappers: JPEG 2000, \(name) ...")
            let encoded = try OpenJPEGEncoder(lossless: lossless).encode(ctPixels, description: ctDescription, options: EncodingOptions(compressionRatio: 10))
            let decoder = OpenJPEGDecoder()
            var output = [UInt16](repeating: 0, count: ctDescription.pixelCount)
            let times = try alternating([{
                _ = try decoder.decode(encoded.bytes, description: ctDescription)
            }, {
                try Self.openJPEGDecode(encoded.bytes, into: &output)
            }])
            let (wrapped, direct) = (times[0], times[1])
            let wrapperOutput = try decoder.decode(encoded.bytes, description: ctDescription).pixels
            let directBytes = output.withUnsafeBytes { Data($0) }
            guard wrapperOutput == directBytes else { throw BenchError("direct OpenJPEG output differs from OpenJPEGDecoder's") }
            add(&table, "JPEG 2000 (OpenJPEG)", name, Double(ctDescription.bytesPerFrame), wrapped, direct)
        }
        for (frame, seconds) in freshBuffer.sorted(by: { $0.key < $1.key }) {
            table.notes.append("Direct libjpeg into a new zero-filled buffer per frame (as the wrapper allocates), \(frame): "
                               + "\(grouped(Double(frame.hasPrefix("RGB") ? 512 * 512 * 3 : 512 * 512) / seconds / 1e6)) MB/s.")
        }
        report.print(table)
    }

    /// Best seconds per call of each body, timed in turn in batches of about 0.1 s (10 × `repeats` rounds), so that
    /// load from other processes changes all alike.
    private func alternating(_ bodies: [() throws -> Void]) throws -> [Double] {
        guard let first = bodies.first else { return [] }
        let perCall = try secondsPerCall(repeats: 1, minimum: 0.05, first)
        let n = max(1, Int(0.1 / max(perCall, 1e-9)))
        var best = [Double](repeating: .infinity, count: bodies.count)
        for _ in 0..<(10 * max(1, repeats)) {
            for (i, body) in bodies.enumerated() {
                best[i] = min(best[i], try timed { for _ in 0..<n { try body() } } / Double(n))
            }
        }
        return best
    }

    private func add(_ table: inout Table, _ codec: String, _ frame: String, _ bytes: Double, _ wrapped: Double, _ direct: Double) {
        let share = (bytes / wrapped) / (bytes / direct)
        table.add([codec, frame, grouped(bytes / wrapped / 1e6), grouped(bytes / direct / 1e6), ratio(share)])
        report.check("\(codec) wrapper, \(frame)", measured: String(format: "%.0f%% of direct", share * 100),
                     target: "≥ 90% of direct", met: share >= 0.9)
    }

    // MARK: Direct libjpeg

    /// Decodes a baseline JPEG with plain libjpeg calls into `output` (RGB or grayscale, 8 bits).
    /// The default error manager exits the process on an error: used on frames this benchmark made.
    static func libjpegDecode(_ stream: Data, into output: inout [UInt8]) throws {
        let info = UnsafeMutablePointer<jpeg_decompress_struct>.allocate(capacity: 1)
        let errors = UnsafeMutablePointer<jpeg_error_mgr>.allocate(capacity: 1)
        defer { info.deallocate(); errors.deallocate() }
        info.initialize(to: jpeg_decompress_struct())
        info.pointee.err = jpeg_std_error(errors)
        jpeg_CreateDecompress(info, JPEG_LIB_VERSION, MemoryLayout<jpeg_decompress_struct>.size)
        defer { jpeg_destroy_decompress(info) }
        try stream.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw BenchError("empty JPEG") }
            jpeg_mem_src(info, base, UInt(raw.count))
            _ = jpeg_read_header(info, 1)
            _ = jpeg_start_decompress(info)
            let rowBytes = Int(info.pointee.output_width) * Int(info.pointee.output_components)
            guard rowBytes * Int(info.pointee.output_height) == output.count else { throw BenchError("JPEG size mismatch") }
            output.withUnsafeMutableBufferPointer { buffer in
                guard let target = buffer.baseAddress else { return }
                while info.pointee.output_scanline < info.pointee.output_height {
                    var row: JSAMPROW? = target + Int(info.pointee.output_scanline) * rowBytes
                    _ = jpeg_read_scanlines(info, &row, 1)
                }
            }
            _ = jpeg_finish_decompress(info)
        }
    }

    // MARK: Direct OpenJPEG

    /// The bytes an OpenJPEG memory stream reads, and where it is.
    final class Source {
        let base: UnsafeRawPointer
        let count: Int
        var offset = 0
        init(_ base: UnsafeRawPointer, _ count: Int) { self.base = base; self.count = count }
    }

    /// Decodes a single-component J2K codestream with plain OpenJPEG calls into 16-bit samples.
    static func openJPEGDecode(_ stream: Data, into output: inout [UInt16]) throws {
        try stream.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { throw BenchError("empty codestream") }
            let source = Source(base, raw.count)
            guard let codec = opj_create_decompress(OPJ_CODEC_J2K) else { throw BenchError("opj_create_decompress failed") }
            defer { opj_destroy_codec(codec) }
            guard let input = opj_stream_create(OPJ_SIZE_T(OPJ_J2K_STREAM_CHUNK_SIZE), 1) else { throw BenchError("opj_stream_create failed") }
            defer { opj_stream_destroy(input) }
            opj_stream_set_user_data(input, Unmanaged.passUnretained(source).toOpaque(), nil)
            opj_stream_set_user_data_length(input, OPJ_UINT64(raw.count))
            opj_stream_set_read_function(input) { buffer, count, context in
                guard let buffer, let context else { return OPJ_SIZE_T(truncatingIfNeeded: -1) }
                let source = Unmanaged<Source>.fromOpaque(context).takeUnretainedValue()
                let n = min(count, source.count - source.offset)
                guard n > 0 else { return OPJ_SIZE_T(truncatingIfNeeded: -1) }
                buffer.copyMemory(from: source.base + source.offset, byteCount: n)
                source.offset += n
                return n
            }
            opj_stream_set_skip_function(input) { count, context in
                guard let context else { return -1 }
                let source = Unmanaged<Source>.fromOpaque(context).takeUnretainedValue()
                let target = max(0, min(source.count, source.offset + Int(count)))
                let moved = target - source.offset
                source.offset = target
                return moved == 0 && count != 0 ? -1 : OPJ_OFF_T(moved)
            }
            opj_stream_set_seek_function(input) { position, context in
                guard let context else { return 0 }
                let source = Unmanaged<Source>.fromOpaque(context).takeUnretainedValue()
                guard position >= 0, position <= OPJ_OFF_T(source.count) else { return 0 }
                source.offset = Int(position)
                return 1
            }
            var parameters = opj_dparameters_t()
            opj_set_default_decoder_parameters(&parameters)
            guard opj_setup_decoder(codec, &parameters) != 0 else { throw BenchError("opj_setup_decoder failed") }
            var imagePointer: UnsafeMutablePointer<opj_image_t>?
            guard opj_read_header(input, codec, &imagePointer) != 0, let image = imagePointer else { throw BenchError("opj_read_header failed") }
            defer { opj_image_destroy(image) }
            guard opj_decode(codec, input, image) != 0, opj_end_decompress(codec, input) != 0 else { throw BenchError("opj_decode failed") }
            guard let data = image.pointee.comps?[0].data, Int(image.pointee.comps[0].w * image.pointee.comps[0].h) == output.count else {
                throw BenchError("unexpected decoded image")
            }
            output.withUnsafeMutableBufferPointer { target in
                for i in 0..<target.count { target[i] = UInt16(truncatingIfNeeded: data[i]) }
            }
            withExtendedLifetime(source) {}
        }
    }
}
