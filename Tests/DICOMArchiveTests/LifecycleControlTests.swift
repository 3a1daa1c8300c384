import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMArchive
#if canImport(Glibc)
import Glibc
#endif

/// The archive's control channel in process: a lifecycle command sent over `control.sock` runs on the server's own index
/// (visible at once), errors cross it unchanged, the socket is owner-only, and bad requests get an answer, not a crash.
@Suite("Lifecycle control socket")
struct LifecycleControlTests {
    static let study = "1.2.826.0.1.3680043.10.999.71"

    func request(_ command: LifecycleCommand, version: Int = LifecycleControl.protocolVersion) -> LifecycleControlRequest {
        LifecycleControlRequest(command: command, user: "tester", host: "testhost", retentionPolicy: RetentionPolicy(), version: version)
    }

    @Test func deleteAndRestoreThroughTheSocketChangeTheServersIndexAtOnce() async throws {
        let archive = try await StoreFixtures.archive("control")
        defer { archive.remove() }
        for sop in ["1.2.3.71.1", "1.2.3.71.2"] {
            let result = try await archive.store(try StoreFixtures.dataSet(sop: sop, study: Self.study, series: Self.study + ".1"))
            try #require(result.status == .success)
        }
        let control = try LifecycleControlServer.start(layout: archive.layout, index: archive.index)
        let socketPath = LifecycleControl.socketPath(for: archive.layout)
        var status = stat()
        try #require(lstat(socketPath, &status) == 0, "no socket at \(socketPath)")
        #expect(status.st_mode & S_IFMT == S_IFSOCK)
        #expect(status.st_mode & 0o777 == 0o600, "mode \(String(status.st_mode & 0o777, radix: 8))")

        let deleted = try #require(try await LifecycleControlClient.send(request(.delete(level: .study, uid: Self.study, reason: "over the socket")),
                                                                   socketPath: socketPath))
        let report = try deleted.result().lifecycleReport()
        #expect(report.count == 2)
        #expect(await archive.index.allRecords().filter { $0.trashedAt != nil }.count == 2)
        let visible = await archive.index.allRecords().filter { $0.trashedAt == nil }
        #expect(visible.isEmpty, "still visible: \(visible.map(\.record.sopInstanceUID))")

        // An error crosses the channel as the same ArchiveError.
        let again = try #require(try await LifecycleControlClient.send(request(.delete(level: .study, uid: Self.study, reason: nil)),
                                                                 socketPath: socketPath))
        #expect(throws: ArchiveError.self) { try again.result() }
        do {
            _ = try again.result()
        } catch let error as ArchiveError {
            #expect(error.code == .notFound)
            #expect(error.message == "no stored study \(Self.study)")
        }

        let restored = try #require(try await LifecycleControlClient.send(request(.restore(level: .study, uid: Self.study, reason: nil)),
                                                                    socketPath: socketPath))
        #expect(try restored.result().lifecycleReport().count == 2)
        #expect(await archive.index.allRecords().filter { $0.trashedAt == nil }.count == 2)

        let entries = try AuditLog(path: archive.layout.auditLogPath).entries()
        #expect(entries.contains { $0.action == "delete" && $0.uid == Self.study && $0.user == "tester" && $0.host == "testhost"
            && $0.reason == "over the socket" && $0.count == 2 })
        #expect(entries.contains { $0.action == "restore" && $0.uid == Self.study && $0.count == 2 })

        await control.stop()
        #expect(lstat(socketPath, &status) != 0, "the socket file is still there after stop()")
        // With no server, the client says so (nil) instead of failing.
        #expect(try await LifecycleControlClient.send(request(.purge(olderThanDays: 0, reason: nil)), socketPath: socketPath) == nil)
    }

    @Test func aStaleSocketIsReplacedAndAnOtherFileIsNot() async throws {
        let base = NSTemporaryDirectory() + "control-stale-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = base + "/control.sock"
        // A socket file nobody listens on, as a server killed with SIGKILL leaves it.
        let descriptor = UnixSocket.makeSocket()
        let address = try #require(UnixSocket.address(path))
        #expect(UnixSocket.withSocketAddress(address) { bind(descriptor, $0, $1) } == 0)
        close(descriptor)
        #expect(try await LifecycleControlClient.send(request(.purge(olderThanDays: 0, reason: nil)), socketPath: path) == nil)

        let server = try LifecycleControlServer.start(socketPath: path) { _ in
            LifecycleControlResponse(failure: .init(code: "notFound", message: "answered"))
        }
        let response = try #require(try await LifecycleControlClient.send(request(.purge(olderThanDays: 0, reason: nil)), socketPath: path))
        #expect(response.failure?.message == "answered")
        await server.stop()

        let plain = base + "/not-a-socket"
        #expect(FileManager.default.createFile(atPath: plain, contents: Data("keep me".utf8)))
        #expect(throws: ArchiveError.self) { try LifecycleControlServer.start(socketPath: plain) { _ in LifecycleControlResponse(error: ArchiveError(.io, "x")) } }
        #expect(FileManager.default.contents(atPath: plain) == Data("keep me".utf8))

        let tooLong = base + "/" + String(repeating: "x", count: 120)
        #expect(throws: ArchiveError.self) { try LifecycleControlServer.start(socketPath: tooLong) { _ in LifecycleControlResponse(error: ArchiveError(.io, "x")) } }
        #expect(try await LifecycleControlClient.send(request(.purge(olderThanDays: 0, reason: nil)), socketPath: tooLong) == nil)
    }

    @Test func badRequestsGetAnAnswer() async throws {
        let base = NSTemporaryDirectory() + "control-bad-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = base + "/control.sock"
        let server = try LifecycleControlServer.start(socketPath: path) { _ in
            LifecycleControlResponse(failure: .init(code: "io", message: "the handler should not run"))
        }
        defer { Task { await server.stop() } }

        /// Sends raw bytes and reads the answer line (blocking calls, off the cooperative pool the server's handler needs).
        func exchange(_ bytes: Data) async throws -> LifecycleControlResponse {
            let address = try #require(UnixSocket.address(path))
            let line = try await runBlocking { () throws -> Data in
                let descriptor = UnixSocket.makeSocket()
                defer { close(descriptor) }
                guard UnixSocket.withSocketAddress(address, { connect(descriptor, $0, $1) }) == 0 else {
                    throw ArchiveError(.io, "cannot connect to \(path): errno \(errno)")
                }
                UnixSocket.setTimeouts(descriptor, seconds: 20)
                try UnixSocket.writeAll(descriptor, bytes)
                return try UnixSocket.readLine(descriptor, limit: 1 << 20)
            }
            return try JSONDecoder().decode(LifecycleControlResponse.self, from: line)
        }

        let garbage = try await exchange(Data("this is not JSON\n".utf8))
        #expect(garbage.failure?.code == "control")
        #expect(garbage.failure?.message.contains("version missing") == true, "\(String(describing: garbage.failure))")

        var future = try LifecycleControl.encoder().encode(request(.purge(olderThanDays: 1, reason: nil), version: 99))
        future.append(0x0A)
        let versioned = try await exchange(future)
        #expect(versioned.failure?.message.contains("version 99 not supported") == true, "\(String(describing: versioned.failure))")

        let wrongShape = try await exchange(Data("{\"version\":1,\"command\":{\"explode\":{}}}\n".utf8))
        #expect(wrongShape.failure?.message.hasPrefix("bad request") == true, "\(String(describing: wrongShape.failure))")

        // Longer than the request limit, without a newline: refused, and the server goes on serving.
        let huge = try await exchange(Data(repeating: UInt8(ascii: "x"), count: LifecycleControl.maximumRequestBytes + 10))
        #expect(huge.failure?.message.contains("longer than") == true, "\(String(describing: huge.failure))")
        let after = try #require(try await LifecycleControlClient.send(request(.purge(olderThanDays: 0, reason: nil)), socketPath: path))
        #expect(after.failure?.message == "the handler should not run")
    }
}
