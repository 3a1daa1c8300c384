import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Logging
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The upper-layer state machine (PS3.8 Table 9-10) enforced end to end: PDUs out of order, sent over a raw TCP socket
/// to our acceptor or by a fake acceptor to our requestor, are answered with the A-ABORT the table names (PS3.8 §9.3.8:
/// source 2 service-provider, reason 1 unrecognized-PDU or 2 unexpected-PDU) and the connection is closed, while the
/// server keeps serving other associations.
@Suite(.serialized) struct StateMachineEnforcementTests {
    // MARK: - PDU bytes (PS3.8 §9.3)

    /// A-ABORT from the service-provider (Table 9-26): type 07H, reserved, length 4, two reserved bytes, source 2, reason.
    static func providerAbort(reason: UInt8) -> [UInt8] { [0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, reason] }
    /// A-ABORT from the service-user (source 0, reason 0).
    static let userAbort: [UInt8] = [0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]
    /// P-DATA-TF with one presentation data value: item length 2, context 1, last command fragment, no bytes.
    static let pData: [UInt8] = [0x04, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x02, 0x01, 0x03]
    /// A-RELEASE-RQ and A-RELEASE-RP (Tables 9-24, 9-25): four reserved bytes.
    static let releaseRequest: [UInt8] = [0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]
    static let releaseResponse: [UInt8] = [0x06, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]
    /// A-ASSOCIATE-RJ (Table 9-21): reserved, result 1 (permanent), source 1 (service-user), reason 1 (no reason given).
    static let associateReject: [UInt8] = [0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x01]
    /// A PDU type no DICOM edition defines, with a well-formed length.
    static let unknownType: [UInt8] = [0x0A, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00]

    static let request = AssociationRequest(calledAETitle: "ANY-SCP", callingAETitle: "RAW",
                                            presentationContexts: DICOMClient.verificationContexts)

    static func encoded(_ pdu: PDU) throws -> [UInt8] {
        var buffer = try pdu.encoded()
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    static var associateRequest: [UInt8] { get throws { try encoded(.associateRequest(request)) } }

    /// A valid A-ASSOCIATE-AC answering ``request``.
    static var associateAccept: [UInt8] {
        get throws {
            guard case .success(let accept) = DICOMServer.defaultStoragePolicy().negotiate(request) else {
                throw DICOMServiceError(.invalidInput, "the default policy rejects the test request")
            }
            return try encoded(.associateAccept(accept))
        }
    }

    // MARK: - Acceptor

    /// A PDU sent to the acceptor and the exact bytes it must answer with before closing.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var sent: [UInt8]
        var reply: [UInt8]
        var testDescription: String { name }
    }

    /// Sta2 (awaiting A-ASSOCIATE-RQ): anything else is AA-1 (A-ABORT; an A-ABORT received is AA-2: close, send nothing).
    static var beforeAssociateRequest: [Case] {
        get throws {
            [
                Case(name: "P-DATA-TF", sent: pData, reply: providerAbort(reason: 2)),
                Case(name: "A-ASSOCIATE-AC", sent: try associateAccept, reply: providerAbort(reason: 2)),
                Case(name: "A-ASSOCIATE-RJ", sent: associateReject, reply: providerAbort(reason: 2)),
                Case(name: "A-RELEASE-RQ", sent: releaseRequest, reply: providerAbort(reason: 2)),
                Case(name: "A-RELEASE-RP", sent: releaseResponse, reply: providerAbort(reason: 2)),
                Case(name: "unknown PDU type", sent: unknownType, reply: providerAbort(reason: 1)),
                Case(name: "A-ABORT", sent: userAbort, reply: []),
            ]
        }
    }

    /// Sta6 (established): association PDUs are AA-8; an A-ABORT is AA-3 (close, send nothing); A-RELEASE-RQ followed at
    /// once by P-DATA-TF is AR-2 then AR-4 (A-RELEASE-RP), and the P-DATA-TF that arrives in Sta13 is ignored (AA-6).
    static var afterAssociateAccept: [Case] {
        get throws {
            [
                Case(name: "second A-ASSOCIATE-RQ", sent: try associateRequest, reply: providerAbort(reason: 2)),
                Case(name: "A-ASSOCIATE-AC", sent: try associateAccept, reply: providerAbort(reason: 2)),
                Case(name: "A-ASSOCIATE-RJ", sent: associateReject, reply: providerAbort(reason: 2)),
                Case(name: "A-RELEASE-RP", sent: releaseResponse, reply: providerAbort(reason: 2)),
                Case(name: "unknown PDU type", sent: unknownType, reply: providerAbort(reason: 1)),
                Case(name: "A-ABORT", sent: userAbort, reply: []),
                Case(name: "A-RELEASE-RQ then P-DATA-TF", sent: releaseRequest + pData, reply: releaseResponse),
            ]
        }
    }

    @Test(arguments: try beforeAssociateRequest)
    func acceptorBeforeAssociateRequest(_ testCase: Case) async throws {
        try await Self.exchange(testCase, associateFirst: false)
    }

    @Test(arguments: try afterAssociateAccept)
    func acceptorOnEstablishedAssociation(_ testCase: Case) async throws {
        try await Self.exchange(testCase, associateFirst: true)
    }

    /// Sends `testCase` to a fresh server (after an accepted A-ASSOCIATE-RQ when `associateFirst`), expects exactly its
    /// reply and the connection closed, then checks that an association opened before it and a new one both still work.
    static func exchange(_ testCase: Case, associateFirst: Bool) async throws {
        let server = try await DICOMServer.start(port: 0, storageHandler: RefusingStorageHandler(),
                                                 timeouts: DICOMServerTimeouts(artim: .seconds(30), idle: .seconds(30)))
        do {
            let bystander = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "BYSTANDER",
                                                          calledAE: "ANY-SCP", presentationContexts: DICOMClient.verificationContexts)
            let peer = try RawSocketPeer(port: server.port)
            defer { peer.close() }
            if associateFirst {
                try peer.write(try associateRequest)
                let answer = await peer.readPDU()
                #expect(answer?.type == 0x02, "A-ASSOCIATE-AC first")
            }
            try peer.write(testCase.sent)
            let (reply, eof) = await peer.readToEnd()
            #expect(reply == testCase.reply, "\(testCase.name): reply \(reply)")
            #expect(eof, "\(testCase.name): the server must close the connection")
            let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "GOOD", calledAE: "ANY-SCP",
                                                            presentationContexts: DICOMClient.verificationContexts)
            #expect(try await association.echo() == .success)
            try await association.release()
            #expect(try await bystander.echo() == .success, "the association open meanwhile is undisturbed")
            try await bystander.release()
        } catch {
            await server.shutdown(gracePeriod: .milliseconds(100))
            throw error
        }
        await server.shutdown(gracePeriod: .milliseconds(500))
    }

    /// Two PDUs out of order in one write get one A-ABORT: the second arrives in Sta13 and is dropped (AA-6), and the
    /// server's own error handling does not abort a second time.
    @Test func acceptorSendsOneAbortForOneProtocolError() async throws {
        let server = try await DICOMServer.start(port: 0, storageHandler: RefusingStorageHandler())
        defer { Task { await server.shutdown(gracePeriod: .milliseconds(100)) } }
        let peer = try RawSocketPeer(port: server.port)
        defer { peer.close() }
        try peer.write(try Self.associateRequest)
        #expect(await peer.readPDU()?.type == 0x02)
        // Two association PDUs in one write: the first is AA-8, the second arrives in Sta13 and is ignored (AA-6).
        try peer.write(try Self.associateAccept + Self.releaseRequest)
        let (reply, eof) = await peer.readToEnd()
        #expect(reply == Self.providerAbort(reason: 2))
        #expect(eof)
    }

    /// After its A-ABORT the server waits in Sta13 for the peer to close, dropping what still arrives (AA-6), and
    /// closes by itself when ARTIM expires (AA-2) if the peer never does.
    @Test func sta13LastsUntilARTIMWhenThePeerKeepsTheConnection() async throws {
        let server = try await DICOMServer.start(port: 0, storageHandler: RefusingStorageHandler(),
                                                 timeouts: DICOMServerTimeouts(artim: .seconds(3), idle: .seconds(30)))
        defer { Task { await server.shutdown(gracePeriod: .milliseconds(100)) } }
        let peer = try RawSocketPeer(port: server.port)
        defer { peer.close() }
        let start = ContinuousClock.now
        try peer.write(Self.pData)
        let abort = await peer.readPDU()
        #expect(abort.map { [$0.type] + [0, 0, 0, 0, 4] + $0.body } == Self.providerAbort(reason: 2))
        // Still open (a closed socket would answer the first write with a reset, failing the second).
        #expect(peer.sendWithoutSignal(Self.pData) == Self.pData.count)
        try await Task.sleep(for: .milliseconds(100))
        let secondAccepted = peer.sendWithoutSignal(Self.pData) == Self.pData.count
        if ContinuousClock.now - start < .seconds(2) { #expect(secondAccepted, "the connection is held in Sta13, not closed at once") }
        // Then closed by the server when ARTIM expires: a write is reset.
        var reset = false
        while !reset, ContinuousClock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(200))
            reset = peer.sendWithoutSignal(Self.pData) < 0
        }
        #expect(reset, "ARTIM (3 s) closes the connection")
        #expect(ContinuousClock.now - start >= .seconds(2.5), "not before ARTIM")
    }

    // MARK: - Logging

    /// State transitions are logged at debug level on both sides (requestor and acceptor), data transfer that leaves the
    /// state unchanged is not, and an abort names the action and the states.
    @Test func transitionsAreLoggedAtDebug() async throws {
        let lines = CapturedLog()
        var logger = Logger(label: "test.statemachine") { _ in CapturingLogHandler(lines: lines) }
        logger.logLevel = .debug
        let server = try await DICOMServer.start(port: 0, storageHandler: RefusingStorageHandler(), logger: logger)
        do {
            let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "LOG", calledAE: "ANY-SCP",
                                                            presentationContexts: DICOMClient.verificationContexts, logger: logger)
            #expect(try await association.echo() == .success)
            try await association.release()
            let peer = try RawSocketPeer(port: server.port)
            defer { peer.close() }
            try peer.write(Self.pData)
            _ = await peer.readToEnd()
        } catch {
            await server.shutdown(gracePeriod: .milliseconds(100))
            throw error
        }
        await server.shutdown(gracePeriod: .milliseconds(500))
        let transitions = lines.all.filter { $0.hasPrefix("upper layer ") }
        for expected in ["upper layer AE-1 Evt1 Sta1 → Sta4", "upper layer AE-2 Evt2 Sta4 → Sta5", "upper layer AE-3 Evt3 Sta5 → Sta6",
                         "upper layer AE-5 Evt5 Sta1 → Sta2", "upper layer AE-6 Evt6 Sta2 → Sta3", "upper layer AE-7 Evt7 Sta3 → Sta6",
                         "upper layer AR-1 Evt11 Sta6 → Sta7", "upper layer AR-2 Evt12 Sta6 → Sta8", "upper layer AR-4 Evt14 Sta8 → Sta13",
                         "upper layer AR-3 Evt13 Sta7 → Sta1", "upper layer AA-1 Evt10 Sta2 → Sta13"] {
            #expect(transitions.contains(expected), "\(expected) in \(transitions)")
        }
        #expect(!transitions.contains { $0.hasPrefix("upper layer DT-") }, "no line per P-DATA-TF: \(transitions)")
    }

    // MARK: - Requestor

    /// What a misbehaving acceptor answers to our A-ASSOCIATE-RQ, and the A-ABORT our requestor must send back.
    struct RequestorCase: Sendable, CustomTestStringConvertible {
        var name: String
        var answer: [UInt8]
        var abortReason: UInt8
        var testDescription: String { name }
    }

    static var requestorCases: [RequestorCase] {
        get throws {
            [
                RequestorCase(name: "P-DATA-TF", answer: pData, abortReason: 2),
                RequestorCase(name: "A-ASSOCIATE-RQ", answer: try associateRequest, abortReason: 2),
                RequestorCase(name: "A-RELEASE-RQ", answer: releaseRequest, abortReason: 2),
                RequestorCase(name: "A-RELEASE-RP", answer: releaseResponse, abortReason: 2),
                RequestorCase(name: "unknown PDU type", answer: unknownType, abortReason: 1),
            ]
        }
    }

    /// Sta5 (awaiting A-ASSOCIATE-AC): any other PDU is AA-8; `DICOMClient.connect` fails and the acceptor reads an A-ABORT.
    @Test(arguments: try requestorCases)
    func requestorRejectsOutOfOrderAnswer(_ testCase: RequestorCase) async throws {
        let acceptor = try FakeAcceptorSocket()
        defer { acceptor.close() }
        async let connecting: Void = {
            do {
                _ = try await DICOMClient.connect(host: "127.0.0.1", port: acceptor.port, callingAE: "SCU", calledAE: "FAKE",
                                                  presentationContexts: DICOMClient.verificationContexts,
                                                  timeouts: DICOMTimeouts(connect: .seconds(30), artim: .seconds(30)))
                Issue.record("\(testCase.name): connect must fail")
            } catch let error as DICOMServiceError {
                #expect(error.code == .unexpectedMessage, "\(error)")
                #expect(error.message.contains(testCase.name) && error.message.contains("Sta5"), "\(error)")
                #expect(error.message.contains("A-ABORT sent"), "\(error)")
            } catch let error as DICOMNetworkError {
                #expect(testCase.abortReason == 1, "\(error)")
                #expect(error.code == .unknownPDUType && error.state == .sta5, "\(error)")
            } catch {
                Issue.record("\(testCase.name): unexpected error \(error)")
            }
        }()
        let peer = try await acceptor.accept()
        defer { peer.close() }
        #expect(await peer.readPDU()?.type == 0x01, "A-ASSOCIATE-RQ first")
        try peer.write(testCase.answer)
        let (reply, eof) = await peer.readToEnd()
        #expect(reply == Self.providerAbort(reason: testCase.abortReason), "\(testCase.name): reply \(reply)")
        #expect(eof, "the requestor closes its side after the A-ABORT")
        await connecting
    }

    /// An A-ABORT instead of A-ASSOCIATE-AC is AA-3: `connect` throws the abort and sends nothing back.
    @Test func requestorReportsAbortInsteadOfAccept() async throws {
        let acceptor = try FakeAcceptorSocket()
        defer { acceptor.close() }
        async let connecting: (any Error)? = {
            do {
                _ = try await DICOMClient.connect(host: "127.0.0.1", port: acceptor.port, callingAE: "SCU", calledAE: "FAKE",
                                                  presentationContexts: DICOMClient.verificationContexts,
                                                  timeouts: DICOMTimeouts(connect: .seconds(30), artim: .seconds(30)))
                return nil
            } catch {
                return error
            }
        }()
        let peer = try await acceptor.accept()
        defer { peer.close() }
        #expect(await peer.readPDU()?.type == 0x01)
        try peer.write(Self.providerAbort(reason: 0))
        let (reply, eof) = await peer.readToEnd()
        #expect(reply.isEmpty)
        #expect(eof)
        let error = await connecting
        #expect(error as? AssociationAbort == AssociationAbort(source: .serviceProvider, reason: .notSpecified), "\(String(describing: error))")
    }

    /// On an established association, an A-ASSOCIATE-AC while a C-ECHO response is awaited is AA-8.
    @Test func requestorAbortsAssociationPDUDuringOperation() async throws {
        let acceptor = try FakeAcceptorSocket()
        defer { acceptor.close() }
        async let association = DICOMClient.connect(host: "127.0.0.1", port: acceptor.port, callingAE: "SCU", calledAE: "ANY-SCP",
                                                    presentationContexts: DICOMClient.verificationContexts,
                                                    timeouts: DICOMTimeouts(connect: .seconds(30), artim: .seconds(30), dimse: .seconds(30)))
        let peer = try await acceptor.accept()
        defer { peer.close() }
        #expect(await peer.readPDU()?.type == 0x01)
        try peer.write(try Self.associateAccept)
        let established = try await association
        async let echo = established.echo()
        #expect(await peer.readPDU()?.type == 0x04, "C-ECHO-RQ")
        try peer.write(try Self.associateAccept)
        let (reply, eof) = await peer.readToEnd()
        #expect(reply == Self.providerAbort(reason: 2))
        #expect(eof)
        do {
            _ = try await echo
            Issue.record("C-ECHO must fail")
        } catch {
            #expect((error as? DICOMServiceError)?.code == .unexpectedMessage, "\(error)")
        }
    }

    /// Release collision (PS3.8 §7.2, Sta7 → AR-8 → Sta9 → AR-9 → Sta11 → AR-3): both sides send A-RELEASE-RQ; the
    /// requestor answers first and its release completes when the acceptor's A-RELEASE-RP arrives.
    @Test func requestorReleaseCollision() async throws {
        let acceptor = try FakeAcceptorSocket()
        defer { acceptor.close() }
        async let association = DICOMClient.connect(host: "127.0.0.1", port: acceptor.port, callingAE: "SCU", calledAE: "ANY-SCP",
                                                    presentationContexts: DICOMClient.verificationContexts,
                                                    timeouts: DICOMTimeouts(connect: .seconds(30), artim: .seconds(30)))
        let peer = try await acceptor.accept()
        defer { peer.close() }
        #expect(await peer.readPDU()?.type == 0x01)
        try peer.write(try Self.associateAccept)
        let established = try await association
        async let releasing: Void = established.release()
        #expect(await peer.readPDU()?.type == 0x05, "the requestor's A-RELEASE-RQ")
        try peer.write(Self.releaseRequest)
        let answer = await peer.readPDU()
        #expect(answer?.type == 0x06, "the requestor answers the collision with A-RELEASE-RP (AR-9)")
        try peer.write(Self.releaseResponse)
        try await releasing
        let (rest, eof) = await peer.readToEnd()
        #expect(rest.isEmpty)
        #expect(eof)
    }
}

/// Log lines ("message event state") collected from every logger of a test.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

struct CapturingLogHandler: LogHandler {
    let lines: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = event.metadata ?? [:]
        lines.append([event.message.description, fields["dicom.event"].map { "\($0)" }, fields["dicom.state"].map { "\($0)" }]
            .compactMap { $0 }.joined(separator: " "))
    }
}

/// A storage handler for servers that only answer C-ECHO in these tests.
private struct RefusingStorageHandler: StorageHandler {
    func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .outOfResources }
}

