import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import NIOCore

// The Query/Retrieve service class user (PS3.4 Annex C): C-FIND, C-MOVE and C-GET on an ``Association``.

extension DICOMClient {
    /// Explicit and Implicit VR Little Endian, the transfer syntaxes proposed for queries and retrieved instances.
    public static let nativeTransferSyntaxes = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]

    /// Presentation contexts for Query/Retrieve information models (for example ``QueryRetrieveModel/studyRootFind``
    /// and ``QueryRetrieveModel/studyRootMove``), one per model with odd IDs from 1, in Explicit and Implicit VR Little Endian.
    public static func queryRetrieveContexts(_ models: [String]) -> [PresentationContext] {
        PresentationContext.numbered(models, transferSyntaxes: nativeTransferSyntaxes)
    }

    /// Storage SOP classes proposed by default for C-GET (PS3.4 Annex B.5): the common image, document and
    /// structured report classes. Up to 127 fit beside the C-GET model in one association.
    public static let commonStorageSOPClasses: [String] = [
        "1.2.840.10008.5.1.4.1.1.1",        // Computed Radiography
        "1.2.840.10008.5.1.4.1.1.1.1",      // Digital X-Ray, for presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",    // Digital X-Ray, for processing
        "1.2.840.10008.5.1.4.1.1.1.2",      // Digital Mammography, for presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",    // Digital Mammography, for processing
        "1.2.840.10008.5.1.4.1.1.1.3",      // Digital Intra-Oral X-Ray, for presentation
        "1.2.840.10008.5.1.4.1.1.2",        // CT
        "1.2.840.10008.5.1.4.1.1.2.1",      // Enhanced CT
        "1.2.840.10008.5.1.4.1.1.3.1",      // Ultrasound Multi-frame
        "1.2.840.10008.5.1.4.1.1.4",        // MR
        "1.2.840.10008.5.1.4.1.1.4.1",      // Enhanced MR
        "1.2.840.10008.5.1.4.1.1.6.1",      // Ultrasound
        "1.2.840.10008.5.1.4.1.1.7",        // Secondary Capture
        "1.2.840.10008.5.1.4.1.1.7.1",      // Multi-frame Single Bit SC
        "1.2.840.10008.5.1.4.1.1.7.2",      // Multi-frame Grayscale Byte SC
        "1.2.840.10008.5.1.4.1.1.7.3",      // Multi-frame Grayscale Word SC
        "1.2.840.10008.5.1.4.1.1.7.4",      // Multi-frame True Color SC
        "1.2.840.10008.5.1.4.1.1.11.1",     // Grayscale Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.12.1",     // X-Ray Angiographic
        "1.2.840.10008.5.1.4.1.1.12.2",     // X-Ray Radiofluoroscopic
        "1.2.840.10008.5.1.4.1.1.20",       // Nuclear Medicine
        "1.2.840.10008.5.1.4.1.1.66",       // Raw Data
        "1.2.840.10008.5.1.4.1.1.66.4",     // Segmentation
        "1.2.840.10008.5.1.4.1.1.77.1.4",   // VL Photographic
        "1.2.840.10008.5.1.4.1.1.88.11",    // Basic Text SR
        "1.2.840.10008.5.1.4.1.1.88.22",    // Enhanced SR
        "1.2.840.10008.5.1.4.1.1.88.33",    // Comprehensive SR
        "1.2.840.10008.5.1.4.1.1.88.59",    // Key Object Selection
        "1.2.840.10008.5.1.4.1.1.104.1",    // Encapsulated PDF
        "1.2.840.10008.5.1.4.1.1.128",      // PET
        "1.2.840.10008.5.1.4.1.1.130",      // Enhanced PET
        "1.2.840.10008.5.1.4.1.1.481.1",    // RT Image
        "1.2.840.10008.5.1.4.1.1.481.2",    // RT Dose
        "1.2.840.10008.5.1.4.1.1.481.3",    // RT Structure Set
        "1.2.840.10008.5.1.4.1.1.481.5",    // RT Plan
    ]

    /// Presentation contexts for a C-GET (PS3.4 C.4.3): the retrieve model, then one context per storage SOP class
    /// the peer may send back as C-STORE sub-operations. Propose them together with ``scpRoleSelections(for:)``
    /// in ``connect(host:port:callingAE:calledAE:presentationContexts:roleSelections:maximumPDULength:timeouts:tls:eventLoopGroup:logger:)``.
    /// At most 127 storage classes are used (the association holds 128 contexts).
    public static func getContexts(model: String = QueryRetrieveModel.studyRootGet,
                                   storageSOPClasses: [String] = commonStorageSOPClasses,
                                   transferSyntaxes: [String] = nativeTransferSyntaxes) -> [PresentationContext] {
        var classes = [model]
        for uid in storageSOPClasses where !classes.contains(uid) && classes.count < 128 { classes.append(uid) }
        return PresentationContext.numbered(classes, transferSyntaxes: transferSyntaxes)
    }

    /// SCP/SCU Role Selection proposals (PS3.7 §D.3.3.4) for the storage SOP classes among `contexts`: the requestor
    /// takes the SCP role, as C-GET requires for its C-STORE sub-operations (PS3.4 C.4.3.1).
    public static func scpRoleSelections(for contexts: [PresentationContext]) -> [RoleSelection] {
        var seen = Set<String>()
        return contexts.compactMap { context in
            let uid = context.abstractSyntax
            guard !QueryRetrieveModel.findModels.contains(uid), !QueryRetrieveModel.moveModels.contains(uid),
                  !QueryRetrieveModel.getModels.contains(uid), uid != verificationSOPClassUID, seen.insert(uid).inserted else { return nil }
            return RoleSelection(sopClassUID: uid, scuRole: false, scpRole: true)
        }
    }
}

/// The outcome of a C-FIND (PS3.4 C.4.1).
public struct FindResult: Sendable {
    /// The identifiers of the pending responses, in the order received.
    public var matches: [DataSet]
    /// The final response status: success, cancel (after C-CANCEL) or a failure.
    public var status: DIMSEStatus
    /// The Error Comment (0000,0902) of the final response, if any.
    public var errorComment: String?
    /// Whether this requestor sent C-CANCEL (because ``matches`` reached the limit asked for).
    public var cancelRequested: Bool
}

/// The outcome of a C-MOVE or C-GET (PS3.4 C.4.2, C.4.3).
public struct RetrieveResult: Sendable {
    /// The final response status: success, warning (some sub-operations failed), cancel or failure.
    public var status: DIMSEStatus
    /// The sub-operation counters of the final response (or of the last response that carried them).
    public var counts: SuboperationCounts
    /// The Error Comment (0000,0902) of the final response, if any.
    public var errorComment: String?
    /// The Failed SOP Instance UID List (0008,0058) of the final response's identifier, if any.
    public var failedSOPInstanceUIDs: [String]
    /// C-GET only: instances received as C-STORE sub-operations on this association, with the status we answered.
    public var received: [(sopInstanceUID: String, status: DIMSEStatus)]
    /// Whether this requestor sent C-CANCEL (because its task was cancelled).
    public var cancelRequested: Bool
}

extension Association {
    /// The largest response identifier accepted, in bytes.
    static let maximumIdentifierLength = 64 * 1024 * 1024

    /// Sends C-FIND-RQ (PS3.7 §9.1.2) with `identifier` (the Query/Retrieve Level (0008,0052) and the keys: empty
    /// values ask for an attribute back) and collects the pending responses' identifiers.
    ///
    /// - Parameters:
    ///   - model: the information model's SOP class UID, e.g. ``QueryRetrieveModel/studyRootFind``; an accepted
    ///     presentation context for it is needed.
    ///   - maximumMatches: when set, C-CANCEL (PS3.7 §9.3.2.3) is sent once this many matches arrived; matches still
    ///     in flight are kept, so the result may hold a few more.
    ///   - onMatch: called for each match as it arrives; return false to send C-CANCEL.
    /// - Returns: the matches and the final status. A failure status is returned, not thrown.
    /// - Throws: ``DICOMServiceError`` for no accepted context, an identifier that cannot be encoded, timeouts or a
    ///   malformed exchange; ``AssociationAbort`` when the peer aborts.
    public func find(_ identifier: DataSet, model: String = QueryRetrieveModel.studyRootFind, priority: DIMSEPriority = .medium,
                     maximumMatches: Int? = nil, onMatch: (@Sendable (DataSet) async -> Bool)? = nil) async throws -> FindResult {
        let (context, syntax) = try queryContext(for: model, service: "C-FIND")
        let encoded = try encodeIdentifier(identifier, syntax)
        return try await exclusive {
            let request = CFindRequest(messageID: takeMessageID(), affectedSOPClassUID: model, priority: priority)
            try await connection.send(try fragmenter.pdus(for: request, dataSet: encoded, presentationContextID: context.id))
            var result = FindResult(matches: [], status: .pending, errorComment: nil, cancelRequested: false)
            try await receiveResponses(storage: nil) { command, data in
                guard case .cFindResponse(let response) = command, response.messageIDBeingRespondedTo == request.messageID else {
                    throw await fail("expected C-FIND-RSP for message \(request.messageID), received \(command.commandField)")
                }
                guard response.status.isPending else {
                    result.status = response.status
                    result.errorComment = response.errorComment
                    return true
                }
                guard let data else { return false }
                let match = try await decodeIdentifier(data, syntax, what: "C-FIND-RSP identifier")
                result.matches.append(match)
                var wanted = true
                if let onMatch { wanted = await onMatch(match) }
                if let maximumMatches, result.matches.count >= maximumMatches { wanted = false }
                if !wanted && !result.cancelRequested {
                    result.cancelRequested = true
                    try await connection.send(try fragmenter.pdus(for: CCancelRequest(messageIDBeingRespondedTo: request.messageID),
                                                                  presentationContextID: context.id))
                }
                return false
            }
            return result
        }
    }

    /// C-FIND as an asynchronous sequence of matches. Ending the iteration early sends C-CANCEL; a final failure
    /// status ends the sequence with a ``DIMSEFailure``.
    public nonisolated func findMatches(_ identifier: DataSet, model: String = QueryRetrieveModel.studyRootFind,
                                        priority: DIMSEPriority = .medium) -> AsyncThrowingStream<DataSet, Error> {
        let (stream, continuation) = AsyncThrowingStream<DataSet, Error>.makeStream()
        let stopped = StopFlag()
        continuation.onTermination = { _ in stopped.set() }
        Task {
            do {
                let result = try await self.find(identifier, model: model, priority: priority) { match in
                    if stopped.isSet { return false }
                    if case .terminated = continuation.yield(match) { return false }
                    return true
                }
                if result.status.isFailure {
                    continuation.finish(throwing: DIMSEFailure(result.status, result.errorComment))
                } else {
                    continuation.finish()
                }
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return stream
    }

    /// Sends C-MOVE-RQ (PS3.7 §9.1.4): the peer sends the instances `identifier` selects to `destination` (an AE title it
    /// knows) over a separate association. Each pending response's sub-operation counts go to `progress`.
    /// Cancelling the calling task sends C-CANCEL; the method still waits for the final response.
    ///
    /// - Returns: the final status and counts (a failure is returned, not thrown).
    public func move(_ identifier: DataSet, model: String = QueryRetrieveModel.studyRootMove, destination: AETitle,
                     priority: DIMSEPriority = .medium,
                     progress: (@Sendable (SuboperationCounts) -> Void)? = nil) async throws -> RetrieveResult {
        let (context, syntax) = try queryContext(for: model, service: "C-MOVE")
        let encoded = try encodeIdentifier(identifier, syntax)
        return try await exclusive {
            let request = CMoveRequest(messageID: takeMessageID(), affectedSOPClassUID: model, moveDestination: destination.value,
                                       priority: priority)
            try await connection.send(try fragmenter.pdus(for: request, dataSet: encoded, presentationContextID: context.id))
            var result = RetrieveResult(status: .pending, counts: SuboperationCounts(), errorComment: nil, failedSOPInstanceUIDs: [],
                                        received: [], cancelRequested: false)
            try await receiveResponses(storage: nil) { command, data in
                guard case .cMoveResponse(let response) = command, response.messageIDBeingRespondedTo == request.messageID else {
                    throw await fail("expected C-MOVE-RSP for message \(request.messageID), received \(command.commandField)")
                }
                return try await handleRetrieveResponse(status: response.status, counts: response.suboperations,
                                                        errorComment: response.errorComment, data: data, syntax: syntax,
                                                        messageID: request.messageID, contextID: context.id, result: &result,
                                                        progress: progress)
            }
            return result
        }
    }

    /// Sends C-GET-RQ (PS3.7 §9.1.3): the peer sends the instances `identifier` selects back on this association as
    /// C-STORE sub-operations, each streamed to a temporary file, handed to `storage` and answered with its status.
    /// The association must have been proposed with ``DICOMClient/getContexts(model:storageSOPClasses:transferSyntaxes:)``
    /// and ``DICOMClient/scpRoleSelections(for:)``. Cancelling the calling task sends C-CANCEL.
    ///
    /// - Parameter temporaryDirectory: where incoming data sets are written before `storage` sees them.
    /// - Returns: the final status, counts and the instances received (a failure is returned, not thrown).
    public func get(_ identifier: DataSet, model: String = QueryRetrieveModel.studyRootGet, storage: StorageHandler,
                    priority: DIMSEPriority = .medium, temporaryDirectory: String = NSTemporaryDirectory(),
                    progress: (@Sendable (SuboperationCounts) -> Void)? = nil) async throws -> RetrieveResult {
        let (context, syntax) = try queryContext(for: model, service: "C-GET")
        let encoded = try encodeIdentifier(identifier, syntax)
        return try await exclusive {
            let request = CGetRequest(messageID: takeMessageID(), affectedSOPClassUID: model, priority: priority)
            try await connection.send(try fragmenter.pdus(for: request, dataSet: encoded, presentationContextID: context.id))
            var result = RetrieveResult(status: .pending, counts: SuboperationCounts(), errorComment: nil, failedSOPInstanceUIDs: [],
                                        received: [], cancelRequested: false)
            let store = GetStorage(handler: storage, directory: temporaryDirectory)
            try await receiveResponses(storage: store) { command, data in
                guard case .cGetResponse(let response) = command, response.messageIDBeingRespondedTo == request.messageID else {
                    throw await fail("expected C-GET-RSP for message \(request.messageID), received \(command.commandField)")
                }
                return try await handleRetrieveResponse(status: response.status, counts: response.suboperations,
                                                        errorComment: response.errorComment, data: data, syntax: syntax,
                                                        messageID: request.messageID, contextID: context.id, result: &result,
                                                        progress: progress)
            }
            result.received = store.received
            return result
        }
    }

    /// C-GET into a directory: each instance becomes a Part 10 file named after its SOP Instance UID
    /// (see ``DirectoryStorageHandler``).
    public func get(_ identifier: DataSet, model: String = QueryRetrieveModel.studyRootGet, into directory: String,
                    priority: DIMSEPriority = .medium,
                    progress: (@Sendable (SuboperationCounts) -> Void)? = nil) async throws -> RetrieveResult {
        let storage = try DirectoryStorageHandler(directory: directory)
        return try await get(identifier, model: model, storage: storage, priority: priority, temporaryDirectory: directory,
                             progress: progress)
    }

    // MARK: - Internals

    private func queryContext(for model: String, service: String) throws -> (NegotiatedAssociation.AcceptedContext, TransferSyntax) {
        guard let context = negotiated.context(forAbstractSyntax: model) else {
            let name = UIDRegistry.entry(for: model)?.name ?? model
            throw DICOMServiceError(.noPresentationContext, "the peer did not accept \(name) (\(model)) for \(service)")
        }
        guard let syntax = context.knownTransferSyntax, !syntax.isEncapsulated else {
            throw DICOMServiceError(.noPresentationContext, "the peer accepted \(service) only in transfer syntax \(context.transferSyntax), which cannot carry an identifier")
        }
        return (context, syntax)
    }

    private func encodeIdentifier(_ identifier: DataSet, _ syntax: TransferSyntax) throws -> ByteBuffer {
        do {
            return ByteBuffer(bytes: try DataSetWriter.encode(identifier, transferSyntax: syntax))
        } catch {
            throw DICOMServiceError(.invalidInput, "cannot encode the identifier in \(syntax.name): \(error)")
        }
    }

    private func decodeIdentifier(_ data: Data, _ syntax: TransferSyntax, what: String) async throws -> DataSet {
        do {
            return try DataSetReader.read(data, transferSyntax: syntax)
        } catch {
            await connection.abort(AssociationAbort(source: .serviceProvider, reason: .invalidPDUParameterValue))
            throw DICOMServiceError(.unexpectedMessage, "malformed \(what): \(error)")
        }
    }

    /// Common handling of C-MOVE-RSP and C-GET-RSP; returns whether the response is final.
    private func handleRetrieveResponse(status: DIMSEStatus, counts: SuboperationCounts, errorComment: String?, data: Data?,
                                        syntax: TransferSyntax, messageID: UInt16, contextID: UInt8, result: inout RetrieveResult,
                                        progress: (@Sendable (SuboperationCounts) -> Void)?) async throws -> Bool {
        if counts != SuboperationCounts() || !status.isPending { result.counts = counts }
        if status.isPending {
            progress?(counts)
            if Task.isCancelled && !result.cancelRequested {
                result.cancelRequested = true
                try await connection.send(try fragmenter.pdus(for: CCancelRequest(messageIDBeingRespondedTo: messageID),
                                                              presentationContextID: contextID))
            }
            return false
        }
        result.status = status
        result.errorComment = errorComment
        if let data, !data.isEmpty {
            let identifier = try await decodeIdentifier(data, syntax, what: "retrieve response identifier")
            result.failedSOPInstanceUIDs = identifier.strings(Tag(0x0008, 0x0058)) ?? []
        }
        return true
    }

    /// Receives DIMSE messages until `onResponse` says one was final. Response data sets are held in memory (bounded);
    /// C-STORE-RQ sub-operations (C-GET) are streamed to files, handed to `storage` and answered.
    func receiveResponses(storage: GetStorage?,
                                  onResponse: (DIMSECommand, Data?) async throws -> Bool) async throws {
        var assembler = DIMSEMessageAssembler(association: negotiated, logger: logger)
        var pendingResponse: DIMSECommand?
        var responseBytes = ByteBuffer()
        var incoming: IncomingDataSet?
        var repeated: RepeatedCommand?
        defer { incoming?.discard() }
        while true {
            guard let pdu = try await connection.receive(timeout: timeouts.dimse, what: "DIMSE response") else {
                throw DICOMServiceError(.associationClosed, "the peer closed the connection while a response was awaited")
            }
            switch pdu {
            case .dataTransfer(let values):
                // A whole response in one PDU whose command set repeats the previous one's bytes (every pending
                // C-FIND-RSP of a request): the same command, without decoding it again. The assembler would end
                // idle after it, as it is now.
                if storage == nil, assembler.isIdle, let repeated, let dataSet = repeated.dataSet(repeating: values) {
                    if try await onResponse(repeated.command, Data(dataSet.readableBytesView)) { return }
                    continue
                }
                let wasIdle = assembler.isIdle
                let events = try await assemble(values, with: &assembler)
                if wasIdle, let candidate = RepeatedCommand(values, events) { repeated = candidate }
                for event in events {
                    switch event {
                    case .command(.cStoreRequest(let request), let id):
                        guard let storage else {
                            throw await fail("C-STORE-RQ received on an association that is not running a C-GET")
                        }
                        // The peer sends this sub-operation: its AE title is the Source AE Title.
                        incoming = IncomingDataSet(request: request, contextID: id, directory: storage.directory,
                                                       transferSyntaxUID: negotiated.acceptedContexts[id]?.transferSyntax,
                                                       sourceAETitle: negotiated.request.calledAETitle.value)
                    case .command(let command, _):
                        if command.hasDataSet {
                            pendingResponse = command
                            responseBytes.clear()
                        } else if try await onResponse(command, nil) {
                            return
                        }
                    case .dataSetFragment(var bytes, let id, let isLast):
                        if let current = incoming, let storage {
                            await current.append(bytes)
                            guard isLast else { continue }
                            incoming = nil
                            let status = await storage.finish(current, negotiated: negotiated)
                            try await connection.send(try fragmenter.pdus(for: CStoreResponse(answering: current.request, status: status),
                                                                          presentationContextID: id))
                        } else if let command = pendingResponse {
                            guard responseBytes.readableBytes + bytes.readableBytes <= Self.maximumIdentifierLength else {
                                throw await fail("a response identifier exceeds \(Self.maximumIdentifierLength) bytes")
                            }
                            guard isLast else {
                                responseBytes.writeBuffer(&bytes)
                                continue
                            }
                            pendingResponse = nil
                            // A data set in a single fragment is used as it came, without gathering it first.
                            let data: Data
                            if responseBytes.readableBytes == 0 {
                                data = Data(bytes.readableBytesView)
                            } else {
                                responseBytes.writeBuffer(&bytes)
                                data = Data(responseBytes.readableBytesView)
                            }
                            if try await onResponse(command, data) { return }
                        }
                    }
                }
            case .abort(let abort):
                throw abort
            default:
                throw await fail("\(pdu.type) received while a DIMSE response was awaited")
            }
        }
    }
}

/// A command set that arrived whole in one P-DATA-TF together with its whole data set (the shape of a pending
/// C-FIND-RSP), and the command it decoded to. A peer answering one request sends the same command set bytes in every
/// pending response, so a later PDU whose command PDV repeats these bytes on the same presentation context carries the
/// same command: ``Association/receiveResponses(storage:onResponse:)`` then skips decoding it again.
struct RepeatedCommand {
    let bytes: ByteBuffer
    let command: DIMSECommand
    let contextID: UInt8

    /// Remembers the command of `values` when they are one last command fragment and one last data set fragment on the
    /// same context, and the assembler (idle before them) decoded them into that command and its data set.
    init?(_ values: [PresentationDataValue], _ events: [DIMSEMessageAssembler.Event]) {
        guard Self.isWholeMessage(values), events.count == 2, case .command(let command, let id) = events[0], command.hasDataSet,
              case .dataSetFragment(_, let dataID, true) = events[1], id == values[0].presentationContextID, dataID == id else {
            return nil
        }
        bytes = values[0].fragment
        self.command = command
        contextID = id
    }

    /// The data set of `values` when they repeat this command: one last command fragment with the same bytes and one
    /// last data set fragment, both on this command's context.
    func dataSet(repeating values: [PresentationDataValue]) -> ByteBuffer? {
        guard Self.isWholeMessage(values), values[0].presentationContextID == contextID, values[1].presentationContextID == contextID,
              values[0].fragment == bytes else { return nil }
        return values[1].fragment
    }

    static func isWholeMessage(_ values: [PresentationDataValue]) -> Bool {
        values.count == 2 && values[0].isCommand && values[0].isLastFragment && !values[1].isCommand && values[1].isLastFragment
    }
}

/// The storage side of a C-GET: hands each received instance to the handler and remembers the outcome.
final class GetStorage: @unchecked Sendable {
    let handler: StorageHandler
    let directory: String
    private(set) var received: [(sopInstanceUID: String, status: DIMSEStatus)] = []

    init(handler: StorageHandler, directory: String) {
        self.handler = handler
        self.directory = directory
    }

    /// Closes the file, checks the SOP class against the context, calls the handler; returns the C-STORE-RSP status.
    func finish(_ incoming: IncomingDataSet, negotiated: NegotiatedAssociation) async -> DIMSEStatus {
        defer { incoming.discard() }
        let status: DIMSEStatus
        let written = incoming.writeError == nil ? (try? await incoming.close()) != nil : false
        if !written {
            status = .outOfResources
        } else if let context = negotiated.acceptedContexts[incoming.contextID] {
            if context.abstractSyntax != incoming.request.affectedSOPClassUID {
                status = .dataSetDoesNotMatchSOPClass
            } else {
                // The peer is the sender of this sub-operation: its AE title is the "calling" one here.
                let instance = ReceivedInstance(request: incoming.request, transferSyntaxUID: context.transferSyntax,
                                                filePath: incoming.path, dataSetOffset: incoming.dataSetOffset,
                                                byteCount: incoming.byteCount,
                                                callingAETitle: negotiated.request.calledAETitle,
                                                calledAETitle: negotiated.request.callingAETitle)
                status = await handler.store(instance)
            }
        } else {
            status = .processingFailure
        }
        received.append((incoming.request.affectedSOPInstanceUID, status))
        return status
    }
}

/// A flag set from any thread (a stream's termination handler) and read by the task producing the stream.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
