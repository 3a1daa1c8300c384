import CZlib
import DICOMCore
import Foundation

/// Raw deflate (RFC 1951, no zlib or gzip header) as Deflated Explicit VR Little Endian requires (PS3.5 §A.5).
public enum Deflate {
    /// Inflates raw-deflated bytes. Throws `.compression` for a corrupt stream and `.limitExceeded` past `maximumSize`.
    public static func inflate(_ input: Data, maximumSize: Int = 4 << 30) throws -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DICOMError(.compression, "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        let chunk = 256 * 1024
        var buffer = [UInt8](repeating: 0, count: chunk)
        return try input.withUnsafeBytes { (src: UnsafeRawBufferPointer) -> Data in
            stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(src.count)
            while true {
                let status = buffer.withUnsafeMutableBufferPointer { dst -> Int32 in
                    stream.next_out = dst.baseAddress
                    stream.avail_out = uInt(chunk)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk - Int(stream.avail_out)
                output.append(buffer, count: produced)
                guard output.count <= maximumSize else {
                    throw DICOMError(.limitExceeded, "the deflated data set inflates to more than \(maximumSize) bytes")
                }
                if status == Z_STREAM_END { return output }
                if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    // The input ended without a final block: accept what was inflated (some writers omit it).
                    return output
                }
                guard status == Z_OK else {
                    let message = stream.msg.map { String(cString: $0) } ?? "code \(status)"
                    throw DICOMError(.compression, "the deflated data set is corrupt: \(message)",
                                     offset: Int(stream.total_in))
                }
            }
        }
    }

    /// Deflates bytes with raw deflate at the given level (0–9).
    public static func deflate(_ input: Data, level: Int32 = Z_DEFAULT_COMPRESSION) throws -> Data {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DICOMError(.compression, "zlib could not start deflating")
        }
        defer { deflateEnd(&stream) }
        var output = Data()
        let chunk = 256 * 1024
        var buffer = [UInt8](repeating: 0, count: chunk)
        try input.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(src.count)
            while true {
                let status = buffer.withUnsafeMutableBufferPointer { dst -> Int32 in
                    stream.next_out = dst.baseAddress
                    stream.avail_out = uInt(chunk)
                    return CZlib.deflate(&stream, Z_FINISH)
                }
                output.append(buffer, count: chunk - Int(stream.avail_out))
                if status == Z_STREAM_END { return }
                guard status == Z_OK || status == Z_BUF_ERROR else {
                    throw DICOMError(.compression, "zlib failed while deflating (code \(status))")
                }
            }
        }
        return output
    }
}
