import ArgumentParser
import DICOMArchive
import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `dcmbench archive`: the archive node (`dcmstore`) against DCMTK and Orthanc, in one run:
///
/// 1. durable ingest of CT instances sent by DCMTK `storescu` (one and four associations) into `dcmstore`
///    and into DCMTK `storescp` (which does not fsync);
/// 2. C-FIND latency at STUDY level (by Patient ID, by Patient's Name wildcard, by Study Date range, by Accession Number) as repeated
///    queries over one open association, against `dcmstore`, Orthanc and DCMTK `dcmqrscp`;
/// 3. start-up time of `dcmstore serve` and the resident memory of its loaded index.
struct ArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Archive node: durable ingest vs storescp, study-level C-FIND latency vs Orthanc and dcmqrscp, start-up time.",
        discussion: """
            Needs the release `dcmstore` next to `dcmbench` (or --dcmstore), /usr/bin/storescu, /usr/bin/storescp,
            /usr/bin/dcmqrscp and /usr/sbin/Orthanc. Query archives for dcmstore are built directly through the
            DICOMArchive index API (records only, no files); Orthanc and dcmqrscp are loaded with storescu.
            Generated data and archives are kept in --workdir and reused by later runs.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "CT instances (~0.5 MB each) sent for the ingest measurement (0: skip).")
    var ingest: Int = 2_000

    @Option(help: "Instances in the main query archive (dcmstore only; 0: skip).")
    var instances: Int = 100_000

    @Option(help: "Studies in the main query archive.")
    var studies: Int = 10_000

    @Option(help: "Instances of the archive loaded into Orthanc, and into dcmstore for comparison (0: skip).")
    var compareInstances: Int = 10_000

    @Option(help: "Studies of the comparison archive.")
    var compareStudies: Int = 1_000

    @Option(help: "Studies loaded into dcmqrscp (it holds at most 500), at the comparison archive's instances per study (0: skip).")
    var dcmqrscpStudies: Int = 500

    @Option(help: "Instances of the large dcmstore archive (index only, 10 per study; 0: skip).")
    var large: Int = 1_000_000

    @Option(help: "Queries of each kind per archive.")
    var queries: Int = 200

    @Flag(help: "Skip Orthanc (in the ingest table and the C-FIND rows).")
    var skipOrthanc = false

    @Option(help: "The dcmstore executable (default: next to dcmbench).")
    var dcmstore: String?

    func validate() throws {
        guard ingest >= 0, instances >= 0, compareInstances >= 0, large >= 0, dcmqrscpStudies >= 0 else {
            throw ValidationError("counts must not be negative")
        }
        guard queries >= 1 else { throw ValidationError("--queries must be at least 1") }
        for (n, s, name) in [(instances, studies, "--instances/--studies"), (compareInstances, compareStudies, "--compare-instances/--compare-studies")]
        where n > 0 {
            guard s >= 2, n >= s, n % s == 0 else {
                throw ValidationError("\(name): need at least 2 studies and a whole number of instances per study")
            }
        }
        if dcmqrscpStudies > 500 { throw ValidationError("--dcmqrscp-studies: dcmqrscp holds at most 500 studies") }
    }

    func run() throws {
        let workdir = try common.prepareWorkdir()
        printHeader(workdir: workdir)
        let report = BenchReport()
        let store = dcmstore ?? URL(fileURLWithPath: currentExecutablePath()).deletingLastPathComponent().appendingPathComponent("dcmstore").path
        guard isExecutable(store) else { throw BenchError("dcmstore not found at \(store); build it with --product dcmstore") }
        let benchmark = ArchiveBenchmark(options: self, workdir: workdir, dcmstore: store, report: report)
        var failures: [String] = []
        func attempt(_ name: String, _ body: () throws -> Void) {
            do { try body() } catch {
                log("FAILED: \(name): \(error)")
                failures.append("\(name): \(error)")
            }
        }
        if ingest > 0 { attempt("ingest") { try benchmark.runIngest() } }
        attempt("query") { try benchmark.runQueries() }
        report.printSummary()
        if !failures.isEmpty {
            print("Failed:\n" + failures.map { "- " + $0 }.joined(separator: "\n"))
            throw ExitCode(1)
        }
    }
}

/// The measurements behind ``ArchiveCommand``.
struct ArchiveBenchmark {
    let options: ArchiveCommand
    let workdir: String
    let dcmstore: String
    let report: BenchReport

    static let storescu = "/usr/bin/storescu"
    static let storescp = "/usr/bin/storescp"
    static let dcmqrscp = "/usr/bin/dcmqrscp"
    static let orthanc = "/usr/sbin/Orthanc"
    static let nodelay = ["TCP_NODELAY": "1"]
    static let callingAE = "ABENCH"

    // MARK: Ingest

    func runIngest() throws {
        for tool in [Self.storescu, Self.storescp] where !isExecutable(tool) { throw BenchError("\(tool) is not installed (apt-get install dcmtk)") }
        let files = try Fixtures.ctSeries(count: options.ingest, in: workdir, log: log)
        let bytes = files.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
        let scratch = workdir + "/archive-ingest"
        let withOrthanc = !options.skipOrthanc
        if withOrthanc, !isExecutable(Self.orthanc) { throw BenchError("\(Self.orthanc) is not installed (apt-get install orthanc), or pass --skip-orthanc") }
        var table = Table("Archive ingest: \(grouped(Double(files.count))) CT instances (\(megabytes(bytes))) from DCMTK storescu",
                          ["associations", "dcmstore (fsync)", "DCMTK storescp (no fsync)", "dcmstore / storescp",
                           "storescp, then sync", "dcmstore / (storescp, then sync)"]
                            + (withOrthanc ? ["Orthanc (SQLite)", "dcmstore / Orthanc"] : []))
        // Each run writes into a directory of its own, all removed at the end: deleting 2,000 files just before the next
        // run made its file creations scan the inodes just freed (ext4 skips recently deleted inodes), a cost that
        // landed on whichever receiver ran next.
        try? FileManager.default.removeItem(atPath: scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var attempt = 0
        func fresh(_ name: String) throws -> String {
            attempt += 1
            return try Self.fresh(scratch + "/\(name)-\(attempt)")
        }
        for associations in [1, 4] {
            let lists = Self.split(files, into: associations)
            func ours() throws -> Double {
                let directory = try fresh("dcmstore")
                let server = try ArchiveServer.start(dcmstore: dcmstore, archive: directory, logPath: scratch + "/dcmstore.log")
                defer { server.process.terminate(timeout: 60) }
                let seconds = try Self.sendAll(lists, calledAE: "DCMSTORE", port: server.port)
                let stored = Self.countFiles(in: directory + "/data")
                guard stored == files.count else { throw BenchError("dcmstore stored \(stored) of \(files.count) instances") }
                return seconds
            }
            /// The send time, and the time the `sync()` right after it took to write what storescp left in the page cache.
            func storescp() throws -> (seconds: Double, syncSeconds: Double) {
                let directory = try fresh("storescp")
                let port = Self.freePort()
                // storescp serves one association at a time unless it forks one process per association.
                let arguments = [Self.storescp, "-aet", "STORESCP", "-od", directory, "-dhl"] + (associations > 1 ? ["--fork"] : []) + ["\(port)"]
                let server = try SpawnedProcess(arguments, environment: Self.nodelay, stdoutPath: scratch + "/storescp.log")
                defer { server.terminate(timeout: 10) }
                try Self.waitForListener(port: port, process: server, timeout: 30)
                let seconds = try Self.sendAll(lists, calledAE: "STORESCP", port: port)
                // With --fork the children may still be writing their last file when storescu exits.
                let deadline = monotonicSeconds() + 10
                var stored = Self.countFiles(in: directory)
                while stored < files.count && monotonicSeconds() < deadline { usleep(20_000); stored = Self.countFiles(in: directory) }
                guard stored == files.count else { throw BenchError("storescp stored \(stored) of \(files.count) instances") }
                let syncStart = monotonicSeconds()
                sync()
                return (seconds, monotonicSeconds() - syncStart)
            }
            /// Orthanc with a fresh storage area and SQLite index, as `orthancRow` configures it.
            func orthanc() throws -> Double {
                let directory = try fresh("orthanc")
                let server = try Self.startOrthanc(in: directory)
                defer { server.process.terminate(timeout: 30) }
                let seconds = try Self.sendAll(lists, calledAE: "ORTHANC", port: server.dicomPort)
                let stored = Self.countFiles(in: directory + "/storage")
                guard stored >= files.count else { throw BenchError("Orthanc stored \(stored) of \(files.count) instances") }
                return seconds
            }
            // The receivers take turns, each run after `sync()`, so that none inherits the writeback of another's
            // gigabyte (storescp leaves it all in the page cache); each keeps its best time.
            var oursSeconds = Double.infinity, dcmtk = Double.infinity, dcmtkSynced = Double.infinity, orthancSeconds = Double.infinity
            for _ in 0..<max(1, options.common.repeats) {
                sync()
                oursSeconds = min(oursSeconds, try ours())
                sync()
                let run = try storescp()
                dcmtk = min(dcmtk, run.seconds)
                dcmtkSynced = min(dcmtkSynced, run.seconds + run.syncSeconds)
                if withOrthanc {
                    sync()
                    orthancSeconds = min(orthancSeconds, try orthanc())
                }
            }
            let oursRate = Double(files.count) / oursSeconds, dcmtkRate = Double(files.count) / dcmtk
            let syncedRate = Double(files.count) / dcmtkSynced, orthancRate = Double(files.count) / orthancSeconds
            table.add(["\(associations)", "\(grouped(oursRate)) instances/s", "\(grouped(dcmtkRate)) instances/s", ratio(oursRate / dcmtkRate),
                       "\(grouped(syncedRate)) instances/s", ratio(oursRate / syncedRate)]
                      + (withOrthanc ? ["\(grouped(orthancRate)) instances/s", ratio(oursRate / orthancRate)] : []))
            report.check("archive ingest, \(associations) association(s): dcmstore ≥ storescp", measured: ratio(oursRate / dcmtkRate),
                         target: "≥ 1.00×", met: oursRate >= dcmtkRate)
        }
        table.notes.append("Sender: `TCP_NODELAY=1 storescu -aec AE 127.0.0.1 PORT files…`, one process per association, " +
                           "all started together; time from the first start to the last exit, best of \(options.common.repeats) (the " +
                           "receivers take turns, each run after `sync()`). " +
                           "dcmstore fsyncs every file, its directory and the index journal before answering; " +
                           "storescp (`-od DIR`, `--fork` for 4 associations) does not fsync. \"storescp, then sync\" adds the time of a " +
                           "`sync()` called as soon as the last storescu exits: until then storescp's instances are in the page cache " +
                           "only (the target compares with storescp without it)." +
                           (withOrthanc ? " Orthanc \(Self.orthancVersion()) (default SQLite index, `TCP_NODELAY=1` like the DCMTK tools: " +
                            "its network layer is DCMTK's) commits its index with one `fdatasync` per instance and does not fsync " +
                            "the files; it starts with an empty storage area each run." : ""))
        report.print(table)
    }

    /// Loads a query archive: one storescu after another, 5,000 files each (100,000 paths exceed the kernel's limit on
    /// a command line); returns the total time.
    static func load(_ files: [String], calledAE: String, port: Int) throws -> Double {
        var seconds = 0.0
        for start in stride(from: 0, to: files.count, by: 5_000) {
            seconds += try sendAll([Array(files[start..<min(start + 5_000, files.count)])], calledAE: calledAE, port: port)
        }
        return seconds
    }

    /// Runs one storescu per file list in parallel; returns the wall time until the last one exits.
    static func sendAll(_ lists: [[String]], calledAE: String, port: Int) throws -> Double {
        let start = monotonicSeconds()
        let senders = try lists.map { list in
            try SpawnedProcess([storescu, "-aet", callingAE, "-aec", calledAE, "127.0.0.1", "\(port)"] + list, environment: nodelay)
        }
        var statuses: [Int32] = []
        for sender in senders { statuses.append(sender.waitForExit()) }
        let seconds = monotonicSeconds() - start
        guard statuses.allSatisfy({ $0 == 0 }) else { throw BenchError("storescu → \(calledAE) exited with \(statuses)") }
        return seconds
    }

    static func split(_ files: [String], into parts: Int) -> [[String]] {
        let size = (files.count + parts - 1) / parts
        return stride(from: 0, to: files.count, by: size).map { Array(files[$0..<min(files.count, $0 + size)]) }
    }

    // MARK: Queries

    func runQueries() throws {
        var table = Table("Archive C-FIND at STUDY level: \(options.queries) queries of each kind over one association",
                          ["server", "archive", "start-up", "index RSS", "by Patient ID p50 / p99", "by name \"ABC*\" p50 / p99",
                           "by date range p50 / p99", "by accession p50 / p99",
                           "patients by name p50 / p99", "mean matches (ID / name / date / accession / patients)"])
        let perStudyCompare = options.compareInstances > 0 ? options.compareInstances / options.compareStudies : 10
        var failures: [String] = []
        func row(_ name: String, _ body: () throws -> [String]) {
            do { table.add(try body()) } catch {
                log("FAILED: \(name): \(error)")
                failures.append(name)
                table.add([name, "failed: \(error)"])
            }
        }
        if options.dcmqrscpStudies > 0 {
            let size = ArchiveShape(instances: options.dcmqrscpStudies * perStudyCompare, studies: options.dcmqrscpStudies)
            row("dcmstore \(size)") { try ours(size) }
            row("DCMTK dcmqrscp \(size)") { try dcmqrscpRow(size) }
        }
        if options.compareInstances > 0 {
            let size = ArchiveShape(instances: options.compareInstances, studies: options.compareStudies)
            row("dcmstore \(size)") { try ours(size) }
            if !options.skipOrthanc { row("Orthanc \(size)") { try orthancRow(size) } }
        }
        var main: [String]?
        if options.instances > 0 {
            let size = ArchiveShape(instances: options.instances, studies: options.studies)
            row("dcmstore \(size)") { let r = try ours(size); main = r; return r }
        }
        var largeRow: [String]?
        if options.large > 0 {
            let size = ArchiveShape(instances: options.large, studies: max(2, options.large / 10))
            row("dcmstore \(size)") { let r = try ours(size); largeRow = r; return r }
        }
        table.notes.append("Queries are Study Root C-FIND-RQ at STUDY level asking for Study Instance UID, Date, Time, Accession Number, " +
                           "Study ID, Description, Patient's Name and Patient ID, sent one after another by swift-dicom's client over one " +
                           "association (Explicit VR LE), after \(ArchiveBenchmark.warmup) warm-up queries; latency is request sent to final " +
                           "response received. Patients hold 2 studies each; names \"ABC*\" use the 3-letter prefix of a random patient's " +
                           "family name (500 distinct prefixes); date ranges are 7 days over 10 years of study dates; accession numbers are " +
                           "a random study's. \"Patients by name\" is a Patient Root C-FIND-RQ at PATIENT level, \"ABC*\" as above, asking " +
                           "for Patient's Name, Patient ID, Birth Date, Sex and Number of Patient Related Studies.")
        table.notes.append("dcmstore archives are built with the DICOMArchive index API (records, no files); start-up is from spawning " +
                           "`dcmstore serve` to its \"listening\" line; index RSS is VmRSS of the dcmstore process after start-up.")
        report.print(table)
        if let main { checkTargets(main, "100k") }
        if let largeRow { checkTargets(largeRow, "1M") }
        if !failures.isEmpty { throw BenchError("query rows failed: \(failures.joined(separator: ", "))") }
    }

    private func checkTargets(_ row: [String], _ label: String) {
        for (index, kind) in [(4, "Patient ID"), (5, "name wildcard"), (6, "date range"), (7, "accession number"),
                              (8, "patient-level name wildcard")] {
            let p50 = Double(row[index].split(separator: " ").first ?? "") ?? .infinity
            report.check("C-FIND p50 by \(kind) at \(row[1])", measured: "\(fixed(p50)) ms", target: "< 5 ms", met: p50 < 5)
        }
        // The issue sets the start-up target on the 100,000-instance archive only; the 1M start-up is in the table.
        guard label == "100k" else { return }
        let startup = Double(row[2].split(separator: " ").first ?? "") ?? .infinity
        report.check("dcmstore start-up at \(row[1])", measured: "\(fixed(startup)) s", target: "< 3 s", met: startup < 3)
    }

    static let warmup = 5

    /// Builds (once) a dcmstore archive of the given shape, starts `dcmstore serve` on it and measures.
    func ours(_ size: ArchiveShape) throws -> [String] {
        let archive = try buildArchive(size)
        let server = try ArchiveServer.start(dcmstore: dcmstore, archive: archive, logPath: workdir + "/dcmstore-query.log")
        defer { server.process.terminate(timeout: 300) }
        let rss = Self.residentKilobytes(pid: server.process.pid)
        log("dcmstore on \(size): started in \(fixed(server.startup, 3)) s, VmRSS \(rss / 1024) MiB")
        let result = try measure(port: server.port, calledAE: "DCMSTORE", size: size)
        return ["dcmstore", "\(size)", "\(fixed(server.startup, 2)) s", "\(grouped(Double(rss) / 1024)) MiB"] + result
    }

    /// Times the five kinds of query against a running server; returns the table cells.
    func measure(port: Int, calledAE: String, size: ArchiveShape) throws -> [String] {
        let plan = QueryPlan(size: size, count: options.queries)
        let count = options.queries
        let timings = try blockingAsync { () async throws -> [QueryTiming] in
            let association = try await DICOMClient.connect(
                host: "127.0.0.1", port: port, callingAE: try AETitle(ArchiveBenchmark.callingAE), calledAE: try AETitle(calledAE),
                presentationContexts: DICOMClient.queryRetrieveContexts([QueryRetrieveModel.studyRootFind, QueryRetrieveModel.patientRootFind]))
            var results: [QueryTiming] = []
            do {
                for kind in QueryPlan.Kind.allCases {
                    let identifiers = plan.identifiers(kind)
                    for identifier in identifiers.prefix(ArchiveBenchmark.warmup) { _ = try await association.find(identifier, model: kind.model) }
                    var times: [Double] = []
                    var matches = 0
                    for identifier in identifiers.prefix(count) {
                        let start = monotonicSeconds()
                        let result = try await association.find(identifier, model: kind.model)
                        times.append((monotonicSeconds() - start) * 1000)
                        guard result.status.isSuccess else {
                            throw BenchError("\(calledAE): C-FIND \(kind) ended with status \(result.status) \(result.errorComment ?? "")")
                        }
                        matches += result.matches.count
                    }
                    results.append(QueryTiming(milliseconds: times, matches: matches))
                }
            } catch {
                await association.abort()
                throw error
            }
            try await association.release()
            return results
        }
        let cells = timings.map { "\(fixed(Self.percentile($0.milliseconds, 0.5))) / \(fixed(Self.percentile($0.milliseconds, 0.99))) ms" }
        let matches = timings.map { fixed(Double($0.matches) / Double(count), 1) }.joined(separator: " / ")
        guard timings.allSatisfy({ $0.matches > 0 }) else { throw BenchError("\(calledAE): a query kind matched nothing (\(matches))") }
        return cells + [matches]
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// An archive folder whose index holds `size` (records only), built once through JSONArchiveIndex.
    func buildArchive(_ size: ArchiveShape) throws -> String {
        let root = "\(workdir)/archive-\(size.instances)-\(size.studies)"
        let marker = root + "/.complete"
        if FileManager.default.fileExists(atPath: marker) { return root }
        try? FileManager.default.removeItem(atPath: root)
        let layout = ArchiveLayout(root: root)
        try layout.createDirectories()
        log("building a dcmstore index of \(size) in \(root) ...")
        let start = monotonicSeconds()
        let batch = 20_000
        try blockingAsync { () async throws -> Void in
            let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory)
            let received = Date()
            for first in stride(from: 0, to: size.instances, by: batch) {
                var records: [InstanceRecord] = []
                records.reserveCapacity(batch)
                for i in first..<min(size.instances, first + batch) {
                    let dataSet = try QueryFixtures.instance(i, size: size)
                    let study = dataSet.string(.studyInstanceUID) ?? "", series = dataSet.string(.seriesInstanceUID) ?? ""
                    let sop = dataSet.string(.sopInstanceUID) ?? ""
                    records.append(try InstanceRecord.make(from: dataSet, path: "data/\(study)/\(series)/\(sop).dcm", size: 1_024,
                                                           transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid,
                                                           sha256: String(repeating: "0", count: 64), receivedAt: received,
                                                           callingAETitle: ArchiveBenchmark.callingAE))
                }
                try await index.add(records)
            }
            try await index.compact()
            await index.close()
        }
        try Fixtures.writePlain(Data(), to: marker)
        log(String(format: "  done in %.1f s", monotonicSeconds() - start))
        return root
    }

    /// Part 10 files of `size` (tiny pixel data), written once, for the servers loaded over the network.
    func queryFiles(_ size: ArchiveShape) throws -> [String] {
        let directory = "\(workdir)/query-files-\(size.instances)-\(size.studies)"
        let paths = (0..<size.instances).map { "\(directory)/I\(String(format: "%07d", $0)).dcm" }
        if FileManager.default.fileExists(atPath: directory + "/.complete") { return paths }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        log("writing \(size.instances) small files in \(directory) ...")
        for (i, path) in paths.enumerated() {
            var dataSet = try QueryFixtures.instance(i, size: size)
            dataSet.set(DataElement(tag: .pixelData, vr: .OW, bytes: Data(count: 8 * 8 * 2)))
            try Fixtures.writePlain(try DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian).encoded(), to: path)
        }
        try Fixtures.writePlain(Data(), to: directory + "/.complete")
        return paths
    }

    // MARK: Orthanc

    /// Starts Orthanc on free ports with its storage area and SQLite index in `directory` (kept between runs).
    /// `TCP_NODELAY=1`: Orthanc's DICOM network layer is DCMTK's, which otherwise waits for the delayed ACK (40 ms)
    /// before each small message, as the DCMTK tools do.
    static func startOrthanc(in directory: String) throws -> (process: SpawnedProcess, dicomPort: Int) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dicomPort = freePort(), httpPort = freePort(avoiding: [dicomPort])
        let config: [String: Any] = [
            "Name": "dcmbench", "StorageDirectory": directory + "/storage", "IndexDirectory": directory + "/index",
            "HttpPort": httpPort, "DicomPort": dicomPort, "DicomAet": "ORTHANC", "DicomCheckCalledAet": false,
            "RemoteAccessAllowed": false, "AuthenticationEnabled": false, "DicomAlwaysAllowStore": true,
            "DicomAlwaysAllowFind": true, "DicomAlwaysAllowEcho": true, "DicomCheckModalityHost": false,
            "DicomModalities": ["abench": [callingAE, "127.0.0.1", 104]], "SaveJobs": false, "Plugins": [String](),
        ]
        let configPath = directory + "/config.json"
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: configPath))
        let server = try SpawnedProcess([orthanc, configPath], environment: nodelay,
                                        stdoutPath: directory + "/orthanc.log", stderrPath: directory + "/orthanc.log")
        do {
            try waitForListener(port: dicomPort, process: server, timeout: 60)
        } catch {
            server.terminate(timeout: 30)
            throw error
        }
        return (server, dicomPort)
    }

    func orthancRow(_ size: ArchiveShape) throws -> [String] {
        guard isExecutable(Self.orthanc) else { throw BenchError("\(Self.orthanc) is not installed (apt-get install orthanc)") }
        let files = try queryFiles(size)
        let directory = "\(workdir)/orthanc-\(size.instances)-\(size.studies)"
        let loaded = FileManager.default.fileExists(atPath: directory + "/.loaded")
        if !loaded { try? FileManager.default.removeItem(atPath: directory) }
        let (server, dicomPort) = try Self.startOrthanc(in: directory)
        defer { server.terminate(timeout: 30) }
        if !loaded {
            log("loading \(files.count) instances into Orthanc with storescu ...")
            let seconds = try Self.load(files, calledAE: "ORTHANC", port: dicomPort)
            log("  \(fixed(seconds, 1)) s (\(grouped(Double(files.count) / seconds)) instances/s)")
            try Fixtures.writePlain(Data(), to: directory + "/.loaded")
        }
        let rss = Self.residentKilobytes(pid: server.pid)
        let result = try measure(port: dicomPort, calledAE: "ORTHANC", size: size)
        return ["Orthanc \(Self.orthancVersion()) (SQLite)", "\(size)", "", "\(grouped(Double(rss) / 1024)) MiB (whole process)"] + result
    }

    static func orthancVersion() -> String {
        let output = NSTemporaryDirectory() + "/dcmbench-orthanc-version.txt"
        guard (try? ChildProcess.run([orthanc, "--version"], stdoutPath: output)) != nil,
              let text = try? String(contentsOfFile: output, encoding: .utf8),
              let first = text.split(separator: "\n").first else { return "" }
        return String(first.split(separator: " ").last ?? "")
    }

    // MARK: dcmqrscp

    func dcmqrscpRow(_ size: ArchiveShape) throws -> [String] {
        guard isExecutable(Self.dcmqrscp) else { throw BenchError("\(Self.dcmqrscp) is not installed (apt-get install dcmtk)") }
        let files = try queryFiles(size)
        let directory = "\(workdir)/dcmqrscp-\(size.instances)-\(size.studies)"
        let loaded = FileManager.default.fileExists(atPath: directory + "/.loaded")
        if !loaded { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/storage", withIntermediateDirectories: true)
        let port = Self.freePort()
        let config = """
            NetworkTCPPort = \(port)
            MaxPDUSize = 16384
            MaxAssociations = 16

            HostTable BEGIN
            HostTable END

            VendorTable BEGIN
            VendorTable END

            AETable BEGIN
            DCMQRSCP \(directory)/storage RW (\(size.studies), 1024mb) ANY
            AETable END

            """
        let configPath = directory + "/dcmqrscp.cfg"
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        let server = try SpawnedProcess([Self.dcmqrscp, "-c", configPath, "-dhl"], environment: Self.nodelay,
                                        stdoutPath: directory + "/dcmqrscp.log", stderrPath: directory + "/dcmqrscp.log")
        defer { server.terminate(timeout: 10) }
        try Self.waitForListener(port: port, process: server, timeout: 30)
        if !loaded {
            log("loading \(files.count) instances into dcmqrscp with storescu ...")
            let seconds = try Self.load(files, calledAE: "DCMQRSCP", port: port)
            log("  \(fixed(seconds, 1)) s (\(grouped(Double(files.count) / seconds)) instances/s)")
            try Fixtures.writePlain(Data(), to: directory + "/.loaded")
        }
        let result = try measure(port: port, calledAE: "DCMQRSCP", size: size)
        return ["DCMTK dcmqrscp", "\(size)", "", ""] + result
    }

    // MARK: Processes and files

    static func fresh(_ path: String) throws -> String {
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Regular files under a directory, recursively, hidden files excluded.
    static func countFiles(in directory: String) -> Int {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var count = 0
        while let name = enumerator.nextObject() as? String {
            var info = stat()
            guard !(name.split(separator: "/").last?.hasPrefix(".") ?? true),
                  lstat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            count += 1
        }
        return count
    }

    /// VmRSS of a process in KiB (0 when unreadable).
    static func residentKilobytes(pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return line.split(separator: " ").compactMap { Int($0) }.first ?? 0
    }

    /// A TCP port on 127.0.0.1 that nobody listens on right now.
    static func freePort(avoiding: [Int] = []) -> Int {
        for _ in 0..<20 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { break }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            if bound {
                let port = Int(UInt16(bigEndian: address.sin_port))
                if !avoiding.contains(port) { return port }
            }
        }
        return 20_000 + Int.random(in: 0..<20_000)
    }

    /// Waits until something listens on `port` (read from /proc/net/tcp, so that no probe connection disturbs the server).
    static func waitForListener(port: Int, process: SpawnedProcess, timeout: Double) throws {
        let needle = String(format: ":%04X ", port)
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            if let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) {
                for line in table.split(separator: "\n") {
                    let fields = line.split(separator: " ")
                    if fields.count > 3, (String(fields[1]) + " ").hasSuffix(needle), fields[3] == "0A" { return }
                }
            }
            guard process.isRunning else { throw BenchError("\(process.name) exited before listening on port \(port)") }
            usleep(10_000)
        }
        throw BenchError("\(process.name) does not listen on port \(port) after \(Int(timeout)) s")
    }
}

/// How many instances and studies an archive holds.
struct ArchiveShape: CustomStringConvertible {
    var instances: Int
    var studies: Int
    var description: String { "\(grouped(Double(instances))) inst. / \(grouped(Double(studies))) studies" }
}

/// The attributes of the query archives' instances: 2 studies per patient, 2 series per study, study dates over ten years.
enum QueryFixtures {
    static let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    static let prefixes = 500

    /// Study dates as DA strings for day offsets 0..<3650 from 2015-01-01.
    static let dates: [String] = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let base = calendar.date(from: DateComponents(year: 2015, month: 1, day: 1))!
        return (0..<3650).map { day in
            let c = calendar.dateComponents([.year, .month, .day], from: base.addingTimeInterval(Double(day) * 86_400))
            return String(format: "%04d%02d%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
        }
    }()

    static func dayOffset(study: Int) -> Int { (study &* 7_919) % dates.count }
    static func patient(study: Int) -> Int { study / 2 }
    static func patientID(_ patient: Int) -> String { "PID\(String(format: "%08d", patient))" }
    static func accessionNumber(study: Int) -> String { "A\(String(format: "%09d", study))" }

    /// A family name whose first three letters are one of ``prefixes`` combinations, then a per-patient tail.
    static func familyName(_ patient: Int) -> String {
        let p = (patient &* 7) % prefixes
        let head = String([letters[p % 26], letters[(p / 26) % 26], letters[(p / 676 + p) % 26]])
        var tail = "", n = patient
        for _ in 0..<4 { tail.append(letters[n % 26]); n /= 26 }
        return head + tail.lowercased()
    }

    static func instance(_ i: Int, size: ArchiveShape) throws -> DataSet {
        let perStudy = size.instances / size.studies
        let study = i / perStudy, within = i % perStudy
        let series = within * 2 / perStudy
        let patient = patient(study: study)
        var ds = DataSet()
        ds.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 100")
        ds.setASCII(.sopClassUID, vr: .UI, Fixtures.ctImageStorage)
        ds.setASCII(.sopInstanceUID, vr: .UI, Fixtures.uid(13, UInt64(i)))
        ds.setASCII(.studyDate, vr: .DA, dates[dayOffset(study: study)])
        ds.setASCII(.studyTime, vr: .TM, String(format: "%02d%02d%02d", 7 + study % 12, study % 60, (study / 60) % 60))
        ds.setASCII(.accessionNumber, vr: .SH, accessionNumber(study: study))
        ds.setASCII(.modality, vr: .CS, "CT")
        try ds.set(.referringPhysicianName, vr: .PN, string: "Smith^Jane")
        try ds.set(.studyDescription, vr: .LO, string: "CT THORAX")
        try ds.set(.seriesDescription, vr: .LO, string: "Series \(series + 1)")
        try ds.set(.patientName, vr: .PN, string: "\(familyName(patient))^Pat\(patient % 97)")
        ds.setASCII(.patientID, vr: .LO, patientID(patient))
        ds.setASCII(.patientBirthDate, vr: .DA, dates[(patient &* 31) % dates.count].replacingOccurrences(of: "20", with: "19", options: .anchored))
        ds.setASCII(.patientSex, vr: .CS, patient % 2 == 0 ? "F" : "M")
        ds.setASCII(.studyInstanceUID, vr: .UI, Fixtures.uid(11, UInt64(study)))
        ds.setASCII(.seriesInstanceUID, vr: .UI, Fixtures.uid(12, UInt64(study * 2 + series)))
        ds.setASCII(.studyID, vr: .SH, "\(study % 100_000)")
        try ds.set(.seriesNumber, vr: .IS, integers: [series + 1])
        try ds.set(.instanceNumber, vr: .IS, integers: [within + 1])
        try ds.set(.samplesPerPixel, vr: .US, integers: [1])
        ds.setASCII(.photometricInterpretation, vr: .CS, "MONOCHROME2")
        try ds.set(.rows, vr: .US, integers: [8])
        try ds.set(.columns, vr: .US, integers: [8])
        try ds.set(.bitsAllocated, vr: .US, integers: [16])
        try ds.set(.bitsStored, vr: .US, integers: [12])
        try ds.set(.highBit, vr: .US, integers: [11])
        try ds.set(.pixelRepresentation, vr: .US, integers: [0])
        return ds
    }
}

/// The queries sent to every server for one archive shape: same seed, same identifiers.
struct QueryPlan {
    enum Kind: String, CaseIterable {
        case patientID, nameWildcard, dateRange, accessionNumber, patientLevelName

        /// The information model the query is sent in.
        var model: String {
            self == .patientLevelName ? QueryRetrieveModel.patientRootFind : QueryRetrieveModel.studyRootFind
        }
    }
    let size: ArchiveShape
    let count: Int

    func identifiers(_ kind: Kind) -> [DataSet] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(Kind.allCases.firstIndex(of: kind) ?? 0)
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        return (0..<(count + ArchiveBenchmark.warmup)).map { _ in
            let study = next(size.studies)
            var patientID = "", name = "", date = "", accession = ""
            switch kind {
            case .patientID: patientID = QueryFixtures.patientID(QueryFixtures.patient(study: study))
            case .nameWildcard: name = String(QueryFixtures.familyName(QueryFixtures.patient(study: study)).prefix(3)) + "*"
            case .dateRange:
                let first = min(QueryFixtures.dayOffset(study: study), QueryFixtures.dates.count - 7)
                date = QueryFixtures.dates[first] + "-" + QueryFixtures.dates[first + 6]
            case .accessionNumber: accession = QueryFixtures.accessionNumber(study: study)
            case .patientLevelName:
                var ds = DataSet()
                ds.setASCII(.queryRetrieveLevel, vr: .CS, "PATIENT")
                ds.setASCII(.patientName, vr: .PN, String(QueryFixtures.familyName(QueryFixtures.patient(study: study)).prefix(3)) + "*")
                ds.setASCII(.patientID, vr: .LO, "")
                ds.setASCII(.patientBirthDate, vr: .DA, "")
                ds.setASCII(.patientSex, vr: .CS, "")
                ds.setASCII(Tag(0x0020, 0x1200), vr: .IS, "")
                return ds
            }
            var ds = DataSet()
            ds.setASCII(.queryRetrieveLevel, vr: .CS, "STUDY")
            ds.setASCII(.studyInstanceUID, vr: .UI, "")
            ds.setASCII(.studyDate, vr: .DA, date)
            ds.setASCII(.studyTime, vr: .TM, "")
            ds.setASCII(.accessionNumber, vr: .SH, accession)
            ds.setASCII(.studyID, vr: .SH, "")
            ds.setASCII(.studyDescription, vr: .LO, "")
            ds.setASCII(.patientName, vr: .PN, name)
            ds.setASCII(.patientID, vr: .LO, patientID)
            return ds
        }
    }
}

/// A running `dcmstore serve` and how long it took to print its "listening" line.
struct ArchiveServer {
    let process: SpawnedProcess
    let port: Int
    let startup: Double

    static func start(dcmstore: String, archive: String, logPath: String) throws -> ArchiveServer {
        let stdoutPath = archive + ".stdout"
        try? FileManager.default.removeItem(atPath: stdoutPath)
        let start = monotonicSeconds()
        // stdbuf: dcmstore prints its "listening" line with print() and does not flush stdout when it is a file.
        let process = try SpawnedProcess(["/usr/bin/stdbuf", "-oL", dcmstore, "serve", "--archive", archive, "--port", "0", "--host", "127.0.0.1",
                                          "--aet", "DCMSTORE", "--log-level", "warning"],
                                         stdoutPath: stdoutPath, stderrPath: logPath)
        let deadline = start + 600
        while monotonicSeconds() < deadline {
            if let text = try? String(contentsOfFile: stdoutPath, encoding: .utf8), let range = text.range(of: "listening on port ") {
                let startup = monotonicSeconds() - start
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                guard let port = Int(digits) else { break }
                return ArchiveServer(process: process, port: port, startup: startup)
            }
            guard process.isRunning else { throw BenchError("dcmstore exited before listening (see \(logPath))") }
            usleep(2_000)
        }
        process.terminate(timeout: 5)
        throw BenchError("dcmstore did not print its listening line (see \(logPath))")
    }
}

/// A child process started with posix_spawn, stdout and stderr to files; reaped by ``waitForExit()`` or ``terminate(timeout:)``.
final class SpawnedProcess {
    let pid: pid_t
    let name: String
    private var exitStatus: Int32?

    init(_ arguments: [String], environment: [String: String] = [:], stdoutPath: String = "/dev/null", stderrPath: String? = nil) throws {
        precondition(!arguments.isEmpty)
        name = URL(fileURLWithPath: arguments[0]).lastPathComponent
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let stderrPath { posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644) }
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

    private func reap(_ options: Int32) -> Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        let result = waitpid(pid, &status, options)
        if result == pid || (result < 0 && errno == ECHILD) {
            exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            return true
        }
        return false
    }

    var isRunning: Bool { !reap(WNOHANG) }

    /// Blocks until the child exits; returns its exit code (128 + signal when killed).
    func waitForExit() -> Int32 {
        while !reap(0) { if errno != EINTR { break } }
        return exitStatus ?? -1
    }

    /// SIGTERM, then SIGKILL after `timeout` seconds; reaps the child.
    func terminate(timeout: Double) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = monotonicSeconds() + timeout
        while isRunning && monotonicSeconds() < deadline { usleep(10_000) }
        if isRunning {
            kill(pid, SIGKILL)
            _ = waitForExit()
        }
    }

    deinit { terminate(timeout: 5) }
}

/// Runs async work from the synchronous command, blocking the calling thread until it finishes.
func blockingAsync<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = AsyncResultBox<T>()
    let semaphore = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        semaphore.signal()
    }
    semaphore.wait()
    guard let result = box.result else { throw BenchError("async work ended without a result") }
    return try result.get()
}

/// Hands the result of ``blockingAsync(_:)``'s task to the thread that waits for it (guarded by the semaphore).
final class AsyncResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// The latencies of one kind of query and how many matches they returned in all.
struct QueryTiming: Sendable {
    var milliseconds: [Double]
    var matches: Int
}
