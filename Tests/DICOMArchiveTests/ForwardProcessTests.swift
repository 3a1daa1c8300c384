import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive

@Suite("Forwarding: two dcmstore processes, SIGKILL of both", .serialized)
struct ForwardProcessTests {
    /// 200 instances stored at the node while the centre is stopped; the centre starts; the node is killed (SIGKILL)
    /// mid-transfer and restarted, then the centre is killed and restarted: in the end every instance is at the centre
    /// exactly once and intact, and the node's queue is empty.
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
        for n in 0..<200 {
            let study = "1.2.826.0.1.3680043.10.779.\(n % 7)"
            let dataSet = try StoreFixtures.dataSet(sop: "1.2.826.0.1.3680043.10.780.\(n)", study: study, series: study + ".1",
                                                    pixelBytes: 16_384, seed: UInt8(n % 251))
            let path = files + "/\(n).dcm"
            try DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian).encoded().write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let sent = await FileSender(host: "127.0.0.1", port: node.port, callingAE: "MODALITY", calledAE: "NODE").send(paths: paths)
        #expect(sent.filter { $0.ok }.count == 200)

        // The centre comes up; the node is killed mid-transfer and restarted.
        var centre = try await startCentre()
        try await Task.sleep(for: .milliseconds(1500))
        node.process.signal(SIGKILL)
        _ = await node.process.waitForExit(timeout: .seconds(10))
        node = try await group.startServer(archive: nodeArchive, aeTitle: "NODE", arguments: forward)
        // Then the centre is killed mid-transfer and restarted.
        try await Task.sleep(for: .milliseconds(700))
        centre.signal(SIGKILL)
        _ = await centre.waitForExit(timeout: .seconds(10))
        centre = try await startCentre()

        let expected = Set((0..<200).map { "1.2.826.0.1.3680043.10.780.\($0)" })
        var found: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(240)
        while ContinuousClock.now < deadline {
            found = (try? await ArchiveClient.allInstances(port: centrePort)) ?? found
            if found == expected { break }
            try await Task.sleep(for: .seconds(1))
        }
        #expect(found == expected, "the centre holds \(found.count) of 200")
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
        #expect(stored.count == 200)
        let verify = try await group.dcmstore(["verify", "--archive", centreArchive, "--json"])
        #expect(verify.status == 0, "\(verify.output) \(verify.errors)")
    }
}
