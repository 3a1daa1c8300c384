import DICOMCore
import DICOMIO
import Foundation

/// Reads the attributes (not the pixel data) of N CT files, single-threaded, with each reader:
/// swift-dicom in this process, DCMTK `dcmdump -M` with many files per process (and, on a sample, one
/// process per file), and pydicom `dcmread(stop_before_pixels=True)` in one Python process.
struct MetadataBenchmark {
    var count: Int
    var repeats: Int
    var workdir: String
    var report: BenchReport
    /// When > 0, also measure this many files read from disk (page cache emptied of them before every run).
    var coldSample: Int = 0

    /// Files given to one dcmdump process: amortizes start-up, stays far below ARG_MAX.
    static let filesPerDcmdump = 1000
    /// Files timed with one dcmdump process each.
    static let perProcessSample = 50

    func run() throws {
        let paths = try Fixtures.ctSeries(count: count, in: workdir, log: log)
        let totalBytes = paths.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1))?[.size] as? Int ?? 0) }

        log("metadata: swift-dicom, metadataOnly ...")
        var ourChecksum = 0
        Self.warm(paths)
        let ours = try bestOf(repeats) {
            try timed { ourChecksum = try Self.readAll(paths, options: .metadataOnly) }
        }
        log("metadata: swift-dicom, default options ...")
        Self.warm(paths)
        let oursDefault = try bestOf(repeats) {
            try timed { _ = try Self.readAll(paths, options: ReadOptions()) }
        }

        var table = Table("Metadata read of \(grouped(Double(count))) CT files (512×512×16-bit, explicit VR LE, \(megabytes(totalBytes)) total), best of \(repeats)",
                          ["reader", "files/s", "time (s)", "swift-dicom (metadataOnly) is faster by"])
        table.add(["swift-dicom `DICOMFile(contentsOf:options: .metadataOnly)`", grouped(Double(count) / ours), fixed(ours, 3), ""])
        table.add(["swift-dicom `DICOMFile(contentsOf:)` (default: mmapped, pixel data sliced)",
                   grouped(Double(count) / oursDefault), fixed(oursDefault, 3), ratio(oursDefault / ours)])

        if isExecutable(Peers.dcmdump) {
            log("metadata: DCMTK dcmdump -M, \(Self.filesPerDcmdump) files per process ...")
            Self.warm(paths)
            let dcmtk = try bestOf(repeats) { try Self.dcmdump(paths, extra: ["-M"]) }
            table.add(["DCMTK `dcmdump -M` (\(Self.filesPerDcmdump) files per process)", grouped(Double(count) / dcmtk), fixed(dcmtk, 3), ratio(dcmtk / ours)])
            report.check("metadata: swift-dicom ≥ DCMTK dcmdump -M", measured: ratio(dcmtk / ours), target: "≥ 1×", met: dcmtk / ours >= 1)

            log("metadata: DCMTK dcmdump -M +P (two values printed) ...")
            Self.warm(paths)
            let dcmtkQuiet = try bestOf(repeats) {
                try Self.dcmdump(paths, extra: ["-M", "+P", "0010,0010", "+P", "0020,000D"])
            }
            table.add(["DCMTK `dcmdump -M +P 0010,0010 +P 0020,000D` (prints 2 values)", grouped(Double(count) / dcmtkQuiet),
                       fixed(dcmtkQuiet, 3), ratio(dcmtkQuiet / ours)])

            let sample = Array(paths.prefix(Self.perProcessSample))
            log("metadata: DCMTK dcmdump -M, one process per file (\(sample.count) files) ...")
            Self.warm(sample)
            let perProcess = try bestOf(repeats) {
                var total = 0.0
                for path in sample { total += try Self.dcmdump([path], extra: ["-M"]) }
                return total
            }
            let perProcessRate = Double(sample.count) / perProcess
            table.add(["DCMTK `dcmdump -M` (1 file per process, \(sample.count)-file sample)", grouped(perProcessRate),
                       fixed(perProcess * Double(count) / Double(sample.count), 3) + " (extrapolated)",
                       ratio((Double(count) / ours) / perProcessRate)])
        } else {
            table.notes.append("DCMTK not measured: \(Peers.dcmdump) not found.")
        }

        log("metadata: pydicom dcmread(stop_before_pixels=True) ...")
        let listFile = "\(workdir)/ct-\(count).list"
        try Data((paths.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: listFile))
        do {
            Self.warm(paths)
            let py = try Peers.pydicom(listFile: listFile, repeats: repeats, workdir: workdir)
            let best = py.seconds.min() ?? .infinity
            table.add(["pydicom \(py.version) `dcmread(f, stop_before_pixels=True)` (1 process)", grouped(Double(count) / best),
                       fixed(best, 3), ratio(best / ours)])
            report.check("metadata: swift-dicom ≥ 3× pydicom", measured: ratio(best / ours), target: "≥ 3×", met: best / ours >= 3)
            if py.checksum != ourChecksum {
                table.notes.append("Warning: pydicom's checksum of PatientName and StudyInstanceUID lengths (\(py.checksum)) differs from ours (\(ourChecksum)).")
            }
        } catch {
            table.notes.append("pydicom not measured: \(error)")
        }
        table.notes.append("All readers single-threaded; the first 64 KiB of every file are read into the page cache before each reader (untimed). " +
                           "Every reader looks at PatientName and StudyInstanceUID of every file. DCMTK: \(Peers.dcmtkVersion()), output to /dev/null.")
        report.print(table)
        if coldSample > 0 { try runCold(Array(paths.prefix(coldSample)), listFile: listFile) }
    }

    /// The same readers with the files not in the page cache: shows how much each reads from disk.
    func runCold(_ sample: [String], listFile: String) throws {
        let coldList = listFile + ".cold"
        try Data((sample.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: coldList))
        var table = Table("Metadata read of \(sample.count) CT files from disk (evicted from the page cache before each run), best of \(repeats)",
                          ["reader", "files/s", "time (s)", "swift-dicom (metadataOnly) is faster by"])
        log("metadata (cold): swift-dicom ...")
        let ours = try bestOf(repeats) {
            Self.evict(sample)
            return try timed { _ = try Self.readAll(sample, options: .metadataOnly) }
        }
        table.add(["swift-dicom `DICOMFile(contentsOf:options: .metadataOnly)`", grouped(Double(sample.count) / ours), fixed(ours, 3), ""])
        if isExecutable(Peers.dcmdump) {
            log("metadata (cold): DCMTK ...")
            let dcmtk = try bestOf(repeats) {
                Self.evict(sample)
                return try Self.dcmdump(sample, extra: ["-M"])
            }
            table.add(["DCMTK `dcmdump -M` (\(Self.filesPerDcmdump) files per process)", grouped(Double(sample.count) / dcmtk), fixed(dcmtk, 3), ratio(dcmtk / ours)])
        }
        log("metadata (cold): pydicom ...")
        var best = Double.infinity
        for _ in 0..<repeats {
            Self.evict(sample)
            if let py = try? Peers.pydicom(listFile: coldList, repeats: 1, workdir: workdir), let t = py.seconds.first { best = min(best, t) }
        }
        if best.isFinite {
            table.add(["pydicom `dcmread(f, stop_before_pixels=True)`", grouped(Double(sample.count) / best), fixed(best, 3), ratio(best / ours)])
        }
        table.notes.append("Files are evicted with posix_fadvise(POSIX_FADV_DONTNEED); the block device's read-ahead is " +
                           "\(Self.readAheadKB() ?? "?") KiB. A memory-mapped read faults in the read-ahead window around the first page touched.")
        report.print(table)
    }

    /// Drops the files' pages from the page cache (clean pages of files not mapped by anyone).
    static func evict(_ paths: [String]) {
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            close(fd)
        }
    }

    /// The read-ahead of the first virtio/SCSI/NVMe disk, in KiB, for the notes.
    static func readAheadKB() -> String? {
        for disk in ["vda", "sda", "nvme0n1", "xvda"] {
            if let text = try? String(contentsOfFile: "/sys/block/\(disk)/queue/read_ahead_kb", encoding: .utf8) {
                return text.trimmingCharacters(in: .whitespacesAndNewlines) + " (\(disk))"
            }
        }
        return nil
    }

    /// Reads the first 64 KiB of every file (all any reader needs of these files) so that the page cache holds them
    /// and no reader pays for the disk. The machine's page cache is shared and small, so this is done before each reader.
    static func warm(_ paths: [String]) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            _ = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
        }
    }

    /// Reads every file, touching two values so that nothing can be skipped; returns a checksum of their lengths.
    static func readAll(_ paths: [String], options: ReadOptions) throws -> Int {
        var checksum = 0
        for path in paths {
            let file = try DICOMFile(contentsOf: path, options: options)
            checksum &+= (file.dataSet.string(.patientName)?.utf8.count ?? 0) + (file.dataSet.string(.studyInstanceUID)?.utf8.count ?? 0)
        }
        return checksum
    }

    /// Runs dcmdump over the paths, `filesPerDcmdump` per process, one process after another; returns the total time.
    static func dcmdump(_ paths: [String], extra: [String]) throws -> Double {
        var total = 0.0
        var start = 0
        while start < paths.count {
            let chunk = paths[start..<min(paths.count, start + filesPerDcmdump)]
            let result = try ChildProcess.run([Peers.dcmdump] + extra + chunk)
            guard result.status == 0 else { throw BenchError("dcmdump exited with status \(result.status)") }
            total += result.seconds
            start += filesPerDcmdump
        }
        return total
    }
}
