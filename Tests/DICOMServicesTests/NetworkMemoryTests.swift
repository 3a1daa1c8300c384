import Foundation
import Testing

/// Peak memory of our SCP receiving one large instance: runs the built `dcmbench memory-network`, which sends a sparse
/// file with the built `dcmsend` to `dcmbench network-scp` (a ``DICOMServer`` in its own process) and fails when the
/// server's VmHWM reaches the limit. The 2 GB figure is measured by the benchmark; here 256 MiB keeps it short.
struct NetworkMemoryTests {
    static var dcmbench: String? {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("dcmbench").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    @Test func serverPeakMemoryStaysBoundedFor256MiBInstance() async throws {
        let binary = try #require(Self.dcmbench, "the dcmbench binary is not built next to the tests (swift build --build-tests builds it)")
        let sendBinary = URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("dcmsend").path
        try #require(FileManager.default.isExecutableFile(atPath: sendBinary), "the dcmsend binary is not built next to dcmbench")
        let workdir = try TestSupport.temporaryDirectory("memory-network")
        defer { try? FileManager.default.removeItem(atPath: workdir) }
        let log = workdir + "/dcmbench.log"
        let peer = try PeerProcess(binary, ["memory-network", "--size-mb", "256", "--limit-mb", "100", "--workdir", workdir], logPath: log)
        defer { peer.stop() }
        let finished = await peer.wait(seconds: 120)
        try #require(finished, "dcmbench memory-network did not finish within 120 s: \(peer.logTail)")
        #expect(peer.exitStatus == 0, "dcmbench memory-network failed: \(peer.logTail)")
        // The table names the SCP's peak; make sure the measurement really happened.
        #expect(peer.logTail.contains("VmHWM"), "no measurement in the output: \(peer.logTail)")
    }
}
