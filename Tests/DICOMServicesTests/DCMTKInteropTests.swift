import DICOMCore
import DICOMIO
import DICOMServices
import Foundation
import Testing

/// Interoperability with DCMTK's storescp, echoscu and storescu (127.0.0.1, free ports, bounded waits).
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/storescp")
                   && FileManager.default.isExecutableFile(atPath: "/usr/bin/storescu")
                   && FileManager.default.isExecutableFile(atPath: "/usr/bin/echoscu"),
                "DCMTK (/usr/bin/storescp, storescu, echoscu) is not installed"))
struct DCMTKInteropTests {
    /// Connects, retrying while the freshly launched peer is not listening yet (up to about 10 s).
    static func connectWithRetry(port: Int, contexts: [PresentationContext]) async throws -> Association {
        var lastError: Error?
        for _ in 0..<100 {
            do {
                return try await DICOMClient.connect(host: "127.0.0.1", port: port, callingAE: "SWIFTSCU", calledAE: "STORESCP",
                                                     presentationContexts: contexts)
            } catch let error as DICOMServiceError where error.code == .connectionFailed {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError!
    }

    @Test func ourClientToStorescp() async throws {
        let directory = try TestSupport.temporaryDirectory("storescp")
        let output = directory + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let port = TestSupport.freePort()
        let storescp = try TestSupport.launch("/usr/bin/storescp", ["-aet", "STORESCP", "-od", output, "\(port)"])
        defer { kill(storescp.processIdentifier, SIGKILL); storescp.waitUntilExit() }

        let uid = "1.2.826.0.1.3680043.10.999.2.1"
        let original = try TestSupport.makeInstance(sopInstanceUID: uid, rows: 128, columns: 128)
        let path = try TestSupport.writeInstance(original, to: directory, name: "in.dcm")
        let contexts = PresentationContext.numbered([verificationSOPClassUID, TestSupport.ctImageStorage],
                                                    transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
        let association = try await Self.connectWithRetry(port: port, contexts: contexts)
        #expect(try await association.echo() == .success)
        let result = try await association.store(fileAt: path)
        #expect(result.status == .success)
        try await association.release()

        let names = try FileManager.default.contentsOfDirectory(atPath: output)
        #expect(names.count == 1)
        let stored = try DICOMFile(contentsOf: output + "/" + (names.first ?? "missing"))
        #expect(stored.dataSet.count == original.count)
        for element in original {
            #expect(stored.dataSet[element.tag] == element, "element \(element.tag)")
        }
    }

    @Test func echoscuAndStorescuToOurServer() async throws {
        let directory = try TestSupport.temporaryDirectory("storescu")
        let received = directory + "/received"
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: received))
        #expect(try await TestSupport.run("/usr/bin/echoscu", ["-to", "10", "-aec", "ANY-SCP", "127.0.0.1", "\(server.port)"]) == 0)

        var originals: [String: DataSet] = [:]
        var paths: [String] = []
        for (index, syntax) in [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian].enumerated() {
            let uid = "1.2.826.0.1.3680043.10.999.3.\(index + 1)"
            originals[uid] = try TestSupport.makeInstance(sopInstanceUID: uid, rows: 32, columns: 32)
            paths.append(try TestSupport.writeInstance(originals[uid]!, transferSyntax: syntax, to: directory, name: "in\(index).dcm"))
        }
        // storescu proposes each file's own transfer syntax and stores it unchanged.
        #expect(try await TestSupport.run("/usr/bin/storescu", ["-to", "10", "-aec", "ANY-SCP", "127.0.0.1", "\(server.port)"] + paths) == 0)
        for (uid, original) in originals {
            let stored = try DICOMFile(contentsOf: received + "/\(uid).dcm")
            #expect(stored.dataSet.count == original.count)
            for element in original {
                #expect(stored.dataSet[element.tag] == element, "\(uid) element \(element.tag)")
            }
        }
        // A file DCMTK itself can read back.
        #expect(try await TestSupport.run("/usr/bin/dcmdump", ["-q", received + "/1.2.826.0.1.3680043.10.999.3.3.dcm"]) == 0)
        await server.shutdown()
    }
}
