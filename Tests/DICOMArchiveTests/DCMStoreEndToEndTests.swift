import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built `dcmstore` binary end to end: DCMTK peers (storescu, findscu, movescu into storescp, getscu), SIGKILL at
/// random moments, 16 concurrent associations, bad input, the lifecycle CLI, SIGTERM during a store and a full disk.
/// Every process a test starts is stopped by its PID when the test ends, also on failure.
@Suite("dcmstore end to end", .serialized)
struct DCMStoreEndToEndTests {
    static let cyrillicName = "Иванов^Пётр"
    static let persianName = "حسینی^مریم"

    // MARK: 1. DCMTK peers

    @Test(.timeLimit(.minutes(5)))
    func dcmtkStoresFindsMovesAndGets() async throws {
        let base = try EndToEnd.temporaryDirectory("dcmtk")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }

        let root = TestInstances.root()
        let studyA = root + ".1", studyB = root + ".2"
        var instances: [TestInstance] = []
        for series in 1...2 {
            for number in 1...2 {
                instances.append(try TestInstances.make(study: studyA, series: studyA + ".\(series)", sop: studyA + ".\(series).\(number)",
                                                        patientID: "E2E-RU", patientName: Self.cyrillicName, instanceNumber: number))
            }
        }
        for number in 1...2 {
            instances.append(try TestInstances.make(study: studyB, series: studyB + ".1", sop: studyB + ".1.\(number)", patientID: "E2E-FA",
                                                    patientName: Self.persianName, studyDate: "20240305", instanceNumber: number))
        }
        let originals = Dictionary(uniqueKeysWithValues: instances.map { ($0.sop, $0.dataSet) })
        let input = base + "/in", moved = base + "/moved", got = base + "/got"
        for directory in [input, moved, got] { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let paths = try instances.map { try TestInstances.write($0, in: input) }

        let destinationPort = try EndToEnd.freePort()
        _ = try processes.start(try EndToEnd.dcmtk("storescp"), ["-aet", "DEST", "-od", moved, "\(destinationPort)"])
        try await EndToEnd.waitForListener(port: destinationPort)
        let server = try await processes.startServer(archive: base + "/archive", arguments: ["--peer", "DEST=127.0.0.1:\(destinationPort)"])
        let port = "\(server.port)"

        let stored = try await processes.run(try EndToEnd.dcmtk("storescu"), ["-aet", "STORESCU", "-aec", "DCMSTORE", "127.0.0.1", port] + paths)
        #expect(stored.status == 0, "storescu: \(stored.errors)")

        var queries = 0
        func findscu(_ model: String, _ keys: [String]) async throws -> [DataSet] {
            queries += 1
            return try await processes.findscu([model, "-aet", "FINDSCU"], keys: keys, port: port, into: base + "/find\(queries)")
        }
        let studyUID = ArchiveClient.studyUID, seriesUID = ArchiveClient.seriesUID, sopUID = ArchiveClient.sopUID
        let patientName = Tag(0x0010, 0x0010), patientID = Tag(0x0010, 0x0020)

        // Study Root, STUDY level: both studies, names in UTF-8, derived counts.
        let studies = try await findscu("-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientName", "PatientID",
                                               "NumberOfStudyRelatedInstances"])
        #expect(Set(studies.compactMap { $0.string(studyUID) }) == [studyA, studyB])
        for study in studies {
            let isA = study.string(studyUID) == studyA
            #expect(study.string(patientName) == (isA ? Self.cyrillicName : Self.persianName))
            #expect(study.string(Tag(0x0020, 0x1208)) == (isA ? "4" : "2"))
        }
        // SERIES and IMAGE levels.
        let series = try await findscu("-S", ["QueryRetrieveLevel=SERIES", "StudyInstanceUID=\(studyA)", "SeriesInstanceUID", "Modality"])
        #expect(Set(series.compactMap { $0.string(seriesUID) }) == [studyA + ".1", studyA + ".2"])
        let images = try await findscu("-S", ["QueryRetrieveLevel=IMAGE", "StudyInstanceUID=\(studyA)", "SeriesInstanceUID=\(studyA).2",
                                              "SOPInstanceUID"])
        #expect(Set(images.compactMap { $0.string(sopUID) }) == [studyA + ".2.1", studyA + ".2.2"])
        // Patient Root: PATIENT level, then the studies of one patient.
        let patients = try await findscu("-P", ["QueryRetrieveLevel=PATIENT", "PatientID", "PatientName"])
        var namesByPatient: [String: String] = [:]
        for patient in patients { namesByPatient[patient.string(patientID) ?? "?"] = patient.string(patientName) ?? "" }
        #expect(namesByPatient == ["E2E-RU": Self.cyrillicName, "E2E-FA": Self.persianName])
        let persianStudies = try await findscu("-P", ["QueryRetrieveLevel=STUDY", "PatientID=E2E-FA", "StudyInstanceUID", "PatientName"])
        #expect(persianStudies.compactMap { $0.string(studyUID) } == [studyB])
        // Name wildcards in Cyrillic and Persian, the query in ISO_IR 192.
        let cyrillicMatches = try await findscu("-S", ["SpecificCharacterSet=ISO_IR 192", "QueryRetrieveLevel=STUDY", "PatientName=Иван*",
                                                       "StudyInstanceUID"])
        #expect(cyrillicMatches.compactMap { $0.string(studyUID) } == [studyA])
        let persianMatches = try await findscu("-S", ["SpecificCharacterSet=ISO_IR 192", "QueryRetrieveLevel=STUDY", "PatientName=حسینی*",
                                                      "StudyInstanceUID"])
        #expect(persianMatches.compactMap { $0.string(studyUID) } == [studyB])

        // C-MOVE of study A into DCMTK storescp.
        let move = try await processes.run(try EndToEnd.dcmtk("movescu"), ["-S", "-aet", "MOVESCU", "-aec", "DCMSTORE", "-aem", "DEST",
                                                                           "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(studyA)",
                                                                           "127.0.0.1", port])
        #expect(move.status == 0, "movescu: \(move.errors)")
        let movedDeadline = ContinuousClock.now + .seconds(15)
        while EndToEnd.files(under: moved).count < 4 && ContinuousClock.now < movedDeadline { try await Task.sleep(for: .milliseconds(50)) }
        try Self.expectEqualToOriginals(directory: moved, expected: Set(instances.filter { $0.study == studyA }.map(\.sop)), originals)

        // C-GET of study B's series with DCMTK getscu.
        let get = try await processes.run(try EndToEnd.dcmtk("getscu"), ["-S", "-aet", "GETSCU", "-aec", "DCMSTORE",
                                                                         "-k", "QueryRetrieveLevel=SERIES", "-k", "StudyInstanceUID=\(studyB)",
                                                                         "-k", "SeriesInstanceUID=\(studyB).1", "-od", got, "127.0.0.1", port])
        #expect(get.status == 0, "getscu: \(get.errors)")
        try Self.expectEqualToOriginals(directory: got, expected: [studyB + ".1.1", studyB + ".1.2"], originals)

        #expect(await server.terminate() == 0)
    }

    /// Each file in `directory` is one of `expected` and equals its original element by element.
    static func expectEqualToOriginals(directory: String, expected: Set<String>, _ originals: [String: DataSet]) throws {
        var seen: Set<String> = []
        for name in EndToEnd.files(under: directory) {
            let dataSet = try DICOMFile(contentsOf: directory + "/" + name).dataSet
            let sop = try #require(dataSet.string(ArchiveClient.sopUID), "\(name) has no SOP Instance UID")
            seen.insert(sop)
            let original = try #require(originals[sop], "\(name): unexpected instance \(sop)")
            let differences = TestInstances.differences(original, dataSet)
            #expect(differences.isEmpty, "\(name) differs from the original: \(differences)")
        }
        #expect(seen == expected)
    }

    // MARK: 2. Nothing lost under SIGKILL

    @Test(.timeLimit(.minutes(5)))
    func nothingAcknowledgedIsLostWhenKilled() async throws {
        let base = try EndToEnd.temporaryDirectory("kill")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/archive"
        let root = TestInstances.root()
        func instance(_ n: Int) throws -> TestInstance {
            let study = root + ".\(n % 3 + 1)", series = study + ".\((n / 3) % 2 + 1)"
            return try TestInstances.make(study: study, series: series, sop: series + ".\(n + 1)", patientID: "E2E-KILL-\(n % 3)",
                                          patientName: "Kill^Test\(n % 3)", instanceNumber: n + 1, pixelBytes: 4096)
        }

        var acknowledged: [String: TestInstance] = [:]
        var next = 0
        var killPoints = 0
        var delays: [Int] = []
        let started = ContinuousClock.now
        while killPoints < 22 && ContinuousClock.now - started < .seconds(90) {
            let server = try await processes.startServer(archive: archive)
            let delay = Int.random(in: 10...300)
            delays.append(delay)
            let killer = Task {
                try? await Task.sleep(for: .milliseconds(delay))
                let wasRunning = server.process.isRunning
                server.process.signal(SIGKILL)
                return wasRunning
            }
            do {
                let association = try await ArchiveClient.connect(port: server.port, dimseSeconds: 20)
                while true {
                    let candidate = try instance(next)
                    next += 1
                    let status = try await ArchiveClient.store(candidate, on: association)
                    if status == .success {
                        acknowledged[candidate.sop] = candidate
                    } else {
                        Issue.record("C-STORE of \(candidate.sop) answered \(status) on a running server")
                    }
                }
            } catch {
                // The server died: the instance in flight got no success status.
            }
            let killedWhileRunning = await killer.value
            _ = await server.process.waitForExit(timeout: .seconds(10))
            #expect(server.process.endedBySignal == true, "dcmstore ended by itself before the kill: \(server.process.errors.suffix(500))")
            if killedWhileRunning { killPoints += 1 }
        }
        #expect(killPoints >= 20, "only \(killPoints) kill points in the time allowed")
        #expect(acknowledged.count >= 20, "only \(acknowledged.count) instances acknowledged over \(killPoints) kill points")

        // Every acknowledged instance: its file exists, C-FIND at IMAGE level finds it, verify finds no missing or damaged file.
        for instance in acknowledged.values {
            let path = archive + "/data/\(instance.study)/\(instance.series)/\(instance.sop).dcm"
            #expect(FileManager.default.fileExists(atPath: path), "acknowledged \(instance.sop) has no file (kill delays \(delays))")
        }
        let server = try await processes.startServer(archive: archive)
        let found = try await ArchiveClient.allInstances(port: server.port)
        let missing = Set(acknowledged.keys).subtracting(found)
        #expect(missing.isEmpty, "acknowledged but not found by C-FIND: \(missing.sorted().prefix(10)) (kill delays \(delays))")
        #expect(await server.terminate() == 0)
        let verify = try await processes.dcmstore(["verify", "--archive", archive, "--json"])
        #expect(verify.status == 0, "dcmstore verify: \(verify.output.prefix(2000)) \(verify.errors)")
        let report = try CLIJSON.object(verify.output)
        #expect((report["checked"] as? Int ?? 0) >= acknowledged.count)
        #expect((report["missing"] as? [Any])?.isEmpty == true)
        #expect((report["damaged"] as? [Any])?.isEmpty == true)
    }

    // MARK: 3. Sixteen associations at once

    @Test(.timeLimit(.minutes(5)))
    func sixteenAssociationsStoreAtOnce() async throws {
        let base = try EndToEnd.temporaryDirectory("sixteen")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/archive"
        let server = try await processes.startServer(archive: archive)
        let port = server.port
        let root = TestInstances.root()

        let results = try await withThrowingTaskGroup(of: [(String, DIMSEStatus)].self) { group in
            for a in 0..<16 {
                group.addTask {
                    let association = try await ArchiveClient.connect(port: port)
                    var out: [(String, DIMSEStatus)] = []
                    let study = root + ".\(a % 4 + 1)", series = study + ".\(a + 1)"
                    for n in 0..<10 {
                        let instance = try TestInstances.make(study: study, series: series, sop: series + ".\(n + 1)", patientID: "E2E-C\(a % 4)",
                                                              patientName: "Concurrent^\(a % 4)", instanceNumber: n + 1, pixelBytes: 8192)
                        out.append((instance.sop, try await ArchiveClient.store(instance, on: association)))
                    }
                    try await association.release()
                    return out
                }
            }
            var all: [(String, DIMSEStatus)] = []
            for try await part in group { all += part }
            return all
        }
        #expect(results.count == 160)
        #expect(results.allSatisfy { $0.1 == .success }, "statuses: \(Set(results.map { $0.1.rawValue }))")
        let found = try await ArchiveClient.allInstances(port: port)
        #expect(found == Set(results.map { $0.0 }))
        #expect(await server.terminate() == 0)

        let stats = try await processes.dcmstore(["stats", "--archive", archive, "--json"])
        #expect(stats.status == 0, "dcmstore stats: \(stats.errors)")
        let counts = try CLIJSON.object(stats.output)
        #expect(counts["instances"] as? Int == 160)
        #expect(counts["series"] as? Int == 16)
        #expect(counts["studies"] as? Int == 4)
        #expect(counts["patients"] as? Int == 4)
        let verify = try await processes.dcmstore(["verify", "--archive", archive, "--json"])
        #expect(verify.status == 0, "dcmstore verify: \(verify.output.prefix(2000))")
    }

    // MARK: 4. Bad input

    @Test(.timeLimit(.minutes(4)))
    func badInputIsRefusedWithAStatus() async throws {
        let base = try EndToEnd.temporaryDirectory("bad")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/archive"
        let server = try await processes.startServer(archive: archive)
        let root = TestInstances.root()
        let study = root + ".1", series = study + ".1"
        let marker = "e2e-escape-\(UUID().uuidString.prefix(8))"
        let long = root + "." + String(repeating: "7", count: 70)
        let cases: [(what: String, study: String, series: String, sop: String)] = [
            ("Study Instance UID with /", root + ".1/2", series, series + ".1"),
            ("Study Instance UID ..", "..", series, series + ".2"),
            ("Study Instance UID climbing out", "../../../../../../tmp/\(marker)", series, series + ".3"),
            ("Series Instance UID with / and ..", study, root + ".1/../../\(marker)", series + ".4"),
            ("Series Instance UID over 64 characters", study, long, series + ".5"),
            ("SOP Instance UID with /", study, series, series + ".6/../../\(marker)"),
            ("SOP Instance UID ..", study, series, ".."),
            ("SOP Instance UID over 64 characters", study, series, long),
        ]
        var association = try await ArchiveClient.connect(port: server.port)
        for bad in cases {
            let instance = try TestInstances.make(study: bad.study, series: bad.series, sop: bad.sop, patientID: "E2E-BAD", patientName: "Bad^Input")
            do {
                let status = try await ArchiveClient.store(instance, on: association)
                #expect(status.isFailure, "\(bad.what): answered \(status) instead of a failure status")
            } catch {
                Issue.record("\(bad.what): the C-STORE failed without a status: \(error)")
                await association.abort()
                association = try await ArchiveClient.connect(port: server.port)
            }
        }
        // The server still stores a good instance.
        let good = try TestInstances.make(study: study, series: series, sop: series + ".100", patientID: "E2E-BAD", patientName: "Good^Input")
        #expect(try await ArchiveClient.store(good, on: association) == .success)

        // Malformed date ranges: a failure status.
        for range in ["2024XY01-20250101", "20240101-20250101-20260101"] {
            let result = try await association.find(ArchiveClient.identifier("STUDY", [(Tag(0x0008, 0x0020), .DA, range),
                                                                                       (ArchiveClient.studyUID, .UI, "")]))
            #expect(result.status.isFailure, "Study Date \(range): answered \(result.status) with \(result.matches.count) matches")
        }
        // An unknown public key and a private key: answered, returned empty.
        var identifier = ArchiveClient.identifier("STUDY", [(ArchiveClient.studyUID, .UI, study), (Tag(0x0010, 0x2160), .SH, "")])
        identifier.setASCII(Tag(0x0009, 0x0010), vr: .LO, "E2E PRIVATE")
        identifier.setASCII(Tag(0x0009, 0x1001), vr: .LO, "")
        let answered = try await association.find(identifier)
        #expect(answered.status == .success)
        #expect(answered.matches.count == 1)
        if let match = answered.matches.first {
            #expect(match.string(ArchiveClient.studyUID) == study)
            for tag in [Tag(0x0010, 0x2160), Tag(0x0009, 0x1001)] {
                #expect(match[tag] != nil, "\(tag) was not returned")
                #expect(match[tag]?.bytes?.isEmpty ?? true, "\(tag) returned a value")
            }
        }
        // C-MOVE to a destination nobody configured: A801H.
        let move = try await association.move(ArchiveClient.identifier("STUDY", [(ArchiveClient.studyUID, .UI, study)]), destination: "NOWHERE")
        #expect(move.status == DIMSEStatus(0xA801))
        try await association.release()
        #expect(await server.terminate() == 0)

        // Nothing was written anywhere but inside the archive, and only under UID-named paths.
        for path in EndToEnd.files(under: base) where !(path.hasSuffix(".out") || path.hasSuffix(".err")) {
            #expect(path.hasPrefix("archive/"), "a file outside the archive: \(path)")
            #expect(!path.contains(marker) && !path.contains(".."), "a file named after a bad UID: \(path)")
            if path.hasPrefix("archive/data/") {
                let components = path.dropFirst("archive/data/".count).split(separator: "/")
                #expect(components.count == 3 && components.allSatisfy { $0.allSatisfy { $0.isNumber || $0 == "." || $0 == "d" || $0 == "c" || $0 == "m" } },
                        "unexpected data path \(path)")
            }
        }
        for directory in [NSTemporaryDirectory(), "/tmp", "/"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            #expect(!names.contains { $0.contains(marker) }, "a file named after a bad UID in \(directory)")
        }
        let stats = try await processes.dcmstore(["stats", "--archive", archive, "--json"])
        #expect(try CLIJSON.object(stats.output)["instances"] as? Int == 1, "stats: \(stats.output) \(stats.errors)")
    }

    // MARK: 5. Lifecycle through the CLI

    @Test(.timeLimit(.minutes(6)))
    func lifecycleThroughTheCommandLine() async throws {
        let base = try EndToEnd.temporaryDirectory("lifecycle")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/archive"
        let root = TestInstances.root()
        let old = root + ".1", kept = root + ".2", deleted = root + ".3"
        var instances: [TestInstance] = []
        for (study, date) in [(old, "19900101"), (kept, "20250601"), (deleted, "20250602")] {
            for n in 1...2 {
                instances.append(try TestInstances.make(study: study, series: study + ".1", sop: study + ".1.\(n)", patientID: "E2E-LC",
                                                        patientName: Self.cyrillicName, studyDate: date, instanceNumber: n))
            }
        }
        func studiesFound() async throws -> Set<String> {
            let server = try await processes.startServer(archive: archive)
            let found = try await ArchiveClient.allInstances(port: server.port)
            #expect(await server.terminate() == 0)
            return Set(instances.filter { found.contains($0.sop) }.map(\.study))
        }
        func cli(_ arguments: [String]) async throws -> [String: Any] {
            let result = try await processes.dcmstore(arguments + ["--archive", archive, "--json"])
            #expect(result.status == 0, "dcmstore \(arguments): \(result.output.prefix(1000)) \(result.errors)")
            return try CLIJSON.object(result.output)
        }

        let server = try await processes.startServer(archive: archive)
        let association = try await ArchiveClient.connect(port: server.port)
        for instance in instances { #expect(try await ArchiveClient.store(instance, on: association) == .success) }
        try await association.release()
        #expect(await server.terminate() == 0)

        let deletion = try await cli(["delete", "--study", deleted, "--reason", "e2e test"])
        #expect(deletion["count"] as? Int == 2)
        #expect(try await studiesFound() == [old, kept])

        let restoration = try await cli(["restore", "--study", deleted])
        #expect(restoration["count"] as? Int == 2)
        #expect(try await studiesFound() == [old, kept, deleted])

        let retention = try await cli(["retention"])
        let listed = Set((retention["items"] as? [[String: Any]] ?? []).compactMap { $0["studyInstanceUID"] as? String })
        #expect(listed == [old], "retention listed \(listed)")
        let applied = try await cli(["retention", "--apply"])
        #expect(applied["instances"] as? Int == 2)

        _ = try await cli(["delete", "--study", deleted])
        let purge = try await cli(["purge", "--older-than", "0"])
        #expect(purge["count"] as? Int == 4)
        let remaining = EndToEnd.files(under: archive)
        for instance in instances where instance.study != kept {
            #expect(!remaining.contains { $0.contains(instance.sop + ".dcm") }, "\(instance.sop) still on disk after purge")
        }
        #expect(try await studiesFound() == [kept])
        let nothingToRestore = try await processes.dcmstore(["restore", "--study", deleted, "--archive", archive])
        #expect(nothingToRestore.status == 1, "restore after purge: \(nothingToRestore.output) \(nothingToRestore.errors)")

        let lines = try String(contentsOfFile: archive + "/audit.jsonl", encoding: .utf8).split(separator: "\n")
        let entries = try lines.map { try CLIJSON.object(String($0)) }
        let actions = entries.compactMap { $0["action"] as? String }
        #expect(actions.filter { $0 == "delete" }.count == 2, "audit actions: \(actions)")
        #expect(actions.contains("restore"))
        #expect(actions.contains("retention"))
        #expect(actions.contains("purge"))
        #expect(entries.contains { $0["action"] as? String == "delete" && $0["uid"] as? String == deleted && $0["reason"] as? String == "e2e test" })
        #expect(entries.contains { $0["action"] as? String == "retention" && $0["uid"] as? String == old })
    }

    // MARK: 6. SIGTERM during a store

    @Test(.timeLimit(.minutes(4)))
    func sigtermFinishesTheStoreInFlight() async throws {
        let base = try EndToEnd.temporaryDirectory("sigterm")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/archive"
        let root = TestInstances.root()
        let study = root + ".1", series = study + ".1"
        let server = try await processes.startServer(archive: archive)
        let association = try await ArchiveClient.connect(port: server.port)
        var acknowledged: Set<String> = []
        for n in 1...5 {
            let instance = try TestInstances.make(study: study, series: series, sop: series + ".\(n)", patientID: "E2E-TERM", patientName: "Term^Test",
                                                  instanceNumber: n, pixelBytes: 64 * 1024)
            #expect(try await ArchiveClient.store(instance, on: association) == .success)
            acknowledged.insert(instance.sop)
        }
        // A 24 MB instance; SIGTERM arrives while it is being sent.
        let big = try TestInstances.make(study: study, series: series, sop: series + ".99", patientID: "E2E-TERM", patientName: "Term^Test",
                                         instanceNumber: 99, pixelBytes: 24 * 1024 * 1024)
        let bigData = try TestInstances.encoded(big.dataSet)
        let sender = Task {
            try await association.store(dataSet: bigData, sopClassUID: TestInstances.ctImage, sopInstanceUID: big.sop,
                                        transferSyntax: .explicitVRLittleEndian)
        }
        try await Task.sleep(for: .milliseconds(30))
        let terminated = ContinuousClock.now
        server.process.signal(SIGTERM)
        let outcome = await sender.result
        try? await association.release()
        let exitStatus = await server.process.waitForExit(timeout: .seconds(35) - (ContinuousClock.now - terminated))
        #expect(exitStatus == 0, "dcmstore did not exit 0 within 35 s of SIGTERM: \(server.process.errors.suffix(1000))")
        switch outcome {
        case .success(let status) where status == .success: acknowledged.insert(big.sop)
        case .success(let status): #expect(status.isFailure, "the in-flight store answered \(status)")
        case .failure: break // the sender saw the failure: allowed
        }

        let restarted = try await processes.startServer(archive: archive)
        let found = try await ArchiveClient.allInstances(port: restarted.port)
        #expect(acknowledged.isSubset(of: found), "acknowledged but missing after SIGTERM: \(acknowledged.subtracting(found))")
        #expect(await restarted.terminate() == 0)
        let verify = try await processes.dcmstore(["verify", "--archive", archive, "--json"])
        #expect(verify.status == 0, "dcmstore verify: \(verify.output.prefix(2000))")
    }

    // MARK: 7. Disk full

    /// True when this process may mount a tmpfs (root, and mount permitted in this container).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0 else { return false }
        let probe = NSTemporaryDirectory() + "dcmstore-e2e-mount-probe-\(UUID().uuidString)"
        guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard DCMStoreEndToEndTests.runSynchronously("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) == 0 else { return false }
        _ = DCMStoreEndToEndTests.runSynchronously("/bin/umount", [probe])
        return true
    }()

    static func runSynchronously(_ executable: String, _ arguments: [String]) -> Int32? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); return nil }
        return process.terminationStatus
    }

    @Test(.enabled(if: DCMStoreEndToEndTests.canMountTmpfs, "needs root and permission to mount a tmpfs (mount -t tmpfs -o size=2m)"),
          .timeLimit(.minutes(4)))
    func diskFullAnswersOutOfResources() async throws {
        let base = try EndToEnd.temporaryDirectory("diskfull")
        let archive = base + "/archive"
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        try #require(Self.runSynchronously("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", archive]) == 0, "mount -t tmpfs failed")
        defer {
            _ = Self.runSynchronously("/bin/umount", [archive])
            try? FileManager.default.removeItem(atPath: base)
        }
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll() }

        let root = TestInstances.root()
        let study = root + ".1", series = study + ".1"
        let server = try await processes.startServer(archive: archive)
        let association = try await ArchiveClient.connect(port: server.port)
        var stored: [TestInstance] = []
        var failure: DIMSEStatus?
        var thrown: Error?
        for n in 1...200 {
            let instance = try TestInstances.make(study: study, series: series, sop: series + ".\(n)", patientID: "E2E-FULL", patientName: "Full^Disk",
                                                  instanceNumber: n, pixelBytes: 96 * 1024)
            do {
                let status = try await ArchiveClient.store(instance, on: association)
                if status == .success { stored.append(instance) } else { failure = status; break }
            } catch {
                thrown = error
                break
            }
        }
        #expect(!stored.isEmpty)
        #expect(thrown == nil, "the association failed instead of answering a status: \(String(describing: thrown))")
        #expect(failure == .outOfResources, "the store that did not fit answered \(String(describing: failure))")
        if thrown == nil { try? await association.release() } else { await association.abort() }

        let found = try await ArchiveClient.allInstances(port: server.port)
        #expect(Set(stored.map(\.sop)).isSubset(of: found))
        _ = await server.terminate()
        let verify = try await processes.dcmstore(["verify", "--archive", archive, "--json"])
        #expect(verify.status == 0, "dcmstore verify after disk full: \(verify.output.prefix(2000)) \(verify.errors)")
        #expect((try? CLIJSON.object(verify.output)["checked"] as? Int) ?? 0 >= stored.count)
    }
}
