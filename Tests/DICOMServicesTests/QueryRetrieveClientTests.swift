import DICOMCore
import DICOMIO
import DICOMNetwork
@testable import DICOMServices
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real Query/Retrieve peers for the SCU tests: DCMTK's dcmqrscp and Orthanc, each run from its own configuration in a
/// temporary directory on free ports, stopped by PID. A missing peer fails the test (CI installs dcmtk and orthanc).
enum QueryRetrievePeers {
    static let dcmqrscp = "/usr/bin/dcmqrscp"
    static let storescu = "/usr/bin/storescu"
    static let orthanc = "/usr/sbin/Orthanc"

    /// Fails loudly when a peer is not installed.
    static func require(_ path: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("\(path) is not installed (apt-get install dcmtk orthanc)")
            throw DICOMServiceError(.invalidInput, "\(path) is not installed")
        }
    }

    /// A running peer process with its log.
    final class Peer: @unchecked Sendable {
        let process: Process
        let port: Int
        let aeTitle: String
        let directory: String
        let log: String

        init(process: Process, port: Int, aeTitle: String, directory: String, log: String) {
            self.process = process
            self.port = port
            self.aeTitle = aeTitle
            self.directory = directory
            self.log = log
        }

        func stop() {
            if process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                // dcmqrscp ignores SIGTERM while it waits for associations; nothing of it needs to survive the test.
                let deadline = Date().addingTimeInterval(2)
                while process.isRunning && Date() < deadline { usleep(20_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
            process.waitUntilExit()
        }

        var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    }

    /// Starts a process with its output going to a log file.
    static func launch(_ executable: String, _ arguments: [String], directory: String, log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["TCP_NODELAY"] = "1"
        process.environment = environment
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Waits until the peer answers C-ECHO (at most `seconds`).
    static func waitForEcho(_ peer: Peer, seconds: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard peer.process.isRunning else { break }
            if let association = try? await DICOMClient.connect(host: "127.0.0.1", port: peer.port, callingAE: "PROBE",
                                                                calledAE: try AETitle(peer.aeTitle),
                                                                presentationContexts: DICOMClient.verificationContexts,
                                                                timeouts: DICOMTimeouts(connect: .seconds(2), artim: .seconds(5), dimse: .seconds(5))) {
                let status = try? await association.echo()
                try? await association.release()
                if status == .success { return }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        peer.stop()
        throw DICOMServiceError(.timeout, "\(peer.aeTitle) did not answer C-ECHO on port \(peer.port): \(peer.logText.suffix(2000))")
    }

    /// dcmqrscp with one read-write storage area (AE `QRSCP`, any peer may connect) and move destinations in its host table.
    static func startDCMQRSCP(moveDestinations: [(aeTitle: String, port: Int)] = []) async throws -> Peer {
        try require(dcmqrscp)
        let directory = try TestSupport.temporaryDirectory("dcmqrscp")
        let storage = directory + "/QRSCP"
        try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
        let port = TestSupport.freePort()
        var hosts = ""
        for (index, destination) in moveDestinations.enumerated() {
            hosts += "dest\(index) = (\(destination.aeTitle), 127.0.0.1, \(destination.port))\n"
        }
        let config = """
            NetworkTCPPort  = \(port)
            MaxPDUSize      = 16384
            MaxAssociations = 16
            HostTable BEGIN
            \(hosts)HostTable END
            VendorTable BEGIN
            VendorTable END
            AETable BEGIN
            QRSCP \(storage) RW (200, 1024mb) ANY
            AETable END

            """
        try config.write(toFile: directory + "/dcmqrscp.cfg", atomically: true, encoding: .utf8)
        let log = directory + "/dcmqrscp.log"
        let process = try launch(dcmqrscp, ["-c", directory + "/dcmqrscp.cfg", "--verbose", "\(port)"],
                                 directory: directory, log: log)
        let peer = Peer(process: process, port: port, aeTitle: "QRSCP", directory: directory, log: log)
        try await waitForEcho(peer)
        return peer
    }

    /// Orthanc with storage and index in a temporary directory, DICOM and HTTP on free ports, every DICOM service
    /// allowed for any peer, and `moveDestinations` as known modalities.
    static func startOrthanc(moveDestinations: [(aeTitle: String, port: Int)] = []) async throws -> Peer {
        try require(orthanc)
        let directory = try TestSupport.temporaryDirectory("orthanc")
        let port = TestSupport.freePort()
        var modalities: [String: Any] = [:]
        for (index, destination) in moveDestinations.enumerated() {
            modalities["dest\(index)"] = [destination.aeTitle, "127.0.0.1", destination.port]
        }
        let config: [String: Any] = [
            "Name": "swift-dicom-test", "StorageDirectory": directory + "/storage", "IndexDirectory": directory + "/index",
            "DicomAet": "ORTHANC", "DicomPort": port, "HttpPort": TestSupport.freePort(), "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false, "DicomCheckCalledAet": false, "DicomAlwaysAllowEcho": true,
            "DicomAlwaysAllowStore": true, "DicomAlwaysAllowFind": true, "DicomAlwaysAllowGet": true,
            "DicomAlwaysAllowMove": true, "DicomModalities": modalities, "DefaultEncoding": "Utf8",
            "StorageCompression": false, "SaveJobs": false, "Plugins": [], "DicomScuTimeout": 10,
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: directory + "/orthanc.json"))
        let log = directory + "/orthanc.log"
        let process = try launch(orthanc, [directory + "/orthanc.json"], directory: directory, log: log)
        let peer = Peer(process: process, port: port, aeTitle: "ORTHANC", directory: directory, log: log)
        try await waitForEcho(peer, seconds: 60)
        return peer
    }

    /// Stores files into a peer with our own client.
    static func load(_ paths: [String], into peer: Peer) async throws {
        let association = try await DICOMClient.connect(
            host: "127.0.0.1", port: peer.port, callingAE: "LOADER", calledAE: try AETitle(peer.aeTitle),
            presentationContexts: PresentationContext.numbered([TestSupport.ctImageStorage, TestSupport.secondaryCaptureStorage],
                                                               transferSyntaxes: DICOMClient.nativeTransferSyntaxes))
        for path in paths {
            let (_, status) = try await association.store(fileAt: path)
            #expect(status.isSuccess, "storing \(path) into \(peer.aeTitle): \(status)")
        }
        try await association.release()
    }
}

/// The test archive: two patients, three studies' worth of instances, with Cyrillic and Persian names in UTF-8.
enum QueryRetrieveFixtures {
    struct Instance {
        var patientName: String
        var patientID: String
        var studyUID: String
        var seriesUID: String
        var sopUID: String
        var modality = "CT"
        var studyDate = "20240115"
        var seriesNumber = 1
        var instanceNumber = 1
        var unicode = false
    }

    static let root = "1.2.826.0.1.3680043.10.999.70"
    static let studyA = root + ".1"
    static let studyB = root + ".2"
    static let studyC = root + ".3"

    static let latin: [Instance] = [
        Instance(patientName: "Doe^Jane", patientID: "PID-A", studyUID: studyA, seriesUID: studyA + ".1", sopUID: studyA + ".1.1"),
        Instance(patientName: "Doe^Jane", patientID: "PID-A", studyUID: studyA, seriesUID: studyA + ".1", sopUID: studyA + ".1.2",
                 instanceNumber: 2),
        Instance(patientName: "Doe^Jane", patientID: "PID-A", studyUID: studyA, seriesUID: studyA + ".2", sopUID: studyA + ".2.1",
                 modality: "SR", seriesNumber: 2),
        Instance(patientName: "Smith^John", patientID: "PID-B", studyUID: studyB, seriesUID: studyB + ".1", sopUID: studyB + ".1.1",
                 studyDate: "20230301"),
    ]

    static let cyrillicName = "Иванов^Иван"
    static let persianName = "رضایی^علی"
    static let unicode: [Instance] = [
        Instance(patientName: cyrillicName, patientID: "PID-C", studyUID: studyC, seriesUID: studyC + ".1", sopUID: studyC + ".1.1",
                 unicode: true),
        Instance(patientName: persianName, patientID: "PID-D", studyUID: root + ".4", seriesUID: root + ".4.1", sopUID: root + ".4.1.1",
                 unicode: true),
    ]

    static func dataSet(_ instance: Instance) throws -> DataSet {
        var dataSet = try TestSupport.makeInstance(sopInstanceUID: instance.sopUID)
        if instance.unicode { dataSet.setASCII(Tag(0x0008, 0x0005), vr: .CS, "ISO_IR 192") }
        try dataSet.set(Tag(0x0010, 0x0010), vr: .PN, string: instance.patientName)
        dataSet.setASCII(Tag(0x0010, 0x0020), vr: .LO, instance.patientID)
        dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, instance.studyUID)
        dataSet.setASCII(Tag(0x0020, 0x000E), vr: .UI, instance.seriesUID)
        dataSet.setASCII(Tag(0x0008, 0x0060), vr: .CS, instance.modality)
        dataSet.setASCII(Tag(0x0008, 0x0020), vr: .DA, instance.studyDate)
        dataSet.setASCII(Tag(0x0008, 0x0030), vr: .TM, "101500")
        dataSet.setASCII(Tag(0x0008, 0x0050), vr: .SH, "ACC-" + instance.patientID)
        dataSet.setASCII(Tag(0x0020, 0x0010), vr: .SH, "1")
        try dataSet.set(Tag(0x0008, 0x1030), vr: .LO, string: "Study of " + instance.patientID)
        try dataSet.set(Tag(0x0020, 0x0011), vr: .IS, integers: [instance.seriesNumber])
        try dataSet.set(Tag(0x0020, 0x0013), vr: .IS, integers: [instance.instanceNumber])
        return dataSet
    }

    /// Writes the instances as Part 10 files; returns their paths.
    static func write(_ instances: [Instance], to directory: String) throws -> [String] {
        try instances.map { instance in
            try TestSupport.writeInstance(try dataSet(instance), to: directory, name: instance.sopUID + ".dcm")
        }
    }

    /// An identifier: the level and keys (empty string = return key).
    static func identifier(_ level: String, _ keys: [(UInt16, UInt16, VR, String)], utf8: Bool = false) throws -> DataSet {
        var dataSet = DataSet()
        if utf8 { dataSet.setASCII(Tag(0x0008, 0x0005), vr: .CS, "ISO_IR 192") }
        dataSet.setASCII(Tag(0x0008, 0x0052), vr: .CS, level)
        for (group, element, vr, value) in keys {
            if value.isEmpty {
                dataSet.set(DataElement(tag: Tag(group, element), vr: vr, bytes: Data()))
            } else {
                try dataSet.set(Tag(group, element), vr: vr, string: value)
            }
        }
        return dataSet
    }
}

@Suite(.serialized)
struct QueryRetrieveClientTests {
    typealias F = QueryRetrieveFixtures

    static func connect(_ peer: QueryRetrievePeers.Peer, _ contexts: [PresentationContext],
                        roleSelections: [RoleSelection] = []) async throws -> Association {
        try await DICOMClient.connect(host: "127.0.0.1", port: peer.port, callingAE: "QRTEST", calledAE: try AETitle(peer.aeTitle),
                                      presentationContexts: contexts, roleSelections: roleSelections,
                                      timeouts: DICOMTimeouts(connect: .seconds(5), artim: .seconds(20), dimse: .seconds(30)))
    }

    /// dcmqrscp loaded with the Latin fixtures through storescu.
    static func loadedDCMQRSCP(moveDestinations: [(aeTitle: String, port: Int)] = []) async throws -> QueryRetrievePeers.Peer {
        try QueryRetrievePeers.require(QueryRetrievePeers.storescu)
        let peer = try await QueryRetrievePeers.startDCMQRSCP(moveDestinations: moveDestinations)
        do {
            let input = peer.directory + "/input"
            try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
            let paths = try F.write(F.latin, to: input)
            let status = try await TestSupport.run(QueryRetrievePeers.storescu, ["-aec", "QRSCP", "127.0.0.1", "\(peer.port)"] + paths)
            #expect(status == 0, "storescu into dcmqrscp: \(peer.logText.suffix(1500))")
        } catch {
            peer.stop()
            throw error
        }
        return peer
    }

    @Test func findAtEveryLevelFromDCMQRSCP() async throws {
        let peer = try await Self.loadedDCMQRSCP()
        defer { peer.stop() }
        let association = try await Self.connect(peer, DICOMClient.queryRetrieveContexts(QueryRetrieveModel.findModels))

        // Patient Root, PATIENT level.
        let patients = try await association.find(try F.identifier("PATIENT", [(0x0010, 0x0010, .PN, ""), (0x0010, 0x0020, .LO, "")]),
                                                  model: QueryRetrieveModel.patientRootFind)
        #expect(patients.status == .success)
        #expect(Set(patients.matches.compactMap { $0.string(Tag(0x0010, 0x0020)) }) == ["PID-A", "PID-B"])
        #expect(Set(patients.matches.compactMap { $0.string(Tag(0x0010, 0x0010)) }) == ["Doe^Jane", "Smith^John"])

        // Study Root, STUDY level, wildcard on the name.
        let studies = try await association.find(try F.identifier("STUDY", [(0x0010, 0x0010, .PN, "Doe*"), (0x0020, 0x000D, .UI, ""),
                                                                            (0x0008, 0x0020, .DA, "")]))
        #expect(studies.status == .success)
        #expect(studies.matches.count == 1)
        #expect(studies.matches.first?.string(Tag(0x0020, 0x000D)) == F.studyA)
        #expect(studies.matches.first?.string(Tag(0x0008, 0x0020)) == "20240115")

        // Date range.
        let older = try await association.find(try F.identifier("STUDY", [(0x0008, 0x0020, .DA, "20230101-20231231"), (0x0020, 0x000D, .UI, "")]))
        #expect(older.matches.compactMap { $0.string(Tag(0x0020, 0x000D)) } == [F.studyB])

        // SERIES level within study A.
        let series = try await association.find(try F.identifier("SERIES", [(0x0020, 0x000D, .UI, F.studyA), (0x0020, 0x000E, .UI, ""),
                                                                            (0x0008, 0x0060, .CS, "")]))
        #expect(series.status == .success)
        #expect(Set(series.matches.compactMap { $0.string(Tag(0x0020, 0x000E)) }) == [F.studyA + ".1", F.studyA + ".2"])
        #expect(Set(series.matches.compactMap { $0.string(Tag(0x0008, 0x0060)) }) == ["CT", "SR"])

        // IMAGE level within series A.1.
        let images = try await association.find(try F.identifier("IMAGE", [(0x0020, 0x000D, .UI, F.studyA), (0x0020, 0x000E, .UI, F.studyA + ".1"),
                                                                           (0x0008, 0x0018, .UI, "")]))
        #expect(images.status == .success)
        #expect(Set(images.matches.compactMap { $0.string(Tag(0x0008, 0x0018)) }) == [F.studyA + ".1.1", F.studyA + ".1.2"])

        // A model that was not proposed is refused before anything is sent, and the association stays usable.
        await #expect(throws: DICOMServiceError.self) {
            _ = try await association.move(try F.identifier("STUDY", []), destination: "X")
        }
        // Cancel after the first match; the peer ends with Cancel (or Success if it had finished).
        let cancelled = try await association.find(try F.identifier("IMAGE", [(0x0020, 0x000D, .UI, F.studyA), (0x0020, 0x000E, .UI, F.studyA + ".1"),
                                                                              (0x0008, 0x0018, .UI, "")]), maximumMatches: 1)
        #expect(cancelled.cancelRequested)
        #expect(cancelled.status == .cancel || cancelled.status == .success)
        #expect(cancelled.matches.count >= 1)

        // The stream form.
        var streamed: [String] = []
        for try await match in association.findMatches(try F.identifier("STUDY", [(0x0020, 0x000D, .UI, "")])) {
            streamed.append(match.string(Tag(0x0020, 0x000D)) ?? "")
        }
        #expect(Set(streamed) == [F.studyA, F.studyB])

        // Leaving the stream early cancels the C-FIND; the association stays usable.
        for try await _ in association.findMatches(try F.identifier("IMAGE", [(0x0020, 0x000D, .UI, F.studyA), (0x0020, 0x000E, .UI, F.studyA + ".1"),
                                                                             (0x0008, 0x0018, .UI, "")])) {
            break
        }
        let again = try await association.find(try F.identifier("STUDY", [(0x0020, 0x000D, .UI, F.studyB)]))
        #expect(again.status == .success && again.matches.count == 1)
        try await association.release()
    }

    @Test func moveFromDCMQRSCPToOurServer() async throws {
        let received = try TestSupport.temporaryDirectory("qr-move-dest")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: received))
        let peer: QueryRetrievePeers.Peer
        do {
            peer = try await Self.loadedDCMQRSCP(moveDestinations: [("MOVEDEST", server.port)])
        } catch {
            await server.shutdown()
            throw error
        }
        defer { peer.stop() }
        let association = try await Self.connect(peer, DICOMClient.queryRetrieveContexts([QueryRetrieveModel.studyRootMove]))
        let updates = CallCounter()
        let result = try await association.move(try F.identifier("STUDY", [(0x0020, 0x000D, .UI, F.studyA)]), destination: "MOVEDEST") { _ in
            updates.increment()
        }
        #expect(result.status == .success, "\(result.status) \(result.errorComment ?? "") \(peer.logText.suffix(1500))")
        #expect(result.counts.completed == 3)
        #expect((result.counts.failed ?? 0) == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: received).filter { $0.hasSuffix(".dcm") }
        #expect(Set(files) == Set(F.latin.prefix(3).map { $0.sopUID + ".dcm" }))

        // An AE the peer does not know: refused with a failure status (A801H), returned rather than thrown.
        let unknown = try await association.move(try F.identifier("STUDY", [(0x0020, 0x000D, .UI, F.studyB)]), destination: "NOBODY")
        #expect(unknown.status.isFailure)
        try await association.release()
        await server.shutdown()
    }

    @Test func getFromDCMQRSCPIntoADirectory() async throws {
        let peer = try await Self.loadedDCMQRSCP()
        defer { peer.stop() }
        let contexts = DICOMClient.getContexts()
        let roles = DICOMClient.scpRoleSelections(for: contexts)
        #expect(roles.count == DICOMClient.commonStorageSOPClasses.count)
        #expect(roles.allSatisfy { $0.scpRole && !$0.scuRole })
        let association = try await Self.connect(peer, contexts, roleSelections: roles)
        let output = try TestSupport.temporaryDirectory("qr-get")
        let progress = CallCounter()
        let result = try await association.get(try F.identifier("SERIES", [(0x0020, 0x000D, .UI, F.studyA), (0x0020, 0x000E, .UI, F.studyA + ".1")]),
                                               into: output) { _ in progress.increment() }
        #expect(result.status == .success, "\(result.status) \(peer.logText.suffix(2000))")
        #expect(result.counts.completed == 2)
        #expect(Set(result.received.map(\.sopInstanceUID)) == [F.studyA + ".1.1", F.studyA + ".1.2"])
        for uid in [F.studyA + ".1.1", F.studyA + ".1.2"] {
            let file = try DICOMFile(contentsOf: output + "/\(uid).dcm")
            #expect(file.dataSet.string(Tag(0x0008, 0x0018)) == uid)
            #expect(file.dataSet.string(Tag(0x0010, 0x0010)) == "Doe^Jane")
            #expect(file.dataSet[Tag(0x7FE0, 0x0010)]?.bytes?.count == 16 * 16 * 2)
        }
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: output).contains { $0.hasSuffix(".tmp") }))
        try await association.release()

        // Without the SCP role for the storage classes the peer cannot send the sub-operations: a failure or
        // warning status with failed counts, returned rather than thrown, and nothing written.
        let noRoles = try await Self.connect(peer, contexts)
        let empty = try TestSupport.temporaryDirectory("qr-get-noroles")
        let refused = try await noRoles.get(try F.identifier("STUDY", [(0x0020, 0x000D, .UI, F.studyB)]), into: empty)
        #expect(!refused.status.isSuccess, "\(refused.status)")
        #expect(refused.received.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty).filter { $0.hasSuffix(".dcm") }.isEmpty)
        try? await noRoles.release()
    }

    @Test func unicodeFindGetAndMoveWithOrthanc() async throws {
        let received = try TestSupport.temporaryDirectory("qr-orthanc-dest")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: received))
        let peer: QueryRetrievePeers.Peer
        do {
            peer = try await QueryRetrievePeers.startOrthanc(moveDestinations: [("MOVEDEST", server.port)])
        } catch {
            await server.shutdown()
            throw error
        }
        defer { peer.stop() }
        let input = peer.directory + "/input"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try await QueryRetrievePeers.load(try F.write(F.latin + F.unicode, to: input), into: peer)

        let association = try await Self.connect(peer, DICOMClient.queryRetrieveContexts(QueryRetrieveModel.findModels))
        let cyrillic = try await association.find(try F.identifier("STUDY", [(0x0010, 0x0010, .PN, "Иванов*"), (0x0020, 0x000D, .UI, "")],
                                                                   utf8: true))
        #expect(cyrillic.status == .success)
        #expect(cyrillic.matches.count == 1)
        #expect(cyrillic.matches.first?.string(Tag(0x0010, 0x0010)) == F.cyrillicName)
        #expect(cyrillic.matches.first?.string(Tag(0x0020, 0x000D)) == F.studyC)

        let persian = try await association.find(try F.identifier("PATIENT", [(0x0010, 0x0010, .PN, F.persianName), (0x0010, 0x0020, .LO, "")],
                                                                  utf8: true), model: QueryRetrieveModel.patientRootFind)
        #expect(persian.matches.map { $0.string(Tag(0x0010, 0x0020)) } == ["PID-D"])
        #expect(persian.matches.first?.string(Tag(0x0010, 0x0010)) == F.persianName)

        let all = try await association.find(try F.identifier("STUDY", [(0x0010, 0x0010, .PN, ""), (0x0020, 0x000D, .UI, "")]))
        #expect(all.matches.count == 4)
        try await association.release()

        // C-GET of the Cyrillic patient's study.
        let contexts = DICOMClient.getContexts()
        let getAssociation = try await Self.connect(peer, contexts, roleSelections: DICOMClient.scpRoleSelections(for: contexts))
        let output = try TestSupport.temporaryDirectory("qr-orthanc-get")
        let got = try await getAssociation.get(try F.identifier("STUDY", [(0x0020, 0x000D, .UI, F.studyC)]), into: output)
        #expect(got.status == .success, "\(got.status) \(peer.logText.suffix(2000))")
        #expect(got.received.map(\.sopInstanceUID) == [F.studyC + ".1.1"])
        let file = try DICOMFile(contentsOf: output + "/\(F.studyC).1.1.dcm")
        #expect(file.dataSet.string(Tag(0x0010, 0x0010)) == F.cyrillicName)
        try await getAssociation.release()

        // C-MOVE of study B to our server.
        let moveAssociation = try await Self.connect(peer, DICOMClient.queryRetrieveContexts([QueryRetrieveModel.studyRootMove]))
        let moved = try await moveAssociation.move(try F.identifier("STUDY", [(0x0020, 0x000D, .UI, F.studyB)]), destination: "MOVEDEST")
        #expect(moved.status == .success, "\(moved.status) \(peer.logText.suffix(2000))")
        #expect(FileManager.default.fileExists(atPath: received + "/\(F.studyB).1.1.dcm"))
        try await moveAssociation.release()
        await server.shutdown()
    }
}

/// A thread-safe counter for progress callbacks.
final class CallCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
