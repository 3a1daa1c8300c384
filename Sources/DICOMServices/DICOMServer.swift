import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Timers of an association acceptor. Every wait is bounded, so a dead or silent peer is disconnected.
public struct DICOMServerTimeouts: Sendable, Equatable {
    /// Waiting for A-ASSOCIATE-RQ after the connection opens, and for the peer to close after a reject (ARTIM, PS3.8 §9.1.5).
    public var artim: TimeAmount
    /// Waiting for the next PDU on an established association; also how long the peer may leave our writes unread
    /// before the connection is closed.
    public var idle: TimeAmount

    public init(artim: TimeAmount = .seconds(30), idle: TimeAmount = .seconds(120)) {
        self.artim = artim
        self.idle = idle
    }
}

/// A DICOM service class provider: accepts associations per an ``AcceptorPolicy`` and answers C-ECHO
/// (Verification, PS3.4 Annex A), C-STORE (Storage, PS3.4 Annex B) through a ``StorageHandler``, and C-FIND, C-MOVE,
/// C-GET and C-CANCEL (Query/Retrieve, PS3.4 Annex C) through a ``QueryHandler`` and a ``RetrieveHandler``.
///
/// Each association runs in its own task; a protocol error on one is answered with an A-ABORT and a log line
/// and never disturbs the others.
public final class DICOMServer: Sendable {
    /// The address the server listens on; its port is the one chosen by the system when 0 was asked for.
    public let localAddress: SocketAddress
    public var port: Int { localAddress.port ?? 0 }
    let serverChannel: Channel
    let connections: ConnectionRegistry

    /// The Asynchronous Operations Window (PS3.7 §D.3.3.3) the default policies grant at most: C-STOREs of one
    /// association whose storage handler runs at once.
    public static let defaultMaximumOperationsPerformed: UInt16 = 16

    /// A policy accepting Verification and every storage SOP class of ``UIDRegistry/storageSOPClasses`` in Explicit and
    /// Implicit VR Little Endian, Deflated, Big Endian and all encapsulated (compressed) transfer syntaxes, granting
    /// an Asynchronous Operations Window of up to ``defaultMaximumOperationsPerformed`` C-STOREs.
    public static func defaultStoragePolicy(aeTitle: AETitle? = nil, maximumPDULength: UInt32 = 64 * 1024) -> AcceptorPolicy {
        var policy = AcceptorPolicy(calledAETitles: aeTitle.map { .only([$0]) } ?? .any, maximumPDULength: maximumPDULength)
        policy.maximumOperationsPerformed = defaultMaximumOperationsPerformed
        let native = [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian, .deflatedExplicitVRLittleEndian, .explicitVRBigEndian]
        let syntaxes = native.map(\.uid) + TransferSyntax.all.filter(\.isEncapsulated).map(\.uid)
        policy.accept(abstractSyntax: verificationSOPClassUID,
                      transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
        policy.accept(abstractSyntaxes: UIDRegistry.storageSOPClasses.map(\.uid), transferSyntaxes: syntaxes)
        return policy
    }

    /// ``defaultStoragePolicy(aeTitle:maximumPDULength:)`` plus the Query/Retrieve models (Patient Root and Study Root;
    /// FIND, MOVE and GET) in Explicit and Implicit VR Little Endian, with the SCP role allowed for every storage SOP class so
    /// that a C-GET requestor can receive its sub-operations (SCP/SCU Role Selection, PS3.7 D.3.3.4).
    public static func defaultArchivePolicy(aeTitle: AETitle? = nil, maximumPDULength: UInt32 = 64 * 1024) -> AcceptorPolicy {
        var policy = defaultStoragePolicy(aeTitle: aeTitle, maximumPDULength: maximumPDULength)
        let native = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        policy.accept(abstractSyntaxes: QueryRetrieveModel.findModels + QueryRetrieveModel.moveModels + QueryRetrieveModel.getModels,
                      transferSyntaxes: native)
        for sopClass in UIDRegistry.storageSOPClasses {
            policy.allowedRoles[sopClass.uid] = RoleSelection(sopClassUID: sopClass.uid, scuRole: true, scpRole: true)
        }
        return policy
    }

    /// Binds and starts accepting associations.
    ///
    /// - Parameters:
    ///   - port: 0 lets the system choose; read ``port`` afterwards.
    ///   - queryHandler: answers C-FIND; without one, C-FIND is answered "SOP class not supported".
    ///   - retrieveHandler: answers C-MOVE and C-GET; without one, they are answered "SOP class not supported".
    ///   - managedObjectHandler: answers N-CREATE, N-SET and N-GET (for example MPPS, PS3.4 Annex F); without one,
    ///     they are answered 0118H (no such SOP class).
    ///   - storageCommitmentHandler: decides Storage Commitment Push Model requests (N-ACTION, PS3.4 J.3); the result goes
    ///     back as an N-EVENT-REPORT on the same association. Without one, N-ACTION is answered 0118H. The policy must
    ///     accept ``StorageCommitment/sopClassUID``.
    ///   - aeTitle: our AE title, the calling AE title of C-MOVE sub-associations (default: the title the peer called).
    ///   - temporaryDirectory: where incoming data sets are streamed before the handler sees them.
    ///   - tls: accept only TLS connections (PS3.15 Annex B.1) with this context.
    ///   - eventLoopGroup: the loops of the listening channel and of the associations; each association's task runs on
    ///     its channel's loop (``EventLoopTaskExecutor``), so a group with a loop per expected concurrent association
    ///     serves best (default ``associationEventLoops``).
    public static func start(host: String = "127.0.0.1", port: Int, policy: AcceptorPolicy = defaultStoragePolicy(),
                             storageHandler: StorageHandler, queryHandler: QueryHandler? = nil, retrieveHandler: RetrieveHandler? = nil,
                             managedObjectHandler: ManagedObjectHandler? = nil,
                             storageCommitmentHandler: StorageCommitmentHandler? = nil,
                             associationObserver: (@Sendable (AssociationEvent) -> Void)? = nil,
                             aeTitle: AETitle? = nil, timeouts: DICOMServerTimeouts = DICOMServerTimeouts(),
                             temporaryDirectory: String = NSTemporaryDirectory(),
                             tls: DICOMTLS? = nil,
                             eventLoopGroup: EventLoopGroup = DICOMServer.associationEventLoops,
                             logger: Logger = Logger(label: "dicom.server")) async throws -> DICOMServer {
        let connections = ConnectionRegistry()
        let service = AssociationService(policy: policy, handler: storageHandler, queryHandler: queryHandler,
                                         retrieveHandler: retrieveHandler, managedObjectHandler: managedObjectHandler,
                                         storageCommitmentHandler: storageCommitmentHandler,
                                         associationObserver: associationObserver,
                                         aeTitle: aeTitle, timeouts: timeouts,
                                         temporaryDirectory: temporaryDirectory, logger: logger)
        // The decoder's bound: our advertised maximum P-DATA length, but at least 256 KB for A-ASSOCIATE-RQ.
        let inboundLimit = max(policy.maximumPDULength == 0 ? PDUDecoder.defaultMaximumPDULength : policy.maximumPDULength, 256 * 1024)
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.serverHandler()) }
                    let connection = try PDUConnection.install(on: channel, maximumPDULength: inboundLimit, role: .acceptor,
                                                               artim: timeouts.artim, writeStallLimit: timeouts.idle, logger: logger)
                    let id = connections.add(channel)
                    Task(executorPreference: EventLoopTaskExecutor(channel.eventLoop)) {
                        await service.serve(connection, peer: channel.remoteAddress?.description ?? "?")
                        connections.remove(id)
                    }
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            throw DICOMServiceError(.connectionFailed, "cannot listen on \(host):\(port): \(error)")
        }
        guard let address = channel.localAddress else {
            try? await channel.close()
            throw DICOMServiceError(.connectionFailed, "no local address after binding \(host):\(port)")
        }
        logger.info("listening", metadata: ["dicom.address": "\(address)"])
        return DICOMServer(localAddress: address, serverChannel: channel, connections: connections)
    }

    init(localAddress: SocketAddress, serverChannel: Channel, connections: ConnectionRegistry) {
        self.localAddress = localAddress
        self.serverChannel = serverChannel
        self.connections = connections
    }

    /// The number of open association connections.
    public var openConnectionCount: Int { connections.count }

    /// Stops accepting connections, lets open associations finish for up to `gracePeriod`, then closes the rest and
    /// waits, at most `handlerTimeout`, for the storage handlers still running on them to finish (so that what they
    /// make durable is complete before the caller closes the archive).
    public func shutdown(gracePeriod: Duration = .seconds(5), handlerTimeout: Duration = .seconds(30)) async {
        try? await serverChannel.close()
        var deadline = ContinuousClock.now + gracePeriod
        while connections.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard connections.count > 0 else { return }
        for channel in connections.all { try? await channel.close() }
        deadline = ContinuousClock.now + handlerTimeout
        while connections.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// The open child channels, for graceful shutdown.
final class ConnectionRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var channels: [Int: Channel] = [:]
    private var nextID = 0

    func add(_ channel: Channel) -> Int {
        lock.lock(); defer { lock.unlock() }
        nextID += 1
        channels[nextID] = channel
        return nextID
    }

    func remove(_ id: Int) {
        lock.lock(); defer { lock.unlock() }
        channels[id] = nil
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return channels.count }
    var all: [Channel] { lock.lock(); defer { lock.unlock() }; return Array(channels.values) }
}

/// Runs one association on the acceptor side (PS3.8 §7.1 to §7.3).
struct AssociationService: Sendable {
    let policy: AcceptorPolicy
    let handler: StorageHandler
    let queryHandler: QueryHandler?
    let retrieveHandler: RetrieveHandler?
    let managedObjectHandler: ManagedObjectHandler?
    let storageCommitmentHandler: StorageCommitmentHandler?
    let associationObserver: (@Sendable (AssociationEvent) -> Void)?
    let aeTitle: AETitle?
    let timeouts: DICOMServerTimeouts
    let temporaryDirectory: String
    let logger: Logger

    func serve(_ connection: PDUConnection, peer: String) async {
        var logger = self.logger
        logger[metadataKey: "dicom.peer"] = "\(peer)"
        let stores = StoreOperations()
        do {
            try await run(connection, peer: peer, stores: stores, logger: &logger)
        } catch let abort as AssociationAbort {
            logger.info("peer aborted the association", metadata: ["dicom.abort": "\(abort)"])
            await connection.close()
        } catch {
            logger.warning("aborting association", metadata: ["error": "\(error)"])
            // PS3.8 §9.3.8: the reason tells the peer what went wrong, where one applies.
            let reason: AssociationAbort.Reason
            switch error {
            case let error as DICOMNetworkError where error.code == .unknownPDUType: reason = .unrecognizedPDU
            case is DICOMNetworkError: reason = .invalidPDUParameterValue
            case let error as DICOMServiceError where error.code == .unexpectedMessage: reason = .unexpectedPDU
            default: reason = .notSpecified
            }
            await connection.abort(AssociationAbort(source: .serviceProvider, reason: reason))
        }
        // The storage handlers still running (an asynchronous operations window) finish before the association's task
        // ends, whatever ended the association: what they made durable stays stored, only its response is lost.
        await stores.drain()
    }

    private func run(_ connection: PDUConnection, peer: String, stores: StoreOperations, logger: inout Logger) async throws {
        guard let first = try await connection.receive(timeout: timeouts.artim, what: "A-ASSOCIATE-RQ") else {
            await connection.close()
            return
        }
        guard case .associateRequest(let request) = first else {
            if case .abort = first { await connection.close(); return }
            throw DICOMServiceError(.unexpectedMessage, "\(first.type) received before A-ASSOCIATE-RQ")
        }
        logger[metadataKey: "dicom.calling"] = "\(request.callingAETitle)"
        let certificate = await connection.peerCertificateSHA256()
        let negotiated: NegotiatedAssociation
        switch policy.negotiate(request, logger: logger) {
        case .failure(let reject):
            logger.info("association rejected", metadata: ["dicom.reject": "\(reject)"])
            associationObserver?(AssociationEvent(peer: peer, callingAETitle: request.callingAETitle, calledAETitle: request.calledAETitle,
                                                  rejection: "\(reject)", userName: request.userInformation.userName,
                                                  peerCertificateSHA256: certificate))
            try await connection.send(.associateReject(reject))
            // AE-8, Sta13: the requestor closes the connection; ARTIM bounds the wait.
            await connection.awaitClose(timeout: timeouts.artim)
            return
        case .success(let accept):
            associationObserver?(AssociationEvent(peer: peer, callingAETitle: request.callingAETitle, calledAETitle: request.calledAETitle,
                                                  rejection: nil, userName: request.userInformation.userName,
                                                  peerCertificateSHA256: certificate))
            try await connection.send(.associateAccept(accept))
            negotiated = NegotiatedAssociation(request: request, accept: accept, role: .acceptor)
        }
        // C-STOREs whose storage handlers may run at once: the asynchronous operations window granted (PS3.7 §D.3.3.3).
        let window = negotiated.maximumOutstandingOperations
        logger.debug("association accepted", metadata: ["dicom.contexts.accepted": "\(negotiated.acceptedContexts.count)",
                                                        "dicom.window": "\(window)"])
        let fragmenter = PDataFragmenter(maximumPDULength: negotiated.peerMaximumPDULength)
        var assembler = DIMSEMessageAssembler(association: negotiated, logger: logger)
        let queryRetrieve = QueryRetrieveService(queryHandler: queryHandler, retrieveHandler: retrieveHandler, aeTitle: aeTitle,
                                                 connection: connection, negotiated: negotiated, fragmenter: fragmenter,
                                                 timeouts: timeouts, logger: logger, peerCertificateSHA256: certificate)
        let managedObjects = ManagedObjectService(handler: managedObjectHandler, negotiated: negotiated, fragmenter: fragmenter, logger: logger)
        var commitment = StorageCommitmentService(handler: storageCommitmentHandler, negotiated: negotiated, fragmenter: fragmenter,
                                                  connection: connection, logger: logger)
        var incoming: IncomingDataSet?
        // The identifier of a C-FIND, C-MOVE or C-GET being received.
        var pendingIdentifier: (command: DIMSECommand, bytes: ByteBuffer)?
        // The running C-FIND, C-MOVE or C-GET: it sends its responses while this loop keeps reading, so that a C-CANCEL
        // or (for C-GET) the C-STORE-RSPs of its sub-operations reach it. One at a time (the asynchronous operations window
        // covers C-STORE only).
        var active: (messageID: UInt16, task: Task<Void, Never>, mailbox: OperationMailbox)?
        defer {
            incoming?.discard()
            active?.mailbox.close()
            active?.task.cancel()
            // Storage Commitment results the requestor did not acknowledge go on a new association (PS3.4 J.3.3).
            commitment.handOffUnanswered()
        }
        // Waits for the running operation before the loop handles another request or an A-RELEASE-RQ. The loop reads
        // nothing meanwhile, so no C-STORE-RSP can reach a C-GET any more (and after A-RELEASE-RQ the requestor may send
        // none, PS3.8 Table 9-10 Sta8): its mailbox is closed first, so a C-GET still waiting for one ends at once
        // instead of waiting out the idle timer with the loop blocked (and the peer's close unnoticed).
        func awaitActive() async {
            if let running = active {
                running.mailbox.close()
                await running.task.value
                active = nil
            }
        }

        while true {
            guard let pdu = try await connection.receive(timeout: timeouts.idle, what: "PDU on an idle association") else {
                logger.info("peer closed the connection without releasing")
                return
            }
            switch pdu {
            case .dataTransfer(let values):
                for event in try assembler.receive(values) {
                    switch event {
                    case .command(.cCancelRequest(let cancel), _):
                        if let running = active, running.messageID == cancel.messageIDBeingRespondedTo {
                            running.mailbox.cancel()
                        }
                    case .command(.cStoreResponse(let response), _):
                        guard let running = active else {
                            throw DICOMServiceError(.unexpectedMessage, "C-STORE-RSP received with no C-GET in progress")
                        }
                        running.mailbox.deliver(response)
                    case .command(let command, let id):
                        await awaitActive()
                        if window > 1, !command.isCStoreRequest {
                            // Other operations wait for the C-STOREs running: one kind of operation at a time.
                            await stores.drain()
                        }
                        switch command {
                        case .cEchoRequest(let echo):
                            try await connection.send(try fragmenter.pdus(for: CEchoResponse(answering: echo), presentationContextID: id))
                        case .cStoreRequest(let store):
                            incoming = IncomingDataSet(request: store, contextID: id, directory: temporaryDirectory,
                                                       transferSyntaxUID: negotiated.acceptedContexts[id]?.transferSyntax,
                                                       sourceAETitle: negotiated.request.callingAETitle.value,
                                                       hashing: handler.usesSHA256, startingWriteback: handler.makesFilesDurable,
                                                       writingDirectly: handler.makesFilesDurable && handler.writesDirectly)
                        case .cFindRequest, .cMoveRequest, .cGetRequest, .nSetRequest:
                            pendingIdentifier = (command, ByteBuffer())
                        case .nCreateRequest(let create) where create.hasDataSet:
                            pendingIdentifier = (command, ByteBuffer())
                        case .nActionRequest(let action) where action.hasDataSet:
                            pendingIdentifier = (command, ByteBuffer())
                        case .nActionRequest(let action):
                            try await commitment.perform(action, actionInformation: nil, contextID: id)
                        case .nEventReportResponse(let response):
                            commitment.received(response)
                        case .nCreateRequest, .nGetRequest:
                            if let reply = try await managedObjects.respond(to: command, dataSet: nil, contextID: id) {
                                try await connection.send(reply)
                            }
                        default:
                            throw DICOMServiceError(.unexpectedMessage, "\(command.commandField) is not supported by this SCP")
                        }
                    case .dataSetFragment(var bytes, let id, let isLast):
                        if let current = incoming {
                            await current.append(bytes)
                            if isLast {
                                incoming = nil
                                if window > 1 {
                                    // The handler runs while the next C-STOREs arrive; its response goes when it is done
                                    // (responses may overtake each other). At most `window` run at once.
                                    await stores.waitUntilFewer(than: window)
                                    startStore(current, negotiated: negotiated, contextID: id, fragmenter: fragmenter,
                                               connection: connection, stores: stores, logger: logger)
                                } else {
                                    let (status, comment) = try await finish(current, negotiated: negotiated, contextID: id, logger: logger)
                                    let response = CStoreResponse(answering: current.request, status: status,
                                                                  errorComment: comment.map { String($0.prefix(64)) })
                                    // Queued without waiting for the write: the next request is read meanwhile (a write
                                    // that fails closes the connection, which ends the association's next receive).
                                    try await connection.send(try fragmenter.pdus(for: response, presentationContextID: id),
                                                              waitingForWrite: false)
                                }
                            }
                        } else if var pending = pendingIdentifier {
                            let limit = if case .nActionRequest = pending.command { Self.maximumActionInformationLength } else { Self.maximumIdentifierLength }
                            guard pending.bytes.readableBytes + bytes.readableBytes <= limit else {
                                throw DICOMServiceError(.unexpectedMessage, "a request data set longer than \(limit) bytes")
                            }
                            pending.bytes.writeBuffer(&bytes)
                            pendingIdentifier = isLast ? nil : pending
                            if isLast, case .nActionRequest(let action) = pending.command {
                                try await commitment.perform(action, actionInformation: pending.bytes, contextID: id)
                            } else if isLast, let reply = try await managedObjects.respond(to: pending.command, dataSet: pending.bytes, contextID: id) {
                                try await connection.send(reply)
                            } else if isLast {
                                let mailbox = OperationMailbox()
                                let identifier = pending.bytes
                                let service = queryRetrieve
                                let operationLogger = logger
                                let messageID: UInt16
                                let body: @Sendable () async throws -> Void
                                switch pending.command {
                                case .cFindRequest(let request):
                                    messageID = request.messageID
                                    body = { try await service.find(request, identifier: identifier, contextID: id, mailbox: mailbox) }
                                case .cMoveRequest(let request):
                                    messageID = request.messageID
                                    body = { try await service.retrieve(.move(request), identifier: identifier, contextID: id, mailbox: mailbox) }
                                case .cGetRequest(let request):
                                    messageID = request.messageID
                                    body = { try await service.retrieve(.get(request), identifier: identifier, contextID: id, mailbox: mailbox) }
                                default:
                                    throw DICOMServiceError(.unexpectedMessage, "data set for \(pending.command.commandField)")
                                }
                                let task = Task {
                                    do {
                                        try await body()
                                    } catch where Task.isCancelled || (error as? DICOMServiceError)?.code == .associationClosed {
                                        // The association ended under the operation (the loop cancelled its task, or
                                        // a response could not be sent): nothing to abort; a C-MOVE logged how far it got.
                                        operationLogger.debug("query/retrieve ended with its association", metadata: ["error": "\(error)"])
                                    } catch {
                                        operationLogger.warning("aborting association during a query/retrieve", metadata: ["error": "\(error)"])
                                        await connection.abort(AssociationAbort(source: .serviceProvider, reason: .notSpecified))
                                    }
                                }
                                active = (messageID, task, mailbox)
                            }
                        } else {
                            throw DICOMServiceError(.unexpectedMessage, "data set fragment without a request that carries one")
                        }
                    }
                }
            case .releaseRequest:
                await awaitActive()
                if window > 1 { await stores.drain() }
                try await connection.send(.releaseResponse)
                logger.debug("association released")
                // AR-4, Sta13: the requestor closes the connection (AR-3); ARTIM bounds the wait.
                await connection.awaitClose(timeout: timeouts.artim)
                return
            case .abort(let abort):
                throw abort
            default:
                throw DICOMServiceError(.unexpectedMessage, "\(pdu.type) received on an established association")
            }
        }
    }

    /// The largest C-FIND/C-MOVE/C-GET identifier accepted (real ones are a few hundred bytes).
    static let maximumIdentifierLength = 1 << 20
    /// The largest N-ACTION Action Information accepted: a Storage Commitment request of up to
    /// ``StorageCommitmentRequest/maximumReferences`` instances (about 70 bytes each).
    static let maximumActionInformationLength = 16 << 20

    /// Runs the storage handler of a received C-STORE in a task of its own that sends the C-STORE-RSP when it is done
    /// (PDUConnection allows a send while the association's task receives; each response goes whole in one send, so the
    /// tasks' responses never interleave). An error of the handler's step aborts the association.
    private func startStore(_ incoming: IncomingDataSet, negotiated: NegotiatedAssociation, contextID: UInt8,
                            fragmenter: PDataFragmenter, connection: PDUConnection, stores: StoreOperations, logger: Logger) {
        // The incoming data set belongs to the task from here on.
        let handedOver = HandedOver(incoming)
        stores.start { [self] in
            let response: [PDU]
            do {
                let (status, comment) = try await finish(handedOver.value, negotiated: negotiated, contextID: contextID, logger: logger)
                response = try fragmenter.pdus(for: CStoreResponse(answering: handedOver.value.request, status: status,
                                                                   errorComment: comment.map { String($0.prefix(64)) }),
                                               presentationContextID: contextID)
            } catch {
                logger.warning("aborting association after a C-STORE", metadata: ["error": "\(error)"])
                await connection.abort(AssociationAbort(source: .serviceProvider, reason: .notSpecified))
                return
            }
            do {
                try await connection.send(response, waitingForWrite: false)
            } catch {
                // The association ended meanwhile (aborted, or the connection lost): what the handler stored stays stored.
                logger.info("C-STORE-RSP not sent", metadata: ["error": "\(error)",
                                                               "dicom.sopInstance": "\(handedOver.value.request.affectedSOPInstanceUID)"])
            }
        }
    }

    private func finish(_ incoming: IncomingDataSet, negotiated: NegotiatedAssociation, contextID: UInt8,
                        logger: Logger) async throws -> (DIMSEStatus, String?) {
        defer { incoming.discard() }
        if let error = incoming.writeError {
            logger.error("cannot write an incoming data set", metadata: ["error": "\(error)", "dicom.sopInstance": "\(incoming.request.affectedSOPInstanceUID)"])
            return (.outOfResources, "cannot write the data set to \((temporaryDirectory as NSString).lastPathComponent): \(error)")
        }
        do {
            try await incoming.close()
        } catch {
            return (.outOfResources, "cannot write the data set: \(error)")
        }
        guard let context = negotiated.acceptedContexts[contextID] else { return (.processingFailure, nil) }
        guard context.abstractSyntax == incoming.request.affectedSOPClassUID else {
            logger.warning("C-STORE SOP class differs from its presentation context's abstract syntax",
                           metadata: ["dicom.sopClass": "\(incoming.request.affectedSOPClassUID)"])
            return (.dataSetDoesNotMatchSOPClass, "SOP Class UID differs from the presentation context's")
        }
        let instance = ReceivedInstance(request: incoming.request, transferSyntaxUID: context.transferSyntax,
                                        filePath: incoming.path, dataSetOffset: incoming.dataSetOffset, byteCount: incoming.byteCount,
                                        callingAETitle: negotiated.request.callingAETitle, calledAETitle: negotiated.request.calledAETitle,
                                        sha256: await incoming.sha256(), leadingBytes: incoming.leadingBytes)
        let (status, comment) = await handler.storeExplained(instance)
        logger.info("C-STORE", metadata: ["dicom.sopInstance": "\(instance.sopInstanceUID)", "dicom.bytes": "\(instance.byteCount)",
                                          "dicom.status": "\(status)"])
        return (status, comment)
    }
}

/// The C-STOREs of one association whose storage handlers are running (the asynchronous operations window).
final class StoreOperations: @unchecked Sendable {
    private let lock = NSLock()
    private var running = 0
    private var waiters: [(limit: Int, continuation: CheckedContinuation<Void, Never>)] = []

    /// Runs `body` in a task of its own.
    func start(_ body: @escaping @Sendable () async -> Void) {
        lock.withLock { running += 1 }
        Task {
            await body()
            self.finished()
        }
    }

    private func finished() {
        let ready: [CheckedContinuation<Void, Never>] = lock.withLock {
            running -= 1
            let count = running
            let ready = waiters.filter { count < $0.limit }.map(\.continuation)
            waiters.removeAll { count < $0.limit }
            return ready
        }
        for waiter in ready { waiter.resume() }
    }

    /// Returns once fewer than `limit` run.
    func waitUntilFewer(than limit: Int) async {
        if lock.withLock({ running < limit }) { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if running < limit {
                lock.unlock()
                continuation.resume()
            } else {
                waiters.append((limit, continuation))
                lock.unlock()
            }
        }
    }

    /// Returns once none runs.
    func drain() async { await waitUntilFewer(than: 1) }
}

extension DIMSECommand {
    var isCStoreRequest: Bool {
        if case .cStoreRequest = self { return true }
        return false
    }
}

/// A value handed from one task to another that alone uses it afterwards.
struct HandedOver<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// An A-ASSOCIATE-RQ the server answered: who asked, from where, and whether it was accepted (for audit trails).
public struct AssociationEvent: Sendable, Equatable {
    /// The peer's address ("[IPv4]127.0.0.1/127.0.0.1:41234").
    public var peer: String
    public var callingAETitle: AETitle
    public var calledAETitle: AETitle
    /// Why it was rejected (the A-ASSOCIATE-RJ result, source and reason); nil when accepted.
    public var rejection: String?
    /// The username of the request's User Identity, if any (verified when the policy has ``AcceptorPolicy/users``).
    public var userName: String?
    /// The SHA-256 fingerprint of the verified TLS client certificate, if any.
    public var peerCertificateSHA256: String?

    public init(peer: String, callingAETitle: AETitle, calledAETitle: AETitle, rejection: String?, userName: String? = nil,
                peerCertificateSHA256: String? = nil) {
        self.peer = peer
        self.callingAETitle = callingAETitle
        self.calledAETitle = calledAETitle
        self.rejection = rejection
        self.userName = userName
        self.peerCertificateSHA256 = peerCertificateSHA256
    }

    public var accepted: Bool { rejection == nil }
}
