import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The archive's control channel: a Unix domain socket `ARCHIVE/control.sock` (owner-only, mode 0600) on which a running
// server takes lifecycle commands from `dcmstore delete|restore|purge|retention`, so that they work while the server
// holds the archive and the server sees their effect at once.
//
// Protocol, version 1: the client connects, writes one request as a JSON object on one line (at most
// ``LifecycleControl/maximumRequestBytes`` bytes, ending with a newline), and reads one response line; then both
// close. The server handles one request at a time, so lifecycle commands never run concurrently with each other.

/// The control channel's constants and the socket path of an archive.
public enum LifecycleControl {
    /// The protocol version this build speaks; a request of another version is answered with an error.
    public static let protocolVersion = 1
    /// The longest request line accepted.
    public static let maximumRequestBytes = 1 << 20
    /// The longest response line accepted (a purge of a million instances lists their UIDs: about 70 MB).
    public static let maximumResponseBytes = 1 << 30
    /// The file name of the socket in the archive root.
    public static let socketName = "control.sock"

    /// `ARCHIVE/control.sock`.
    public static func socketPath(for layout: ArchiveLayout) -> String { layout.root + "/" + socketName }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// One request on the control channel: a lifecycle command and who asks for it.
public struct LifecycleControlRequest: Sendable, Codable, Equatable {
    /// ``LifecycleControl/protocolVersion`` of the client.
    public var version: Int
    public var command: LifecycleCommand
    /// The user recorded in the audit log (the client's `$USER`; the server checks the peer's user ID separately).
    public var user: String
    /// The host recorded in the audit log.
    public var host: String
    /// The retention policy of the client's configuration, so that the command gives what it would give run directly.
    public var retentionPolicy: RetentionPolicy

    public init(command: LifecycleCommand, user: String, host: String, retentionPolicy: RetentionPolicy,
                version: Int = LifecycleControl.protocolVersion) {
        self.version = version
        self.command = command
        self.user = user
        self.host = host
        self.retentionPolicy = retentionPolicy
    }
}

/// One response on the control channel: the outcome, or the error the command threw.
public struct LifecycleControlResponse: Sendable, Codable, Equatable {
    /// An error as it crosses the channel.
    public struct Failure: Sendable, Codable, Equatable {
        /// ``ArchiveError/Code`` name (`notFound`, `invalidUID`, …), or `control` for a failure of the channel itself.
        public var code: String
        public var message: String
        public var uid: String?

        public init(code: String, message: String, uid: String? = nil) {
            self.code = code
            self.message = message
            self.uid = uid
        }
    }

    public var outcome: LifecycleOutcome?
    public var failure: Failure?

    public init(outcome: LifecycleOutcome) {
        self.outcome = outcome
        failure = nil
    }

    public init(failure: Failure) {
        outcome = nil
        self.failure = failure
    }

    /// The response to a command that threw `error`.
    public init(error: any Error) {
        if let archiveError = error as? ArchiveError {
            self.init(failure: Failure(code: archiveError.code.name, message: archiveError.message, uid: archiveError.uid))
        } else {
            self.init(failure: Failure(code: "io", message: "\(error)"))
        }
    }

    /// The outcome, or the failure thrown as an ``ArchiveError`` with the same code and message as run directly.
    public func result() throws -> LifecycleOutcome {
        if let outcome { return outcome }
        let failure = failure ?? Failure(code: "control", message: "the server answered neither an outcome nor an error")
        throw ArchiveError(ArchiveError.Code(failure.code), failure.message, uid: failure.uid)
    }
}

// MARK: - Unix domain sockets

/// Small helpers over the socket system calls, shared by the control server and client.
enum UnixSocket {
    /// A `sockaddr_un` for `path`, or nil when the path does not fit (108 bytes with the terminating zero on Linux).
    static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (offset, byte) in bytes.enumerated() { buffer[offset] = byte }
            buffer[bytes.count] = 0
        }
        return address
    }

    /// A new stream socket (close-on-exec), or -1 with `errno` set.
    static func makeSocket() -> Int32 {
        socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    static func withSocketAddress<T>(_ address: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = address
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Sets the receive and send timeouts of a socket.
    static func setTimeouts(_ descriptor: Int32, seconds: Int) {
        var time = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all of `data`.
    static func writeAll(_ descriptor: Int32, _ data: Data) throws {
        try data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = send(descriptor, base + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError(.io, "control socket: cannot write: \(String(cString: strerror(errno)))", systemError: errno)
                }
                offset += written
            }
        }
    }

    /// Reads one line (without its newline) of at most `limit` bytes.
    /// - Throws: ``ArchiveError`` `io` on a read error or timeout, on end of stream before the newline, or past `limit`.
    static func readLine(_ descriptor: Int32, limit: Int) throws -> Data {
        var line = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = (errno == EAGAIN || errno == EWOULDBLOCK) ? "timed out" : String(cString: strerror(errno))
                throw ArchiveError(.io, "control socket: cannot read: \(reason)", systemError: errno)
            }
            if count == 0 {
                throw ArchiveError(.io, "control socket: the other side closed the connection after \(line.count) bytes, before the end of the line")
            }
            if let newline = chunk[0..<count].firstIndex(of: 0x0A) {
                line.append(contentsOf: chunk[0..<newline])
                guard line.count < limit else { break }
                return line
            }
            line.append(contentsOf: chunk[0..<count])
            if line.count >= limit { break }
        }
        throw ArchiveError(.io, "control socket: a message longer than \(limit) bytes")
    }

    /// The user ID of the process on the other end of a connected Unix socket (SO_PEERCRED), or nil.
    static func peerUserID(_ descriptor: Int32) -> uid_t? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        var credentials: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
              Int(length) >= MemoryLayout<(Int32, UInt32, UInt32)>.size else { return nil }
        return credentials.1
    }
}
