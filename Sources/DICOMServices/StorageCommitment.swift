import DICOMCore
import DICOMNetwork

/// The Storage Commitment Push Model SOP class (PS3.4 Annex J): a storage SCU asks an SCP, by N-ACTION, to take
/// responsibility for instances it sent; the SCP answers which it committed with an N-EVENT-REPORT.
public enum StorageCommitment {
    /// Storage Commitment Push Model SOP Class UID (PS3.4 J.3.1).
    public static let sopClassUID = "1.2.840.10008.1.20.1"
    /// Its well-known SOP instance, the Requested/Affected SOP Instance UID of every message (PS3.4 J.3.2).
    public static let sopInstanceUID = "1.2.840.10008.1.20.1.1"
    /// Action Type ID of "Request Storage Commitment" (PS3.4 Table J.3-1).
    public static let requestActionTypeID: UInt16 = 1
    /// Event Type ID of "Storage Commitment Request Successful": every instance committed (PS3.4 Table J.3-2).
    public static let successEventTypeID: UInt16 = 1
    /// Event Type ID of "Storage Commitment Request Complete - Failures Exist" (PS3.4 Table J.3-2).
    public static let failuresEventTypeID: UInt16 = 2

    /// A presentation context for the Storage Commitment Push Model in Explicit and Implicit VR Little Endian.
    public static func presentationContext(id: UInt8) -> PresentationContext {
        PresentationContext(id: id, abstractSyntax: sopClassUID,
                            transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
    }

    /// The Failure Reason (0008,1197) values of PS3.4 J.3.3.1.
    public enum FailureReason {
        /// 0110H: processing failure.
        public static let processingFailure: UInt16 = 0x0110
        /// 0112H: no such object instance (the SCP does not have it).
        public static let noSuchObjectInstance: UInt16 = 0x0112
        /// 0213H: resource limitation.
        public static let resourceLimitation: UInt16 = 0x0213
        /// 0122H: referenced SOP class not supported.
        public static let referencedSOPClassNotSupported: UInt16 = 0x0122
        /// 0119H: class/instance conflict (the SCP has the instance under another SOP class).
        public static let classInstanceConflict: UInt16 = 0x0119
        /// 0131H: duplicate transaction UID.
        public static let duplicateTransactionUID: UInt16 = 0x0131
    }
}

/// One instance named in a Storage Commitment request or result: an item of Referenced SOP Sequence (0008,1199) or
/// Failed SOP Sequence (0008,1198).
public struct SOPReference: Sendable, Hashable, CustomStringConvertible {
    /// Referenced SOP Class UID (0008,1150).
    public var sopClassUID: String
    /// Referenced SOP Instance UID (0008,1155).
    public var sopInstanceUID: String

    public init(sopClassUID: String, sopInstanceUID: String) {
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
    }

    public var description: String { sopInstanceUID }

    /// Reads one item; the error names the sequence, the item and the missing attribute.
    init(item: DataSet, sequence: String, index: Int) throws {
        guard let sopClass = item.string(.referencedSOPClassUID), !sopClass.isEmpty else {
            throw DIMSEFailure(.invalidArgumentValue, "\(sequence) item \(index + 1) has no Referenced SOP Class UID")
        }
        guard let sopInstance = item.string(.referencedSOPInstanceUID), !sopInstance.isEmpty else {
            throw DIMSEFailure(.invalidArgumentValue, "\(sequence) item \(index + 1) has no Referenced SOP Instance UID")
        }
        sopClassUID = sopClass
        sopInstanceUID = sopInstance
    }

    var item: DataSet {
        var item = DataSet()
        item.setASCII(.referencedSOPClassUID, vr: .UI, sopClassUID)
        item.setASCII(.referencedSOPInstanceUID, vr: .UI, sopInstanceUID)
        return item
    }
}

/// The Action Information of a Storage Commitment request (PS3.4 Table J.3-1): a Transaction UID and the instances.
public struct StorageCommitmentRequest: Sendable, Equatable {
    /// Transaction UID (0008,1195): chosen by the requestor, repeated in the result.
    public var transactionUID: String
    /// Referenced SOP Sequence (0008,1199).
    public var references: [SOPReference]

    /// The largest number of references accepted in one request.
    public static let maximumReferences = 100_000

    public init(transactionUID: String, references: [SOPReference]) {
        self.transactionUID = transactionUID
        self.references = references
    }

    /// Reads the Action Information of an N-ACTION-RQ.
    /// - Throws: ``DIMSEFailure`` (missing attribute or attribute value) naming what is missing.
    public init(actionInformation: DataSet) throws {
        guard let transaction = actionInformation.string(.transactionUID), !transaction.isEmpty else {
            throw DIMSEFailure(.invalidArgumentValue, "no Transaction UID (0008,1195)")
        }
        guard let items = actionInformation.items(.referencedSOPSequence), !items.isEmpty else {
            throw DIMSEFailure(.invalidArgumentValue, "no Referenced SOP Sequence (0008,1199) items")
        }
        guard items.count <= Self.maximumReferences else {
            throw DIMSEFailure(.resourceLimitation, "more than \(Self.maximumReferences) references in one request")
        }
        transactionUID = transaction
        references = try items.enumerated().map { try SOPReference(item: $1, sequence: "Referenced SOP Sequence", index: $0) }
    }

    /// The Action Information data set.
    public var actionInformation: DataSet {
        var dataSet = DataSet()
        dataSet.setASCII(.transactionUID, vr: .UI, transactionUID)
        dataSet.set(DataElement(tag: .referencedSOPSequence, items: references.map(\.item)))
        return dataSet
    }
}

/// An instance the SCP did not commit, with the Failure Reason (0008,1197) (see ``StorageCommitment/FailureReason``).
public struct FailedSOPReference: Sendable, Hashable {
    public var reference: SOPReference
    public var failureReason: UInt16

    public init(reference: SOPReference, failureReason: UInt16) {
        self.reference = reference
        self.failureReason = failureReason
    }
}

/// The Event Information of a Storage Commitment result (PS3.4 Table J.3-2): which instances were committed and
/// which were not, and why.
public struct StorageCommitmentResult: Sendable, Equatable {
    /// Transaction UID (0008,1195) of the request answered.
    public var transactionUID: String
    /// Referenced SOP Sequence (0008,1199): the instances committed.
    public var committed: [SOPReference]
    /// Failed SOP Sequence (0008,1198): the instances not committed.
    public var failed: [FailedSOPReference]
    /// Retrieve AE Title (0008,0054): where the committed instances can be retrieved, when given.
    public var retrieveAETitle: String?

    public init(transactionUID: String, committed: [SOPReference], failed: [FailedSOPReference] = [], retrieveAETitle: String? = nil) {
        self.transactionUID = transactionUID
        self.committed = committed
        self.failed = failed
        self.retrieveAETitle = retrieveAETitle
    }

    /// 1 when every instance was committed, 2 when failures exist.
    public var eventTypeID: UInt16 { failed.isEmpty ? StorageCommitment.successEventTypeID : StorageCommitment.failuresEventTypeID }

    /// Reads the Event Information of an N-EVENT-REPORT-RQ.
    /// - Throws: ``DIMSEFailure`` naming the missing attribute.
    public init(eventInformation: DataSet) throws {
        guard let transaction = eventInformation.string(.transactionUID), !transaction.isEmpty else {
            throw DIMSEFailure(.invalidArgumentValue, "no Transaction UID (0008,1195) in the storage commitment result")
        }
        transactionUID = transaction
        committed = try (eventInformation.items(.referencedSOPSequence) ?? []).enumerated().map {
            try SOPReference(item: $1, sequence: "Referenced SOP Sequence", index: $0)
        }
        failed = try (eventInformation.items(.failedSOPSequence) ?? []).enumerated().map { index, item in
            let reference = try SOPReference(item: item, sequence: "Failed SOP Sequence", index: index)
            guard let reason = item.integer(.failureReason), (0...0xFFFF).contains(reason) else {
                throw DIMSEFailure(.invalidArgumentValue, "Failed SOP Sequence item \(index + 1) has no Failure Reason")
            }
            return FailedSOPReference(reference: reference, failureReason: UInt16(reason))
        }
        retrieveAETitle = eventInformation.string(.retrieveAETitle)
    }

    /// The Event Information data set: Referenced SOP Sequence only when something was committed, Failed SOP
    /// Sequence only when something failed (PS3.4 J.3.3.1).
    public var eventInformation: DataSet {
        var dataSet = DataSet()
        dataSet.setASCII(.transactionUID, vr: .UI, transactionUID)
        if let retrieveAETitle { dataSet.setASCII(.retrieveAETitle, vr: .AE, retrieveAETitle) }
        if !committed.isEmpty {
            dataSet.set(DataElement(tag: .referencedSOPSequence, items: committed.map(\.item)))
        }
        if !failed.isEmpty {
            dataSet.set(DataElement(tag: .failedSOPSequence, items: failed.map { failure in
                var item = failure.reference.item
                try? item.set(.failureReason, vr: .US, integers: [Int(failure.failureReason)])
                return item
            }))
        }
        return dataSet
    }
}

/// Decides, for the SCP side of Storage Commitment, which referenced instances are committed (held safely and
/// retrievable). ``DICOMServer`` answers the N-ACTION with success, calls the handler and sends its result as an
/// N-EVENT-REPORT on the same association.
public protocol StorageCommitmentHandler: Sendable {
    /// The result for `request`; each reference must appear in exactly one of the committed and failed lists.
    func commit(_ request: StorageCommitmentRequest, context: RequestContext) async -> StorageCommitmentResult
    /// Delivers a result the requestor did not acknowledge on its own association (it released or closed it first) on a
    /// new association to the requestor's AE (PS3.4 J.3.3), `context.calledAETitle` calling. Returns whether it was
    /// delivered. The default delivers nothing and returns false.
    func deliver(_ result: StorageCommitmentResult, context: RequestContext) async -> Bool
}

extension StorageCommitmentHandler {
    public func deliver(_ result: StorageCommitmentResult, context: RequestContext) async -> Bool { false }
}
