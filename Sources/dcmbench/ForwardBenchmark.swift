import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Forwarding throughput (#7): a hospital node (`dcmstore` with `--forward`) emptying its queue into the central
/// `dcmstore`, against DCMTK `storescu` sending the same files straight to an identical central `dcmstore`.
///
/// The node's queue is filled while the centre is down, the node is stopped, the centre started; then the clock
/// starts with the node and stops when the node's queue journal holds a `done` line for every instance (each written
/// only after the centre answered success). Both centres fsync every instance.
///
/// With `--shaped`, the same runs go over a 2 Mbit/s link: the centre runs in a network namespace joined to this
/// one by a veth pair whose both ends are shaped with a token-bucket filter (tc tbf; this kernel has no netem).
/// The link's busy fraction is the bytes the node's end transmitted, times 8, over 2 Mbit/s × the time taken.
struct ForwardBenchmark {
    var count: Int
    var shapedCount: Int
    var repeats: Int
    var workdir: String
    var shaped: Bool
    var report: BenchReport

    static let rateBitsPerSecond = 2_000_000.0

    func run() throws {
        let dcmstore = try Self.sibling("dcmstore")
        guard isExecutable(NetworkPeers.storescu) else { throw BenchError("\(NetworkPeers.storescu) is not installed (apt-get install dcmtk)") }
        let paths = try Fixtures.ctSeries(count: count, in: workdir, log: log)
        let directory = URL(fileURLWithPath: paths[0]).deletingLastPathComponent().path
        let bytes = paths.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1))?[.size] as? Int ?? 0) }

        log("forward: storescu → central dcmstore ...")
        let direct = try bestOf(repeats) { try storescuToCentre(dcmstore: dcmstore, directory: directory, host: "127.0.0.1", namespace: nil) }
        log(String(format: "  %.2f s", direct))
        log("forward: node dcmstore → central dcmstore (queue drained) ...")
        let forwarded = try bestOf(repeats) {
            try nodeToCentre(dcmstore: dcmstore, directory: directory, expected: count, host: "127.0.0.1", namespace: nil).seconds
        }
        log(String(format: "  %.2f s", forwarded))
        var table = Table("Forwarding \(grouped(Double(count))) CT images of 512×512 (\(megabytes(bytes))), 127.0.0.1, both centres fsync (best of \(repeats))",
                          ["sender → central dcmstore", "s", "instances/s", "MB/s", "vs storescu"])
        table.add(["DCMTK `storescu` (direct)", fixed(direct), fixed(Double(count) / direct, 1), fixed(Double(bytes) / 1e6 / direct, 1), ratio(1)])
        table.add(["node `dcmstore --forward` (queue drained)", fixed(forwarded), fixed(Double(count) / forwarded, 1),
                   fixed(Double(bytes) / 1e6 / forwarded, 1), ratio(direct / forwarded)])
        table.notes.append("storescu is timed from start to exit. The node is timed from its start (the queue already filled while the " +
                           "centre was down) until its journal holds a `done` line for every instance; it reads each file from its " +
                           "archive and waits for each C-STORE-RSP, one association.")
        report.print(table)
        report.check("forwarding node → centre ≥ 0.9 × storescu direct", measured: ratio(direct / forwarded), target: "≥ 0.90×",
                     met: direct / forwarded >= 0.9)

        guard shaped else { return }
        guard let link = try ShapedLink.create(rateBitsPerSecond: Self.rateBitsPerSecond) else {
            log("forward: the shaped-link runs need root and `ip netns` / `tc`: skipped")
            return
        }
        defer { link.destroy() }
        let few = try Fixtures.ctSeries(count: shapedCount, in: workdir, log: log)
        let fewDirectory = URL(fileURLWithPath: few[0]).deletingLastPathComponent().path
        let fewBytes = few.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1))?[.size] as? Int ?? 0) }
        log("forward: over the 2 Mbit/s link: storescu → centre ...")
        var before = link.transmittedBytes()
        let directShaped = try storescuToCentre(dcmstore: dcmstore, directory: fewDirectory, host: link.centreAddress, namespace: link.namespace)
        let directBytes = link.transmittedBytes() - before
        log("forward: over the 2 Mbit/s link: node → centre ...")
        var transmitted = 0
        let node = try nodeToCentre(dcmstore: dcmstore, directory: fewDirectory, expected: shapedCount, host: link.centreAddress,
                                    namespace: link.namespace, beforeStart: { before = link.transmittedBytes() },
                                    afterDone: { transmitted = link.transmittedBytes() - before })
        func busy(_ bytes: Int, _ seconds: Double) -> Double { Double(bytes) * 8 / (Self.rateBitsPerSecond * seconds) }
        var shapedTable = Table("Forwarding \(shapedCount) CT images (\(megabytes(fewBytes))) over a link shaped to 2 Mbit/s (tc tbf, veth into a network namespace)",
                                ["sender → central dcmstore", "s", "bytes on the link", "link busy"])
        shapedTable.add(["DCMTK `storescu` (direct)", fixed(directShaped), megabytes(directBytes),
                         String(format: "%.0f%%", 100 * busy(directBytes, directShaped))])
        shapedTable.add(["node `dcmstore --forward`", fixed(node.seconds), megabytes(transmitted),
                         String(format: "%.0f%%", 100 * busy(transmitted, node.seconds))])
        shapedTable.notes.append("Link busy = bytes sent by the node's end of the veth pair (its tx_bytes counter, TCP/IP headers included) " +
                                 "× 8 / (2 Mbit/s × time). One run each: a run takes tens of seconds.")
        report.print(shapedTable)
        report.check("forwarding over 2 Mbit/s keeps the link ≥ 90% busy", measured: String(format: "%.0f%%", 100 * busy(transmitted, node.seconds)),
                     target: "≥ 90%", met: busy(transmitted, node.seconds) >= 0.9)
    }

    static func sibling(_ name: String) throws -> String {
        let path = URL(fileURLWithPath: currentExecutablePath()).deletingLastPathComponent().appendingPathComponent(name).path
        guard isExecutable(path) else { throw BenchError("\(path) not found: build it first (swift build -c release --product \(name))") }
        return path
    }

    /// `dcmstore serve` as a background child, in `namespace` when given; waits until it listens.
    func startStore(_ dcmstore: String, archive: String, aeTitle: String, host: String, port: Int, namespace: String?,
                    extra: [String] = []) throws -> BackgroundChild {
        let command = [dcmstore, "serve", "--archive", archive, "--aet", aeTitle, "--host", host, "--port", "\(port)",
                       "--log-level", "error"] + extra
        let child = try BackgroundChild(namespace.map { ["/usr/sbin/ip", "netns", "exec", $0] + command } ?? command)
        if let namespace {
            try ShapedLink.waitForListener(namespace: namespace, host: host, port: port)
        } else {
            try NetworkPeers.waitForListener(port: port)
        }
        return child
    }

    /// storescu → a fresh central dcmstore; storescu's wall time.
    func storescuToCentre(dcmstore: String, directory: String, host: String, namespace: String?) throws -> Double {
        let archive = try NetworkPeers.freshDirectory("\(workdir)/forward-centre")
        let port = NetworkPeers.freePort()
        let centre = try startStore(dcmstore, archive: archive, aeTitle: "CENTRE", host: host, port: port, namespace: namespace)
        defer { centre.terminate() }
        let result = try ChildProcess.run([NetworkPeers.storescu, "-aec", "CENTRE", "+sd", "+sp", "*.dcm", host, "\(port)", directory],
                                          environment: NetworkPeers.nodelay)
        guard result.status == 0 else { throw BenchError("storescu exited with status \(result.status)") }
        return result.seconds
    }

    /// Fills a node's queue with the centre down, then times the node draining it into a fresh centre.
    func nodeToCentre(dcmstore: String, directory: String, expected: Int, host: String, namespace: String?,
                      beforeStart: () -> Void = {}, afterDone: () -> Void = {}) throws -> (seconds: Double, done: Int) {
        let nodeArchive = try NetworkPeers.freshDirectory("\(workdir)/forward-node")
        let centreArchive = try NetworkPeers.freshDirectory("\(workdir)/forward-centre")
        let centrePort = NetworkPeers.freePort(), nodePort = NetworkPeers.freePort()
        let forward = ["--forward", "CENTRE=\(host):\(centrePort)"]
        // 1. The node receives everything while the centre is down (its forwarder only fails to connect).
        do {
            let node = try startStore(dcmstore, archive: nodeArchive, aeTitle: "NODE", host: "127.0.0.1", port: nodePort, namespace: nil, extra: forward)
            defer { node.terminate() }
            let result = try ChildProcess.run([NetworkPeers.storescu, "-aec", "NODE", "+sd", "+sp", "*.dcm", "127.0.0.1", "\(nodePort)", directory],
                                              environment: NetworkPeers.nodelay)
            guard result.status == 0 else { throw BenchError("storescu → node exited with status \(result.status)") }
        }
        // 2. The centre comes up; 3. the node starts and drains its queue.
        let centre = try startStore(dcmstore, archive: centreArchive, aeTitle: "CENTRE", host: host, port: centrePort, namespace: namespace)
        defer { centre.terminate() }
        let journal = nodeArchive + "/queue/journal.jsonl"
        beforeStart()
        let start = monotonicSeconds()
        let node = try BackgroundChild([dcmstore, "serve", "--archive", nodeArchive, "--aet", "NODE", "--host", "127.0.0.1",
                                        "--port", "\(nodePort)", "--log-level", "error"] + forward)
        defer { node.terminate() }
        var done = 0
        let deadline = start + 3600
        while done < expected {
            guard monotonicSeconds() < deadline, node.isRunning else { throw BenchError("the node delivered \(done) of \(expected)") }
            usleep(20_000)
            done = Self.doneLines(journal)
        }
        let seconds = monotonicSeconds() - start
        afterDone()
        return (seconds, done)
    }

    /// `done` lines in a queue journal (appended once the destination answered success).
    static func doneLines(_ path: String) -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        let marker = Array(#""op":"done""#.utf8)
        var count = 0
        data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var index = 0
            while index + marker.count <= bytes.count {
                if bytes[index] == marker[0], marker.indices.allSatisfy({ bytes[index + $0] == marker[$0] }) {
                    count += 1
                    index += marker.count
                } else {
                    index += 1
                }
            }
        }
        return count
    }
}

/// A veth pair into a fresh network namespace, shaped to a rate in both directions with tc tbf.
struct ShapedLink {
    let namespace: String
    let hostInterface: String
    let centreAddress = "10.77.0.2"

    /// nil when namespaces or tc are not available here (not root, no iproute2).
    static func create(rateBitsPerSecond: Double) throws -> ShapedLink? {
        let ip = "/usr/sbin/ip", tc = "/usr/sbin/tc"
        guard getuid() == 0, isExecutable(ip), isExecutable(tc) else { return nil }
        let suffix = String(getpid() % 100_000)
        let link = ShapedLink(namespace: "dcmbench\(suffix)", hostInterface: "dcmb\(suffix)h")
        let peer = "dcmb\(suffix)n"
        let rate = "\(Int(rateBitsPerSecond / 1000))kbit"
        let steps: [[String]] = [
            [ip, "netns", "add", link.namespace],
            [ip, "link", "add", link.hostInterface, "type", "veth", "peer", "name", peer],
            [ip, "link", "set", peer, "netns", link.namespace],
            [ip, "addr", "add", "10.77.0.1/24", "dev", link.hostInterface],
            [ip, "link", "set", link.hostInterface, "up"],
            [ip, "netns", "exec", link.namespace, ip, "addr", "add", "\(link.centreAddress)/24", "dev", peer],
            [ip, "netns", "exec", link.namespace, ip, "link", "set", peer, "up"],
            [ip, "netns", "exec", link.namespace, ip, "link", "set", "lo", "up"],
            [tc, "qdisc", "add", "dev", link.hostInterface, "root", "tbf", "rate", rate, "burst", "16kb", "latency", "100ms"],
            [ip, "netns", "exec", link.namespace, tc, "qdisc", "add", "dev", peer, "root", "tbf", "rate", rate, "burst", "16kb", "latency", "100ms"],
        ]
        for step in steps {
            let result = try ChildProcess.run(step)
            guard result.status == 0 else {
                link.destroy()
                log("forward: `\(step.joined(separator: " "))` failed with status \(result.status)")
                return nil
            }
        }
        return link
    }

    /// Removes the namespace (which removes the veth pair with it).
    func destroy() {
        _ = try? ChildProcess.run(["/usr/sbin/ip", "link", "del", hostInterface])
        _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", namespace])
    }

    /// Bytes the host end has transmitted so far.
    func transmittedBytes() -> Int {
        let path = "/sys/class/net/\(hostInterface)/statistics/tx_bytes"
        return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
    }

    /// Waits (up to 30 s) until something listens on host:port inside the namespace (probed with bash's /dev/tcp there).
    static func waitForListener(namespace: String, host: String, port: Int) throws {
        for _ in 0..<300 {
            let probe = try ChildProcess.run(["/usr/sbin/ip", "netns", "exec", namespace, "/bin/bash", "-c", "exec 2>/dev/null; exec 3<>/dev/tcp/\(host)/\(port)"])
            if probe.status == 0 { return }
            usleep(100_000)
        }
        throw BenchError("nothing listens on \(host):\(port) in namespace \(namespace) after 30 s")
    }
}

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forwarding throughput: a node dcmstore draining its queue into a central dcmstore vs storescu sending directly.",
        discussion: """
            Needs DCMTK and dcmstore built next to dcmbench (swift build -c release --product dcmstore). With --shaped (root, \
            iproute2): the same over a veth link shaped to 2 Mbit/s, reporting how busy the node keeps the link.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "How many 0.5 MB CT images to forward over loopback.")
    var count: Int = 1000

    @Flag(help: "Also run over a link shaped to 2 Mbit/s (needs root).")
    var shaped = false

    @Option(name: .customLong("shaped-count"), help: "How many 0.5 MB CT images to forward over the shaped link.")
    var shapedCount: Int = 12

    func validate() throws {
        guard count >= 1, shapedCount >= 1 else { throw ValidationError("--count and --shaped-count must be at least 1") }
    }

    func run() throws {
        let report = BenchReport()
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        try ForwardBenchmark(count: count, shapedCount: shapedCount, repeats: common.repeats, workdir: workdir, shaped: shaped,
                             report: report).run()
        report.printSummary()
    }
}
