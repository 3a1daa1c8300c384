import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Crypto
import Foundation
import Testing
@testable import DICOMArchive

@Suite("Forwarding: two dcmstore processes, SIGKILL of both", .serialized)
struct ForwardProcessTests {
    static let count = 2000

    /// SHA-256 (hex) of a Part 10 file's data set: the bytes after the File Meta Information, which the node and
    /// the centre each write themselves.
    static func dataSetDigest(_ path: String) throws -> String {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // Preamble (128) + "DICM" + (0002,0000) UL: tag 4, VR 2, length 2, then the 4-byte group length.
        guard bytes.count >= 144, bytes[128..<132].elementsEqual("DICM".utf8) else { throw CocoaError(.fileReadCorruptFile) }
        let groupLength = bytes[140..<144].reversed().reduce(0) { $0 << 8 | Int($1) }
        guard 144 + groupLength <= bytes.count else { throw CocoaError(.fileReadCorruptFile) }
        return SHA256.hash(data: bytes[(bytes.startIndex + 144 + groupLength)...]).map { String(format: "%02x", $0) }.joined()
    }
    /// 2,000 instances stored at the node while the centre is stopped; the centre starts; the node is killed (SIGKILL)
    /// mid-transfer and restarted, then the centre is killed and restarted: in the end every instance is at the centre
    /// exactly once and intact (the SHA-256 of its data set equals the sent file's), and the node's queue is empty.
    @Test func nothingLostNothingDuplicatedAcrossSIGKILL() async throws {
        let base = try EndToEnd.temporaryDirectory("forward-kill")
        let group = ProcessGroup(logDirectory: base)
        defer { group.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let dcmstore = try #require(EndToEnd.dcmstorePath, "the dcmstore binary is not built next to the tests")
        let nodeArchive = base + "/node"
        let centreArchive = base + "/centre"
        let centrePort = try EndToEnd.freePort()
        let forward = ["--forward", "DCMSTORE=127.0.0.1:\(centrePort)", "--forward-backoff-max", "1"]
        func startCentre() async throws -> ChildProcess {
            let centre = try group.start(dcmstore, ["serve", "--archive", centreArchive, "--port", "\(centrePort)", "--host", "127.0.0.1",
                                                    "--log-level", "warning"])
            try await EndToEnd.waitForListener(port: centrePort, timeout: .seconds(60))
            return centre
        }

        var node = try await group.startServer(archive: nodeArchive, aeTitle: "NODE", arguments: forward)
        let files = base + "/files"
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        var paths: [String] = []
        for n in 0..<Self.count {
            let study = "1.2.826.0.1.3680043.10.779.\(n % 7)"
            let dataSet = try StoreFixtures.dataSet(sop: "1.2.826.0.1.3680043.10.780.\(n)", study: study, series: study + ".1",
                                                    pixelBytes: 16_384, seed: UInt8(n % 251))
            let path = files + "/\(n).dcm"
            try DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian).encoded().write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let sent = await FileSender(host: "127.0.0.1", port: node.port, callingAE: "MODALITY", calledAE: "NODE").send(paths: paths)
        #expect(sent.filter { $0.ok }.count == Self.count)

        // The centre comes up; the node is killed mid-transfer and restarted.
        var centre = try await startCentre()
        try await Task.sleep(for: .milliseconds(1500))
        let arrivedBeforeKill = (try? await ArchiveClient.allInstances(port: centrePort).count) ?? 0
        node.process.signal(SIGKILL)
        #expect(arrivedBeforeKill < Self.count, "everything had arrived before the node was killed: the kill was not mid-transfer")
        _ = await node.process.waitForExit(timeout: .seconds(10))
        node = try await group.startServer(archive: nodeArchive, aeTitle: "NODE", arguments: forward)
        // Then the centre is killed mid-transfer and restarted.
        try await Task.sleep(for: .milliseconds(700))
        centre.signal(SIGKILL)
        _ = await centre.waitForExit(timeout: .seconds(10))
        centre = try await startCentre()

        let expected = Set((0..<Self.count).map { "1.2.826.0.1.3680043.10.780.\($0)" })
        var found: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(240)
        while ContinuousClock.now < deadline {
            found = (try? await ArchiveClient.allInstances(port: centrePort)) ?? found
            if found == expected { break }
            try await Task.sleep(for: .seconds(1))
        }
        #expect(found == expected, "the centre holds \(found.count) of \(Self.count)")
        // Let the node record the last answers, then stop both cleanly.
        try await Task.sleep(for: .seconds(1))
        #expect(await node.terminate() == 0)
        centre.signal(SIGTERM)
        #expect(await centre.waitForExit(timeout: .seconds(35)) == 0)

        let status = try await group.dcmstore(["queue", "status", "--archive", nodeArchive, "--json"])
        #expect(status.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [Any]
        #expect(rows?.isEmpty == true, "queue not empty: \(status.output)")
        // Exactly once on disk, and intact.
        let stored = EndToEnd.files(under: centreArchive + "/data").filter { $0.hasSuffix(".dcm") }
        #expect(stored.count == Self.count)
        // Intact: every data set at the centre has the SHA-256 of the one sent to the node.
        var sentDigests: [String: String] = [:]
        for (n, path) in paths.enumerated() { sentDigests["1.2.826.0.1.3680043.10.780.\(n)"] = try Self.dataSetDigest(path) }
        var mismatches: [String] = []
        for file in stored {
            let sop = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
            if try Self.dataSetDigest(centreArchive + "/data/" + file) != sentDigests[sop] { mismatches.append(sop) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) instances differ at the centre, e.g. \(mismatches.prefix(3))")
        let verify = try await group.dcmstore(["verify", "--archive", centreArchive, "--json"])
        #expect(verify.status == 0, "\(verify.output) \(verify.errors)")
    }
}
