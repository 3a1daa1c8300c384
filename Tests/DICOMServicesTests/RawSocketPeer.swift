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

/// Runs a blocking call on a thread of its own, off the cooperative pool the client runs on.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// A connected plain TCP socket with a 30 s receive timeout.
final class RawSocketPeer: @unchecked Sendable {
    let fd: Int32
    private let lock = NSLock()
    private var closed = false

    init(fd: Int32) { self.fd = fd }

    /// Connects to 127.0.0.1:`port`.
    convenience init(port: Int) throws {
        let fd = TestSupport.rawConnect(port: port, receiveTimeoutSeconds: 30)
        guard fd >= 0 else { throw DICOMServiceError(.connectionFailed, "cannot connect to 127.0.0.1:\(port)") }
        self.init(fd: fd)
    }

    /// `send` with MSG_NOSIGNAL: the byte count, or -1 when the connection was reset (no SIGPIPE).
    func sendWithoutSignal(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw DICOMServiceError(.connectionFailed, "write failed: errno \(errno)") }
            offset += n
        }
    }

    /// One whole PDU (type and body), or nil at the end of the stream, on a timeout or a malformed length.
    func readPDU() async -> (type: UInt8, body: [UInt8])? {
        let fd = self.fd
        return await onOwnThread { Self.blockingReadPDU(fd) }
    }

    /// ``readPDU()`` on the calling thread, for a test that drives a whole exchange from a thread of its own.
    func readPDUBlocking() -> (type: UInt8, body: [UInt8])? { Self.blockingReadPDU(fd) }

    private static func blockingReadPDU(_ fd: Int32) -> (type: UInt8, body: [UInt8])? {
        guard let header = readExactly(fd, 6) else { return nil }
        let length = header[2...5].reduce(0) { $0 << 8 | Int($1) }
        guard length <= 1 << 24, let body = readExactly(fd, length) else { return nil }
        return (header[0], body)
    }

    /// Everything until the end of the stream (or the receive timeout), and whether the end was seen.
    func readToEnd() async -> (bytes: [UInt8], eof: Bool) {
        let fd = self.fd
        return await onOwnThread { TestSupport.blockingReadToEnd(fd) }
    }

    private static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = bytes[offset...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            offset += n
        }
        return bytes
    }

    /// Closes the socket (once).
    func close() {
        let first: Bool = lock.withLock {
            defer { closed = true }
            return !closed
        }
        if first { _ = Glibc.close(fd) }
    }
}

/// A listening socket on 127.0.0.1 (port chosen by the system) that plays the acceptor.
final class FakeAcceptorSocket: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let lock = NSLock()
    private var closed = false

    init() throws {
        (fd, port) = try TestSupport.listenOnLoopback()
    }

    /// The next connection, waiting at most 30 s.
    func accept() async throws -> RawSocketPeer {
        let fd = self.fd
        let accepted: Int32 = await onOwnThread {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 30_000) == 1 else { return -1 }
            return Glibc.accept(fd, nil, nil)
        }
        guard accepted >= 0 else { throw DICOMServiceError(.timeout, "no connection to the fake acceptor within 30 s") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(accepted, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return RawSocketPeer(fd: accepted)
    }

    func close() {
        let first: Bool = lock.withLock {
            defer { closed = true }
            return !closed
        }
        if first { _ = Glibc.close(fd) }
    }
}
