import Crypto
import DICOMCore
import DICOMNetwork
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A data set being streamed to a temporary file, behind the File Meta Information when its transfer syntax is known:
/// the file is then a complete Part 10 file that a handler can move into place without copying it.
///
/// Creating or writing the file never throws: the first failure (disk full, I/O error) is kept in ``writeError``, the
/// rest of the data set is read and dropped, and the C-STORE is answered Out of Resources instead of aborting the
/// association.
final class IncomingDataSet {
    let request: CStoreRequest
    let contextID: UInt8
    let path: String
    /// The number of header bytes (preamble, `DICM`, File Meta Information) before the data set; 0 without a header.
    let dataSetOffset: Int
    /// The number of data set bytes received.
    private(set) var byteCount = 0
    /// Why the data set could not be written.
    private(set) var writeError: Error?
    private var descriptor: Int32
    /// The `O_DIRECT` writer of the file, for a handler that makes files durable (nil: buffered writes).
    private var direct: DirectFileWriter?
    /// The first bytes of the file (at most ``ReceivedInstance/leadingByteLimit``), kept when it is written directly:
    /// the page cache then holds none of them.
    private(set) var leading = Data()
    /// The leading bytes for the handler when the file was written directly and nothing failed, else nil.
    var leadingBytes: Data? { writesDirectlyToDisk && writeError == nil ? leading : nil }
    private var writesDirectlyToDisk = false
    /// Whether files a handler makes durable are written with `O_DIRECT` (``DirectFileWriter``).
    static let writesDirectly = directIOFlag != nil && getenv("DICOM_BUFFERED_WRITES") == nil
    /// The SHA-256 of every byte written so far (header included), so a handler need not read the file back; nil when
    /// the handler does not use it.
    private let hasher: ConcurrentHasher?
    /// Whether writeback of the received bytes is started while they arrive (`sync_file_range`), so that the
    /// handler's fsync at the end finds most of the file already written.
    private let startsWriteback: Bool
    /// Bytes written so far, and the offset up to which writeback was started.
    private var written = 0
    private var writebackStarted = 0
    /// Writeback is started for every this many new bytes.
    static let writebackStep = 256 * 1024

    /// Creates the file and writes the Part 10 header for the request's SOP class and instance, `transferSyntaxUID`
    /// (the presentation context's) and `sourceAETitle` (the sender's); no header when `transferSyntaxUID` is nil.
    /// `hashing` computes the SHA-256 while writing; `startingWriteback` starts the file's writeback as it grows, for a
    /// handler that fsyncs it (measured with the archive, one association from storescu, four interleaved pairs of
    /// 1,000 instances: 408-445 instances/s with it, 239-391 without). `writingDirectly` writes it with `O_DIRECT`
    /// instead (``DirectFileWriter``), where the file system allows, keeping the first bytes in memory
    /// (``leadingBytes``); no writeback is started then.
    init(request: CStoreRequest, contextID: UInt8, directory: String, transferSyntaxUID: String?, sourceAETitle: String,
         hashing: Bool = false, startingWriteback: Bool = false, writingDirectly: Bool = false) {
        self.request = request
        hasher = hashing ? ConcurrentHasher() : nil
        self.contextID = contextID
        // A new UID: 128 random bits from getrandom (Foundation's UUID() opens and reads /dev/urandom each time).
        path = (directory as NSString).appendingPathComponent("dicom-incoming-\(UID.make()).part")
        var header = Data()
        if let transferSyntaxUID {
            do {
                header = try Part10Layout.header(sopClassUID: request.affectedSOPClassUID, sopInstanceUID: request.affectedSOPInstanceUID,
                                                 transferSyntaxUID: transferSyntaxUID, sourceAETitle: sourceAETitle)
            } catch {
                writeError = error
            }
        }
        dataSetOffset = header.count
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
        descriptor = -1
        if writingDirectly && Self.writesDirectly, let directIOFlag {
            descriptor = open(path, flags | directIOFlag, 0o644)
            if descriptor >= 0 {
                direct = DirectFileWriter(descriptor: descriptor, hashing: hasher)
                writesDirectlyToDisk = true
            } else if errno == EINVAL {
                // No direct I/O on this file system; the failed open may have created the file.
                unlink(path)
            }
        }
        if descriptor < 0 { descriptor = open(path, flags, 0o644) }
        // Written directly, the data needs no writeback started: it is on the device once each write returns.
        startsWriteback = startingWriteback && syncFileRange != nil && direct == nil
        if descriptor < 0 {
            writeError = writeError ?? DICOMError(.io, "cannot create temporary file \(path): \(String(cString: strerror(errno)))")
            return
        }
        // Written directly, the writer hashes what it writes, a chunk at a time.
        if direct == nil { hasher?.update(header) }
        header.withUnsafeBytes { write($0) }
    }

    deinit {
        closeWithoutWaiting()
    }

    /// Writes `bytes` (written directly, it returns once few enough chunks wait for the device: a sender faster than
    /// the disk is held back here, suspended rather than blocking a thread).
    func append(_ bytes: ByteBuffer) async {
        if writeError == nil && direct == nil { hasher?.update(bytes) }
        bytes.withUnsafeReadableBytes { write($0) }
        if writeError == nil { byteCount += bytes.readableBytes }
        if let direct { await direct.waitForRoom() }
    }

    /// Closes the file without waiting for writes still in flight (the writer closes it after them: they use the
    /// descriptor, and its number could be reused by then).
    private func closeWithoutWaiting() {
        guard descriptor >= 0 else { return }
        if let direct {
            direct.close(afterWrites: descriptor)
            self.direct = nil
        } else {
            Glibc.close(descriptor)
        }
        descriptor = -1
    }

    private func write(_ bytes: UnsafeRawBufferPointer) {
        guard writeError == nil, descriptor >= 0, let base = bytes.baseAddress else { return }
        if let direct {
            if leading.count < ReceivedInstance.leadingByteLimit {
                leading.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(ReceivedInstance.leadingByteLimit - leading.count)))
            }
            let failed = direct.append(bytes)
            if failed != 0 { writeError = DICOMError(.io, "cannot write temporary file \(path): \(String(cString: strerror(failed)))") }
            return
        }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(descriptor, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                writeError = DICOMError(.io, "cannot write temporary file \(path): \(String(cString: strerror(errno)))")
                return
            }
            offset += n
        }
        written += bytes.count
        if startsWriteback && written - writebackStarted >= Self.writebackStep, let start = syncFileRange {
            // SYNC_FILE_RANGE_WRITE (2): start writing the range back, without waiting. Best effort: the handler's fsync
            // is what makes the file durable.
            _ = start(descriptor, Int64(writebackStarted), Int64(written - writebackStarted), 2)
            writebackStarted = written
        }
    }

    /// Ends writing. No fsync here: the handler makes the file (or its copy) durable, as ``DirectoryStorageHandler`` does.
    func close() async throws {
        guard descriptor >= 0 else { return }
        if let direct {
            let failed = await direct.finish()
            self.direct = nil
            let result = Glibc.close(descriptor)
            descriptor = -1
            if failed != 0 { throw DICOMError(.io, "cannot write temporary file \(path): \(String(cString: strerror(failed)))") }
            if result != 0 { throw DICOMError(.io, "cannot close temporary file \(path): \(String(cString: strerror(errno)))") }
            return
        }
        if startsWriteback && written > writebackStarted, let start = syncFileRange {
            // The tail: its writeback starts now rather than in the handler's fsync, after the hand-over to the handler.
            _ = start(descriptor, Int64(writebackStarted), Int64(written - writebackStarted), 2)
            writebackStarted = written
        }
        let result = Glibc.close(descriptor)
        descriptor = -1
        if result != 0 { throw DICOMError(.io, "cannot close temporary file \(path): \(String(cString: strerror(errno)))") }
    }

    /// The SHA-256 of the file's content (lowercase hexadecimal), or nil when not hashing or when writing failed. Call
    /// once, after the last fragment.
    func sha256() async -> String? {
        guard writeError == nil, let hasher else { return nil }
        // Written directly and closed, every piece is hashed but the last partial block (under 4 KiB): the digest is
        // ready at once, without a hand-over to the hasher's thread and back.
        if writesDirectlyToDisk && descriptor < 0 { return hasher.finalizeNow() }
        return await hasher.finalize()
    }

    /// Closes and deletes the file, unless a handler moved it away.
    func discard() {
        closeWithoutWaiting()
        unlink(path)
    }
}

/// SHA-256 computed on a queue of its own while the caller writes the same bytes to disk: on a machine with a core to
/// spare, the hash of a received data set is ready about when its last write is (one association from DCMTK
/// `storescu`, CT instances of 0.5 MB: the hash is about 0.3 ms of each instance's work on this path).
final class ConcurrentHasher: @unchecked Sendable {
    private var hasher = SHA256()
    private let queue = DispatchQueue(label: "dicom.incoming.sha256")

    /// Hashes `bytes` after everything given before (the buffer is kept until then).
    func update(_ bytes: ByteBuffer) {
        queue.async { bytes.withUnsafeReadableBytes { self.hasher.update(bufferPointer: $0) } }
    }

    func update(_ data: Data) {
        queue.async { self.hasher.update(data: data) }
    }

    /// Hashes the bytes at `bytes` after everything given before, then calls `done` (the caller keeps the memory
    /// valid until then).
    func update(_ bytes: UnsafeRawBufferPointer, then done: @escaping @Sendable () -> Void) {
        let chunk = Chunk(base: UnsafeMutableRawPointer(mutating: bytes.baseAddress!)), count = bytes.count
        queue.async {
            self.hasher.update(bufferPointer: UnsafeRawBufferPointer(start: chunk.base, count: count))
            done()
        }
    }

    /// The digest in lowercase hexadecimal, once the updates given so far are hashed (suspending meanwhile). Call once.
    func finalize() async -> String {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: lowercaseHex(self.hasher.finalize())) }
        }
    }

    /// Hashes `bytes` on the caller's thread, after everything given before.
    func updateNow(_ bytes: UnsafeRawBufferPointer) {
        queue.sync { hasher.update(bufferPointer: bytes) }
    }

    /// ``finalize()`` on the caller's thread, which waits for the updates still queued: for a caller that knows
    /// little or nothing is left to hash. Call once.
    func finalizeNow() -> String {
        queue.sync { lowercaseHex(hasher.finalize()) }
    }
}

/// `sync_file_range(2)` (Linux), looked up at run time: Glibc's module map does not declare it (it needs _GNU_SOURCE).
/// Nil where the C library lacks it.
let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
}()
