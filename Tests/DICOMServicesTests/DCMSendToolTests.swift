import DICOMCore
import DICOMIO
import DICOMServices
import Foundation
import Testing

/// The built `dcmsend` binary, end to end against our server (skipped when it has not been built).
enum DCMSendBinary {
    static var path: String? {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("dcmsend").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

@Suite(.enabled(if: DCMSendBinary.path != nil, "the dcmsend binary is not built next to the tests"))
struct DCMSendToolTests {

    /// Runs dcmsend; returns exit status and standard output. Bounded at 60 s.
    static func dcmsend(_ arguments: [String]) async throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DCMSendBinary.path!)
        process.arguments = arguments
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("dcmsend-\(UUID().uuidString).out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL) }
            try await Task.sleep(for: .milliseconds(20))
        }
        try handle.close()
        defer { unlink(output.path) }
        return (process.terminationStatus, try Data(contentsOf: output))
    }

    struct Result: Decodable {
        var path: String
        var sopInstanceUID: String?
        var status: String?
        var ok: Bool
        var skipped: Bool
    }

    @Test func sendsADirectoryAndReportsJSON() async throws {
        let directory = try TestSupport.temporaryDirectory("dcmsend")
        let input = directory + "/in"
        try FileManager.default.createDirectory(atPath: input + "/deeper", withIntermediateDirectories: true)
        for index in 0..<3 {
            let instance = try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.7.\(index)")
            _ = try TestSupport.writeInstance(instance, transferSyntax: index == 1 ? .implicitVRLittleEndian : .explicitVRLittleEndian,
                                              to: index == 2 ? input + "/deeper" : input, name: "f\(index).dcm")
        }
        try Data("plain text".utf8).write(to: URL(fileURLWithPath: input + "/notes.txt"))
        let received = directory + "/received"
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: received))

        let (status, output) = try await Self.dcmsend(["127.0.0.1", "\(server.port)", input, "--json", "--aet", "TOOLTEST"])
        #expect(status == 0)
        let results = try JSONDecoder().decode([Result].self, from: output)
        #expect(results.count == 4)
        #expect(results.filter(\.ok).count == 3)
        #expect(results.filter(\.skipped).map { ($0.path as NSString).lastPathComponent } == ["notes.txt"])
        #expect(results.filter(\.ok).allSatisfy { $0.status == "0000" })
        #expect(Set(results.compactMap(\.sopInstanceUID)) == Set((0..<3).map { "1.2.826.0.1.3680043.10.999.7.\($0)" }))
        for index in 0..<3 {
            let stored = try DICOMFile(contentsOf: received + "/1.2.826.0.1.3680043.10.999.7.\(index).dcm")
            #expect(stored.fileMetaInformation.string(Tag(0x0002, 0x0016)) == "TOOLTEST")
        }

        #expect(try await Self.dcmsend(["127.0.0.1", "\(server.port)", "--echo"]).status == 0)
        await server.shutdown()
        // Nobody listening any more: every file fails, exit 1.
        #expect(try await Self.dcmsend(["127.0.0.1", "\(server.port)", input, "--timeout", "5"]).status == 1)
        #expect(try await Self.dcmsend(["127.0.0.1", "\(server.port)", "--echo", "--timeout", "5"]).status == 1)
        // Bad usage.
        #expect(try await Self.dcmsend(["127.0.0.1", "\(server.port)"]).status == 64)
    }
}
