import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Interoperability with pynetdicom (pip install pynetdicom, with pydicom): a pynetdicom SCU sends C-ECHO and
/// C-STORE to ``DICOMServer``; a pynetdicom SCP receives from ``DICOMClient`` and ``FileSender`` (what `dcmsend`
/// runs). The Python scripts are written to a temporary directory and run with a time limit; 127.0.0.1 only.
@Suite(.serialized)
struct PynetdicomInteropTests {
    /// Echoes, then stores each file given (as read by pydicom, so pynetdicom encodes it) and prints the statuses as JSON.
    static let scuScript = """
        import json, sys
        from pydicom import dcmread
        from pynetdicom import AE
        from pynetdicom.sop_class import Verification

        port, paths = int(sys.argv[1]), sys.argv[2:]
        ae = AE(ae_title="PYSCU")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        datasets = [dcmread(p) for p in paths]
        ae.add_requested_context(Verification)
        seen = set()
        for ds in datasets:
            key = (ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.TransferSyntaxUID)
            if key not in seen:
                seen.add(key)
                ae.add_requested_context(key[0], [key[1]])
        assoc = ae.associate("127.0.0.1", port, ae_title="ANY-SCP")
        if not assoc.is_established:
            print(json.dumps({"error": "association not established"}))
            sys.exit(2)
        echo = assoc.send_c_echo()
        result = {"echo": int(echo.Status) if "Status" in echo else -1, "store": []}
        for ds in datasets:
            status = assoc.send_c_store(ds)
            result["store"].append(int(status.Status) if "Status" in status else -1)
        assoc.release()
        print(json.dumps(result))
        """

    /// Accepts every storage SOP class in every transfer syntax pynetdicom knows and writes each received data set,
    /// as received (File Meta Information added by pynetdicom), to OUT/<SOP Instance UID>.dcm. Runs until killed or
    /// for at most LIFETIME seconds.
    static let scpScript = """
        import os, sys, time
        from pynetdicom import AE, evt, AllStoragePresentationContexts, ALL_TRANSFER_SYNTAXES
        from pynetdicom.sop_class import Verification

        port, out, lifetime = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])

        def on_store(event):
            uid = event.request.AffectedSOPInstanceUID
            temporary = os.path.join(out, "." + uid + ".part")
            with open(temporary, "wb") as f:
                f.write(event.encoded_dataset(include_meta=True))
            os.rename(temporary, os.path.join(out, uid + ".dcm"))
            return 0x0000

        ae = AE(ae_title="PYSCP")
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
        print("ready", flush=True)
        deadline = time.time() + lifetime
        while time.time() < deadline:
            time.sleep(0.1)
        server.shutdown()
        """

    /// Writes `script` to `directory` and checks that pynetdicom can be imported (fails loudly when it cannot).
    static func prepare(_ script: String, named name: String, in directory: String) throws -> String {
        let path = directory + "/" + name
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import pynetdicom, pydicom"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        try #require(probe.terminationStatus == 0, "pynetdicom is not installed for python3 (pip install pynetdicom pydicom==3.0.2)")
        return path
    }

    /// A few varied instances: several SOP classes, transfer syntaxes and sizes (one larger than many PDUs).
    static func makeInstances(in directory: String) throws -> [(path: String, dataSet: DataSet, uid: String)] {
        let specs: [(sopClass: String, syntax: TransferSyntax, rows: Int)] = [
            (TestSupport.ctImageStorage, .explicitVRLittleEndian, 64),
            (TestSupport.ctImageStorage, .implicitVRLittleEndian, 32),
            (TestSupport.secondaryCaptureStorage, .explicitVRLittleEndian, 16),
            ("1.2.840.10008.5.1.4.1.1.4", .deflatedExplicitVRLittleEndian, 48), // MR Image Storage
            (TestSupport.ctImageStorage, .explicitVRLittleEndian, 1024), // 2 MB of pixel data
        ]
        return try specs.enumerated().map { index, spec in
            let uid = "1.2.826.0.1.3680043.10.999.7.\(index + 1)"
            let dataSet = try TestSupport.makeInstance(sopClassUID: spec.sopClass, sopInstanceUID: uid, rows: spec.rows, columns: spec.rows)
            let path = try TestSupport.writeInstance(dataSet, transferSyntax: spec.syntax, to: directory, name: "in\(index).dcm")
            return (path, dataSet, uid)
        }
    }

    @Test func pynetdicomSCUToOurServer() async throws {
        let directory = try TestSupport.temporaryDirectory("pynetdicom-scu")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = try Self.prepare(Self.scuScript, named: "scu.py", in: directory)
        let instances = try Self.makeInstances(in: directory)
        let received = directory + "/received"
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: received))
        let scu = try PeerProcess("/usr/bin/env", ["python3", script, "\(server.port)"] + instances.map(\.path),
                                  logPath: directory + "/scu.log")
        defer { scu.stop() }
        let finished = await scu.wait(seconds: 60)
        await server.shutdown()
        try #require(finished, "the pynetdicom SCU did not finish within 60 s")
        #expect(scu.exitStatus == 0, "pynetdicom SCU failed: \(scu.logTail)")

        // The last line of the log is the JSON result (stdout and stderr share the log).
        let lines = scu.logTail.split(separator: "\n")
        let json = try #require(lines.last(where: { $0.hasPrefix("{") }), "no result from the SCU: \(scu.logTail)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(result["echo"] as? Int == 0, "C-ECHO status: \(json)")
        #expect(result["store"] as? [Int] == Array(repeating: 0, count: instances.count), "C-STORE statuses: \(json)")

        for instance in instances {
            let stored = try DICOMFile(contentsOf: received + "/\(instance.uid).dcm")
            #expect(stored.dataSet == instance.dataSet, "\(instance.uid): \(PydicomCollection.difference(instance.dataSet, stored.dataSet, path: ""))")
        }
    }

    @Test func ourClientAndFileSenderToPynetdicomSCP() async throws {
        let directory = try TestSupport.temporaryDirectory("pynetdicom-scp")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = try Self.prepare(Self.scpScript, named: "scp.py", in: directory)
        let instances = try Self.makeInstances(in: directory)
        let output = directory + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let port = TestSupport.freePort()
        let scp = try PeerProcess("/usr/bin/env", ["python3", script, "\(port)", output, "90"], logPath: directory + "/scp.log")
        defer { scp.stop() }

        // DICOMClient: echo and one store on an association of our own (waits for the SCP to listen).
        var association: Association?
        for _ in 0..<150 where association == nil {
            association = try? await DICOMClient.connect(host: "127.0.0.1", port: port, callingAE: "SWIFTSCU", calledAE: "PYSCP",
                                                         presentationContexts: PresentationContext.numbered(
                                                            [verificationSOPClassUID, TestSupport.ctImageStorage],
                                                            transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid]))
            if association == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let client = try #require(association, "cannot associate with the pynetdicom SCP: \(scp.logTail)")
        #expect(try await client.echo() == .success)
        let first = try await client.store(fileAt: instances[0].path)
        #expect(first.status == .success)
        // The SCP advertises pynetdicom's default maximum PDU length (16,382), so the 2 MB instance is cut in many PDUs.
        #expect(client.negotiated.peerMaximumPDULength > 0 && client.negotiated.peerMaximumPDULength < 65536)
        try await client.release()

        // FileSender, as dcmsend runs it: every file, each in its own transfer syntax.
        let sender = FileSender(host: "127.0.0.1", port: port, callingAE: "SWIFTSCU", calledAE: "PYSCP")
        let results = await sender.send(paths: instances.dropFirst().map(\.path))
        for result in results {
            #expect(result.ok, "\(result.path): \(result.error ?? result.status ?? "?")")
        }
        scp.stop()

        for instance in instances {
            let path = output + "/\(instance.uid).dcm"
            let stored = try #require(try? DICOMFile(contentsOf: path), "\(instance.uid) did not arrive: \(scp.logTail)")
            #expect(stored.dataSet == instance.dataSet, "\(instance.uid): \(PydicomCollection.difference(instance.dataSet, stored.dataSet, path: ""))")
        }
    }
}
