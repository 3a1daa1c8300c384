import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive

/// Storage Commitment Push Model (PS3.4 J.3): `dcmstore serve` as SCP for a pynetdicom SCU, our SCU against a
/// pynetdicom SCP, and the forwarder asking a second `dcmstore` for commitment. 127.0.0.1 only; every child process is
/// stopped by its PID.
@Suite("Storage Commitment", .serialized)
struct StorageCommitmentTests {
    /// Stores the files given, then asks for commitment of them plus UNKNOWN on the same association and waits (20 s)
    /// for the N-EVENT-REPORT there; prints the N-ACTION status and the result as JSON.
    static let scuScript = """
        import json, sys, threading
        from pydicom import dcmread
        from pydicom.dataset import Dataset
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import StorageCommitmentPushModel

        port, transaction, unknown, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
        done = threading.Event()
        result = {}

        def on_report(event):
            info = event.event_information
            result["event_type"] = int(event.event_type)
            result["transaction"] = str(info.TransactionUID)
            result["committed"] = [str(i.ReferencedSOPInstanceUID) for i in info.get("ReferencedSOPSequence", [])]
            result["failed"] = [[str(i.ReferencedSOPInstanceUID), int(i.FailureReason)] for i in info.get("FailedSOPSequence", [])]
            done.set()
            return 0x0000, None

        ae = AE(ae_title="PYCOMMIT")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        datasets = [dcmread(p) for p in paths]
        ae.add_requested_context(StorageCommitmentPushModel)
        ae.add_requested_context(datasets[0].SOPClassUID)
        assoc = ae.associate("127.0.0.1", port, ae_title="DCMSTORE", evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])
        if not assoc.is_established:
            print(json.dumps({"error": "association not established"}))
            sys.exit(2)
        result["store"] = [int(assoc.send_c_store(ds).Status) for ds in datasets]
        request = Dataset()
        request.TransactionUID = transaction
        items = []
        for ds in datasets:
            item = Dataset()
            item.ReferencedSOPClassUID = ds.SOPClassUID
            item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
            items.append(item)
        item = Dataset()
        item.ReferencedSOPClassUID = datasets[0].SOPClassUID
        item.ReferencedSOPInstanceUID = unknown
        items.append(item)
        request.ReferencedSOPSequence = items
        status, _ = assoc.send_n_action(request, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
        result["action_status"] = int(status.Status) if "Status" in status else -1
        result["received"] = done.wait(20)
        assoc.release()
        print(json.dumps(result), flush=True)
        """

    /// A Storage Commitment SCP: commits every instance except those whose UID ends in ".99" (0112H), and sends the
    /// result on the requestor's association from a thread shortly after answering the N-ACTION. Runs for at most
    /// LIFETIME seconds.
    static let scpScript = """
        import sys, threading, time
        from pydicom.dataset import Dataset
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import StorageCommitmentPushModel

        port, lifetime = int(sys.argv[1]), float(sys.argv[2])

        def on_action(event):
            request = event.action_information
            info = Dataset()
            info.TransactionUID = request.TransactionUID
            good, bad = [], []
            for item in request.ReferencedSOPSequence:
                out = Dataset()
                out.ReferencedSOPClassUID = item.ReferencedSOPClassUID
                out.ReferencedSOPInstanceUID = item.ReferencedSOPInstanceUID
                if str(item.ReferencedSOPInstanceUID).endswith(".99"):
                    out.FailureReason = 0x0112
                    bad.append(out)
                else:
                    good.append(out)
            if good:
                info.ReferencedSOPSequence = good
            if bad:
                info.FailedSOPSequence = bad
            assoc = event.assoc
            def report():
                time.sleep(0.2)
                assoc.send_n_event_report(info, 2 if bad else 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
            threading.Thread(target=report, daemon=True).start()
            return 0x0000, None

        ae = AE(ae_title="PYSCP")
        ae.add_supported_context(StorageCommitmentPushModel)
        server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_N_ACTION, on_action)])
        print("ready", flush=True)
        deadline = time.time() + lifetime
        while time.time() < deadline:
            time.sleep(0.1)
        server.shutdown()
        """

    /// Listens on LISTEN as PYLATE (SCU/SCP roles for Storage Commitment), then asks PORT for commitment of UID and
    /// aborts its association as soon as the N-ACTION is answered (a report arriving meanwhile is never answered):
    /// the result must come on a new association to the listener. Prints what the listener received as JSON.
    static let lateScript = """
        import json, sys, threading, time
        from pydicom.dataset import Dataset
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import StorageCommitmentPushModel

        port, listen, transaction, sop_class, uid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
        done = threading.Event()
        result = {}

        def on_late_report(event):
            info = event.event_information
            result["event_type"] = int(event.event_type)
            result["transaction"] = str(info.TransactionUID)
            result["committed"] = [str(i.ReferencedSOPInstanceUID) for i in info.get("ReferencedSOPSequence", [])]
            result["calling"] = str(event.assoc.requestor.ae_title)
            done.set()
            return 0x0000, None

        first = threading.Event()
        def on_early_report(event):
            first.set()
            time.sleep(3)   # never answered: the association is aborted meanwhile
            return 0x0000, None

        listener = AE(ae_title="PYLATE")
        listener.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
        server = listener.start_server(("127.0.0.1", listen), block=False, evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_late_report)])

        ae = AE(ae_title="PYLATE")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        ae.add_requested_context(StorageCommitmentPushModel)
        assoc = ae.associate("127.0.0.1", port, ae_title="DCMSTORE", evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_early_report)])
        if not assoc.is_established:
            print(json.dumps({"error": "association not established"}))
            sys.exit(2)
        request = Dataset()
        request.TransactionUID = transaction
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = uid
        request.ReferencedSOPSequence = [item]
        status, _ = assoc.send_n_action(request, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
        result["action_status"] = int(status.Status) if "Status" in status else -1
        first.wait(1)
        assoc.abort()
        result["received"] = done.wait(30)
        server.shutdown()
        print(json.dumps(result), flush=True)
        """

    /// Sends malformed Storage Commitment requests on one association and prints each N-ACTION status, then a C-ECHO
    /// status (the association must stay usable) as JSON.
    static let badRequestScript = """
        import json, sys
        from pydicom.dataset import Dataset
        from pynetdicom import AE
        from pynetdicom.sop_class import StorageCommitmentPushModel, Verification

        port = int(sys.argv[1])
        from pynetdicom import debug_logger
        debug_logger()
        ae = AE(ae_title="PYBAD")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        ae.add_requested_context(StorageCommitmentPushModel)
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", port, ae_title="DCMSTORE")
        if not assoc.is_established:
            print(json.dumps({"error": "association not established"}))
            sys.exit(2)
        def good():
            ds = Dataset()
            ds.TransactionUID = "1.2.3.4"
            item = Dataset()
            item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            item.ReferencedSOPInstanceUID = "1.2.3.4.5"
            ds.ReferencedSOPSequence = [item]
            return ds
        def status(answer):
            return int(answer[0].Status) if answer[0] is not None and "Status" in answer[0] else -1
        no_transaction = good()
        del no_transaction.TransactionUID
        no_items = good()
        no_items.ReferencedSOPSequence = []
        no_instance = good()
        del no_instance.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        instance = "1.2.840.10008.1.20.1.1"
        result = {
            "action_type": status(assoc.send_n_action(good(), 2, StorageCommitmentPushModel, instance)),
            "instance": status(assoc.send_n_action(good(), 1, StorageCommitmentPushModel, "1.2.3")),
            "no_transaction": status(assoc.send_n_action(no_transaction, 1, StorageCommitmentPushModel, instance)),
            "no_items": status(assoc.send_n_action(no_items, 1, StorageCommitmentPushModel, instance)),
            "no_instance": status(assoc.send_n_action(no_instance, 1, StorageCommitmentPushModel, instance)),
        }
        echo = assoc.send_c_echo()
        result["echo"] = int(echo.Status) if "Status" in echo else -1
        assoc.release()
        print(json.dumps(result), flush=True)
        """

    /// Writes a script and checks that pynetdicom can be imported (fails loudly when it cannot: CI installs it).
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

    /// The Action and Event Information data sets round-trip through their encoders and decoders.
    @Test func informationRoundTrip() throws {
        let references = [SOPReference(sopClassUID: TestInstances.ctImage, sopInstanceUID: "1.2.3.4"),
                          SOPReference(sopClassUID: TestInstances.ctImage, sopInstanceUID: "1.2.3.5")]
        let request = StorageCommitmentRequest(transactionUID: "1.2.3.9", references: references)
        let bytes = try DataSetWriter.encode(request.actionInformation, transferSyntax: .implicitVRLittleEndian)
        #expect(try StorageCommitmentRequest(actionInformation: DataSetReader.read(bytes, transferSyntax: .implicitVRLittleEndian)) == request)

        let result = StorageCommitmentResult(transactionUID: "1.2.3.9", committed: [references[0]],
                                             failed: [FailedSOPReference(reference: references[1], failureReason: 0x0112)])
        #expect(result.eventTypeID == 2)
        let encoded = try DataSetWriter.encode(result.eventInformation, transferSyntax: .explicitVRLittleEndian)
        let decoded = try StorageCommitmentResult(eventInformation: DataSetReader.read(encoded, transferSyntax: .explicitVRLittleEndian))
        #expect(decoded == result)
        #expect(StorageCommitmentResult(transactionUID: "1.2.3.9", committed: references).eventTypeID == 1)

        // A request without a Transaction UID or without references is refused with a message naming what is missing.
        var empty = DataSet()
        empty.setASCII(.transactionUID, vr: .UI, "1.2.3")
        #expect(throws: DIMSEFailure.self) { try StorageCommitmentRequest(actionInformation: empty) }
        #expect(throws: DIMSEFailure.self) { try StorageCommitmentRequest(actionInformation: DataSet()) }
    }

    /// pynetdicom stores three instances in `dcmstore serve`, then asks for commitment of them and of one unknown
    /// UID: the result arrives on the same association with event type 2, the three committed and the unknown one
    /// failed with 0112H; the audit trail has the `commit` line.
    @Test func pynetdicomSCUAgainstDCMStore() async throws {
        let base = try EndToEnd.temporaryDirectory("commit-scp")
        let group = ProcessGroup(logDirectory: base)
        defer { group.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let script = try Self.prepare(Self.scuScript, named: "scu.py", in: base)
        let archive = base + "/archive"
        let server = try await group.startServer(archive: archive)
        let root = TestInstances.root()
        var paths: [String] = []
        var uids: [String] = []
        for n in 1...3 {
            let instance = try TestInstances.make(study: root + ".1", series: root + ".1.1", sop: root + ".1.1.\(n)",
                                                  patientID: "COMMIT1", patientName: "Commit^Test", instanceNumber: n)
            paths.append(try TestInstances.write(instance, in: base))
            uids.append(instance.sop)
        }
        let unknown = root + ".404"
        let transaction = root + ".7"
        let run = try await group.run("/usr/bin/env", ["python3", script, "\(server.port)", transaction, unknown] + paths,
                                      timeout: .seconds(90))
        #expect(await server.terminate() == 0)
        try #require(run.status == 0, "the pynetdicom SCU failed: \(run.output) \(run.errors)")
        let line = try #require(run.output.split(separator: "\n").last.map(String.init), "no output: \(run.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        #expect(json["store"] as? [Int] == [0, 0, 0])
        #expect(json["action_status"] as? Int == 0)
        #expect(json["received"] as? Bool == true, "no N-EVENT-REPORT on the association: \(run.errors)")
        #expect(json["event_type"] as? Int == 2)
        #expect(json["transaction"] as? String == transaction)
        #expect(Set(json["committed"] as? [String] ?? []) == Set(uids))
        let failed = json["failed"] as? [[Any]] ?? []
        #expect(failed.count == 1)
        #expect(failed.first?.first as? String == unknown)
        #expect(failed.first?.last as? Int == 0x0112)

        let audit = try AuditLog(path: ArchiveLayout(root: archive).auditLogPath).entries().filter { $0.action == "commit" }
        #expect(audit.count == 1)
        #expect(audit.first?.uid == transaction)
        #expect(audit.first?.count == 3)
        #expect(audit.first?.aeTitle == "PYCOMMIT")
        #expect(audit.first?.reason?.contains(unknown) == true)
    }

    /// Malformed requests are refused with the N-ACTION status of PS3.7 §10.1.4.1.10 (0123H no such action, 0112H no
    /// such SOP instance, 0115H invalid argument value) and the association stays usable.
    @Test func malformedRequestsAreRefused() async throws {
        let base = try EndToEnd.temporaryDirectory("commit-bad")
        let group = ProcessGroup(logDirectory: base)
        defer { group.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let script = try Self.prepare(Self.badRequestScript, named: "bad.py", in: base)
        // Debug logs on both sides: the C-ECHO after the refused N-ACTIONs once went unanswered, in CI and under load
        // here (2 runs in 40, not reproduced since); the server's log shows whether it received the C-ECHO-RQ, the
        // script's (pynetdicom's debug logger, on stderr) what came back.
        let server = try await group.startServer(archive: base + "/archive", arguments: ["--log-level", "debug"])
        let run = try await group.run("/usr/bin/env", ["python3", script, "\(server.port)"], timeout: .seconds(90))
        #expect(await server.terminate() == 0)
        // The server's log is in the message: this test once failed in CI (the C-ECHO after the refused N-ACTIONs went
        // unanswered) and the log was gone with the test's directory.
        try #require(run.status == 0, "the pynetdicom script failed: \(run.output) \(run.errors)\nserver log:\n\(server.process.errors.suffix(8000))")
        let line = try #require(run.output.split(separator: "\n").last.map(String.init), "no output: \(run.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        #expect(json["action_type"] as? Int == 0x0123)
        #expect(json["instance"] as? Int == 0x0112)
        #expect(json["no_transaction"] as? Int == 0x0115)
        #expect(json["no_items"] as? Int == 0x0115)
        #expect(json["no_instance"] as? Int == 0x0115)
        #expect(json["echo"] as? Int == 0, "the C-ECHO after the refused N-ACTIONs: \(run.errors.suffix(6000))\nserver log:\n\(server.process.errors.suffix(8000))")
        // No result was sent for a refused request: the audit trail has no commit line.
        let audit = try AuditLog(path: ArchiveLayout(root: base + "/archive").auditLogPath).entries()
        #expect(!audit.contains { $0.action == "commit" })
    }

    /// A requestor that aborts its association right after the N-ACTION-RSP gets the result on a new association
    /// that `dcmstore` opens to it (known by `--peer`), proposing the SCP role for Storage Commitment.
    @Test func resultDeliveredOnNewAssociation() async throws {
        let base = try EndToEnd.temporaryDirectory("commit-late")
        let group = ProcessGroup(logDirectory: base)
        defer { group.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let script = try Self.prepare(Self.lateScript, named: "late.py", in: base)
        let listen = try EndToEnd.freePort()
        let server = try await group.startServer(archive: base + "/archive", arguments: ["--peer", "PYLATE=127.0.0.1:\(listen)"])
        let root = TestInstances.root()
        let instance = try TestInstances.make(study: root + ".1", series: root + ".1.1", sop: root + ".1.1.1", patientID: "LATE",
                                              patientName: "Late^Result")
        let association = try await ArchiveClient.connect(port: server.port)
        #expect(try await ArchiveClient.store(instance, on: association) == .success)
        try await association.release()

        let run = try await group.run("/usr/bin/env", ["python3", script, "\(server.port)", "\(listen)", root + ".5",
                                                       TestInstances.ctImage, instance.sop], timeout: .seconds(90))
        #expect(await server.terminate() == 0)
        try #require(run.status == 0, "the pynetdicom script failed: \(run.output) \(run.errors)")
        let line = try #require(run.output.split(separator: "\n").last.map(String.init), "no output: \(run.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        #expect(json["action_status"] as? Int == 0)
        #expect(json["received"] as? Bool == true, "no result on a new association: \(run.errors) \(server.process.errors)")
        #expect(json["event_type"] as? Int == 1)
        #expect(json["transaction"] as? String == root + ".5")
        #expect(json["committed"] as? [String] == [instance.sop])
        #expect(json["calling"] as? String == "DCMSTORE")
    }

    /// Our SCU against a pynetdicom SCP that sends the result after the N-ACTION-RSP: two requests on one association,
    /// each answered with its own transaction, committed and failed lists parsed.
    @Test func ourSCUAgainstPynetdicomSCP() async throws {
        let base = try EndToEnd.temporaryDirectory("commit-scu")
        let group = ProcessGroup(logDirectory: base)
        defer { group.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let script = try Self.prepare(Self.scpScript, named: "scp.py", in: base)
        let port = try EndToEnd.freePort()
        let peer = try group.start("/usr/bin/env", ["python3", script, "\(port)", "90"])
        try await EndToEnd.waitForListener(port: port, timeout: .seconds(30))
        let association = try await DICOMClient.connect(host: "127.0.0.1", port: port, callingAE: "OURSCU", calledAE: "PYSCP",
                                                        presentationContexts: [StorageCommitment.presentationContext(id: 1)])
        do {
            let root = TestInstances.root()
            let good = (1...3).map { SOPReference(sopClassUID: TestInstances.ctImage, sopInstanceUID: root + ".\($0)") }
            let bad = SOPReference(sopClassUID: TestInstances.ctImage, sopInstanceUID: root + ".99")
            let first = try await association.requestStorageCommitment(references: good + [bad], transactionUID: root + ".1000",
                                                                       timeout: .seconds(30))
            #expect(first.transactionUID == root + ".1000")
            #expect(first.committed == good)
            #expect(first.failed == [FailedSOPReference(reference: bad, failureReason: 0x0112)])
            #expect(first.eventTypeID == 2)
            let second = try await association.requestStorageCommitment(references: good, timeout: .seconds(30))
            #expect(second.committed == good)
            #expect(second.failed.isEmpty)
            #expect(second.transactionUID != first.transactionUID)
            try await association.release()
        } catch {
            await association.abort()
            throw error
        }
        #expect(peer.isRunning, "the pynetdicom SCP ended early: \(peer.errors)")
    }

    /// A node forwarding with `--forward-commit` to a centre: every instance reaches the centre, the node's queue ends
    /// empty with the instances counted as committed, and the centre's audit trail holds the commitment requests.
    @Test func forwarderRequestsCommitment() async throws {
        let base = try EndToEnd.temporaryDirectory("commit-forward")
        let group = ProcessGroup(logDirectory: base)
        defer { group.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let centreArchive = base + "/centre"
        let nodeArchive = base + "/node"
        let centre = try await group.startServer(archive: centreArchive)
        let node = try await group.startServer(archive: nodeArchive, aeTitle: "NODE",
                                               arguments: ["--forward", "DCMSTORE=127.0.0.1:\(centre.port)", "--forward-commit",
                                                           "--forward-backoff-max", "1"])
        let root = TestInstances.root()
        var paths: [String] = []
        var expected: Set<String> = []
        for n in 0..<6 {
            let study = root + ".\(n % 2)"
            let instance = try TestInstances.make(study: study, series: study + ".1", sop: root + ".9.\(n)", patientID: "FWD\(n % 2)",
                                                  patientName: "Forward^Commit", instanceNumber: n)
            paths.append(try TestInstances.write(instance, in: base))
            expected.insert(instance.sop)
        }
        let sent = await FileSender(host: "127.0.0.1", port: node.port, callingAE: "MODALITY", calledAE: "NODE").send(paths: paths)
        #expect(sent.filter { $0.ok }.count == 6)

        var found: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            found = (try? await ArchiveClient.allInstances(port: centre.port)) ?? found
            if found == expected { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(found == expected, "the centre holds \(found.count) of 6")
        // The commitment follows the last C-STORE of each batch: wait for the centre's audit to show all six.
        let centreAudit = AuditLog(path: ArchiveLayout(root: centreArchive).auditLogPath)
        var committedAtCentre = 0
        let auditDeadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < auditDeadline {
            committedAtCentre = try centreAudit.entries().filter { $0.action == "commit" }.reduce(0) { $0 + $1.count }
            if committedAtCentre >= 6 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(committedAtCentre == 6)
        try await Task.sleep(for: .milliseconds(500))
        #expect(await node.terminate() == 0)
        #expect(await centre.terminate() == 0)

        let status = try await group.dcmstore(["queue", "status", "--archive", nodeArchive, "--json"])
        #expect(status.status == 0, "\(status.errors)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [[String: Any]], "\(status.output)")
        #expect(rows.count == 1)
        #expect(rows.first?["destination"] as? String == "DCMSTORE")
        #expect(rows.first?["pending"] as? Int == 0)
        #expect(rows.first?["failed"] as? Int == 0)
        #expect(rows.first?["committed"] as? Int == 6)
    }

    /// A node forwarding in-process with `commit` to a centre whose commitment handler never commits one instance
    /// (0112H) and fails another once (0110H): the second is sent again and committed, the first moves to the failed
    /// list after the maximum attempts, the rest leave the queue committed.
    @Test func forwarderRetriesUncommittedInstances() async throws {
        let node = try await StoreFixtures.archive("commit-fwd-node")
        let centre = try await StoreFixtures.archive("commit-fwd-centre")
        defer { node.remove(); centre.remove() }
        let paths = try ForwardEndToEndTests.files(node, count: 4, studies: 2, prefix: "55\(UInt32.random(in: 1...999_999))")
        let uids = try paths.map { path in
            try #require(try DICOMFile(contentsOf: path, options: .metadataOnly).dataSet.string(.sopInstanceUID))
        }
        let never = uids[1]
        let once = uids[2]
        let decisions = CommitmentDecisions()
        var policy = DICOMServer.defaultStoragePolicy()
        policy.accept(abstractSyntax: StorageCommitment.sopClassUID, transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])
        let centreServer = try await DICOMServer.start(port: 0, policy: policy, storageHandler: ArchiveStorageHandler(store: centre.store),
                                                       storageCommitmentHandler: ScriptedCommitmentHandler(never: never, once: once,
                                                                                                           decisions: decisions),
                                                       temporaryDirectory: centre.incoming)
        let queue = try ForwardQueue(directory: ForwardQueue.directory(inArchive: node.layout.root))
        let handler = ForwardingStorageHandler(inner: ArchiveStorageHandler(store: node.store), queue: queue,
                                               rules: [ForwardRule(destination: "CENTRE")])
        let nodeServer = try await DICOMServer.start(port: 0, storageHandler: handler, temporaryDirectory: node.incoming)
        let destination = ForwardDestination(aeTitle: "CENTRE", host: "127.0.0.1", port: centreServer.port, callingAE: "NODE",
                                             timeouts: DICOMTimeouts(connect: .seconds(2), artim: .seconds(10), dimse: .seconds(20)),
                                             commit: true, commitTimeout: .seconds(10))
        let forwarder = Forwarder(queue: queue, archiveRoot: node.layout.root, destination: destination,
                                  backoff: ForwardBackoff(initial: .milliseconds(100), maximum: .milliseconds(200), maximumAttempts: 3)).start()
        let sent = await FileSender(host: "127.0.0.1", port: nodeServer.port, callingAE: "MODALITY", calledAE: "NODE").send(paths: paths)
        #expect(sent.filter { $0.ok }.count == 4, "\(sent.map { $0.error ?? $0.status ?? "?" })")
        let settled = await ForwardEndToEndTests.waitUntil(30) {
            let failedCount = await queue.entries(state: .failed).count
            return await queue.pendingCount() == 0 && failedCount == 1
        }
        forwarder.cancel()
        await forwarder.value
        await nodeServer.shutdown()
        await centreServer.shutdown()
        let entries = await queue.entries()
        #expect(settled, "queue: \(entries)")
        let failed = await queue.entries(state: .failed)
        #expect(failed.map(\.sopInstanceUID) == [never])
        #expect(failed.first?.attempts == 3)
        #expect(failed.first?.lastError?.contains("112H") == true)
        let status = await queue.status()
        #expect(status.first?.committed == 3)
        #expect(await decisions.requests(for: once) == 2)
        #expect(await decisions.requests(for: never) == 3)
        await queue.close()
    }
}

/// How often each instance was named in a commitment request.
actor CommitmentDecisions {
    private var counts: [String: Int] = [:]
    func named(_ uid: String) -> Int {
        counts[uid, default: 0] += 1
        return counts[uid] ?? 0
    }
    func requests(for uid: String) -> Int { counts[uid] ?? 0 }
}

/// Commits everything except `never` (0112H always) and `once` (0110H the first time).
struct ScriptedCommitmentHandler: StorageCommitmentHandler {
    let never: String
    let once: String
    let decisions: CommitmentDecisions

    func commit(_ request: StorageCommitmentRequest, context: RequestContext) async -> StorageCommitmentResult {
        var committed: [SOPReference] = []
        var failed: [FailedSOPReference] = []
        for reference in request.references {
            let time = await decisions.named(reference.sopInstanceUID)
            if reference.sopInstanceUID == never {
                failed.append(FailedSOPReference(reference: reference, failureReason: 0x0112))
            } else if reference.sopInstanceUID == once && time == 1 {
                failed.append(FailedSOPReference(reference: reference, failureReason: 0x0110))
            } else {
                committed.append(reference)
            }
        }
        return StorageCommitmentResult(transactionUID: request.transactionUID, committed: committed, failed: failed)
    }
}
