import DICOMCodecs
import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Timers of an association requestor (PS3.8 §9.1.5 ARTIM; PS3.7 DIMSE timeouts). Every wait is bounded.
public struct DICOMTimeouts: Sendable, Equatable {
    /// Establishing the TCP connection.
    public var connect: TimeAmount
    /// Waiting for A-ASSOCIATE-AC/RJ and A-RELEASE-RP (the ARTIM timer).
    public var artim: TimeAmount
    /// Waiting for a DIMSE response.
    public var dimse: TimeAmount

    public init(connect: TimeAmount = .seconds(10), artim: TimeAmount = .seconds(30), dimse: TimeAmount = .seconds(60)) {
        self.connect = connect
        self.artim = artim
        self.dimse = dimse
    }
}

/// A DICOM service class user: opens associations to a remote application entity (PS3.7 Annex D, PS3.8 §7.1).
///
/// ```swift
/// let association = try await DICOMClient.connect(host: "127.0.0.1", port: 11112, callingAE: "ME", calledAE: "PACS",
///                                                  presentationContexts: DICOMClient.verificationContexts)
/// let status = try await association.echo()
/// try await association.release()
/// ```
public enum DICOMClient {
    /// The maximum PDU length this requestor advertises (User Information item 51H).
    public static let defaultMaximumPDULength: UInt32 = 64 * 1024

    /// A single presentation context for the Verification SOP class (PS3.4 Annex A) in Implicit VR Little Endian.
    public static var verificationContexts: [PresentationContext] {
        [PresentationContext(id: 1, abstractSyntax: verificationSOPClassUID,
                             transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])]
    }

    /// Connects over TCP (with TCP_NODELAY), optionally TLS (PS3.15 Annex B.1), sends A-ASSOCIATE-RQ and waits for the answer.
    ///
    /// `roleSelections` are proposed as SCP/SCU Role Selection sub-items (PS3.7 §D.3.3.4), e.g. the SCP role for the
    /// storage SOP classes a C-GET retrieves (see ``getContexts(model:storageSOPClasses:transferSyntaxes:)``).
    /// `userIdentity` is sent as the User Identity sub-item (PS3.7 §D.3.3.7), e.g. ``UserIdentity/usernameAndPasscode(_:passcode:positiveResponseRequested:)``.
    ///
    /// `asynchronousOperations` above 1 proposes an Asynchronous Operations Window (PS3.7 §D.3.3.3): the association then
    /// lets up to the number the acceptor grants (at most this one) of C-STOREs and C-ECHOs be outstanding at once,
    /// when several tasks call them (see ``Association/maximumOutstandingOperations``); 0 proposes no limit. The default,
    /// 1, proposes nothing: operations run one at a time.
    ///
    /// - Throws: ``AssociationReject`` when the peer rejects, ``AssociationAbort`` when it aborts,
    ///   ``DICOMServiceError`` for connection failures and timeouts, ``DICOMNetworkError`` for a malformed answer.
    public static func connect(host: String, port: Int, callingAE: AETitle, calledAE: AETitle,
                               presentationContexts: [PresentationContext],
                               roleSelections: [RoleSelection] = [],
                               userIdentity: UserIdentity? = nil,
                               asynchronousOperations: Int = 1,
                               maximumPDULength: UInt32 = defaultMaximumPDULength,
                               timeouts: DICOMTimeouts = DICOMTimeouts(),
                               tls: DICOMTLS? = nil,
                               eventLoopGroup: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               logger: Logger = Logger(label: "dicom.client")) async throws -> Association {
        guard asynchronousOperations >= 0 else {
            throw DICOMServiceError(.invalidInput, "asynchronous operations must be 0 (no limit) or more, not \(asynchronousOperations)")
        }
        // The handshake's outcome, kept from the initializer: a handshake that fails at once tears the pipeline down,
        // and looking the waiter up afterwards would only find that it is gone.
        let handshake = HandshakeOutcome()
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(timeouts.connect)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try tls.clientHandler())
                        let promise = channel.eventLoop.makePromise(of: Void.self)
                        handshake.set(promise.futureResult)
                        do {
                            try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(promise: promise))
                        } catch {
                            promise.fail(error)
                            throw error
                        }
                    }
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw DICOMServiceError(.connectionFailed, "cannot connect to \(host):\(port): \(error)")
        }
        if tls != nil {
            // Send nothing before the handshake is done, so that its failure is reported as what it is.
            do {
                guard let done = handshake.future else {
                    throw DICOMServiceError(.connectionFailed, "the TLS handler was not installed")
                }
                try await done.get()
            } catch {
                try? await channel.close()
                throw DICOMServiceError(.connectionFailed, "TLS handshake with \(host):\(port) failed: \(error)")
            }
        }
        let connection: PDUConnection
        do {
            // Accept PDUs up to our advertised maximum plus the association PDUs, which are not bounded by it.
            let inboundLimit = max(maximumPDULength == 0 ? PDUDecoder.defaultMaximumPDULength : maximumPDULength, 256 * 1024)
            connection = try await channel.eventLoop.submit {
                try PDUConnection.install(on: channel, maximumPDULength: inboundLimit, role: .requestor, artim: timeouts.artim,
                                          logger: logger)
            }.get()
        } catch {
            try? await channel.close()
            throw error
        }
        var userInformation = UserInformation.swiftDICOM(maximumLength: maximumPDULength)
        userInformation.roleSelections = roleSelections
        userInformation.userIdentity = userIdentity
        if asynchronousOperations != 1 {
            // We perform the acceptor's operations (C-GET's C-STOREs) one at a time.
            userInformation.asynchronousOperationsWindow = AsynchronousOperationsWindow(
                maximumInvoked: UInt16(clamping: asynchronousOperations), maximumPerformed: 1)
        }
        let request = AssociationRequest(calledAETitle: calledAE, callingAETitle: callingAE, presentationContexts: presentationContexts,
                                         userInformation: userInformation)
        do {
            try await connection.send(.associateRequest(request))
            switch try await connection.receive(timeout: timeouts.artim, what: "A-ASSOCIATE-AC") {
            case .associateAccept(let accept)?:
                let negotiated = NegotiatedAssociation(request: request, accept: accept, role: .requestor)
                logger.debug("association accepted", metadata: [
                    "dicom.peer": "\(host):\(port)", "dicom.contexts.accepted": "\(negotiated.acceptedContexts.count)",
                ])
                return Association(connection: connection, negotiated: negotiated, timeouts: timeouts, logger: logger)
            case .associateReject(let reject)?:
                await connection.close()
                throw reject
            case .abort(let abort)?:
                await connection.close()
                throw abort
            case nil:
                throw DICOMServiceError(.connectionFailed, "\(host):\(port) closed the connection instead of answering A-ASSOCIATE-RQ")
            case let other?:
                // The state machine aborts any other PDU in Sta5 (AA-8) before it gets here.
                await connection.abort(AssociationAbort(source: .serviceProvider, reason: .unexpectedPDU))
                throw DICOMServiceError(.unexpectedMessage, "\(other.type) received instead of A-ASSOCIATE-AC")
            }
        } catch let error as DICOMServiceError where error.code == .unexpectedMessage {
            // A PDU out of order (PS3.8 Table 9-10): the A-ABORT is sent; the connection closes when the peer closes it.
            await connection.close()
            throw DICOMServiceError(.unexpectedMessage, "\(host):\(port) answered A-ASSOCIATE-RQ out of order: \(error.message)")
        } catch {
            await connection.close()
            throw error
        }
    }
}

/// An established association, from the requestor's side.
///
/// C-ECHO and C-STORE run in the asynchronous operations window the acceptor granted (PS3.7 §D.3.3.3; see
/// ``maximumOutstandingOperations``): with a window of N, up to N of them called from different tasks are outstanding at
/// once. Their messages are sent one after another (never interleaved) and each response is matched to its request by
/// Message ID Being Responded To, so responses may come in any order. Without a window (the default) they run one at a
/// time, as do C-FIND, C-MOVE, C-GET, Storage Commitment and release, which wait for the outstanding operations first.
///
/// An A-RELEASE-RQ from the acceptor (PS3.8 Table 9-10: Sta6, Evt12, AR-2 → Sta8) is answered with A-RELEASE-RP (AR-4),
/// also while no operation runs; the operations outstanding or started afterwards fail with ``DICOMServiceError``
/// `associationClosed`.
public actor Association {
    /// What was negotiated: accepted presentation contexts and each side's maximum PDU length.
    public nonisolated let negotiated: NegotiatedAssociation
    /// How many C-ECHO and C-STORE operations may be outstanding at once: the Maximum Number Operations Invoked the
    /// acceptor granted (PS3.7 §D.3.3.3; see ``NegotiatedAssociation/maximumOutstandingOperations``); 1 when no window
    /// was negotiated.
    public nonisolated let maximumOutstandingOperations: Int
    let connection: ClientConnection
    let timeouts: DICOMTimeouts
    let logger: Logger
    let fragmenter: PDataFragmenter
    private var nextMessageID: UInt16 = 1
    private var isOpen = true
    /// Why the association stopped working while operations were outstanding; they (and later ones) report it.
    private var failure: (any Error)?
    /// An exclusive operation (C-FIND, C-MOVE, C-GET, Storage Commitment, release) runs.
    private var exclusiveRunning = false
    /// Exclusive operations waiting: no new windowed operation starts before them.
    private var exclusiveWaiting = 0
    /// Windowed operations (C-ECHO, C-STORE) started and not yet answered.
    private var outstanding = 0
    /// A windowed operation sends its message: the next waits (messages are never interleaved).
    private var sending = false
    /// A windowed operation reads the next PDU for all of them.
    private var reading = false
    /// The Message IDs of the windowed operations waiting for their response, and the responses that came.
    private var awaited: Set<UInt16> = []
    private var responses: [UInt16: DIMSECommand] = [:]
    /// Assembles the responses of windowed operations; one for the association, since a PDU may end one response and
    /// begin the next.
    private var responseAssembler: DIMSEMessageAssembler
    /// Tasks waiting for a change of the above; all are woken and check again.
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(connection: PDUConnection, negotiated: NegotiatedAssociation, timeouts: DICOMTimeouts, logger: Logger) {
        self.connection = ClientConnection(connection, artim: timeouts.artim, logger: logger)
        self.negotiated = negotiated
        self.maximumOutstandingOperations = negotiated.maximumOutstandingOperations
        self.timeouts = timeouts
        self.logger = logger
        self.fragmenter = PDataFragmenter(maximumPDULength: negotiated.peerMaximumPDULength)
        self.responseAssembler = DIMSEMessageAssembler(association: negotiated, logger: logger)
        self.connection.startReading()
    }

    /// Sends C-ECHO-RQ (PS3.7 §9.1.5) and returns the response status.
    public func echo() async throws -> DIMSEStatus {
        guard let context = negotiated.context(forAbstractSyntax: verificationSOPClassUID) else {
            throw DICOMServiceError(.noPresentationContext, "the peer did not accept the Verification SOP class")
        }
        let request = CEchoRequest(messageID: takeMessageID())
        let response = try await windowed(messageID: request.messageID) {
            try await connection.send(try fragmenter.pdus(for: request, presentationContextID: context.id))
        }
        guard case .cEchoResponse(let echo) = response else {
            throw await fail("expected C-ECHO-RSP for message \(request.messageID), received \(response.commandField)")
        }
        return echo.status
    }

    /// The accepted presentation context a data set in `transferSyntax` can go through: one with that exact
    /// transfer syntax, else one with a native syntax it can be re-encoded in (a compressed data set is then
    /// decompressed with the built-in codecs). Nil when none fits.
    public nonisolated func context(forSOPClass sopClassUID: String, transferSyntax: TransferSyntax) -> NegotiatedAssociation.AcceptedContext? {
        OutgoingDataSet.context(in: negotiated, sopClassUID: sopClassUID, transferSyntax: transferSyntax)
    }

    /// Sends C-STORE-RQ (PS3.7 §9.1.1) with an encoded data set (no File Meta Information) and returns the
    /// response status. The data set must already be in the transfer syntax of the context used.
    public func store(dataSet: ByteBuffer, sopClassUID: String, sopInstanceUID: String, transferSyntax: TransferSyntax,
                      priority: DIMSEPriority = .medium) async throws -> DIMSEStatus {
        try await store(.buffer(dataSet), sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID, transferSyntax: transferSyntax,
                        priority: priority)
    }

    /// Where the data set bytes of a C-STORE come from.
    enum DataSetSource: Sendable {
        case buffer(ByteBuffer)
        /// A byte range of a file, read and sent in slices (an instance of any size is never loaded whole).
        case file(path: String, offset: Int)
    }

    /// The slice of a data set handed to the fragmenter at a time.
    static let sendSliceLength = PDUConnection.fileSliceLength

    func store(_ source: DataSetSource, sopClassUID: String, sopInstanceUID: String, transferSyntax: TransferSyntax,
               priority: DIMSEPriority) async throws -> DIMSEStatus {
        guard let context = negotiated.context(forAbstractSyntax: sopClassUID, transferSyntax: transferSyntax.uid) else {
            throw DICOMServiceError(.noPresentationContext, "no accepted presentation context for \(sopClassUID) in \(transferSyntax.name)")
        }
        let request = CStoreRequest(messageID: takeMessageID(), affectedSOPClassUID: sopClassUID,
                                    affectedSOPInstanceUID: sopInstanceUID, priority: priority)
        let response = try await windowed(messageID: request.messageID) {
            // The command goes with the first part of the data set, and the last part is not waited for: the response is.
            let command = try fragmenter.pdus(for: request, presentationContextID: context.id)
            switch source {
            case .buffer(var remaining):
                var leading = command
                repeat {
                    let part = remaining.readSlice(length: min(Self.sendSliceLength, remaining.readableBytes))!
                    let isLast = remaining.readableBytes == 0
                    try await connection.send(leading + fragmenter.pdus(for: part, presentationContextID: context.id, isCommand: false,
                                                                        isLast: isLast), waitingForWrite: !isLast)
                    leading = []
                } while remaining.readableBytes > 0
            case .file(let path, let offset):
                try await connection.sendDataSet(fromFile: path, offset: offset, transferSyntaxUID: context.transferSyntax,
                                                 presentationContextID: context.id, fragmenter: fragmenter, command: command)
            }
        }
        guard case .cStoreResponse(let store) = response else {
            throw await fail("expected C-STORE-RSP for message \(request.messageID), received \(response.commandField)")
        }
        return store.status
    }

    /// Stores a Part 10 file: the data set bytes are streamed from disk as stored when the file's transfer syntax
    /// was accepted; otherwise the data set is re-encoded in an accepted native transfer syntax (a compressed one
    /// decompressed), written frame by frame to a temporary file in `temporaryDirectory` (default
    /// `NSTemporaryDirectory()`) that is sent from disk and removed afterwards, so that an instance of any size is
    /// never held in memory (see `StreamingConversion`; a Deflated target is encoded in memory).
    ///
    /// - Throws: ``DICOMServiceError`` `noPresentationContext` when no accepted context fits (a compressed file
    ///   whose syntax the peer did not accept needs a codec), `invalidInput` for an unreadable file.
    public func store(fileAt path: String, priority: DIMSEPriority = .medium,
                      temporaryDirectory: String? = nil) async throws -> (sopInstanceUID: String, status: DIMSEStatus) {
        let header: DICOMFile
        do {
            header = try DICOMFile(contentsOf: path, options: .metadataOnly)
        } catch {
            throw DICOMServiceError(.invalidInput, "\(path): \(error)")
        }
        guard let sopClass = header.fileMetaInformation.string(Tag(0x0002, 0x0002)) ?? header.dataSet.string(Tag(0x0008, 0x0016)),
              let sopInstance = header.fileMetaInformation.string(Tag(0x0002, 0x0003)) ?? header.dataSet.string(Tag(0x0008, 0x0018)) else {
            throw DICOMServiceError(.invalidInput, "\(path): no SOP Class UID or SOP Instance UID")
        }
        let status = try await store(fileAt: path, sopClassUID: sopClass, sopInstanceUID: sopInstance,
                                     transferSyntax: header.transferSyntax, priority: priority, temporaryDirectory: temporaryDirectory)
        return (sopInstance, status)
    }

    /// ``store(fileAt:priority:temporaryDirectory:)`` for a file whose SOP class, instance and transfer syntax the caller
    /// already read (``FileSender`` reads them to plan its associations), so the header is not parsed twice.
    func store(fileAt path: String, sopClassUID sopClass: String, sopInstanceUID sopInstance: String, transferSyntax: TransferSyntax,
               priority: DIMSEPriority, temporaryDirectory: String?) async throws -> DIMSEStatus {
        guard let context = context(forSOPClass: sopClass, transferSyntax: transferSyntax),
              let contextSyntax = context.knownTransferSyntax else {
            let codec = transferSyntax.isEncapsulated && CodecRegistry.decoder(for: transferSyntax.uid) == nil
                ? " (and no built-in codec decodes it)" : ""
            throw DICOMServiceError(.noPresentationContext,
                                    "the peer accepted no presentation context for \(sopClass) in \(transferSyntax.name)\(codec)")
        }
        let source: DataSetSource
        var temporaryFile: String?
        // The converted copy goes once sent, also when sending fails or the task is cancelled.
        defer { if let temporaryFile { try? FileManager.default.removeItem(atPath: temporaryFile) } }
        if contextSyntax == transferSyntax, let offset = Part10Layout.dataSetOffset(ofFileAt: path) {
            source = .file(path: path, offset: offset)
        } else {
            (source, temporaryFile) = try OutgoingDataSet.converted(fileAt: path, in: contextSyntax,
                                                                    temporaryDirectory: temporaryDirectory ?? NSTemporaryDirectory())
        }
        return try await store(source, sopClassUID: sopClass, sopInstanceUID: sopInstance, transferSyntax: contextSyntax,
                               priority: priority)
    }

    /// Releases the association (A-RELEASE, PS3.8 §7.2) and closes the connection, after the outstanding operations
    /// were answered. Does nothing when the association is already closed, or was released by the acceptor.
    public func release() async throws {
        guard isOpen else { return }
        if connection.releasedByPeer != nil {
            isOpen = false
            return
        }
        try await exclusive {
            isOpen = false
            defer { Task { [connection] in await connection.close() } }
            try await connection.send(.releaseRequest)
            while true {
                switch try await connection.receive(timeout: timeouts.artim, what: "A-RELEASE-RP") {
                case .releaseResponse?, nil:
                    return
                case .abort(let abort)?:
                    throw abort
                case .dataTransfer?:
                    continue   // a late P-DATA may still arrive before the release response (AR-6)
                case .releaseRequest?:
                    // Release collision (PS3.8 §7.2, AR-8 → Sta9): as the requestor, answer first (AR-9 → Sta11), then
                    // await the peer's A-RELEASE-RP.
                    try await connection.send(.releaseResponse)
                    continue
                case let other?:
                    await connection.abort(AssociationAbort(source: .serviceProvider, reason: .unexpectedPDU))
                    throw DICOMServiceError(.unexpectedMessage, "\(other.type) received instead of A-RELEASE-RP")
                }
            }
        }
    }

    /// Aborts the association (A-ABORT, PS3.8 §7.3) and closes the connection. Outstanding operations fail with
    /// ``DICOMServiceError`` `associationClosed`.
    public func abort() async {
        isOpen = false
        let aborted = DICOMServiceError(.associationClosed, "the association was aborted (A-ABORT sent)")
        if failure == nil { failure = aborted }
        await connection.abort(.serviceUser)
        connection.failWaitingReceive(aborted)
        signal()
    }

    // MARK: - Internals

    func takeMessageID() -> UInt16 {
        defer { nextMessageID = nextMessageID == UInt16.max ? 1 : nextMessageID + 1 }
        return nextMessageID
    }

    /// Waits until another task changes the scheduling state.
    private func waitForChange() async {
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Wakes every waiting task to check again.
    private func signal() {
        guard !waiters.isEmpty else { return }
        let woken = waiters
        waiters.removeAll()
        for waiter in woken { waiter.resume() }
    }

    /// Throws when no new operation may start: the association was released (by either side), aborted, or failed.
    private func checkOpen() throws {
        if let released = connection.releasedByPeer {
            isOpen = false
            throw released
        }
        guard isOpen else {
            if let failure { throw DICOMServiceError(.associationClosed, "the association is closed (\(failure))") }
            throw DICOMServiceError(.associationClosed, "the association is closed")
        }
    }

    /// Ends the association after `error` (anything but a missing presentation context) and returns the error to
    /// report: the acceptor's release, when that is why sending or receiving failed. An association still established
    /// (the task was cancelled, a file could not be read in the middle of a message) is aborted with A-ABORT (PS3.8
    /// §7.3), so that the acceptor sees that it ends; one whose connection is already closed (a timeout) stays closed.
    private func closeAfter(_ error: any Error) async -> any Error {
        if let released = connection.releasedByPeer {
            isOpen = false
            if failure == nil { failure = released }
            return released
        }
        if (error as? DICOMServiceError)?.code == .noPresentationContext { return error }
        isOpen = false
        if failure == nil { failure = error }
        await connection.abort(.serviceUser)
        return error
    }

    /// Runs one operation alone on this association (C-FIND, C-MOVE, C-GET, Storage Commitment, release): it waits until
    /// the outstanding windowed operations are answered, and no new one starts before it is done.
    func exclusive<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        exclusiveWaiting += 1
        while exclusiveRunning || outstanding > 0 {
            await waitForChange()
        }
        exclusiveWaiting -= 1
        defer { signal() }
        try checkOpen()
        exclusiveRunning = true
        defer { exclusiveRunning = false }
        do {
            return try await body()
        } catch {
            throw await closeAfter(error)
        }
    }

    /// Runs a C-ECHO or C-STORE in the asynchronous operations window: waits for a free place in it (at most
    /// ``maximumOutstandingOperations`` outstanding), sends the message with `send` (one message at a time), then
    /// returns the response whose Message ID Being Responded To is `messageID`. One waiting operation at a time reads
    /// the next PDU for all of them.
    func windowed(messageID: UInt16, send: () async throws -> Void) async throws -> DIMSECommand {
        while isOpen && (exclusiveRunning || exclusiveWaiting > 0 || outstanding >= maximumOutstandingOperations) {
            await waitForChange()
        }
        try checkOpen()
        outstanding += 1
        awaited.insert(messageID)
        defer {
            outstanding -= 1
            awaited.remove(messageID)
            responses[messageID] = nil
            signal()
        }
        do {
            while sending && isOpen { await waitForChange() }
            try checkOpen()
            sending = true
            do {
                try await send()
            } catch {
                sending = false
                throw error
            }
            sending = false
            signal()
            while true {
                if let response = responses.removeValue(forKey: messageID) { return response }
                if let failure { throw failure }
                if reading {
                    await waitForChange()
                    continue
                }
                reading = true
                defer { reading = false; signal() }
                try await readResponses()
            }
        } catch {
            throw await closeAfter(error)
        }
    }

    /// Reads one PDU for the windowed operations: the responses it completes go to ``responses``. A response to no
    /// outstanding operation, or anything but a response, aborts the association.
    private func readResponses() async throws {
        guard let pdu = try await connection.receive(timeout: timeouts.dimse, what: "DIMSE response") else {
            throw DICOMServiceError(.associationClosed, "the peer closed the connection while a response was awaited")
        }
        switch pdu {
        case .dataTransfer(let values):
            let events: [DIMSEMessageAssembler.Event]
            do {
                events = try responseAssembler.receive(values)
            } catch {
                await connection.abort(AssociationAbort(source: .serviceProvider, reason: .invalidPDUParameterValue))
                throw error
            }
            for case .command(let command, _) in events {
                // The data set of a response, if one comes, is dropped (C-ECHO-RSP and C-STORE-RSP have none).
                guard let id = command.windowedResponseID, awaited.contains(id), responses[id] == nil else {
                    let outstanding = awaited.sorted().map(String.init).joined(separator: ", ")
                    throw await fail("\(command.commandField) received while responses to messages \(outstanding) were awaited")
                }
                responses[id] = command
            }
        case .abort(let abort):
            throw abort
        default:
            throw await fail("\(pdu.type) received while a DIMSE response was awaited")
        }
    }

    func fail(_ message: String) async -> DICOMServiceError {
        await connection.abort(AssociationAbort(source: .serviceProvider, reason: .unexpectedPDU))
        isOpen = false
        return DICOMServiceError(.unexpectedMessage, message)
    }

    /// Feeds P-DATA values to `assembler`; a value that breaks the message rules aborts the association (PS3.8 §9.3.8,
    /// invalid PDU parameter value) and rethrows.
    func assemble(_ values: [PresentationDataValue], with assembler: inout DIMSEMessageAssembler) async throws -> [DIMSEMessageAssembler.Event] {
        do {
            return try assembler.receive(values)
        } catch {
            await connection.abort(AssociationAbort(source: .serviceProvider, reason: .invalidPDUParameterValue))
            throw error
        }
    }
}

extension DIMSECommand {
    /// The Message ID Being Responded To of a C-ECHO-RSP or C-STORE-RSP, the responses of windowed operations.
    var windowedResponseID: UInt16? {
        switch self {
        case .cEchoResponse(let response): response.messageIDBeingRespondedTo
        case .cStoreResponse(let response): response.messageIDBeingRespondedTo
        default: nil
        }
    }
}
