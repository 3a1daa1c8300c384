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
    /// - Throws: ``AssociationReject`` when the peer rejects, ``AssociationAbort`` when it aborts,
    ///   ``DICOMServiceError`` for connection failures and timeouts, ``DICOMNetworkError`` for a malformed answer.
    public static func connect(host: String, port: Int, callingAE: AETitle, calledAE: AETitle,
                               presentationContexts: [PresentationContext],
                               roleSelections: [RoleSelection] = [],
                               userIdentity: UserIdentity? = nil,
                               maximumPDULength: UInt32 = defaultMaximumPDULength,
                               timeouts: DICOMTimeouts = DICOMTimeouts(),
                               tls: DICOMTLS? = nil,
                               eventLoopGroup: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               logger: Logger = Logger(label: "dicom.client")) async throws -> Association {
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(timeouts.connect)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try tls.clientHandler())
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(promise: channel.eventLoop.makePromise()))
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
                let waiter = try await channel.pipeline.handler(type: TLSHandshakeWaiter.self).get()
                try await waiter.promise.futureResult.get()
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

/// An established association, from the requestor's side. Operations run one at a time (no asynchronous
/// operations window): concurrent calls wait their turn.
public actor Association {
    /// What was negotiated: accepted presentation contexts and each side's maximum PDU length.
    public nonisolated let negotiated: NegotiatedAssociation
    let connection: PDUConnection
    let timeouts: DICOMTimeouts
    let logger: Logger
    let fragmenter: PDataFragmenter
    private var nextMessageID: UInt16 = 1
    private var isOpen = true
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(connection: PDUConnection, negotiated: NegotiatedAssociation, timeouts: DICOMTimeouts, logger: Logger) {
        self.connection = connection
        self.negotiated = negotiated
        self.timeouts = timeouts
        self.logger = logger
        self.fragmenter = PDataFragmenter(maximumPDULength: negotiated.peerMaximumPDULength)
    }

    /// Sends C-ECHO-RQ (PS3.7 §9.1.5) and returns the response status.
    public func echo() async throws -> DIMSEStatus {
        guard let context = negotiated.context(forAbstractSyntax: verificationSOPClassUID) else {
            throw DICOMServiceError(.noPresentationContext, "the peer did not accept the Verification SOP class")
        }
        return try await exclusive {
            let request = CEchoRequest(messageID: takeMessageID())
            try await connection.send(try fragmenter.pdus(for: request, presentationContextID: context.id))
            let response = try await receiveResponse()
            guard case .cEchoResponse(let echo) = response, echo.messageIDBeingRespondedTo == request.messageID else {
                throw await fail("expected C-ECHO-RSP for message \(request.messageID), received \(response.commandField)")
            }
            return echo.status
        }
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
        return try await exclusive {
            let request = CStoreRequest(messageID: takeMessageID(), affectedSOPClassUID: sopClassUID,
                                        affectedSOPInstanceUID: sopInstanceUID, priority: priority)
            try await connection.send(try fragmenter.pdus(for: request, presentationContextID: context.id))
            switch source {
            case .buffer(var remaining):
                repeat {
                    let part = remaining.readSlice(length: min(Self.sendSliceLength, remaining.readableBytes))!
                    try await connection.send(fragmenter.pdus(for: part, presentationContextID: context.id, isCommand: false,
                                                              isLast: remaining.readableBytes == 0))
                } while remaining.readableBytes > 0
            case .file(let path, let offset):
                try await connection.sendDataSet(fromFile: path, offset: offset, transferSyntaxUID: context.transferSyntax,
                                                     presentationContextID: context.id, fragmenter: fragmenter)
            }
            let response = try await receiveResponse()
            guard case .cStoreResponse(let store) = response, store.messageIDBeingRespondedTo == request.messageID else {
                throw await fail("expected C-STORE-RSP for message \(request.messageID), received \(response.commandField)")
            }
            return store.status
        }
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
        guard let context = context(forSOPClass: sopClass, transferSyntax: header.transferSyntax),
              let contextSyntax = context.knownTransferSyntax else {
            let codec = header.transferSyntax.isEncapsulated && CodecRegistry.decoder(for: header.transferSyntax.uid) == nil
                ? " (and no built-in codec decodes it)" : ""
            throw DICOMServiceError(.noPresentationContext,
                                    "the peer accepted no presentation context for \(sopClass) in \(header.transferSyntax.name)\(codec)")
        }
        let source: DataSetSource
        var temporaryFile: String?
        // The converted copy goes once sent, also when sending fails or the task is cancelled.
        defer { if let temporaryFile { try? FileManager.default.removeItem(atPath: temporaryFile) } }
        if contextSyntax == header.transferSyntax, let offset = Part10Layout.dataSetOffset(ofFileAt: path) {
            source = .file(path: path, offset: offset)
        } else {
            (source, temporaryFile) = try OutgoingDataSet.converted(fileAt: path, in: contextSyntax,
                                                                    temporaryDirectory: temporaryDirectory ?? NSTemporaryDirectory())
        }
        let status = try await store(source, sopClassUID: sopClass, sopInstanceUID: sopInstance, transferSyntax: contextSyntax,
                                     priority: priority)
        return (sopInstance, status)
    }

    /// Releases the association (A-RELEASE, PS3.8 §7.2) and closes the connection.
    public func release() async throws {
        guard isOpen else { return }
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

    /// Aborts the association (A-ABORT, PS3.8 §7.3) and closes the connection.
    public func abort() async {
        isOpen = false
        await connection.abort(.serviceUser)
    }

    // MARK: - Internals

    func takeMessageID() -> UInt16 {
        defer { nextMessageID = nextMessageID == UInt16.max ? 1 : nextMessageID + 1 }
        return nextMessageID
    }

    /// Runs one operation at a time on this association.
    func exclusive<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        while busy {
            await withCheckedContinuation { waiters.append($0) }
        }
        guard isOpen else {
            throw DICOMServiceError(.associationClosed, "the association is closed")
        }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        do {
            return try await body()
        } catch {
            if !(error is DICOMServiceError && (error as! DICOMServiceError).code == .noPresentationContext) {
                isOpen = false
                await connection.close()
            }
            throw error
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

    /// Receives one whole DIMSE response (command plus any data set, which is dropped).
    private func receiveResponse() async throws -> DIMSECommand {
        var response: DIMSECommand?
        try await receiveResponses(storage: nil) { command, _ in
            response = command
            return true
        }
        guard let response else { throw DICOMServiceError(.associationClosed, "no DIMSE response was received") }
        return response
    }
}
