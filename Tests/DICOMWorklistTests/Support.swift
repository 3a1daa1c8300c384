import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An error of the test harness itself (a process that did not start, a timeout).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The result of a finished process.
struct ProcessResult {
    var status: Int32?
    var output: String
    var errors: String
}

enum Harness {
    /// A built product next to the test bundle (the test target depends on dcmworklist and dcmstore).
    static func product(_ name: String) throws -> String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw HarnessError("\(name) is not built next to the test bundle: run `swift build --build-tests` first")
    }

    /// A DCMTK tool from /usr/bin; fails loudly when missing (CI installs dcmtk).
    static func dcmtk(_ name: String) throws -> String {
        let path = "/usr/bin/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else { throw HarnessError("\(path) is not installed (apt-get install dcmtk)") }
        return path
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "dcmworklist-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A TCP port that was free on 127.0.0.1 a moment ago.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket() failed: errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw HarnessError("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until something accepts TCP connections on 127.0.0.1:`port`.
    static func waitForListener(port: Int, timeout: TimeInterval = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(descriptor)
            if connected == 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("nothing listens on 127.0.0.1:\(port) after \(Int(timeout)) s")
    }

    /// Runs blocking work on its own thread, so that waiting for a child process never holds a thread of the
    /// cooperative pool (in-process servers of tests running in parallel need them).
    static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    /// ``runBlocking(_:_:input:timeout:)`` off the cooperative pool.
    static func run(_ executable: String, _ arguments: [String], input: Data? = nil, timeout: TimeInterval = 120) async throws -> ProcessResult {
        try await offload { try runBlocking(executable, arguments, input: input, timeout: timeout) }
    }

    /// Runs a program to completion with output in files (no pipe can fill up); killed by PID after `timeout`.
    static func runBlocking(_ executable: String, _ arguments: [String], input: Data? = nil, timeout: TimeInterval = 120) throws -> ProcessResult {
        let child = try Child(executable, arguments, input: input)
        defer { child.stop() }
        let deadline = Date().addingTimeInterval(timeout)
        while child.process.isRunning {
            if Date() > deadline {
                child.stop()
                throw HarnessError("\((executable as NSString).lastPathComponent) \(arguments) did not finish within \(Int(timeout)) s; killed")
            }
            usleep(5_000)
        }
        child.closeHandles()
        let status = child.process.terminationReason == .exit ? child.process.terminationStatus : nil
        return ProcessResult(status: status, output: child.output, errors: child.errors)
    }

    /// Runs a Python script (python3 with pydicom and pynetdicom); arguments follow the script.
    static func python(_ script: String, _ arguments: [String], timeout: TimeInterval = 120) async throws -> ProcessResult {
        let path = NSTemporaryDirectory() + "dcmworklist-\(UUID().uuidString.prefix(8)).py"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        return try await run("/usr/bin/env", ["python3", path] + arguments, timeout: timeout)
    }
}

/// A child process whose output goes to files; stopped by its PID.
final class Child: @unchecked Sendable {
    let process = Process()
    let outputPath: String
    let errorPath: String
    private let outputHandle: FileHandle
    private let errorHandle: FileHandle
    private var closed = false
    private let lock = NSLock()

    init(_ executable: String, _ arguments: [String], input: Data? = nil) throws {
        let stem = NSTemporaryDirectory() + "dcmworklist-child-\(UUID().uuidString.prefix(8))"
        outputPath = stem + ".out"
        errorPath = stem + ".err"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        outputHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TCP_NODELAY"] = "1"
        process.environment = environment
        if let input {
            let inputPath = stem + ".in"
            FileManager.default.createFile(atPath: inputPath, contents: input)
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        process.standardOutput = outputHandle
        process.standardError = errorHandle
        try process.run()
    }

    /// SIGKILL by PID and a bounded wait.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        closeHandles()
    }

    func closeHandles() {
        lock.lock(); defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        try? outputHandle.close()
        try? errorHandle.close()
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Waits for a line of standard output containing `marker`; throws after `timeout` or when the process ended.
    func waitForOutput(_ marker: String, timeout: TimeInterval = 60) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.contains(marker) }) { return String(line) }
            if !process.isRunning { throw HarnessError("the process ended before printing '\(marker)': \(errors)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("no '\(marker)' on standard output within \(Int(timeout)) s: \(errors)")
    }
}

/// `dcmworklist serve` on a free port, stopped by PID.
final class WorklistServer {
    let child: Child
    let port: Int

    private init(child: Child, port: Int) {
        self.child = child
        self.port = port
    }

    static func start(archive: String, aeTitle: String = "WORKLIST", config: String? = nil) async throws -> WorklistServer {
        var arguments = ["serve", "--archive", archive, "--port", "0", "--host", "127.0.0.1", "--aet", aeTitle]
        if let config { arguments += ["--config", config] }
        let child = try Child(try Harness.product("dcmworklist"), arguments)
        do {
            let line = try await child.waitForOutput("listening on port")
            guard let word = line.split(separator: " ").drop(while: { $0 != "port" }).dropFirst().first, let port = Int(word) else {
                throw HarnessError("cannot read the port from '\(line)'")
            }
            return WorklistServer(child: child, port: port)
        } catch {
            child.stop()
            throw error
        }
    }

    func stop() { child.stop() }
}
