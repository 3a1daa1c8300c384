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

/// OpenJPEG's "no bytes, end of stream / error" result of a read or write callback: `(OPJ_SIZE_T)-1`.
///
/// Swift imports `size_t` (and so `OPJ_SIZE_T`) as `Int`, so `OPJ_SIZE_T.max` is `Int.max` (0x7FFF…), not the
/// all-ones value OpenJPEG compares against. Returning `.max` at the end of the data made OpenJPEG take it as a
/// count of bytes read: it set its buffer fill to 2^63 − 1 and read on past its 1 MB stream buffer (the heap
/// over-read found by Tools/fuzz, and the SIGSEGV seen with the JP2 reader on a truncated box).
let openJPEGEndOfStream = OPJ_SIZE_T(truncatingIfNeeded: -1)

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
        opj_stream_set_read_function(stream, Self.read)
        opj_stream_set_skip_function(stream, Self.skip)
        opj_stream_set_seek_function(stream, Self.seek)
        return stream
    }

    /// OpenJPEG's read callback: copies up to `count` bytes into `buffer` and returns how many, or
    /// ``openJPEGEndOfStream`` when no byte is left. Never returns more than `count`.
    static let read: opj_stream_read_fn = { buffer, count, context in
        guard let buffer, let context else { return openJPEGEndOfStream }
        let reader = Unmanaged<OpenJPEGMemoryReader>.fromOpaque(context).takeUnretainedValue()
        let remaining = reader.bytes.count - reader.offset
        guard remaining > 0 else { return openJPEGEndOfStream }
        // `count` is a C size_t imported as Int: read it as unsigned so no request can turn negative.
        let n = Int(min(UInt(bitPattern: count), UInt(remaining)))
        if let base = reader.bytes.baseAddress, n > 0 {
            buffer.copyMemory(from: base + reader.offset, byteCount: n)
        }
        reader.offset += n
        return OPJ_SIZE_T(n)
    }

    /// OpenJPEG's skip callback: moves forward (or back) by `count` bytes within the data and returns the distance
    /// moved, or -1 when the move would leave the data before its start or nothing is left to skip.
    static let skip: opj_stream_skip_fn = { count, context in
        guard let context else { return -1 }
        let reader = Unmanaged<OpenJPEGMemoryReader>.fromOpaque(context).takeUnretainedValue()
        let (sum, overflow) = Int64(reader.offset).addingReportingOverflow(Int64(count))
        guard !overflow, sum >= 0 else { return -1 }
        let target = Int(min(sum, Int64(reader.bytes.count)))
        let moved = target - reader.offset
        // Nothing left to skip: -1 (end of stream), so OpenJPEG's skip loop cannot spin on zero-byte skips.
        guard moved != 0 || count == 0 else { return -1 }
        reader.offset = target
        return OPJ_OFF_T(moved)
    }

    /// OpenJPEG's seek callback: moves to an absolute position within the data (1), or refuses (0).
    static let seek: opj_stream_seek_fn = { position, context in
        guard let context else { return 0 }
        let reader = Unmanaged<OpenJPEGMemoryReader>.fromOpaque(context).takeUnretainedValue()
        guard position >= 0, position <= OPJ_OFF_T(reader.bytes.count) else { return 0 }
        reader.offset = Int(position)
        return 1
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
            guard let buffer, let context else { return openJPEGEndOfStream }
            let writer = Unmanaged<OpenJPEGMemoryWriter>.fromOpaque(context).takeUnretainedValue()
            guard count >= 0 else { return openJPEGEndOfStream }
            let n = count
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
            let (sum, overflow) = Int64(writer.offset).addingReportingOverflow(Int64(count))
            guard !overflow, sum >= 0, sum <= Int64(Int32.max) else { return -1 }
            let target = Int(sum)
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
