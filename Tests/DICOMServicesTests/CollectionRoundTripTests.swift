import DICOMCore
import DICOMIO
import DICOMNetwork
@testable import DICOMServices
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every storable instance of the test-file collection shipped in the pydicom wheel goes both ways between us and
/// DCMTK — `FileSender` (what `dcmsend` runs) → `/usr/bin/storescp`, and `/usr/bin/storescu` → ``DICOMServer`` — and
/// must arrive identical: the data sets are read back with our reader and compared element by element (tag, VR, raw
/// value bytes, sequence items, encapsulated fragments); File Meta Information (group 0002) is not compared.
///
/// A storable instance: our reader reads it, and it has a SOP Class UID of ``UIDRegistry/storageSOPClasses`` and a
/// SOP Instance UID. Files that cannot make the trip are listed below with the reason; no file is skipped silently.
@Suite(.serialized)
struct CollectionRoundTripTests {
    /// Files that do not arrive identical when sent by us to storescp, with the reason.
    static let expectedFailuresToStorescp: [String: String] = {
        var list: [String: String] = [:]
        for name in dicomDirectories {
            list[name] = "Media Storage Directory Storage (a DICOMDIR): storescp does not accept that SOP class, not even with -pm"
        }
        return list
    }()

    /// The DICOMDIRs of the collection: their SOP Class UID is only in the File Meta Information.
    static let dicomDirectories = [
        "test_files/dicomdirtests/DICOMDIR",
        "test_files/dicomdirtests/DICOMDIR-bigEnd",
        "test_files/dicomdirtests/DICOMDIR-empty.dcm",
        "test_files/dicomdirtests/DICOMDIR-implicit",
        "test_files/dicomdirtests/DICOMDIR-nopatient",
        "test_files/dicomdirtests/DICOMDIR-reordered",
        "test_files/dicomdirtests/TINY_ALPHA/DICOMDIR",
    ]

    /// Files that do not arrive identical when storescu sends them to our server, with the reason.
    static let expectedFailuresFromStorescu: [String: String] = {
        let padding = "DCMTK drops the Data Set Trailing Padding (FFFC,FFFC) when it re-encodes the data set for sending"
        let groupLength = "DCMTK recalculates the group length (0008,0000), which is wrong in the file"
        let noUIDs = "(0008,0016)/(0008,0018) are only in the File Meta Information: storescu ignores the file ('No SOP Class or Instance UID')"
        var list: [String: String] = [:]
        for name in ["test_files/CT_small.dcm", "test_files/MR_small.dcm", "test_files/MR_small_expb.dcm", "test_files/MR_small_padded.dcm",
                     "test_files/examples_rgb_color.dcm", "test_files/MR_small_RLE.dcm", "test_files/MR_small_jp2klossless.dcm",
                     "test_files/MR_small_jpeg_ls_lossless.dcm"] {
            list[name] = padding
        }
        list["test_files/SC_rgb_rle_16bit.dcm"] = "encapsulated Pixel Data encoded with VR OW in the file; DCMTK sends it as OB (PS3.5 §A.4)"
        list["test_files/SC_rgb_rle_16bit_2frame.dcm"] = list["test_files/SC_rgb_rle_16bit.dcm"]
        list["test_files/SC_rgb_gdcm_KY.dcm"] = "DCMTK re-encodes (0008,0008) Image Type with a different length (26 bytes in the file, 24 sent)"
        list["test_files/SC_rgb_jpeg.dcm"] = "storescu leaves out (0028,2110) Lossy Image Compression when it sends the JPEG data set"
        list["test_files/examples_ybr_color.dcm"] = "DCMTK sends (0010,2160) Ethnic Group, two spaces in the file, as an empty value"
        for name in ["charset_files/chrJapMulti.dcm", "charset_files/chrKoreanMulti.dcm", "test_files/693_J2KI.dcm"] {
            list[name] = groupLength
        }
        for name in dicomDirectories + ["test_files/UN_sequence.dcm", "test_files/no_meta_group_length.dcm", "test_files/priv_SQ.dcm",
                                        "test_files/rtdose_rle.dcm", "test_files/rtdose_rle_1frame.dcm",
                                        "charset_files/chrSQEncoding.dcm", "charset_files/chrSQEncoding1.dcm"] {
            list[name] = noUIDs
        }
        return list
    }()

    @Test func collectionIsFound() throws {
        let collection = try PydicomCollection.load()
        // The pydicom 3.0.2 wheel ships well over a hundred storable instances; fewer means the lookup broke.
        #expect(collection.instances.count >= 100, "only \(collection.instances.count) storable instances found")
        #expect(Set(collection.instances.map(\.transferSyntax.uid)).count >= 10, "the collection should cover many transfer syntaxes")
    }

    @Test func ourSenderToStorescp() async throws {
        let collection = try PydicomCollection.load()
        let directory = try TestSupport.temporaryDirectory("collection-storescp")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let port = TestSupport.freePort()
        // +xa all transfer syntaxes, -pm unknown SOP classes too, +B write exactly what arrived, +uf no overwrites
        // (SOP Instance UIDs repeat in the collection).
        let storescp = try PeerProcess(PeerProcess.storescp, ["-aet", "STORESCP", "-od", output, "+xa", "-pm", "+B", "+uf", "-dhl", "\(port)"],
                                       logPath: directory + "/storescp.log")
        defer { storescp.stop() }
        let probe = try await DCMTKInteropTests.connectWithRetry(port: port, contexts: DICOMClient.verificationContexts)
        try await probe.release()

        let sender = FileSender(host: "127.0.0.1", port: port, callingAE: "SWIFTSCU", calledAE: "STORESCP",
                                timeouts: DICOMTimeouts(connect: .seconds(10), artim: .seconds(20), dimse: .seconds(30)))
        let results = await sender.send(paths: collection.instances.map(\.path))
        var failures: [String: String] = [:]
        for (instance, result) in zip(collection.instances, results) where !result.ok {
            failures[instance.name] = "not stored: \(result.error ?? result.status ?? "?")"
        }
        storescp.stop()
        let arrived = try PydicomCollection.compare(receivedDirectory: output, with: collection.instances.filter { failures[$0.name] == nil })
        failures.merge(arrived) { first, _ in first }
        PydicomCollection.check(failures, expected: Self.expectedFailuresToStorescp, total: collection.instances.count,
                                direction: "FileSender → storescp", log: directory + "/storescp.log")
    }

    /// The storescu option that proposes each compressed (or deflated) transfer syntax; storescu proposes a file's
    /// own syntax only when told to, and otherwise tries to decompress, which it cannot do for most of them.
    static let storescuSyntaxOptions: [String: String] = [
        "1.2.840.10008.1.2.1.99": "-xd", // Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.4.50": "-xy", // JPEG Baseline
        "1.2.840.10008.1.2.4.51": "-xx", // JPEG Extended
        "1.2.840.10008.1.2.4.70": "-xs", // JPEG Lossless SV1
        "1.2.840.10008.1.2.4.80": "-xt", // JPEG-LS Lossless
        "1.2.840.10008.1.2.4.81": "-xu", // JPEG-LS Near-Lossless
        "1.2.840.10008.1.2.4.90": "-xv", // JPEG 2000 Lossless
        "1.2.840.10008.1.2.4.91": "-xw", // JPEG 2000
        "1.2.840.10008.1.2.5": "-xr", // RLE Lossless
    ]

    @Test func storescuToOurServer() async throws {
        let collection = try PydicomCollection.load()
        let directory = try TestSupport.temporaryDirectory("collection-storescu")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let handler = try CollectingStorageHandler(directory: directory + "/received")
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)

        // One storescu run for the native files, one for each compressed syntax with the option that proposes it.
        let native: Set<String> = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid,
                                   TransferSyntax.explicitVRBigEndian.uid]
        var groups: [String: [PydicomCollection.Instance]] = [:]
        var expected = Self.expectedFailuresFromStorescu
        for instance in collection.instances {
            let uid = instance.transferSyntax.uid
            if native.contains(uid) {
                groups["", default: []].append(instance)
            } else if let option = Self.storescuSyntaxOptions[uid] {
                groups[option, default: []].append(instance)
            } else {
                expected[instance.name] = expected[instance.name]
                    ?? "storescu (DCMTK 3.6.7) has no option to propose \(instance.transferSyntax.name) and cannot decompress it"
            }
        }
        var finishedAll = true
        for (option, instances) in groups.sorted(by: { $0.key < $1.key }) {
            let storescu = try PeerProcess(PeerProcess.storescu, ["-nh", "-R", "-to", "20", "-ta", "20", "-td", "30", "-aec", "ANY-SCP"]
                                           + (option.isEmpty ? [] : [option]) + ["127.0.0.1", "\(server.port)"] + instances.map(\.path),
                                           logPath: directory + "/storescu\(option).log")
            defer { storescu.stop() }
            finishedAll = await storescu.wait(seconds: 60) && finishedAll
        }
        await server.shutdown()
        #expect(finishedAll, "a storescu run did not finish within 60 s")

        let failures = try PydicomCollection.compare(receivedDirectory: handler.directory, with: collection.instances)
        PydicomCollection.check(failures, expected: expected, total: collection.instances.count,
                                direction: "storescu → DICOMServer", log: directory + "/storescu.log")
    }
}

/// Keeps every received instance as its own Part 10 file (numbered in order of arrival), so that instances sharing a
/// SOP Instance UID do not overwrite one another.
final class CollectingStorageHandler: StorageHandler, @unchecked Sendable {
    let directory: String
    private let lock = NSLock()
    private var count = 0

    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
    }

    func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        let number = lock.withLock { count += 1; return count }
        do {
            try DirectoryStorageHandler.writePart10(instance, to: "\(directory)/\(number).dcm")
            return .success
        } catch {
            return .outOfResources
        }
    }
}

/// A peer executable run with TCP_NODELAY=1, output to a log file, stopped by PID.
final class PeerProcess: @unchecked Sendable {
    static let storescp = "/usr/bin/storescp"
    static let storescu = "/usr/bin/storescu"

    let process = Process()
    let logPath: String

    init(_ executable: String, _ arguments: [String], logPath: String, environment extra: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) || executable == "/usr/bin/env" else {
            throw PeerMissing(description: "\(executable) is not installed (apt-get install dcmtk)")
        }
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TCP_NODELAY"] = "1"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits for the process to exit, up to `seconds`; false when it was still running (it is then killed).
    func wait(seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline { stop(); return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// The end of the log, for failure messages.
    var logTail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return String(text.suffix(3000))
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

struct PeerMissing: Error, CustomStringConvertible {
    var description: String
}

/// The test-file collection of the installed pydicom wheel.
enum PydicomCollection {
    struct Instance: Sendable {
        /// The path relative to pydicom's data directory, e.g. `test_files/CT_small.dcm`.
        var name: String
        var path: String
        var sopClassUID: String
        var sopInstanceUID: String
        var transferSyntax: TransferSyntax
        var dataSet: DataSet
    }

    struct Collection: Sendable {
        var instances: [Instance]
        /// Files that are not storable instances, with the reason (reported, not sent).
        var others: [String: String]
    }

    /// pydicom's data directory (`pydicom/data`), from the installed package.
    static func dataDirectory() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import os, pydicom.data; print(os.path.dirname(pydicom.data.__file__))"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let directory = String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: directory + "/test_files") else {
            throw PeerMissing(description: "pydicom is not installed for python3 (pip install pydicom==3.0.2)")
        }
        return directory
    }

    static func load() throws -> Collection {
        let root = try dataDirectory()
        let storage = Set(UIDRegistry.storageSOPClasses.map(\.uid))
        var instances: [Instance] = []
        var others: [String: String] = [:]
        for sub in ["test_files", "charset_files"] {
            guard let enumerator = FileManager.default.enumerator(atPath: root + "/" + sub) else { continue }
            for case let relative as String in enumerator {
                let name = sub + "/" + relative
                let path = root + "/" + name
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                if [".json", ".txt", ".icc", ".gz", ".dump", ".py", ".pyc", ".bz2", ".zip"].contains(where: relative.lowercased().hasSuffix) {
                    others[name] = "not a DICOM file (by extension)"
                    continue
                }
                let file: DICOMFile
                do {
                    file = try DICOMFile(contentsOf: path)
                } catch {
                    others[name] = "not readable: \(error)"
                    continue
                }
                guard let sopClass = file.fileMetaInformation.string(Tag(0x0002, 0x0002)) ?? file.dataSet.string(Tag(0x0008, 0x0016)),
                      storage.contains(sopClass) else {
                    others[name] = "no storage SOP Class UID"
                    continue
                }
                guard let sopInstance = file.fileMetaInformation.string(Tag(0x0002, 0x0003)) ?? file.dataSet.string(Tag(0x0008, 0x0018)),
                      !sopInstance.isEmpty else {
                    others[name] = "no SOP Instance UID"
                    continue
                }
                instances.append(Instance(name: name, path: path, sopClassUID: sopClass, sopInstanceUID: sopInstance,
                                          transferSyntax: file.transferSyntax, dataSet: file.dataSet))
            }
        }
        instances.sort { $0.name < $1.name }
        return Collection(instances: instances, others: others)
    }

    /// Reads every file of `directory` and matches each instance to a received file with its SOP Instance UID and an
    /// identical data set (each received file used once). Returns the instances that did not arrive identical, with why.
    static func compare(receivedDirectory directory: String, with instances: [Instance]) throws -> [String: String] {
        // A file's SOP Instance UID may differ between its File Meta Information and its data set (badVR.dcm, rtdose.dcm):
        // peers name the C-STORE after either, so both identify a received file.
        var received: [(dataSet: DataSet, uids: Set<String>, used: Bool)] = []
        var unreadable: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where !name.hasPrefix(".") {
            guard let file = try? DICOMFile(contentsOf: directory + "/" + name) else { unreadable.append(name); continue }
            let uids = Set([file.fileMetaInformation.string(Tag(0x0002, 0x0003)), file.dataSet.string(Tag(0x0008, 0x0018))].compactMap { $0 })
            received.append((file.dataSet, uids, false))
        }
        var failures: [String: String] = [:]
        for instance in instances {
            let uids = Set([instance.sopInstanceUID, instance.dataSet.string(Tag(0x0008, 0x0018))].compactMap { $0 })
            let candidates = received.indices.filter { !received[$0].uids.isDisjoint(with: uids) }
            guard !candidates.isEmpty else {
                failures[instance.name] = "did not arrive" + (unreadable.isEmpty ? "" : " (unreadable received files: \(unreadable.joined(separator: ", ")))")
                continue
            }
            if let index = candidates.first(where: { !received[$0].used && received[$0].dataSet == instance.dataSet }) {
                received[index].used = true
            } else {
                // Describe the difference from the closest candidate (instances of one image in several syntaxes share UIDs).
                func distance(_ other: DataSet) -> Int {
                    instance.dataSet.filter { other[$0.tag] != $0 }.count + other.filter { instance.dataSet[$0.tag] == nil }.count
                }
                let closest = candidates.min { distance(received[$0].dataSet) < distance(received[$1].dataSet) } ?? candidates[0]
                failures[instance.name] = "arrived different: " + difference(instance.dataSet, received[closest].dataSet, path: "")
            }
        }
        return failures
    }

    /// The first difference between two data sets, as a readable tag path.
    static func difference(_ sent: DataSet, _ received: DataSet, path: String) -> String {
        let sentTags = Set(sent.map(\.tag)), receivedTags = Set(received.map(\.tag))
        if let missing = sent.first(where: { !receivedTags.contains($0.tag) }) { return "\(path)\(missing.tag) missing" }
        if let extra = received.first(where: { !sentTags.contains($0.tag) }) { return "\(path)\(extra.tag) added" }
        for element in sent {
            guard let other = received[element.tag], other != element else { continue }
            if element.vr != other.vr { return "\(path)\(element.tag) VR \(element.vr) became \(other.vr)" }
            if let items = element.items, let otherItems = other.items {
                guard items.count == otherItems.count else { return "\(path)\(element.tag) \(items.count) items became \(otherItems.count)" }
                for (n, (a, b)) in zip(items, otherItems).enumerated() where a != b {
                    return difference(a, b, path: "\(path)\(element.tag)[\(n)].")
                }
            }
            return "\(path)\(element.tag) value differs (\(element.valueLength) vs \(other.valueLength) bytes)"
        }
        return "\(path) equal element by element but not as a whole"
    }

    /// Records an issue for every failure not listed as expected, and for every expected failure that did not happen.
    static func check(_ failures: [String: String], expected: [String: String], total: Int, direction: String, log: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        for (name, reason) in failures.sorted(by: { $0.key < $1.key }) where expected[name] == nil {
            Issue.record("\(direction): \(name): \(reason)", sourceLocation: sourceLocation)
        }
        for name in expected.keys.sorted() where failures[name] == nil {
            Issue.record("\(direction): \(name) is listed as an expected failure but arrived identical; remove it from the list",
                         sourceLocation: sourceLocation)
        }
        let unexpected = failures.keys.filter { expected[$0] == nil }
        if !unexpected.isEmpty {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            Issue.record("\(direction): \(unexpected.count) of \(total) instances failed; peer log tail:\n\(text.suffix(4000))",
                         sourceLocation: sourceLocation)
        }
    }
}
