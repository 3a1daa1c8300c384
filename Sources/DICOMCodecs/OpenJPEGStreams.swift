import COpenJPEG
import Foundation

/// OpenJPEG's codec handle (`opj_codec_t *`).
typealias OpenJPEGCodecHandle = UnsafeMutablePointer<opj_codec_t?>
/// OpenJPEG's stream handle (`opj_stream_t *`).
typealias OpenJPEGStreamHandle = UnsafeMutablePointer<opj_stream_t?>

/// Collects OpenJPEG's error and warning messages for one codec instance, so they end up in a ``CodecError``
/// instead of on a console.
///
/// The handlers only copy each message into fixed buffers allocated before the codec (bounded, truncating),
/// so nothing is allocated or retained while OpenJPEG is inside a call.
final class OpenJPEGMessages {
    static let capacity = 2048
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: OpenJPEGMessages.capacity)
    private let warningBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: OpenJPEGMessages.capacity)

    init() {
        errorBuffer.initialize(repeating: 0, count: Self.capacity)
        warningBuffer.initialize(repeating: 0, count: Self.capacity)
    }

    deinit {
        errorBuffer.deallocate()
        warningBuffer.deallocate()
    }

    /// Appends a C string to a NUL-terminated buffer of ``capacity`` bytes, separated by "; ", truncating.
    private static func append(_ message: UnsafePointer<CChar>, to buffer: UnsafeMutablePointer<CChar>) {
        var end = strlen(buffer)
        if end > 0, end + 2 < capacity {
            buffer[end] = 0x3B; buffer[end + 1] = 0x20  // "; "
            end += 2
        }
        var index = 0
        while end + 1 < capacity, message[index] != 0 {
            let c = message[index]
            buffer[end] = (c == 0x0A || c == 0x0D) ? 0x20 : c
            end += 1
            index += 1
        }
        buffer[end] = 0
        // Drop trailing spaces left by newlines.
        while end > 0, buffer[end - 1] == 0x20 {
            end -= 1
            buffer[end] = 0
        }
    }

    /// Errors reported so far.
    var errors: String { String(cString: errorBuffer) }
    /// Warnings reported so far.
    var warnings: String { String(cString: warningBuffer) }

    /// Installs error, warning and info handlers on `codec`. The object must outlive the codec.
    func install(on codec: OpenJPEGCodecHandle) {
        opj_set_error_handler(codec, { message, context in
            guard let message, let context else { return }
            OpenJPEGMessages.append(message, to: context.assumingMemoryBound(to: CChar.self))
        }, UnsafeMutableRawPointer(errorBuffer))
        opj_set_warning_handler(codec, { message, context in
            guard let message, let context else { return }
            OpenJPEGMessages.append(message, to: context.assumingMemoryBound(to: CChar.self))
        }, UnsafeMutableRawPointer(warningBuffer))
        opj_set_info_handler(codec, { _, _ in }, nil)
    }

    /// The collected errors as one sentence, or `fallback` when OpenJPEG reported none.
    func summary(_ fallback: String) -> String {
        let text = errors
        return text.isEmpty ? fallback : text
    }
}

/// A read-only OpenJPEG stream over bytes in memory (no temporary files).
final class OpenJPEGMemoryReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Creates an input stream reading from this object; the caller keeps the object alive until the stream is destroyed.
    func makeStream() -> OpenJPEGStreamHandle? {
        guard let stream = opj_stream_create(OPJ_SIZE_T(OPJ_J2K_STREAM_CHUNK_SIZE), 1) else { return nil }
        opj_stream_set_user_data(stream, Unmanaged.passUnretained(self).toOpaque(), nil)
        opj_stream_set_user_data_length(stream, OPJ_UINT64(bytes.count))
        opj_stream_set_read_function(stream) { buffer, count, context in
            guard let buffer, let context else { return OPJ_SIZE_T.max }
            let reader = Unmanaged<OpenJPEGMemoryReader>.fromOpaque(context).takeUnretainedValue()
            let remaining = reader.bytes.count - reader.offset
            guard remaining > 0 else { return OPJ_SIZE_T.max }  // (OPJ_SIZE_T)-1: end of stream
            let n = min(Int(clamping: count), remaining)
            if let base = reader.bytes.baseAddress {
                buffer.copyMemory(from: base + reader.offset, byteCount: n)
            }
            reader.offset += n
            return OPJ_SIZE_T(n)
        }
        opj_stream_set_skip_function(stream) { count, context in
            guard let context else { return -1 }
            let reader = Unmanaged<OpenJPEGMemoryReader>.fromOpaque(context).takeUnretainedValue()
            let target = Int(clamping: Int64(reader.offset) + Int64(count))
            guard target >= 0 else { return -1 }
            let clamped = min(target, reader.bytes.count)
            let skipped = clamped - reader.offset
            reader.offset = clamped
            return OPJ_OFF_T(skipped)
        }
        opj_stream_set_seek_function(stream) { position, context in
            guard let context else { return 0 }
            let reader = Unmanaged<OpenJPEGMemoryReader>.fromOpaque(context).takeUnretainedValue()
            guard position >= 0, position <= OPJ_OFF_T(reader.bytes.count) else { return 0 }
            reader.offset = Int(position)
            return 1
        }
        return stream
    }
}

/// A write-and-seek OpenJPEG stream into a growing buffer in memory.
final class OpenJPEGMemoryWriter {
    var bytes = [UInt8]()
    var offset = 0

    /// Creates an output stream writing into this object; the caller keeps the object alive until the stream is destroyed.
    func makeStream() -> OpenJPEGStreamHandle? {
        guard let stream = opj_stream_create(OPJ_SIZE_T(OPJ_J2K_STREAM_CHUNK_SIZE), 0) else { return nil }
        opj_stream_set_user_data(stream, Unmanaged.passUnretained(self).toOpaque(), nil)
        opj_stream_set_write_function(stream) { buffer, count, context in
            guard let buffer, let context else { return OPJ_SIZE_T.max }
            let writer = Unmanaged<OpenJPEGMemoryWriter>.fromOpaque(context).takeUnretainedValue()
            let n = Int(clamping: count)
            let source = UnsafeRawBufferPointer(start: buffer, count: n)
            let end = writer.offset + n
            if writer.offset == writer.bytes.count {
                writer.bytes.append(contentsOf: source)
            } else {
                if end > writer.bytes.count { writer.bytes.append(contentsOf: repeatElement(0, count: end - writer.bytes.count)) }
                writer.bytes.withUnsafeMutableBytes { target in
                    target.baseAddress.map { ($0 + writer.offset).copyMemory(from: buffer, byteCount: n) }
                }
            }
            writer.offset = end
            return OPJ_SIZE_T(n)
        }
        opj_stream_set_skip_function(stream) { count, context in
            guard let context else { return -1 }
            let writer = Unmanaged<OpenJPEGMemoryWriter>.fromOpaque(context).takeUnretainedValue()
            let target = Int(clamping: Int64(writer.offset) + Int64(count))
            guard target >= 0 else { return -1 }
            if target > writer.bytes.count { writer.bytes.append(contentsOf: repeatElement(0, count: target - writer.bytes.count)) }
            writer.offset = target
            return count
        }
        opj_stream_set_seek_function(stream) { position, context in
            guard let context else { return 0 }
            let writer = Unmanaged<OpenJPEGMemoryWriter>.fromOpaque(context).takeUnretainedValue()
            guard position >= 0, position <= OPJ_OFF_T(writer.bytes.count) else { return 0 }
            writer.offset = Int(position)
            return 1
        }
        return stream
    }
}
