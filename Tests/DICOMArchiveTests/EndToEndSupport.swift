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

// Support for the end-to-end tests of the built `dcmstore` binary against real peers (DCMTK) and our DICOMClient:
// child processes that are always stopped by PID, the serve start-up line, CLI runs, free ports and test instances.

/// An error of the end-to-end harness itself (a process that did not start, a timeout), naming what went wrong.
struct EndToEndError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum EndToEnd {
    /// The built `dcmstore` binary next to the test bundle (the test target depends on it, so it is built first).
    static var dcmstorePath: String? {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("dcmstore").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// A DCMTK tool, always from /usr/bin (a `findscu` earlier on PATH may be another implementation).
    /// Fails the test loudly when it is missing: CI installs the `dcmtk` package.
    static func dcmtk(_ name: String) throws -> String {
        let path = "/usr/bin/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw EndToEndError("\(path) is not installed (apt-get install dcmtk)")
        }
        return path
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "dcmstore-e2e-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A TCP port that was free on 127.0.0.1 a moment ago (for peers that cannot report the port they bound, and for
    /// servers restarted on the same port). Chosen at random below the kernel's ephemeral range (32768-60999), so a
    /// server that binds port 0 in a concurrent test can never be handed this port while it is unused.
    static func freePort() throws -> Int {
        for _ in 0..<500 {
            let port = Int.random(in: 20000..<32768)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw EndToEndError("socket() failed: errno \(errno)") }
            defer { close(descriptor) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }
        }
        throw EndToEndError("no free TCP port found in 20000-32767")
    }

    /// Waits until something accepts TCP connections on 127.0.0.1:`port`.
    static func waitForListener(port: Int, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
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
        throw EndToEndError("nothing listens on 127.0.0.1:\(port) after \(timeout)")
    }

    /// Every regular file under `directory`, as paths relative to it.
    static func files(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var out: [String] = []
        while let next = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + next, isDirectory: &isDirectory), !isDirectory.boolValue {
                out.append(next)
            }
        }
        return out.sorted()
    }
}

// MARK: - Child processes

/// A child process whose output goes to files; stopped by its PID.
final class ChildProcess: @unchecked Sendable {
    let name: String
    let process = Process()
    let outputPath: String
    let errorPath: String
    private let outputHandle: FileHandle
    private let errorHandle: FileHandle

    init(_ executable: String, _ arguments: [String], logDirectory: String, workingDirectory: String? = nil) throws {
        name = (executable as NSString).lastPathComponent
        let stem = logDirectory + "/\(name)-\(UUID().uuidString.prefix(8))"
        outputPath = stem + ".out"
        errorPath = stem + ".err"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        FileManager.default.createFile(atPath: errorPath, contents: nil)
        outputHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TCP_NODELAY"] = "1"
        process.environment = environment
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outputHandle
        process.standardError = errorHandle
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Whether the process ended by a signal; nil while it runs.
    var endedBySignal: Bool? { process.isRunning ? nil : process.terminationReason == .uncaughtSignal }
    var isRunning: Bool { process.isRunning }

    /// Sends `signal` to the process (by PID) while it runs.
    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Waits for the process to end; its exit status, or nil when it still runs after `timeout` or died of a signal.
    @discardableResult
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        closeHandles()
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    /// SIGKILL by PID and a bounded wait (synchronous: usable from `defer`).
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        closeHandles()
    }

    private var closed = false
    private let lock = NSLock()
    private func closeHandles() {
        lock.lock(); defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        try? outputHandle.close()
        try? errorHandle.close()
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
}

/// Every process a test started; `stopAll()` (from a `defer`) kills each still running by its PID.
final class ProcessGroup: @unchecked Sendable {
    let logDirectory: String
    private let lock = NSLock()
    private var children: [ChildProcess] = []

    init(logDirectory: String) { self.logDirectory = logDirectory }

    func start(_ executable: String, _ arguments: [String], workingDirectory: String? = nil) throws -> ChildProcess {
        let child = try ChildProcess(executable, arguments, logDirectory: logDirectory, workingDirectory: workingDirectory)
        lock.lock(); children.append(child); lock.unlock()
        return child
    }

    func stopAll() {
        lock.lock(); let all = children; lock.unlock()
        for child in all { child.stop() }
    }

    /// Runs a program to completion (killed after `timeout`); exit status (nil: timed out or killed), stdout, stderr.
    func run(_ executable: String, _ arguments: [String], workingDirectory: String? = nil,
             timeout: Duration = .seconds(120)) async throws -> (status: Int32?, output: String, errors: String) {
        let child = try start(executable, arguments, workingDirectory: workingDirectory)
        let status = await child.waitForExit(timeout: timeout)
        if status == nil && child.isRunning { child.stop() }
        return (status, child.output, child.errors)
    }

    /// DCMTK `findscu` (`options` first, e.g. the model `-S` and `-aet`) asking DCMSTORE on `port` with `-k` `keys`,
    /// its response identifiers written (`-X`) to `directory` and read back.
    func findscu(_ options: [String], keys: [String], port: String, into directory: String) async throws -> [DataSet] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var arguments = options + ["-aec", "DCMSTORE", "-X", "-od", directory]
        for key in keys { arguments += ["-k", key] }
        let result = try await run(try EndToEnd.dcmtk("findscu"), arguments + ["127.0.0.1", port])
        #expect(result.status == 0, "findscu \(keys): \(result.errors)")
        return try EndToEnd.files(under: directory).filter { $0.hasPrefix("rsp") }.map {
            try DICOMFile(contentsOf: directory + "/" + $0).dataSet
        }
    }

    /// Runs a `dcmstore` subcommand on an archive (never while a server runs on it).
    func dcmstore(_ arguments: [String]) async throws -> (status: Int32?, output: String, errors: String) {
        let path = try #require(EndToEnd.dcmstorePath, "the dcmstore binary is not built next to the tests")
        return try await run(path, arguments)
    }

    /// Starts `dcmstore serve --port 0` on `archive` and waits for its "listening on port N" line.
    func startServer(archive: String, aeTitle: String = "DCMSTORE", arguments: [String] = [],
                     timeout: Duration = .seconds(90)) async throws -> DCMStoreServer {
        let path = try #require(EndToEnd.dcmstorePath, "the dcmstore binary is not built next to the tests")
        let child = try start(path, ["serve", "--archive", archive, "--port", "0", "--host", "127.0.0.1", "--aet", aeTitle] + arguments)
        let deadline = ContinuousClock.now + timeout
        let marker = "dcmstore listening on port "
        while ContinuousClock.now < deadline {
            let text = child.output
            if let range = text.range(of: marker) {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), port > 0 { return DCMStoreServer(process: child, port: port, archive: archive) }
            }
            // Fallback: the "dcmstore ready" log line on stderr (its stdout line may sit in a stdio buffer when
            // stdout is not a terminal).
            let log = child.errors
            if let ready = log.range(of: "dcmstore ready"), let line = log[..<ready.lowerBound].split(separator: "\n").last,
               let portRange = line.range(of: " port=") {
                let digits = line[portRange.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), port > 0 { return DCMStoreServer(process: child, port: port, archive: archive) }
            }
            if !child.isRunning {
                throw EndToEndError("dcmstore serve exited (\(child.process.terminationStatus)) before listening: \(child.errors)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        child.stop()
        throw EndToEndError("dcmstore serve did not print its listening line within \(timeout): \(child.errors)")
    }
}

/// A running `dcmstore serve`.
struct DCMStoreServer: Sendable {
    let process: ChildProcess
    let port: Int
    let archive: String

    /// SIGTERM, then waits; the exit status (nil when it did not exit in time or died of a signal).
    func terminate(timeout: Duration = .seconds(35)) async -> Int32? {
        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: timeout)
        if process.isRunning { process.stop() }
        return status
    }
}

// MARK: - Instances

/// One generated test instance.
struct TestInstance: Sendable {
    var study: String
    var series: String
    var sop: String
    var patientID: String
    var patientName: String
    var dataSet: DataSet
}

enum TestInstances {
    static let ctImage = "1.2.840.10008.5.1.4.1.1.2"
    /// Our test UID root plus a per-run number, so archives never mix runs.
    static func root() -> String { "1.2.826.0.1.3680043.10.999.88.\(UInt32.random(in: 1...999_999))" }

    /// A small CT-like instance in UTF-8 (ISO_IR 192), with pixel data of `pixelBytes` bytes.
    static func make(study: String, series: String, sop: String, patientID: String, patientName: String,
                     studyDate: String = "20250110", instanceNumber: Int = 1, pixelBytes: Int = 512) throws -> TestInstance {
        var dataSet = DataSet()
        dataSet.setASCII(Tag(0x0008, 0x0005), vr: .CS, "ISO_IR 192")
        dataSet.setASCII(Tag(0x0008, 0x0016), vr: .UI, ctImage)
        dataSet.setASCII(Tag(0x0008, 0x0018), vr: .UI, sop)
        dataSet.setASCII(Tag(0x0008, 0x0020), vr: .DA, studyDate)
        dataSet.setASCII(Tag(0x0008, 0x0030), vr: .TM, "101500")
        dataSet.setASCII(Tag(0x0008, 0x0050), vr: .SH, "ACC" + String(study.suffix(12)))
        dataSet.setASCII(Tag(0x0008, 0x0060), vr: .CS, "CT")
        try dataSet.set(Tag(0x0010, 0x0010), vr: .PN, string: patientName)
        dataSet.setASCII(Tag(0x0010, 0x0020), vr: .LO, patientID)
        dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, study)
        dataSet.setASCII(Tag(0x0020, 0x000E), vr: .UI, series)
        dataSet.setASCII(Tag(0x0020, 0x0010), vr: .SH, "1")
        try dataSet.set(Tag(0x0020, 0x0011), vr: .IS, integers: [1])
        try dataSet.set(Tag(0x0020, 0x0013), vr: .IS, integers: [instanceNumber])
        if pixelBytes > 0 {
            var pixels = [UInt8](repeating: 0, count: pixelBytes)
            let seed = sop.utf8.reduce(0) { $0 &+ Int($1) }
            pixels.withUnsafeMutableBufferPointer { buffer in
                for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* 31 &+ seed) }
            }
            dataSet.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OW, bytes: Data(pixels)))
        }
        return TestInstance(study: study, series: series, sop: sop, patientID: patientID, patientName: patientName, dataSet: dataSet)
    }

    /// Writes a Part 10 file (Explicit VR Little Endian) and returns its path.
    @discardableResult
    static func write(_ instance: TestInstance, in directory: String) throws -> String {
        let path = directory + "/\(instance.sop).dcm"
        try DICOMFile(dataSet: instance.dataSet, transferSyntax: .explicitVRLittleEndian).encoded().write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The bare data set in Explicit VR Little Endian, as a C-STORE carries it.
    static func encoded(_ dataSet: DataSet) throws -> ByteBuffer {
        ByteBuffer(bytes: try DataSetWriter.encode(dataSet, transferSyntax: .explicitVRLittleEndian))
    }

    /// Differences between two data sets, element by element (tag, then value bytes); empty when equal.
    static func differences(_ expected: DataSet, _ actual: DataSet) -> [String] {
        var problems: [String] = []
        let expectedTags = expected.map(\.tag)
        let actualTags = actual.map(\.tag).filter { !$0.isGroupLength }
        if expectedTags != actualTags { problems.append("tags differ: \(expectedTags) vs \(actualTags)") }
        for element in expected {
            guard let other = actual[element.tag] else { problems.append("\(element.tag) missing"); continue }
            if element.bytes != other.bytes { problems.append("\(element.tag) value differs") }
        }
        return problems
    }
}

// MARK: - Our SCU against dcmstore

enum ArchiveClient {
    static let callingAE: AETitle = "E2ESCU"

    static var contexts: [PresentationContext] {
        PresentationContext.numbered([verificationSOPClassUID, TestInstances.ctImage, QueryRetrieveModel.studyRootFind,
                                      QueryRetrieveModel.patientRootFind, QueryRetrieveModel.studyRootMove],
                                     transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
    }

    static func connect(port: Int, calledAE: AETitle = "DCMSTORE", dimseSeconds: Int64 = 60) async throws -> Association {
        try await DICOMClient.connect(host: "127.0.0.1", port: port, callingAE: callingAE, calledAE: calledAE,
                                      presentationContexts: contexts,
                                      timeouts: DICOMTimeouts(connect: .seconds(10), artim: .seconds(30), dimse: .seconds(dimseSeconds)))
    }

    static func store(_ instance: TestInstance, on association: Association) async throws -> DIMSEStatus {
        try await association.store(dataSet: try TestInstances.encoded(instance.dataSet), sopClassUID: TestInstances.ctImage,
                                    sopInstanceUID: instance.sop, transferSyntax: .explicitVRLittleEndian)
    }

    static func identifier(_ level: String, _ keys: [(DICOMCore.Tag, VR, String)]) -> DataSet {
        var dataSet = DataSet()
        dataSet.setASCII(Tag(0x0008, 0x0052), vr: .CS, level)
        for (tag, vr, value) in keys { dataSet.setASCII(tag, vr: vr, value) }
        return dataSet
    }

    static let studyUID = Tag(0x0020, 0x000D)
    static let seriesUID = Tag(0x0020, 0x000E)
    static let sopUID = Tag(0x0008, 0x0018)

    /// Every SOP Instance UID the archive answers for, found by a hierarchical walk: STUDY, then SERIES, then IMAGE level.
    static func allInstances(on association: Association) async throws -> Set<String> {
        var found: Set<String> = []
        let studies = try await association.find(identifier("STUDY", [(studyUID, .UI, "")]))
        guard studies.status == .success else { throw EndToEndError("C-FIND STUDY answered \(studies.status)") }
        for study in studies.matches {
            guard let studyUIDValue = study.string(studyUID) else { continue }
            let series = try await association.find(identifier("SERIES", [(studyUID, .UI, studyUIDValue), (seriesUID, .UI, "")]))
            guard series.status == .success else { throw EndToEndError("C-FIND SERIES answered \(series.status)") }
            for one in series.matches {
                guard let seriesUIDValue = one.string(seriesUID) else { continue }
                let images = try await association.find(identifier("IMAGE", [(studyUID, .UI, studyUIDValue), (seriesUID, .UI, seriesUIDValue),
                                                                            (sopUID, .UI, "")]))
                guard images.status == .success else { throw EndToEndError("C-FIND IMAGE answered \(images.status)") }
                for image in images.matches { if let uid = image.string(sopUID) { found.insert(uid) } }
            }
        }
        return found
    }

    /// Connects, walks every instance with C-FIND and releases.
    static func allInstances(port: Int) async throws -> Set<String> {
        let association = try await connect(port: port)
        do {
            let found = try await allInstances(on: association)
            try await association.release()
            return found
        } catch {
            await association.abort()
            throw error
        }
    }
}

/// JSON output of the CLI, decoded loosely.
enum CLIJSON {
    static func object(_ text: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw EndToEndError("not a JSON object: \(text.prefix(300))")
        }
        return object
    }
}
