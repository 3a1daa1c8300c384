import DICOMIO
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The server side of the archive's control channel (see ``LifecycleControl``): listens on `ARCHIVE/control.sock`,
/// owner-only (mode 0600; connections from another user ID than the server's, or root, are refused), and runs each
/// lifecycle command it receives, one at a time, on the server's own index, so C-FIND and C-MOVE see the change at once.
///
/// Start it only while holding the archive (after opening its index, whose journal lock keeps a second server out):
/// a leftover socket file of a server that died is replaced.
public final class LifecycleControlServer: @unchecked Sendable {
    /// Runs one request.
    public typealias Handler = @Sendable (LifecycleControlRequest) async -> LifecycleControlResponse

    /// Where the server listens.
    public let socketPath: String
    private let listener: Int32
    private let handler: Handler
    private let logger: Logger
    private let lock = NSLock()
    private var stopping = false
    private var finished = false

    /// Seconds a client has to send its request, and to take the response.
    static let clientTimeoutSeconds = 30

    private init(socketPath: String, listener: Int32, handler: @escaping Handler, logger: Logger) {
        self.socketPath = socketPath
        self.listener = listener
        self.handler = handler
        self.logger = logger
    }

    /// Serves the lifecycle commands of the archive at `layout` on `index` (the server's open index): each request runs
    /// ``LifecycleCommand/run(on:)`` with an ``ArchiveLifecycle`` carrying the requester's user, host and retention policy;
    /// queue commands run on `queue` (the server's forwarding queue), or on the archive's queue opened for the request
    /// when the server forwards nothing.
    /// - Throws: ``ArchiveError`` when the socket cannot be created (path too long, file system without sockets, a
    ///   non-socket file in the way).
    public static func start(layout: ArchiveLayout, index: any ArchiveIndex, queue: ForwardQueue? = nil,
                             logger: Logger = Logger(label: "dicom.archive.control")) throws -> LifecycleControlServer {
        try start(socketPath: LifecycleControl.socketPath(for: layout), logger: logger) { request in
            let lifecycle = ArchiveLifecycle(layout: layout, index: index, retentionPolicy: request.retentionPolicy,
                                             user: request.user, host: request.host)
            do {
                if case let .queue(command) = request.command {
                    let target = try queue ?? ForwardQueue(directory: ForwardQueue.directory(inArchive: layout.root))
                    return LifecycleControlResponse(outcome: try await command.run(on: target))
                }
                return LifecycleControlResponse(outcome: try await request.command.run(on: lifecycle))
            } catch {
                return LifecycleControlResponse(error: error)
            }
        }
    }

    /// Serves requests on `socketPath` with `handler`.
    public static func start(socketPath: String, logger: Logger = Logger(label: "dicom.archive.control"),
                             handler: @escaping Handler) throws -> LifecycleControlServer {
        guard let address = UnixSocket.address(socketPath) else {
            throw ArchiveError(.invalidPath, "the control socket path \(socketPath) is longer than a Unix socket path may be "
                + "(\(MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1) bytes)", path: socketPath)
        }
        var status = stat()
        if lstat(socketPath, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else {
                throw ArchiveError(.invalidPath, "\(socketPath) exists and is not a socket; move it away", path: socketPath)
            }
            // A socket left by a server that died: we hold the archive, so nobody listens on it.
            unlink(socketPath)
        }
        let descriptor = UnixSocket.makeSocket()
        guard descriptor >= 0 else { throw ArchiveError.system("cannot create the control socket", path: socketPath, errno: errno) }
        let bound = UnixSocket.withSocketAddress(address) { bind(descriptor, $0, $1) }
        guard bound == 0 else {
            let number = errno
            close(descriptor)
            throw ArchiveError.system("cannot bind the control socket", path: socketPath, errno: number)
        }
        // Owner-only before listen(): until then a connect() is refused, so nobody gets in under looser permissions.
        guard chmod(socketPath, 0o600) == 0, listen(descriptor, 8) == 0 else {
            let number = errno
            close(descriptor)
            unlink(socketPath)
            throw ArchiveError.system("cannot listen on the control socket", path: socketPath, errno: number)
        }
        let server = LifecycleControlServer(socketPath: socketPath, listener: descriptor, handler: handler, logger: logger)
        let thread = Thread { server.acceptLoop() }
        thread.name = "dcmstore control"
        thread.start()
        return server
    }

    /// Stops listening, waits for a command in progress to finish, and removes the socket file.
    public func stop() async {
        lock.withLock { stopping = true }
        while !lock.withLock({ finished }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func acceptLoop() {
        while !isStopping {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 200) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            serve(client)
            close(client)
        }
        close(listener)
        unlink(socketPath)
        lock.withLock { finished = true }
    }

    /// Reads one request, runs it, writes the response.
    private func serve(_ client: Int32) {
        UnixSocket.setTimeouts(client, seconds: Self.clientTimeoutSeconds)
        let response: LifecycleControlResponse
        if let peer = UnixSocket.peerUserID(client), peer != getuid(), peer != 0 {
            logger.warning("control socket: refused a connection from user ID \(peer)")
            response = LifecycleControlResponse(failure: .init(code: "control", message: "permission denied: the archive's server runs as another user"))
        } else {
            response = run(client)
        }
        do {
            var line = try LifecycleControl.encoder().encode(response)
            line.append(0x0A)
            try UnixSocket.writeAll(client, line)
        } catch {
            logger.warning("control socket: cannot answer: \(error)")
        }
    }

    private func run(_ client: Int32) -> LifecycleControlResponse {
        let request: LifecycleControlRequest
        do {
            let line = try UnixSocket.readLine(client, limit: LifecycleControl.maximumRequestBytes)
            struct Version: Decodable { var version: Int? }
            let version = (try? JSONDecoder().decode(Version.self, from: line))?.version
            guard version == LifecycleControl.protocolVersion else {
                return LifecycleControlResponse(failure: .init(code: "control", message: "control protocol version "
                    + "\(version.map(String.init) ?? "missing") not supported (this server speaks \(LifecycleControl.protocolVersion))"))
            }
            request = try JSONDecoder().decode(LifecycleControlRequest.self, from: line)
        } catch {
            logger.warning("control socket: bad request: \(error)")
            return LifecycleControlResponse(failure: .init(code: "control", message: "bad request: \(error)"))
        }
        logger.notice("lifecycle command", metadata: ["command": "\(request.command.name)", "user": "\(request.user)"])
        let box = ResponseBox()
        let done = DispatchSemaphore(value: 0)
        let handler = self.handler
        Task {
            box.response = await handler(request)
            done.signal()
        }
        done.wait()
        return box.response ?? LifecycleControlResponse(failure: .init(code: "control", message: "the command gave no answer"))
    }

    private final class ResponseBox: @unchecked Sendable {
        var response: LifecycleControlResponse?
    }
}

/// The client side of the archive's control channel, used by `dcmstore delete|restore|purge|retention`.
public enum LifecycleControlClient {
    /// Sends `request` to the server listening on `socketPath` and waits for its response.
    /// - Returns: the response, or nil when no server listens there (no socket file, or one left by a server that
    ///   died), in which case the caller works on the archive directly.
    /// - Throws: ``ArchiveError`` when a server is there but the exchange fails (permission, timeout, bad response).
    public static func send(_ request: LifecycleControlRequest, socketPath: String,
                            timeoutSeconds: Int = 3600) async throws -> LifecycleControlResponse? {
        // Blocking socket calls, off the cooperative thread pool.
        try await runBlocking { try exchange(request, socketPath: socketPath, timeoutSeconds: timeoutSeconds) }
    }

    static func exchange(_ request: LifecycleControlRequest, socketPath: String,
                         timeoutSeconds: Int) throws -> LifecycleControlResponse? {
        guard let address = UnixSocket.address(socketPath) else { return nil }
        let descriptor = UnixSocket.makeSocket()
        guard descriptor >= 0 else { throw ArchiveError.system("cannot create a socket for", path: socketPath, errno: errno) }
        defer { close(descriptor) }
        let connected = UnixSocket.withSocketAddress(address) { connect(descriptor, $0, $1) }
        if connected != 0 {
            let number = errno
            if number == ENOENT || number == ECONNREFUSED || number == ENOTDIR { return nil }
            if number == EACCES || number == EPERM {
                throw ArchiveError(.io, "the server's control socket \(socketPath) is not ours: run this command as the user the server runs as",
                                   path: socketPath, systemError: number)
            }
            throw ArchiveError.system("cannot connect to the server's control socket", path: socketPath, errno: number)
        }
        UnixSocket.setTimeouts(descriptor, seconds: timeoutSeconds)
        var line = try LifecycleControl.encoder().encode(request)
        line.append(0x0A)
        try UnixSocket.writeAll(descriptor, line)
        let answer = try UnixSocket.readLine(descriptor, limit: LifecycleControl.maximumResponseBytes)
        do {
            return try JSONDecoder().decode(LifecycleControlResponse.self, from: answer)
        } catch {
            throw ArchiveError(.io, "the server's control socket \(socketPath) answered something unreadable: \(error)", path: socketPath)
        }
    }
}
