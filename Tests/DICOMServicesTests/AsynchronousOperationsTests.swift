import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The asynchronous operations window (PS3.7 §D.3.3.3) end to end: our client with a window keeps several C-STOREs
/// outstanding, our server runs their storage handlers at once and answers each when its handler is done (out of
/// order), and every response reaches the C-STORE it answers. Synchronous peers (DCMTK storescu, pynetdicom, our client
/// without a window) are served one operation at a time as before; an abort with handlers running ends cleanly.
@Suite(.serialized) struct AsynchronousOperationsTests {
    static let contexts = PresentationContext.numbered([verificationSOPClassUID, TestSupport.ctImageStorage],
                                                       transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])

    static func uid(_ index: Int) -> String { "1.2.826.0.1.3680043.10.999.41.\(index)" }

    /// About 128 KB: three P-DATA-TF PDUs at the server's 64 KiB maximum, so that messages sent interleaved would show.
    static func encodedInstance(_ index: Int) throws -> ByteBuffer {
        ByteBuffer(bytes: try DataSetWriter.encode(try TestSupport.makeInstance(sopInstanceUID: uid(index), rows: 256, columns: 256),
                                                   transferSyntax: .explicitVRLittleEndian))
    }

    /// The status the handler answers for instance `index`: success, but a warning for 3 and a failure for 6, so that a
    /// response given to the wrong C-STORE shows.
    static func status(for index: Int) -> DIMSEStatus {
        switch index {
        case 3: DIMSEStatus(0xB000)   // coercion of data elements (warning)
        case 6: .outOfResources
        default: .success
        }
    }

    /// Window 4, eight C-STOREs from eight tasks; the handler takes longest for the first instance, so its response
    /// comes after later ones.
    @Test func outOfOrderResponsesReachTheirRequests() async throws {
        // The first instance's handler returns only once three others finished (at most 10 s): with one handler at a
        // time the others could not run meanwhile, so this shows the overlap without measuring time.
        let handler = RecordingHandler(delay: { _ in .milliseconds(30) },
                                       waitsForOthers: { $0 == AsynchronousOperationsTests.uid(1) ? 3 : 0 },
                                       status: { uid in
                                           let index = Int(uid.split(separator: ".").last ?? "") ?? 0
                                           return AsynchronousOperationsTests.status(for: index)
                                       })
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)
        do {
            let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "ASYNC", calledAE: "ANY-SCP",
                                                            presentationContexts: Self.contexts, asynchronousOperations: 4,
                                                            timeouts: DICOMTimeouts(dimse: .seconds(20)))
            #expect(association.maximumOutstandingOperations == 4)
            #expect(association.negotiated.accept.userInformation.asynchronousOperationsWindow
                    == AsynchronousOperationsWindow(maximumInvoked: 4, maximumPerformed: 1))
            let buffers = try (1...8).map { try Self.encodedInstance($0) }
            let start = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: (Int, DIMSEStatus).self) { group in
                for index in 1...8 {
                    group.addTask {
                        (index, try await association.store(dataSet: buffers[index - 1], sopClassUID: TestSupport.ctImageStorage,
                                                            sopInstanceUID: Self.uid(index), transferSyntax: .explicitVRLittleEndian))
                    }
                }
                var statuses: [Int: DIMSEStatus] = [:]
                for try await (index, status) in group { statuses[index] = status }
                return statuses
            }
            let elapsed = ContinuousClock.now - start
            #expect(try await association.echo() == .success)
            try await association.release()

            for index in 1...8 {
                #expect(statuses[index] == Self.status(for: index), "instance \(index): \(String(describing: statuses[index]))")
            }
            let completed = handler.completionOrder
            #expect(Set(completed) == Set((1...8).map(Self.uid)))
            #expect((completed.firstIndex(of: Self.uid(1)) ?? 0) >= 3, "the first instance finishes after three others: \(completed)")
            #expect(handler.othersFinishedWhileWaiting, "other handlers ran while the first one waited")
            #expect(handler.maximumConcurrent > 1, "handlers overlap")
            #expect(handler.maximumConcurrent <= 4, "never more than the window: \(handler.maximumConcurrent)")
            #expect(elapsed < .seconds(10), "no handler waited for its 10 s limit (\(elapsed))")
        } catch {
            await server.shutdown(gracePeriod: .milliseconds(100))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(2))
    }

    /// Without a window (the default), our client runs one C-STORE at a time even when tasks call it at once, and the
    /// server runs the handlers one at a time.
    @Test func synchronousByDefault() async throws {
        let handler = RecordingHandler(delay: { _ in .milliseconds(20) }, status: { _ in .success })
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)
        do {
            let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SYNC", calledAE: "ANY-SCP",
                                                            presentationContexts: Self.contexts)
            #expect(association.maximumOutstandingOperations == 1)
            #expect(association.negotiated.accept.userInformation.asynchronousOperationsWindow == nil)
            let buffers = try (1...4).map { try Self.encodedInstance($0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1...4 {
                    group.addTask {
                        let status = try await association.store(dataSet: buffers[index - 1], sopClassUID: TestSupport.ctImageStorage,
                                                                 sopInstanceUID: Self.uid(index), transferSyntax: .explicitVRLittleEndian)
                        #expect(status == .success)
                    }
                }
                try await group.waitForAll()
            }
            try await association.release()
            #expect(handler.maximumConcurrent == 1)
            #expect(handler.completionOrder.count == 4)
        } catch {
            await server.shutdown(gracePeriod: .milliseconds(100))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(2))
    }

    /// Aborting with C-STOREs outstanding: the waiting stores fail at once (not when the handlers end), the server's
    /// handlers finish (what they stored stays stored) and the server closes the association and shuts down in time.
    @Test func abortWithOperationsInFlight() async throws {
        let handler = RecordingHandler(delay: { _ in .milliseconds(3000) }, status: { _ in .success })
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)
        do {
            let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "ABORT", calledAE: "ANY-SCP",
                                                            presentationContexts: Self.contexts, asynchronousOperations: 4,
                                                            timeouts: DICOMTimeouts(dimse: .seconds(20)))
            let buffers = try (1...4).map { try Self.encodedInstance($0) }
            let stores = Task {
                await withTaskGroup(of: (any Error)?.self) { group in
                    for index in 1...4 {
                        group.addTask {
                            do {
                                _ = try await association.store(dataSet: buffers[index - 1], sopClassUID: TestSupport.ctImageStorage,
                                                                sopInstanceUID: Self.uid(index), transferSyntax: .explicitVRLittleEndian)
                                return nil
                            } catch {
                                return error
                            }
                        }
                    }
                    var errors: [(any Error)?] = []
                    for await error in group { errors.append(error) }
                    return errors
                }
            }
            // Wait (bounded) until the server runs handlers, then abort.
            let deadline = ContinuousClock.now + .seconds(10)
            while handler.started < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(handler.started >= 2, "handlers started")
            let abortedAt = ContinuousClock.now
            await association.abort()
            let errors = await stores.value
            #expect(ContinuousClock.now - abortedAt < .milliseconds(2000), "the stores fail at the abort, not when the handlers end")
            #expect(errors.count == 4)
            for error in errors {
                guard let error else { Issue.record("a C-STORE succeeded after the abort"); continue }
                #expect((error as? DICOMServiceError)?.code == .associationClosed, "\(error)")
            }
            // The server lets its handlers finish, then closes the association.
            let closing = ContinuousClock.now + .seconds(10)
            while server.openConnectionCount > 0, ContinuousClock.now < closing { try await Task.sleep(for: .milliseconds(20)) }
            #expect(server.openConnectionCount == 0, "the aborted association is closed")
            #expect(handler.running == 0, "no handler still running once the association is gone")
            #expect(handler.completionOrder.count == handler.started, "every started handler finished")
        } catch {
            await server.shutdown(gracePeriod: .milliseconds(100))
            throw error
        }
        let shutdownStart = ContinuousClock.now
        await server.shutdown(gracePeriod: .seconds(5))
        #expect(ContinuousClock.now - shutdownStart < .seconds(5))
    }

    /// Shutting the server down with handlers running: after the grace period the connection is closed, and shutdown
    /// returns once the running handlers finished (bounded by a second grace period).
    @Test func shutdownWaitsForRunningHandlers() async throws {
        let handler = RecordingHandler(delay: { _ in .milliseconds(700) }, status: { _ in .success })
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)
        let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SHUT", calledAE: "ANY-SCP",
                                                        presentationContexts: Self.contexts, asynchronousOperations: 4,
                                                        timeouts: DICOMTimeouts(dimse: .seconds(20)))
        let buffers = try (1...3).map { try Self.encodedInstance($0) }
        let stores = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 1...3 {
                    group.addTask {
                        _ = try? await association.store(dataSet: buffers[index - 1], sopClassUID: TestSupport.ctImageStorage,
                                                         sopInstanceUID: Self.uid(index), transferSyntax: .explicitVRLittleEndian)
                    }
                }
                var count = 0
                for await _ in group { count += 1 }
                return count
            }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while handler.started < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(handler.started == 3)
        let start = ContinuousClock.now
        await server.shutdown(gracePeriod: .milliseconds(200))
        #expect(ContinuousClock.now - start < .seconds(3), "bounded")
        #expect(handler.running == 0, "shutdown returned after the handlers finished")
        #expect(handler.completionOrder.count == 3)
        #expect(server.openConnectionCount == 0)
        #expect(await stores.value == 3, "every store returned")
        await association.abort()
    }

    // MARK: - Synchronous peers against a server that grants a window

    /// DCMTK's storescu (TCP_NODELAY=1) proposes no window: served one C-STORE at a time, every file stored.
    @Test func storescuIsServedSynchronously() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/storescu"), "DCMTK storescu is not installed (apt-get install dcmtk)")
        let directory = try TestSupport.temporaryDirectory("async-storescu")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try (1...5).map { index in
            try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: Self.uid(index)), to: directory, name: "in\(index).dcm")
        }
        let handler = RecordingHandler(delay: { _ in .milliseconds(10) }, status: { _ in .success })
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)
        let status = try await TestSupport.run("/usr/bin/storescu", ["-to", "20", "-aec", "ANY-SCP", "127.0.0.1", "\(server.port)"] + paths,
                                               timeout: 60)
        await server.shutdown(gracePeriod: .seconds(2))
        #expect(status == 0, "storescu exit status")
        #expect(Set(handler.completionOrder) == Set((1...5).map(Self.uid)))
        #expect(handler.maximumConcurrent == 1)
    }

    /// pynetdicom proposing a window of 8 gets 8/1 (its own number, under the server's 16) and, sending one C-STORE at a
    /// time, every status; one not proposing any gets no window and works as before.
    @Test func pynetdicomWithAndWithoutAWindow() async throws {
        let directory = try TestSupport.temporaryDirectory("async-pynetdicom")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = try PynetdicomInteropTests.prepare(Self.pynetdicomScript, named: "scu.py", in: directory)
        let paths = try (1...3).map { index in
            try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: Self.uid(index)), to: directory, name: "in\(index).dcm")
        }
        let handler = RecordingHandler(delay: { _ in .milliseconds(10) }, status: { _ in .success })
        let server = try await DICOMServer.start(port: 0, storageHandler: handler)
        defer { Task { await server.shutdown(gracePeriod: .milliseconds(500)) } }
        for window in [8, -1] {
            let scu = try PeerProcess("/usr/bin/env", ["python3", script, "\(server.port)", "\(window)"] + paths,
                                      logPath: directory + "/scu\(window).log")
            defer { scu.stop() }
            let finished = await scu.wait(seconds: 60)
            try #require(finished, "the pynetdicom SCU did not finish within 60 s")
            #expect(scu.exitStatus == 0, "pynetdicom SCU failed: \(scu.logTail)")
            let json = try #require(scu.logTail.split(separator: "\n").last(where: { $0.hasPrefix("{") }), "no result: \(scu.logTail)")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(result["store"] as? [Int] == [0, 0, 0], "C-STORE statuses: \(json)")
            if window > 0 {
                #expect(result["window"] as? [Int] == [8, 1], "window answered: \(json)")
            } else {
                #expect(result["window"] as? [Int] == [1, 1], "no window proposed (pynetdicom's default 1/1): \(json)")
            }
        }
        #expect(handler.completionOrder.count == 6)
    }

    // MARK: - Our client against a fake acceptor

    /// Responses in reverse order reach their requests (matched by Message ID Being Responded To); a response to no
    /// outstanding operation is answered with A-ABORT (service-provider, unexpected-PDU) and fails the waiting C-STORE.
    @Test func clientMatchesResponsesByMessageID() async throws {
        let (acceptor, peer, association) = try await PeerReleaseTests.establish(window: 4)
        defer { peer.close(); acceptor.close() }
        #expect(association.maximumOutstandingOperations == 4)
        let buffers = try (1...3).map { try Self.encodedInstance($0) }
        func store(_ index: Int) -> Task<DIMSEStatus, any Error> {
            Task {
                try await association.store(dataSet: buffers[index - 1], sopClassUID: TestSupport.ctImageStorage,
                                            sopInstanceUID: Self.uid(index), transferSyntax: .explicitVRLittleEndian)
            }
        }
        let first = store(1), second = store(2)
        // Read C-STORE-RQs whole (command and data set PDUs), noting each one's Message ID and instance.
        var assembler = DIMSEMessageAssembler(acceptedContextIDs: [1, 3, 5])
        func readRequests(_ count: Int) async throws -> [CStoreRequest] {
            var requests: [CStoreRequest] = []
            var complete = 0
            while complete < count {
                guard let (type, body) = await peer.readPDU() else { throw DICOMServiceError(.timeout, "the C-STORE-RQs did not arrive") }
                #expect(type == 0x04)
                guard case .dataTransfer(let values) = try PDU.decode(type: .dataTransfer, body: ByteBuffer(bytes: body)) else { continue }
                for event in try assembler.receive(values) {
                    switch event {
                    case .command(.cStoreRequest(let request), _): requests.append(request)
                    case .dataSetFragment(_, _, let isLast): if isLast { complete += 1 }
                    default: Issue.record("unexpected \(event)")
                    }
                }
            }
            return requests
        }
        let requests = try await readRequests(2)
        #expect(Set(requests.map(\.messageID)).count == 2, "distinct Message IDs")
        func response(to request: CStoreRequest, status: DIMSEStatus) throws -> [UInt8] {
            let answer = CStoreResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID,
                                        affectedSOPInstanceUID: request.affectedSOPInstanceUID, status: status)
            return try PDataFragmenter(maximumPDULength: 65536).pdus(for: answer, presentationContextID: 3).flatMap { pdu in
                var buffer = try pdu.encoded()
                return buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        }
        // Answer the later request first, each with a status of its own.
        let statuses: [String: DIMSEStatus] = [Self.uid(1): DIMSEStatus(0xB000), Self.uid(2): .outOfResources]
        for request in requests.reversed() {
            try peer.write(try response(to: request, status: statuses[request.affectedSOPInstanceUID] ?? .success))
        }
        #expect(try await first.value == DIMSEStatus(0xB000))
        #expect(try await second.value == .outOfResources)

        // A third C-STORE outstanding; the answer names a Message ID nobody waits for.
        let third = store(3)
        #expect(try await readRequests(1).count == 1)
        try peer.write(try response(to: CStoreRequest(messageID: 999, affectedSOPClassUID: TestSupport.ctImageStorage,
                                                      affectedSOPInstanceUID: Self.uid(3)), status: .success))
        let (reply, eof) = await peer.readToEnd()
        #expect(reply == [0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x02], "A-ABORT, service-provider, unexpected-PDU: \(reply)")
        #expect(eof)
        peer.close()
        do {
            _ = try await third.value
            Issue.record("the third C-STORE must fail")
        } catch {
            #expect((error as? DICOMServiceError)?.code == .unexpectedMessage, "\(error)")
        }
    }

    // MARK: - Our client proposing a window to acceptors that perform one operation at a time

    /// Stores instances 1...3 from three tasks on `association`; every status must be success.
    static func storeConcurrently(_ association: Association) async throws {
        let buffers = try (1...3).map { try Self.encodedInstance($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 1...3 {
                group.addTask {
                    let status = try await association.store(dataSet: buffers[index - 1], sopClassUID: TestSupport.ctImageStorage,
                                                             sopInstanceUID: Self.uid(index), transferSyntax: .explicitVRLittleEndian)
                    #expect(status == .success, "instance \(index)")
                }
            }
            try await group.waitForAll()
        }
    }

    /// Connects to a freshly launched peer, retrying while it does not listen yet (about 15 s at most).
    static func connectWithRetry(port: Int, calledAE: AETitle, window: Int) async throws -> Association {
        var lastError: (any Error)?
        for _ in 0..<150 {
            do {
                return try await DICOMClient.connect(host: "127.0.0.1", port: port, callingAE: "SWIFTSCU", calledAE: calledAE,
                                                     presentationContexts: contexts, asynchronousOperations: window,
                                                     timeouts: DICOMTimeouts(connect: .seconds(5), dimse: .seconds(20)))
            } catch let error as DICOMServiceError where error.code == .connectionFailed {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError ?? DICOMServiceError(.connectionFailed, "cannot connect to 127.0.0.1:\(port)")
    }

    /// DCMTK's storescp does not grant a window: our client, proposing 8, then stores one at a time, and all arrive.
    @Test func windowedClientToStorescp() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/storescp"), "DCMTK storescp is not installed (apt-get install dcmtk)")
        let directory = try TestSupport.temporaryDirectory("async-storescp")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let port = TestSupport.freePort()
        let storescp = try PeerProcess("/usr/bin/storescp", ["-aet", "STORESCP", "-od", output, "\(port)"], logPath: directory + "/storescp.log")
        defer { storescp.stop() }
        let association = try await Self.connectWithRetry(port: port, calledAE: "STORESCP", window: 8)
        #expect(association.maximumOutstandingOperations == 1, "answer: \(String(describing: association.negotiated.accept.userInformation.asynchronousOperationsWindow))")
        try await Self.storeConcurrently(association)
        try await association.release()
        #expect(try FileManager.default.contentsOfDirectory(atPath: output).count == 3, "stored: \(storescp.logTail)")
    }

    /// pynetdicom's SCP answers a proposed window with 1/1: the same.
    @Test func windowedClientToPynetdicomSCP() async throws {
        let directory = try TestSupport.temporaryDirectory("async-pynetdicom-scp")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = try PynetdicomInteropTests.prepare(PynetdicomInteropTests.scpScript, named: "scp.py", in: directory)
        let output = directory + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let port = TestSupport.freePort()
        let scp = try PeerProcess("/usr/bin/env", ["python3", script, "\(port)", output, "60"], logPath: directory + "/scp.log")
        defer { scp.stop() }
        let association = try await Self.connectWithRetry(port: port, calledAE: "PYSCP", window: 8)
        #expect(association.maximumOutstandingOperations == 1)
        try await Self.storeConcurrently(association)
        try await association.release()
        scp.stop()
        for index in 1...3 {
            #expect(FileManager.default.fileExists(atPath: output + "/\(Self.uid(index)).dcm"), "instance \(index): \(scp.logTail)")
        }
    }

    /// Proposes an Asynchronous Operations Window (argv[2] > 0) or none, stores each file and prints the window the
    /// acceptor answered and the statuses as JSON.
    static let pynetdicomScript = """
        import json, sys
        from pydicom import dcmread
        from pynetdicom import AE
        from pynetdicom.pdu_primitives import AsynchronousOperationsWindowNegotiation

        port, window, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
        ae = AE(ae_title="PYSCU")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        datasets = [dcmread(p) for p in paths]
        for key in {(ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.TransferSyntaxUID) for ds in datasets}:
            ae.add_requested_context(key[0], [key[1]])
        negotiation = []
        if window > 0:
            item = AsynchronousOperationsWindowNegotiation()
            item.maximum_number_operations_invoked = window
            item.maximum_number_operations_performed = 1
            negotiation.append(item)
        assoc = ae.associate("127.0.0.1", port, ae_title="ANY-SCP", ext_neg=negotiation)
        if not assoc.is_established:
            print(json.dumps({"error": "association not established"}))
            sys.exit(2)
        result = {"window": list(assoc.acceptor.asynchronous_operations), "store": []}
        for ds in datasets:
            status = assoc.send_c_store(ds)
            result["store"].append(int(status.Status) if "Status" in status else -1)
        assoc.release()
        print(json.dumps(result))
        """
}

/// A storage handler that waits `delay(uid)` (as an archive's fsyncs would), answers `status(uid)` and records how many
/// ran at once and in which order they finished.
final class RecordingHandler: StorageHandler, @unchecked Sendable {
    private let lock = NSLock()
    private let delay: @Sendable (String) -> Duration
    private let answer: @Sendable (String) -> DIMSEStatus
    private var current = 0
    private var highest = 0
    private var begun = 0
    private var finished: [String] = []
    private let waitsForOthers: @Sendable (String) -> Int
    private var sawOthersFinish = false

    /// `waitsForOthers(uid)`: how many other instances must finish before this one does (at most 10 s of waiting).
    init(delay: @escaping @Sendable (String) -> Duration, waitsForOthers: @escaping @Sendable (String) -> Int = { _ in 0 },
         status: @escaping @Sendable (String) -> DIMSEStatus) {
        self.delay = delay
        self.waitsForOthers = waitsForOthers
        self.answer = status
    }

    func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        let uid = instance.request.affectedSOPInstanceUID
        lock.withLock {
            current += 1
            begun += 1
            highest = max(highest, current)
        }
        try? await Task.sleep(for: delay(uid))
        let others = waitsForOthers(uid)
        if others > 0 {
            let deadline = ContinuousClock.now + .seconds(10)
            while lock.withLock({ finished.count }) < others, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            lock.withLock { sawOthersFinish = finished.count >= others }
        }
        lock.withLock {
            current -= 1
            finished.append(uid)
        }
        return answer(uid)
    }

    var maximumConcurrent: Int { lock.withLock { highest } }
    var running: Int { lock.withLock { current } }
    var started: Int { lock.withLock { begun } }
    var completionOrder: [String] { lock.withLock { finished } }
    var othersFinishedWhileWaiting: Bool { lock.withLock { sawOthersFinish } }
}
