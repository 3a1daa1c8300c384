import ArgumentParser
import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// C-STORE throughput on 127.0.0.1, DCMTK against swift-dicom, same run and same files: `storescu` → `storescp`,
/// then our `dcmsend` (the release binary next to dcmbench) → our SCP (`dcmbench network-scp`, a ``DICOMServer`` in
/// its own process), with one association and with `--parallel 2`. Each sender is timed from start to exit,
/// association set-up and release included; every receiver stores Part 10 files to a fresh directory.
struct NetworkBenchmark {
    var smallCount: Int
    var largeCount: Int
    var largeFrames: Int
    var repeats: Int
    var workdir: String
    var report: BenchReport

    struct Run {
        var label: String
        var seconds: Double
    }

    func run() throws {
        let dcmsend = try NetworkPeers.dcmsend()
        for tool in [NetworkPeers.storescu, NetworkPeers.storescp] where !isExecutable(tool) {
            throw BenchError("\(tool) is not installed (apt-get install dcmtk)")
        }
        var sets: [(name: String, paths: [String])] = []
        if smallCount > 0 {
            sets.append(("\(grouped(Double(smallCount))) CT images of 512×512 (about 0.5 MB)",
                         try Fixtures.ctSeries(count: smallCount, in: workdir, log: log)))
        }
        if largeCount > 0 {
            sets.append(("\(largeCount) multi-frame CT images of \(largeFrames)×512×512 (about \(largeFrames / 2) MB)",
                         try NetworkFixtures.largeSeries(count: largeCount, frames: largeFrames, in: workdir)))
        }
        for set in sets {
            let directory = URL(fileURLWithPath: set.paths[0]).deletingLastPathComponent().path
            let bytes = set.paths.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1))?[.size] as? Int ?? 0) }
            let count = set.paths.count
            let scratchRoot = "\(workdir)/network-received"
            try? FileManager.default.removeItem(atPath: scratchRoot)
            // Each run writes into a directory of its own. Deleting 2,000 received files just before the next run
            // made that run's file creations scan the inodes just freed (ext4 skips recently deleted inodes; measured
            // here as up to a third of a receiver's CPU), so the small set's directories stay until the set is done;
            // the large set's few files are deleted after each run (their disk space matters more).
            var attempt = 0
            var previous: String?
            func scratch() -> String {
                if count < 100, let previous { try? FileManager.default.removeItem(atPath: previous) }
                attempt += 1
                previous = "\(scratchRoot)/\(attempt)"
                return previous!
            }

            // The rows take turns (every row once, then every row again, …) and each run starts after `sync()`, so that
            // no row inherits the writeback of the gigabyte the run before it left in the page cache, and a change in
            // the machine's state during the set weighs on every row alike. Each row keeps its best time.
            let rows: [(label: String, body: () throws -> Double)] = [
                ("DCMTK `storescu` → DCMTK `storescp`", {
                    try NetworkPeers.dcmtk(directory: directory, expected: count, scratch: scratch())
                }),
                ("swift-dicom `dcmsend` → swift-dicom SCP (DirectoryStorageHandler, fsync per instance)", {
                    try NetworkPeers.ours(dcmsend: dcmsend, directory: directory, expected: count, parallel: 1, durable: true, scratch: scratch())
                }),
                ("swift-dicom `dcmsend` → swift-dicom SCP (no fsync, as storescp)", {
                    try NetworkPeers.ours(dcmsend: dcmsend, directory: directory, expected: count, parallel: 1, durable: false, scratch: scratch())
                }),
                ("swift-dicom `dcmsend --parallel 2` → swift-dicom SCP (no fsync)", {
                    try NetworkPeers.ours(dcmsend: dcmsend, directory: directory, expected: count, parallel: 2, durable: false, scratch: scratch())
                }),
                ("swift-dicom `dcmsend --parallel 2` → swift-dicom SCP (DirectoryStorageHandler)", {
                    try NetworkPeers.ours(dcmsend: dcmsend, directory: directory, expected: count, parallel: 2, durable: true, scratch: scratch())
                }),
                ("swift-dicom `dcmsend` → DCMTK `storescp`", {
                    try NetworkPeers.dcmsendToStorescp(dcmsend: dcmsend, directory: directory, expected: count, scratch: scratch())
                }),
                ("swift-dicom `dcmsend --async 8` → swift-dicom SCP (DirectoryStorageHandler, window of 8 granted)", {
                    try NetworkPeers.ours(dcmsend: dcmsend, directory: directory, expected: count, parallel: 1, durable: true, scratch: scratch(),
                                          asynchronousOperations: 8)
                }),
            ]
            var best = [Double](repeating: .infinity, count: rows.count)
            for round in 1...max(1, repeats) {
                for (index, row) in rows.enumerated() {
                    log("network: \(set.name): \(row.label) (round \(round)) ...")
                    sync()
                    let seconds = try row.body()
                    log(String(format: "  %.2f s, %.1f instances/s, %.1f MB/s", seconds, Double(count) / seconds, Double(bytes) / 1e6 / seconds))
                    best[index] = min(best[index], seconds)
                }
            }
            let runs = zip(rows, best).map { Run(label: $0.label, seconds: $1) }
            try? FileManager.default.removeItem(atPath: scratchRoot)

            let dcmtk = runs[0].seconds
            var table = Table("C-STORE of \(set.name), \(megabytes(bytes)) in all, 127.0.0.1 (best of \(repeats))",
                              ["sender → receiver", "s", "instances/s", "MB/s", "vs DCMTK"])
            for run in runs {
                table.add([run.label, fixed(run.seconds), fixed(Double(count) / run.seconds, 1), fixed(Double(bytes) / 1e6 / run.seconds, 1),
                           ratio(dcmtk / run.seconds)])
            }
            table.notes.append("Each sender is a fresh process timed from start to exit (association set-up, every C-STORE-RSP and the " +
                               "release included); each receiver writes Part 10 files to an empty directory and was started before. " +
                               "DCMTK runs with TCP_NODELAY=1 and its default 16 KB PDUs; swift-dicom negotiates 64 KB PDUs. " +
                               "storescp does not fsync; DirectoryStorageHandler fsyncs every file and its directory. " +
                               "`--async 8` keeps up to 8 C-STOREs outstanding on its one association (our SCP grants up to 16). " +
                               "The rows take turns, each run after a `sync()`; every row keeps its best time.")
            report.print(table)
            let short = set.paths.count == smallCount ? "small" : "large"
            report.check("network (\(short)): dcmsend → our SCP ≥ storescu → storescp", measured: ratio(dcmtk / runs[2].seconds),
                         target: "≥ 1.00×", met: runs[2].seconds <= dcmtk)
            report.check("network (\(short)): dcmsend --parallel 2 ≥ 1.6 × storescu → storescp", measured: ratio(dcmtk / runs[3].seconds),
                         target: "≥ 1.60×", met: dcmtk / runs[3].seconds >= 1.6)
        }
    }
}

/// Peak memory of our SCP while it receives one large instance from `dcmsend`.
struct NetworkMemoryBenchmark {
    var megabytesToSend: Int
    var limitMB: Int
    var workdir: String
    var report: BenchReport

    /// Returns the SCP's peak RSS in bytes.
    @discardableResult
    func run() throws -> Int {
        let dcmsend = try NetworkPeers.dcmsend()
        let path = try NetworkFixtures.sparseInstance(megabytes: megabytesToSend, in: workdir)
        let size = (try FileManager.default.attributesOfItem(atPath: path))[.size] as? Int ?? 0
        let scratch = "\(workdir)/network-memory"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        log("memory-network: sending \(megabytes(size)) from dcmsend to the SCP ...")
        let server = try SCPChild.start(scratch: scratch, expected: 1, durable: true)
        defer { server.terminate() }
        let send: (seconds: Double, maxRSS: Int?)
        if isExecutable(MemoryBenchmark.time) {
            let measured = try MemoryBenchmark.peak([dcmsend, "127.0.0.1", "\(server.port)", path], workdir: workdir)
            send = (measured.seconds, measured.maxRSS)
        } else {
            let result = try ChildProcess.run([dcmsend, "127.0.0.1", "\(server.port)", path])
            guard result.status == 0 else { throw BenchError("dcmsend exited with status \(result.status)") }
            send = (result.seconds, nil)
        }
        let outcome = try server.finish(timeout: 120)
        guard outcome.instances == 1 else { throw BenchError("the SCP stored \(outcome.instances) instances instead of 1") }
        let stored = try DICOMFile(contentsOf: server.storedFiles().first ?? "", options: .metadataOnly)
        let original = try DICOMFile(contentsOf: path, options: .metadataOnly)
        guard stored.dataSet[.pixelData]?.valueLength == original.dataSet[.pixelData]?.valueLength || stored.dataSet.count == original.dataSet.count,
              stored.dataSet.string(.sopInstanceUID) == original.dataSet.string(.sopInstanceUID) else {
            throw BenchError("the stored instance does not match the one sent")
        }
        var table = Table("Peak memory receiving one \(megabytes(size)) instance (dcmsend → our SCP, DirectoryStorageHandler)",
                          ["process", "peak RSS", "wall time (s)"])
        table.add(["SCP (`dcmbench network-scp`, VmHWM from /proc/self/status)", megabytes(outcome.peakRSS), "—"])
        table.add(["`dcmsend` (GNU time %M)", send.maxRSS.map(megabytes) ?? "not measured (no /usr/bin/time)", fixed(send.seconds)])
        table.notes.append(String(format: "%.1f MB/s end to end, the received copy fsynced.", Double(size) / 1e6 / send.seconds))
        report.print(table)
        report.check("memory: SCP receiving one \(megabytes(size)) instance < \(limitMB) MB", measured: megabytes(outcome.peakRSS),
                     target: "< \(limitMB) MB", met: outcome.peakRSS < limitMB * 1_000_000)
        return outcome.peakRSS
    }
}

/// Running the senders and receivers of the network benchmark.
enum NetworkPeers {
    static let storescu = "/usr/bin/storescu"
    static let storescp = "/usr/bin/storescp"
    static let nodelay = ["TCP_NODELAY": "1"]

    /// The `dcmsend` built next to this dcmbench (same configuration).
    static func dcmsend() throws -> String {
        let path = URL(fileURLWithPath: currentExecutablePath()).deletingLastPathComponent().appendingPathComponent("dcmsend").path
        guard isExecutable(path) else {
            throw BenchError("\(path) not found: build it first (swift build -c release --product dcmsend)")
        }
        return path
    }

    /// storescu → storescp; returns storescu's wall time.
    static func dcmtk(directory: String, expected: Int, scratch: String) throws -> Double {
        let output = try freshDirectory(scratch)
        let port = freePort()
        let server = try BackgroundChild([storescp, "-aet", "STORESCP", "-od", output, "-dhl", "\(port)"], environment: nodelay)
        defer { server.terminate() }
        try waitForListener(port: port)
        let result = try ChildProcess.run([storescu, "-aec", "STORESCP", "+sd", "+sp", "*.dcm", "127.0.0.1", "\(port)", directory], environment: nodelay)
        guard result.status == 0 else { throw BenchError("storescu exited with status \(result.status)") }
        try expectFiles(expected, in: output)
        return result.seconds
    }

    /// dcmsend → storescp, our client alone against DCMTK's receiver.
    static func dcmsendToStorescp(dcmsend: String, directory: String, expected: Int, scratch: String) throws -> Double {
        let output = try freshDirectory(scratch)
        let port = freePort()
        let server = try BackgroundChild([storescp, "-aet", "STORESCP", "-od", output, "-dhl", "\(port)"], environment: nodelay)
        defer { server.terminate() }
        try waitForListener(port: port)
        let result = try ChildProcess.run([dcmsend, "--called-aet", "STORESCP", "127.0.0.1", "\(port)"] + (try files(in: directory)))
        guard result.status == 0 else { throw BenchError("dcmsend exited with status \(result.status)") }
        try expectFiles(expected, in: output)
        return result.seconds
    }

    /// dcmsend → our SCP in a child process; returns dcmsend's wall time.
    static func ours(dcmsend: String, directory: String, expected: Int, parallel: Int, durable: Bool, scratch: String,
                     asynchronousOperations: Int = 1) throws -> Double {
        let server = try SCPChild.start(scratch: scratch, expected: expected, durable: durable)
        defer { server.terminate() }
        let result = try ChildProcess.run([dcmsend, "--parallel", "\(parallel)", "--async", "\(asynchronousOperations)", "127.0.0.1",
                                           "\(server.port)"] + (try files(in: directory)))
        guard result.status == 0 else { throw BenchError("dcmsend exited with status \(result.status)") }
        let outcome = try server.finish(timeout: 60)
        guard outcome.instances == expected else { throw BenchError("our SCP stored \(outcome.instances) of \(expected) instances") }
        try expectFiles(expected, in: server.output)
        return result.seconds
    }

    /// The `*.dcm` files of a fixture directory (what `storescu +sd +sp "*.dcm"` sends), named one by one: `dcmsend`
    /// has no pattern option, and given the directory it warned about the fixture's `.complete` marker.
    static func files(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".dcm") }.sorted()
            .map { "\(directory)/\($0)" }
    }

    static func freshDirectory(_ path: String) throws -> String {
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func expectFiles(_ expected: Int, in directory: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }
        guard names.count == expected else { throw BenchError("\(directory) holds \(names.count) files, expected \(expected)") }
    }

    /// Waits (up to 10 s) until something accepts connections on 127.0.0.1:port.
    static func waitForListener(port: Int) throws {
        for _ in 0..<500 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if result == 0 { return }
            usleep(20_000)
        }
        throw BenchError("nothing listens on 127.0.0.1:\(port) after 10 s")
    }

    /// A TCP port that was free a moment ago on 127.0.0.1.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Our SCP as a child process (`dcmbench network-scp`): it writes its port to a file once listening, exits after the
/// expected number of instances and reports its own peak RSS.
struct SCPChild {
    let child: BackgroundChild
    let port: Int
    let output: String
    let resultFile: String

    static func start(scratch: String, expected: Int, durable: Bool) throws -> SCPChild {
        let root = try NetworkPeers.freshDirectory(scratch)
        let output = root + "/out", portFile = root + "/port", resultFile = root + "/result.json"
        var arguments = [currentExecutablePath(), "network-scp", "--directory", output, "--temporary-directory", root,
                         "--port-file", portFile, "--result-file", resultFile, "--exit-after", "\(expected)"]
        if durable { arguments.append("--durable") }
        let child = try BackgroundChild(arguments)
        for _ in 0..<500 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return SCPChild(child: child, port: port, output: output, resultFile: resultFile)
            }
            guard child.isRunning else { throw BenchError("dcmbench network-scp exited before listening") }
            usleep(20_000)
        }
        child.terminate()
        throw BenchError("dcmbench network-scp did not start listening within 10 s")
    }

    /// Waits for the child to exit by itself and reads what it reported.
    func finish(timeout: Double) throws -> (instances: Int, peakRSS: Int) {
        guard child.wait(timeout: timeout) else { throw BenchError("dcmbench network-scp did not finish within \(timeout) s") }
        let data = try Data(contentsOf: URL(fileURLWithPath: resultFile))
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let instances = json["instances"] as? Int, let peak = json["peakRSS"] as? Int else {
            throw BenchError("cannot read \(resultFile)")
        }
        return (instances, peak)
    }

    func storedFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: output).filter { !$0.hasPrefix(".") }.map { output + "/" + $0 }
    }

    func terminate() { child.terminate() }
}

/// A child process left running while the parent works; stopped by its PID.
final class BackgroundChild {
    let pid: pid_t
    private var exited = false

    init(_ arguments: [String], environment: [String: String] = [:], stdoutPath: String = "/dev/null") throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard rc == 0 else { throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    var isRunning: Bool {
        if exited { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return !exited
    }

    /// Waits for the child to exit by itself; false after `timeout` seconds.
    func wait(timeout: Double) -> Bool {
        let deadline = monotonicSeconds() + timeout
        while isRunning {
            if monotonicSeconds() > deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// SIGTERM, then SIGKILL after 2 s; reaps the child.
    func terminate() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        if !wait(timeout: 2) {
            kill(pid, SIGKILL)
            _ = wait(timeout: 5)
        }
    }

    deinit { terminate() }
}

/// Generated instances for the network benchmarks.
enum NetworkFixtures {
    /// `count` multi-frame CT files of `frames` × 512 × 512 × 16-bit each, distinct SOP Instance UIDs, written once.
    static func largeSeries(count: Int, frames: Int, in workdir: String) throws -> [String] {
        let directory = "\(workdir)/ct-large-\(count)x\(frames)"
        let marker = "\(directory)/.complete"
        let paths = (0..<count).map { "\(directory)/CT-LARGE\(String(format: "%04d", $0)).dcm" }
        if FileManager.default.fileExists(atPath: marker) { return paths }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        log("generating \(count) multi-frame CT files of \(frames) frames in \(directory) ...")
        let frame = Fixtures.pixelBytes(rows: 512, columns: 512)
        for (index, path) in paths.enumerated() {
            let header = try pixelDataHeader(index: 500_000 + index, frames: frames)
            guard FileManager.default.createFile(atPath: path, contents: header), let handle = FileHandle(forWritingAtPath: path) else {
                throw BenchError("cannot create \(path)")
            }
            try handle.seekToEnd()
            for _ in 0..<frames { try handle.write(contentsOf: frame) }
            try handle.close()
        }
        try Fixtures.writePlain(Data("\(count)\n".utf8), to: marker)
        return paths
    }

    /// One instance of about `megabytes` MiB whose pixel data is a hole in a sparse file (zeros, no disk blocks, never in memory).
    static func sparseInstance(megabytes: Int, in workdir: String) throws -> String {
        let frames = max(1, megabytes * 2) // 512 × 512 × 2 bytes = 0.5 MiB a frame
        let path = "\(workdir)/sparse-\(frames)x512x512.dcm"
        let header = try pixelDataHeader(index: 900_000, frames: frames)
        let total = header.count + frames * 512 * 512 * 2
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == total { return path }
        guard FileManager.default.createFile(atPath: path, contents: header) else { throw BenchError("cannot create \(path)") }
        guard truncate(path, off_t(total)) == 0 else { throw BenchError("cannot extend \(path) to \(total) bytes") }
        return path
    }

    /// The Part 10 encoding of a multi-frame CT's attributes followed by the header of its (7FE0,0010) OW element.
    static func pixelDataHeader(index: Int, frames: Int) throws -> Data {
        let pixelLength = frames * 512 * 512 * 2
        guard pixelLength < Int(UInt32.max) else { throw BenchError("\(frames) frames do not fit one pixel data element") }
        let attributes = try Fixtures.ctAttributes(index: index, frames: frames)
        var header = try DICOMFile(dataSet: attributes, transferSyntax: .explicitVRLittleEndian).encoded()
        header.append(contentsOf: [0xE0, 0x7F, 0x10, 0x00, 0x4F, 0x57, 0x00, 0x00])
        withUnsafeBytes(of: UInt32(pixelLength).littleEndian) { header.append(contentsOf: $0) }
        return header
    }
}

/// Counts stored instances across associations.
final class InstanceCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() { lock.lock(); value += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return value }
}

/// Wraps a storage handler to count what it stored.
struct CountingStorageHandler: StorageHandler {
    let inner: StorageHandler
    let counter: InstanceCounter

    func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        let status = await inner.store(instance)
        if status.isSuccessOrWarning { counter.increment() }
        return status
    }
}

/// Writes Part 10 files like ``DirectoryStorageHandler`` (renaming the received file into place) but without fsync, as
/// storescp does: for comparing like with like.
struct UnsyncedStorageHandler: StorageHandler {
    let directory: String

    func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        // On a serial queue of its own (`runBlocking`), not `DispatchQueue.global()`, whose threads the cooperative
        // pool shares.
        (try? await runBlocking { try write(instance) }) == nil ? .outOfResources : .success
    }

    func write(_ instance: ReceivedInstance) throws {
        let path = "\(directory)/\(instance.sopInstanceUID).dcm"
        if instance.dataSetOffset > 0, rename(instance.filePath, path) == 0 { return }
        let syntax = TransferSyntax(uid: instance.transferSyntaxUID, name: instance.transferSyntaxUID)
        let meta = FileMetaInformation.make(sopClassUID: instance.sopClassUID, sopInstanceUID: instance.sopInstanceUID,
                                            transferSyntax: syntax, sourceAETitle: instance.callingAETitle.value)
        let header = try DICOMFile(preamble: nil, fileMetaInformation: meta, dataSet: DataSet(), transferSyntax: syntax).encoded()
        guard FileManager.default.createFile(atPath: path, contents: header),
              let output = FileHandle(forWritingAtPath: path), let input = FileHandle(forReadingAtPath: instance.filePath) else {
            throw BenchError("cannot write \(path)")
        }
        defer { try? output.close(); try? input.close() }
        try output.seekToEnd()
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try output.write(contentsOf: chunk) }
    }
}

/// The peak resident set size of this process (VmHWM in /proc/self/status), in bytes.
func peakResidentSetSize() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
    let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
    return kilobytes * 1024
}

/// Runs async work from a synchronous command, blocking the calling (main) thread only.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let semaphore = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        semaphore.signal()
    }
    semaphore.wait()
    return try box.result!.get()
}

/// Hands a result from a task to the blocked thread that waits for it.
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

// MARK: Commands

struct Network: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "C-STORE throughput: storescu → storescp vs dcmsend → our SCP (one association and --parallel 2).",
        discussion: "Needs DCMTK and the dcmsend binary built next to dcmbench (swift build -c release --product dcmsend).")

    @OptionGroup var common: CommonOptions

    @Option(help: "How many 0.5 MB CT images to send (0: skip).")
    var small: Int = 2000

    @Option(help: "How many large multi-frame images to send (0: skip).")
    var large: Int = 20

    @Option(help: "Size of each large image in MB (frames of 512×512×16-bit, 2 per MB).")
    var largeMB: Int = 100

    func validate() throws {
        guard small >= 0, large >= 0, largeMB >= 1, small + large > 0 else { throw ValidationError("nothing to send") }
    }

    func run() throws {
        let report = BenchReport()
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        try NetworkBenchmark(smallCount: small, largeCount: large, largeFrames: largeMB * 2, repeats: common.repeats,
                             workdir: workdir, report: report).run()
        report.printSummary()
    }
}

struct MemoryNetwork: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory-network",
        abstract: "Peak RSS of our SCP receiving one large instance (default 2 GB) from dcmsend; exit 1 above --limit-mb.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Size of the instance in MiB (a sparse file: its pixel data is never held in memory).")
    var sizeMB: Int = 2048

    @Option(help: "The largest acceptable peak RSS of the SCP, in MB.")
    var limitMB: Int = 100

    func validate() throws {
        guard (1...4000).contains(sizeMB) else { throw ValidationError("--size-mb must be 1...4000 (one pixel data element)") }
    }

    func run() throws {
        let report = BenchReport()
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        let peak = try NetworkMemoryBenchmark(megabytesToSend: sizeMB, limitMB: limitMB, workdir: workdir, report: report).run()
        report.printSummary()
        if peak >= limitMB * 1_000_000 { throw ExitCode(1) }
    }
}

/// Hidden: our SCP for the network benchmarks. Writes its port to --port-file once listening, stores to --directory,
/// exits after --exit-after instances (or --lifetime seconds) and writes {"instances", "peakRSS"} to --result-file.
struct NetworkSCP: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "network-scp", shouldDisplay: false)

    @Option var directory: String
    @Option var temporaryDirectory: String
    @Option var portFile: String
    @Option var resultFile: String
    @Option var exitAfter: Int
    @Option var lifetime: Double = 900
    @Flag var durable = false

    func run() throws {
        let logger = {
            var logger = Logger(label: "dcmbench.scp")
            logger.logLevel = .warning
            return logger
        }()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let counter = InstanceCounter()
        let inner: StorageHandler = durable ? try DirectoryStorageHandler(directory: directory) : UnsyncedStorageHandler(directory: directory)
        let handler = CountingStorageHandler(inner: inner, counter: counter)
        let temporary = temporaryDirectory
        let server = try runBlocking {
            try await DICOMServer.start(port: 0, storageHandler: handler, temporaryDirectory: temporary, logger: logger)
        }
        try Data("\(server.port)\n".utf8).write(to: URL(fileURLWithPath: portFile + ".part"))
        guard rename(portFile + ".part", portFile) == 0 else { throw BenchError("cannot write \(portFile)") }
        let deadline = monotonicSeconds() + lifetime
        while counter.count < exitAfter, monotonicSeconds() < deadline { usleep(5_000) }
        try runBlocking { await server.shutdown(gracePeriod: .seconds(10)) }
        let result = #"{"instances": \#(counter.count), "peakRSS": \#(peakResidentSetSize())}"#
        try Data(result.utf8).write(to: URL(fileURLWithPath: resultFile))
    }
}
