import DICOMCore
import DICOMNetwork
import Foundation
import Logging
import NIOCore
import DICOMIO

/// A normalized SOP instance that an N-CREATE made or an N-SET changed, as the handler answers it.
public struct ManagedObjectResult: Sendable {
    /// The SOP Instance UID of the managed instance (the one the requestor gave, or one the handler assigned).
    public var sopInstanceUID: String
    /// The attribute list sent back with the response (PS3.7 §10.1.5.1.6 and §10.1.3.1.6), or nil for none.
    public var attributes: DataSet?
    /// The status, normally success (0000H); a warning such as 0116H "attribute value out of range" is allowed.
    public var status: DIMSEStatus

    public init(sopInstanceUID: String, attributes: DataSet? = nil, status: DIMSEStatus = .success) {
        self.sopInstanceUID = sopInstanceUID
        self.attributes = attributes
        self.status = status
    }
}

/// Serves the DIMSE-N services N-CREATE, N-SET and N-GET on normalized SOP instances (PS3.7 §10.1), for example
/// Modality Performed Procedure Step (PS3.4 Annex F). ``DICOMServer`` hands each request to the handler given to
/// ``DICOMServer/start(host:port:policy:storageHandler:queryHandler:retrieveHandler:managedObjectHandler:aeTitle:timeouts:temporaryDirectory:tls:eventLoopGroup:logger:)``
/// and answers with the result, or with the status and Error Comment of a thrown ``DIMSEFailure``.
/// Other errors are answered 0110H (processing failure).
public protocol ManagedObjectHandler: Sendable {
    /// The normalized SOP classes served; a request for another class is answered 0118H (no such SOP class).
    var sopClassUIDs: Set<String> { get }
    /// N-CREATE (PS3.7 §10.1.5): creates an instance of `sopClassUID` with `attributes`. `sopInstanceUID` is nil when
    /// the requestor left the choice to the performer.
    func create(sopClassUID: String, sopInstanceUID: String?, attributes: DataSet, context: RequestContext) async throws -> ManagedObjectResult
    /// N-SET (PS3.7 §10.1.3): applies the modification list `modifications` to an existing instance.
    func set(sopClassUID: String, sopInstanceUID: String, modifications: DataSet, context: RequestContext) async throws -> ManagedObjectResult
    /// N-GET (PS3.7 §10.1.2): the attributes `tags` (all of them when empty) of an existing instance.
    func get(sopClassUID: String, sopInstanceUID: String, tags: [Tag], context: RequestContext) async throws -> ManagedObjectResult
}

extension ManagedObjectHandler {
    /// The default refuses N-GET with 0112H (no such SOP instance).
    public func get(sopClassUID: String, sopInstanceUID: String, tags: [Tag], context: RequestContext) async throws -> ManagedObjectResult {
        throw DIMSEFailure(.noSuchSOPInstance, "N-GET is not served for \(sopClassUID)")
    }
}

/// The DIMSE-N side of an acceptor: decodes N-CREATE and N-SET attribute lists, calls the ``ManagedObjectHandler``
/// and builds the response PDUs.
struct ManagedObjectService: Sendable {
    let handler: ManagedObjectHandler?
    let negotiated: NegotiatedAssociation
    let fragmenter: PDataFragmenter
    let logger: Logger

    private func context(_ id: UInt8) -> RequestContext {
        RequestContext(callingAETitle: negotiated.request.callingAETitle, calledAETitle: negotiated.request.calledAETitle,
                       sopClassUID: negotiated.acceptedContexts[id]?.abstractSyntax ?? "")
    }

    private func decode(_ bytes: ByteBuffer, contextID: UInt8) throws -> DataSet {
        guard let syntax = negotiated.acceptedContexts[contextID]?.knownTransferSyntax else {
            throw DIMSEFailure(.processingFailure, "presentation context \(contextID) has no known transfer syntax")
        }
        do {
            return try DataSetReader.read(Data(bytes.readableBytesView), transferSyntax: syntax)
        } catch {
            throw DIMSEFailure(.invalidAttributeValue, "the attribute list cannot be decoded: \(error)")
        }
    }

    private func encode(_ dataSet: DataSet, contextID: UInt8) throws -> ByteBuffer {
        let syntax = negotiated.acceptedContexts[contextID]?.knownTransferSyntax ?? .implicitVRLittleEndian
        return ByteBuffer(bytes: try DataSetWriter.encode(dataSet, transferSyntax: syntax))
    }

    /// Runs `body` against the handler and maps its outcome to (status, attributes, comment, instance UID).
    private func perform(_ what: String, sopClassUID: String, instanceUID: String?,
                         _ body: (ManagedObjectHandler) async throws -> ManagedObjectResult)
        async -> (status: DIMSEStatus, attributes: DataSet?, comment: String?, instanceUID: String?) {
        guard let handler else { return (.noSuchSOPClass, nil, "\(what) is not served here", instanceUID) }
        guard handler.sopClassUIDs.contains(sopClassUID) else {
            return (.noSuchSOPClass, nil, "\(what) is not served for \(sopClassUID)", instanceUID)
        }
        do {
            let result = try await body(handler)
            logger.info("\(what)", metadata: ["dicom.sopInstance": "\(result.sopInstanceUID)", "dicom.status": "\(result.status)"])
            return (result.status, result.attributes, nil, result.sopInstanceUID)
        } catch let failure as DIMSEFailure {
            logger.info("\(what) refused", metadata: ["dicom.status": "\(failure.status)", "error": "\(failure.comment ?? "")"])
            return (failure.status, nil, failure.comment.map { String($0.prefix(64)) }, instanceUID)
        } catch {
            logger.warning("\(what) failed", metadata: ["error": "\(error)"])
            return (.processingFailure, nil, String("\(error)".prefix(64)), instanceUID)
        }
    }

    /// The request's data set (empty without one), or the failure to answer when it cannot be decoded.
    private func decodeIfPresent(_ bytes: ByteBuffer?, contextID: UInt8) throws -> (DataSet, DIMSEFailure?) {
        guard let bytes else { return (DataSet(), nil) }
        do {
            return (try decode(bytes, contextID: contextID), nil)
        } catch let failure as DIMSEFailure {
            return (DataSet(), failure)
        }
    }

    /// Answers an N-CREATE-RQ, N-SET-RQ or N-GET-RQ (with its data set, if any); nil for any other command.
    func respond(to command: DIMSECommand, dataSet bytes: ByteBuffer?, contextID: UInt8) async throws -> [PDU]? {
        switch command {
        case .nCreateRequest(let request):
            let (attributes, decodeFailure) = try decodeIfPresent(bytes, contextID: contextID)
            let outcome = await perform("N-CREATE", sopClassUID: request.affectedSOPClassUID, instanceUID: request.affectedSOPInstanceUID) { handler in
                if let decodeFailure { throw decodeFailure }
                return try await handler.create(sopClassUID: request.affectedSOPClassUID, sopInstanceUID: request.affectedSOPInstanceUID,
                                                attributes: attributes, context: context(contextID))
            }
            let response = NCreateResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID,
                                           affectedSOPInstanceUID: outcome.instanceUID, status: outcome.status,
                                           hasDataSet: outcome.attributes != nil, errorComment: outcome.comment)
            return try fragmenter.pdus(for: response, dataSet: try outcome.attributes.map { try encode($0, contextID: contextID) },
                                       presentationContextID: contextID)
        case .nSetRequest(let request):
            let (modifications, decodeFailure) = try decodeIfPresent(bytes, contextID: contextID)
            let outcome = await perform("N-SET", sopClassUID: request.requestedSOPClassUID, instanceUID: request.requestedSOPInstanceUID) { handler in
                if let decodeFailure { throw decodeFailure }
                return try await handler.set(sopClassUID: request.requestedSOPClassUID, sopInstanceUID: request.requestedSOPInstanceUID,
                                             modifications: modifications, context: context(contextID))
            }
            let response = NSetResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.requestedSOPClassUID,
                                        affectedSOPInstanceUID: request.requestedSOPInstanceUID, status: outcome.status,
                                        hasDataSet: outcome.attributes != nil, errorComment: outcome.comment)
            return try fragmenter.pdus(for: response, dataSet: try outcome.attributes.map { try encode($0, contextID: contextID) },
                                       presentationContextID: contextID)
        case .nGetRequest(let request):
            let outcome = await perform("N-GET", sopClassUID: request.requestedSOPClassUID, instanceUID: request.requestedSOPInstanceUID) { handler in
                try await handler.get(sopClassUID: request.requestedSOPClassUID, sopInstanceUID: request.requestedSOPInstanceUID,
                                      tags: request.attributeIdentifierList, context: context(contextID))
            }
            let response = NGetResponse(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.requestedSOPClassUID,
                                        affectedSOPInstanceUID: request.requestedSOPInstanceUID, status: outcome.status,
                                        hasDataSet: outcome.attributes != nil, errorComment: outcome.comment)
            return try fragmenter.pdus(for: response, dataSet: try outcome.attributes.map { try encode($0, contextID: contextID) },
                                       presentationContextID: contextID)
        default:
            return nil
        }
    }
}
