import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A file's data set is read and sent in slices. A file cut short by another process while it is being sent must end
/// the send with an error naming the file (the C-STORE is then incomplete and the association is closed), not a hang.
@Suite(.serialized) struct FileCutShortTests {
    @Test func fileCutShortWhileSendingFailsInsteadOfHanging() async throws {
        let directory = try TestSupport.temporaryDirectory("cut-short")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 4096 × 4096 × 2 bytes = 32 MiB of pixel data: several slices, more than the socket buffers hold while the peer does not read.
        let instance = try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.77.1", rows: 4096, columns: 4096)
        let path = try TestSupport.writeInstance(instance, to: directory, name: "big.dcm")
        let (listener, port) = try TestSupport.listenOnLoopback()
        defer { close(listener) }

        let started = ContinuousClock.now
        async let storing: (any Error)? = {
            do {
                let association = try await DICOMClient.connect(
                    host: "127.0.0.1", port: port, callingAE: "SENDER", calledAE: "FAKE",
                    presentationContexts: PresentationContext.numbered([TestSupport.ctImageStorage],
                                                                       transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid]),
                    timeouts: DICOMTimeouts(connect: .seconds(30), artim: .seconds(30)))
                _ = try await association.store(fileAt: path)
                return nil
            } catch {
                return error
            }
        }()

        let peer = try await Self.accept(listener)
        defer { close(peer) }
        // A-ASSOCIATE-RQ in, A-ASSOCIATE-AC out.
        let requestBytes = try #require(await Self.onThread { Self.readPDU(peer) })
        var decoder = PDUDecoder()
        var buffer = ByteBuffer(bytes: requestBytes)
        guard case .associateRequest(let request)? = try decoder.decode(buffer: &buffer),
              case .success(let accept) = DICOMServer.defaultStoragePolicy().negotiate(request) else {
            Issue.record("the client's A-ASSOCIATE-RQ was not accepted by the default policy")
            return
        }
        var acceptBytes = try PDU.associateAccept(accept).encoded()
        Self.writeAll(peer, acceptBytes.readBytes(length: acceptBytes.readableBytes)!)
        // Read the start of the C-STORE, then cut the file short while most of it is still to be sent.
        _ = await Self.onThread { Self.read(peer, atLeast: 256 * 1024) }
        #expect(truncate(path, 1_000) == 0)
        let drained = await Self.onThread { Self.read(peer, atLeast: Int.max) }
        #expect(drained < 32 * 1024 * 1024, "the sender stopped short of the whole file")

        let error = await storing
        let serviceError = try #require(error as? DICOMServiceError, "store must fail, got \(String(describing: error))")
        #expect(serviceError.code == .invalidInput, "\(serviceError)")
        #expect(serviceError.message.contains(path) && serviceError.message.contains("ended early"), "\(serviceError)")
        #expect(ContinuousClock.now - started < .seconds(25))
    }

    // MARK: - A raw peer

    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in Thread { continuation.resume(returning: body()) }.start() }
    }

    /// The next connection on `listener`, with a 30 s receive timeout.
    static func accept(_ listener: Int32) async throws -> Int32 {
        let fd: Int32 = await onThread {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 30_000) == 1 else { return -1 }
            return Glibc.accept(listener, nil, nil)
        }
        guard fd >= 0 else { throw DICOMServiceError(.timeout, "no connection within 30 s") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// One whole PDU, header included; nil at the end of the stream or on a timeout.
    static func readPDU(_ fd: Int32) -> [UInt8]? {
        guard let header = readExactly(fd, 6) else { return nil }
        let length = header[2...5].reduce(0) { $0 << 8 | Int($1) }
        guard length <= 1 << 20, let body = readExactly(fd, length) else { return nil }
        return header + body
    }

    static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = bytes[offset...].withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            offset += n
        }
        return bytes
    }

    /// Reads and discards until `atLeast` bytes were read, the stream ends or the receive timeout passes; the count.
    static func read(_ fd: Int32, atLeast: Int) -> Int {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var total = 0
        while total < atLeast {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            total += n
        }
        return total
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            offset += n
        }
    }
}
