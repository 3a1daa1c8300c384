import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing

/// A small in-memory query/retrieve back end: a list of Part 10 files with their identifying attributes.
struct InMemoryQueryRetrieve: QueryHandler, RetrieveHandler {
    struct Entry: Sendable {
        var patientID: String
        var studyUID: String
        var sopClassUID: String
        var sopInstanceUID: String
        var path: String
    }
    var entries: [Entry]
    var destinations: [String: MoveDestination] = [:]
    /// Extra copies of each study-level match, to make long C-FIND answers for cancel tests.
    var repeatMatches = 1

    func find(_ identifier: DataSet, context: RequestContext) async throws -> [DataSet] {
        guard let level = identifier.string(Tag(0x0008, 0x0052)) else {
            throw DIMSEFailure(DIMSEStatus(0xA900), "no Query/Retrieve Level (0008,0052)")
        }
        guard level == "STUDY" else { throw DIMSEFailure(DIMSEStatus(0xA900), "level \(level) not served by this test") }
        let wantedPatient = identifier.string(Tag(0x0010, 0x0020)) ?? ""
        var studies: [String: Entry] = [:]
        for entry in entries where wantedPatient.isEmpty || entry.patientID == wantedPatient { studies[entry.studyUID] = entry }
        var answers: [DataSet] = []
        for entry in studies.values.sorted(by: { $0.studyUID < $1.studyUID }) {
            for _ in 0..<repeatMatches {
                var answer = DataSet()
                answer.setASCII(Tag(0x0008, 0x0052), vr: .CS, "STUDY")
                answer.setASCII(Tag(0x0010, 0x0020), vr: .LO, entry.patientID)
                answer.setASCII(Tag(0x0020, 0x000D), vr: .UI, entry.studyUID)
                answers.append(answer)
            }
        }
        return answers
    }

    func instances(for identifier: DataSet, context: RequestContext) async throws -> [RetrievableInstance] {
        guard let study = identifier.string(Tag(0x0020, 0x000D)) else {
            throw DIMSEFailure(DIMSEStatus(0xA900), "no Study Instance UID")
        }
        return entries.filter { $0.studyUID == study }.map {
            RetrievableInstance(sopClassUID: $0.sopClassUID, sopInstanceUID: $0.sopInstanceUID,
                                transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid, path: $0.path)
        }
    }

    func destination(for aeTitle: AETitle) async -> MoveDestination? { destinations[aeTitle.description] }
}

/// Our Query/Retrieve SCP (C-FIND, C-MOVE, C-GET, C-CANCEL) driven by DCMTK's findscu, movescu and getscu.
@Suite(.enabled(if: ["findscu", "movescu", "getscu", "storescp"].allSatisfy { FileManager.default.isExecutableFile(atPath: "/usr/bin/" + $0) },
                "DCMTK (/usr/bin/findscu, movescu, getscu, storescp) is not installed"))
struct QueryRetrieveServerTests {
    /// Three instances in two studies of patient P1 and one study of P2, written as Part 10 files.
    static func makeEntries(in directory: String) throws -> [InMemoryQueryRetrieve.Entry] {
        let layout: [(String, String)] = [("P1", "1.2.826.0.1.3680043.10.999.50.1"), ("P1", "1.2.826.0.1.3680043.10.999.50.1"),
                                          ("P1", "1.2.826.0.1.3680043.10.999.50.2"), ("P2", "1.2.826.0.1.3680043.10.999.50.3")]
        var entries: [InMemoryQueryRetrieve.Entry] = []
        for (index, (patient, study)) in layout.enumerated() {
            let uid = "1.2.826.0.1.3680043.10.999.51.\(index + 1)"
            var dataSet = try TestSupport.makeInstance(sopInstanceUID: uid)
            dataSet.setASCII(Tag(0x0010, 0x0020), vr: .LO, patient)
            dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, study)
            let path = try TestSupport.writeInstance(dataSet, to: directory, name: "i\(index).dcm")
            entries.append(.init(patientID: patient, studyUID: study, sopClassUID: TestSupport.ctImageStorage, sopInstanceUID: uid, path: path))
        }
        return entries
    }

    static func responses(in directory: String) throws -> [DataSet] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("rsp") }.sorted().map {
            try DICOMFile(contentsOf: directory + "/" + $0).dataSet
        }
    }

    @Test func findscuStudyLevel() async throws {
        let directory = try TestSupport.temporaryDirectory("qr-find")
        let backend = InMemoryQueryRetrieve(entries: try Self.makeEntries(in: directory))
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(),
                                                 storageHandler: try DirectoryStorageHandler(directory: directory + "/in"),
                                                 queryHandler: backend, retrieveHandler: backend)
        defer { Task { await server.shutdown() } }
        let out = directory + "/find"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let status = try await TestSupport.run("/usr/bin/findscu", ["-S", "-to", "10", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=P1",
                                                                    "-k", "StudyInstanceUID", "-X", "-od", out, "127.0.0.1", "\(server.port)"])
        #expect(status == 0)
        let answers = try Self.responses(in: out)
        #expect(answers.map { $0.string(Tag(0x0020, 0x000D)) ?? "" } == ["1.2.826.0.1.3680043.10.999.50.1", "1.2.826.0.1.3680043.10.999.50.2"])
        #expect(answers.allSatisfy { $0.string(Tag(0x0010, 0x0020)) == "P1" })
    }

    @Test func findscuRefusedIdentifierGetsFailureStatus() async throws {
        let directory = try TestSupport.temporaryDirectory("qr-find-bad")
        let backend = InMemoryQueryRetrieve(entries: try Self.makeEntries(in: directory))
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(),
                                                 storageHandler: try DirectoryStorageHandler(directory: directory + "/in"),
                                                 queryHandler: backend, retrieveHandler: backend)
        defer { Task { await server.shutdown() } }
        // SERIES level is refused by the test back end with 0xA900; findscu reports it and the association stays usable.
        let log = directory + "/findscu.log"
        let status = try await runCapturing("/usr/bin/findscu", ["-v", "-S", "-to", "10", "-k", "QueryRetrieveLevel=SERIES", "127.0.0.1", "\(server.port)"],
                                            output: log)
        #expect(status == 0)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("DataSetDoesNotMatchSOPClass"), "findscu output: \(text)")
    }

    @Test func findscuCancelStopsTheAnswers() async throws {
        let directory = try TestSupport.temporaryDirectory("qr-cancel")
        var backend = InMemoryQueryRetrieve(entries: try Self.makeEntries(in: directory))
        backend.repeatMatches = 2_000
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(),
                                                 storageHandler: try DirectoryStorageHandler(directory: directory + "/in"),
                                                 queryHandler: backend, retrieveHandler: backend)
        defer { Task { await server.shutdown() } }
        let out = directory + "/find"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let status = try await TestSupport.run("/usr/bin/findscu", ["-S", "-to", "10", "--cancel", "3", "-k", "QueryRetrieveLevel=STUDY",
                                                                    "-X", "-od", out, "127.0.0.1", "\(server.port)"])
        #expect(status == 0)
        let count = try Self.responses(in: out).count
        // 6,000 matches were due; the cancel after 3 stops them long before the end (some in flight may still arrive).
        #expect(count >= 3 && count < 6_000, "received \(count) responses")
    }

    @Test func movescuToStorescp() async throws {
        let directory = try TestSupport.temporaryDirectory("qr-move")
        let received = directory + "/received"
        try FileManager.default.createDirectory(atPath: received, withIntermediateDirectories: true)
        let storePort = TestSupport.freePort()
        let storescp = try TestSupport.launch("/usr/bin/storescp", ["-aet", "DEST", "-od", received, "\(storePort)"])
        defer { kill(storescp.processIdentifier, SIGKILL); storescp.waitUntilExit() }
        var backend = InMemoryQueryRetrieve(entries: try Self.makeEntries(in: directory))
        backend.destinations["DEST"] = MoveDestination(aeTitle: "DEST", host: "127.0.0.1", port: storePort)
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(),
                                                 storageHandler: try DirectoryStorageHandler(directory: directory + "/in"),
                                                 queryHandler: backend, retrieveHandler: backend, aeTitle: "ARCHIVE")
        defer { Task { await server.shutdown() } }
        try await Task.sleep(for: .milliseconds(300))   // storescp starting
        let status = try await TestSupport.run("/usr/bin/movescu", ["-S", "-to", "10", "-aem", "DEST", "-k", "QueryRetrieveLevel=STUDY",
                                                                    "-k", "StudyInstanceUID=1.2.826.0.1.3680043.10.999.50.1",
                                                                    "127.0.0.1", "\(server.port)"])
        #expect(status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: received)
        #expect(files.count == 2, "storescp received \(files)")
        let uids = Set(try files.map { try DICOMFile(contentsOf: received + "/" + $0).dataSet.string(Tag(0x0008, 0x0018)) ?? "" })
        #expect(uids == ["1.2.826.0.1.3680043.10.999.51.1", "1.2.826.0.1.3680043.10.999.51.2"])
    }

    @Test func movescuToUnknownDestinationGetsA801() async throws {
        let directory = try TestSupport.temporaryDirectory("qr-move-unknown")
        let backend = InMemoryQueryRetrieve(entries: try Self.makeEntries(in: directory))
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(),
                                                 storageHandler: try DirectoryStorageHandler(directory: directory + "/in"),
                                                 queryHandler: backend, retrieveHandler: backend)
        defer { Task { await server.shutdown() } }
        let log = directory + "/movescu.log"
        _ = try await runCapturing("/usr/bin/movescu", ["-v", "-S", "-to", "10", "-aem", "NOWHERE", "-k", "QueryRetrieveLevel=STUDY",
                                                        "-k", "StudyInstanceUID=1.2.826.0.1.3680043.10.999.50.1", "127.0.0.1", "\(server.port)"],
                                   output: log)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("MoveDestinationUnknown"), "movescu output: \(text)")
    }

    @Test func getscuReceivesOnTheSameAssociation() async throws {
        let directory = try TestSupport.temporaryDirectory("qr-get")
        let out = directory + "/got"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let backend = InMemoryQueryRetrieve(entries: try Self.makeEntries(in: directory))
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(),
                                                 storageHandler: try DirectoryStorageHandler(directory: directory + "/in"),
                                                 queryHandler: backend, retrieveHandler: backend)
        defer { Task { await server.shutdown() } }
        let status = try await TestSupport.run("/usr/bin/getscu", ["-S", "-to", "10", "-k", "QueryRetrieveLevel=STUDY",
                                                                   "-k", "StudyInstanceUID=1.2.826.0.1.3680043.10.999.50.1",
                                                                   "-od", out, "127.0.0.1", "\(server.port)"])
        #expect(status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(files.count == 2, "getscu received \(files)")
        for file in files {
            let got = try DICOMFile(contentsOf: out + "/" + file).dataSet
            let uid = got.string(Tag(0x0008, 0x0018)) ?? ""
            let original = try DICOMFile(contentsOf: backend.entries.first { $0.sopInstanceUID == uid }?.path ?? "/missing").dataSet
            #expect(got == original, "instance \(uid) arrived changed")
        }
    }

    /// A storage handler that refuses everything with an explanation.
    struct RefusingStorage: StorageHandler {
        func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .cannotUnderstand }
        func storeExplained(_ instance: ReceivedInstance) async -> (status: DIMSEStatus, comment: String?) {
            (.cannotUnderstand, "Study Instance UID missing")
        }
    }

    @Test func storeRefusalCarriesTheHandlersErrorComment() async throws {
        let directory = try TestSupport.temporaryDirectory("store-comment")
        let path = try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.52.1"),
                                                 to: directory, name: "x.dcm")
        let server = try await DICOMServer.start(port: 0, storageHandler: RefusingStorage())
        defer { Task { await server.shutdown() } }
        let log = directory + "/storescu.log"
        _ = try await runCapturing("/usr/bin/storescu", ["-d", "-to", "10", "127.0.0.1", "\(server.port)", path], output: log)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("Study Instance UID missing"), "storescu output: \(text)")
    }

    /// True when this process may mount a tmpfs (root, and mount permitted here).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/bin/mount") else { return false }
        let probe = NSTemporaryDirectory() + "svc-mount-probe-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]
        guard (try? mount.run()) != nil else { return false }
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else { return false }
        let umount = Process()
        umount.executableURL = URL(fileURLWithPath: "/bin/umount")
        umount.arguments = [probe]
        try? umount.run()
        umount.waitUntilExit()
        return true
    }()

    @Test(.enabled(if: QueryRetrieveServerTests.canMountTmpfs, "needs root and permission to mount a tmpfs"))
    func fullTemporaryDiskAnswersOutOfResources() async throws {
        let directory = try TestSupport.temporaryDirectory("tmp-full")
        let incoming = directory + "/incoming"
        try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
        #expect(try await TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", incoming]) == 0)
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [incoming]).waitUntilExit() }
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory + "/stored"),
                                                 temporaryDirectory: incoming)
        defer { Task { await server.shutdown() } }
        let big = try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.53.1",
                                                                             rows: 1024, columns: 1024), to: directory, name: "big.dcm")
        let small = try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.53.2"),
                                                  to: directory, name: "small.dcm")
        let association = try await DICOMClient.connect(
            host: "127.0.0.1", port: server.port, callingAE: "FULL", calledAE: "ANY-SCP",
            presentationContexts: PresentationContext.numbered([verificationSOPClassUID, TestSupport.ctImageStorage],
                                                               transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid]))
        // 2 MB does not fit the 1 MB temporary area: Out of Resources, and the association goes on.
        #expect(try await association.store(fileAt: big).status == .outOfResources)
        #expect(try await association.echo() == .success)
        #expect(try await association.store(fileAt: small).status == .success)
        try await association.release()
        #expect(FileManager.default.fileExists(atPath: directory + "/stored/1.2.826.0.1.3680043.10.999.53.2.dcm"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/stored/1.2.826.0.1.3680043.10.999.53.1.dcm"))
    }

    /// Runs a process with its stdout and stderr written to `output`, within 30 s.
    func runCapturing(_ executable: String, _ arguments: [String], output: String) async throws -> Int32 {
        FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TCP_NODELAY"] = "1"
        process.environment = environment
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return -1 }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}
