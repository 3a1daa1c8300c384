import DICOMCore

/// The Verification SOP Class UID (PS3.4 Annex A), the abstract syntax of C-ECHO.
public let verificationSOPClassUID = "1.2.840.10008.1.1"

/// C-ECHO-RQ (PS3.7 §9.3.5, Table 9.3-12).
public struct CEchoRequest: DIMSERequest {
    public static let commandField = CommandField.cEchoRequest
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var hasDataSet: Bool { false }

    public init(messageID: UInt16, affectedSOPClassUID: String = verificationSOPClassUID) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        affectedSOPClassUID = try r.requiredText(.affectedSOPClassUID, "Affected SOP Class UID")
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: false)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        return b.dataSet
    }
}

/// C-ECHO-RSP (PS3.7 §9.3.5, Table 9.3-13).
public struct CEchoResponse: DIMSEResponse {
    public static let commandField = CommandField.cEchoResponse
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String?
    public var status: DIMSEStatus
    public var errorComment: String?
    public var hasDataSet: Bool { false }

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String? = verificationSOPClassUID,
                status: DIMSEStatus = .success, errorComment: String? = nil) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.status = status
        self.errorComment = errorComment
    }

    /// The response to a request.
    public init(answering request: CEchoRequest, status: DIMSEStatus = .success) {
        self.init(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID, status: status)
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageIDBeingRespondedTo = try r.requiredUInt16(.messageIDBeingRespondedTo, "Message ID Being Responded To")
        affectedSOPClassUID = r.text(.affectedSOPClassUID)
        status = try r.status()
        errorComment = r.text(.errorComment)
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: false)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.uint16(.status, status.rawValue)
        b.text(.errorComment, errorComment, vr: .LO)
        return b.dataSet
    }
}

/// C-STORE-RQ (PS3.7 §9.3.1, Table 9.3-1). A data set (the SOP instance) always follows.
public struct CStoreRequest: DIMSERequest {
    public static let commandField = CommandField.cStoreRequest
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var affectedSOPInstanceUID: String
    public var priority: DIMSEPriority
    /// Move Originator Application Entity Title (0000,1030), when this store is a C-MOVE sub-operation.
    public var moveOriginatorAETitle: String?
    /// Move Originator Message ID (0000,1031), when this store is a C-MOVE sub-operation.
    public var moveOriginatorMessageID: UInt16?
    public var hasDataSet: Bool { true }

    public init(messageID: UInt16, affectedSOPClassUID: String, affectedSOPInstanceUID: String, priority: DIMSEPriority = .medium,
                moveOriginatorAETitle: String? = nil, moveOriginatorMessageID: UInt16? = nil) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
        self.affectedSOPInstanceUID = affectedSOPInstanceUID
        self.priority = priority
        self.moveOriginatorAETitle = moveOriginatorAETitle
        self.moveOriginatorMessageID = moveOriginatorMessageID
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        affectedSOPClassUID = try r.requiredText(.affectedSOPClassUID, "Affected SOP Class UID")
        affectedSOPInstanceUID = try r.requiredText(.affectedSOPInstanceUID, "Affected SOP Instance UID")
        priority = try r.priority()
        moveOriginatorAETitle = r.text(.moveOriginatorApplicationEntityTitle)
        moveOriginatorMessageID = try r.uint16(.moveOriginatorMessageID)
        guard try r.hasDataSet else { throw DICOMNetworkError(.invalidCommandSet, "C-STORE-RQ says no data set follows (0000,0800) = 0101H") }
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: true)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.uint16(.priority, priority.rawValue)
        b.text(.affectedSOPInstanceUID, affectedSOPInstanceUID, vr: .UI)
        b.text(.moveOriginatorApplicationEntityTitle, moveOriginatorAETitle, vr: .AE)
        b.uint16(.moveOriginatorMessageID, moveOriginatorMessageID)
        return b.dataSet
    }
}

/// C-STORE-RSP (PS3.7 §9.3.1, Table 9.3-2; statuses in PS3.4 Table B.2-1).
public struct CStoreResponse: DIMSEResponse {
    public static let commandField = CommandField.cStoreResponse
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String?
    public var affectedSOPInstanceUID: String?
    public var status: DIMSEStatus
    public var offendingElements: [Tag]
    public var errorComment: String?
    public var hasDataSet: Bool { false }

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, affectedSOPInstanceUID: String?,
                status: DIMSEStatus, offendingElements: [Tag] = [], errorComment: String? = nil) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.affectedSOPInstanceUID = affectedSOPInstanceUID
        self.status = status
        self.offendingElements = offendingElements
        self.errorComment = errorComment
    }

    /// The response to a request, echoing its SOP class and instance.
    public init(answering request: CStoreRequest, status: DIMSEStatus, errorComment: String? = nil) {
        self.init(messageIDBeingRespondedTo: request.messageID, affectedSOPClassUID: request.affectedSOPClassUID,
                  affectedSOPInstanceUID: request.affectedSOPInstanceUID, status: status, errorComment: errorComment)
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageIDBeingRespondedTo = try r.requiredUInt16(.messageIDBeingRespondedTo, "Message ID Being Responded To")
        affectedSOPClassUID = r.text(.affectedSOPClassUID)
        affectedSOPInstanceUID = r.text(.affectedSOPInstanceUID)
        status = try r.status()
        offendingElements = r.tags(.offendingElement)
        errorComment = r.text(.errorComment)
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: false)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.uint16(.status, status.rawValue)
        b.tags(.offendingElement, offendingElements)
        b.text(.errorComment, errorComment, vr: .LO)
        b.text(.affectedSOPInstanceUID, affectedSOPInstanceUID, vr: .UI)
        return b.dataSet
    }
}

/// C-FIND-RQ (PS3.7 §9.3.2, Table 9.3-3). The identifier (query keys) follows as a data set.
public struct CFindRequest: DIMSERequest {
    public static let commandField = CommandField.cFindRequest
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var priority: DIMSEPriority
    public var hasDataSet: Bool { true }

    public init(messageID: UInt16, affectedSOPClassUID: String, priority: DIMSEPriority = .medium) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
        self.priority = priority
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        affectedSOPClassUID = try r.requiredText(.affectedSOPClassUID, "Affected SOP Class UID")
        priority = try r.priority()
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: true)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.uint16(.priority, priority.rawValue)
        return b.dataSet
    }
}

/// C-FIND-RSP (PS3.7 §9.3.2, Table 9.3-4). Pending responses carry a matching identifier.
public struct CFindResponse: DIMSEResponse {
    public static let commandField = CommandField.cFindResponse
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String?
    public var status: DIMSEStatus
    public var hasDataSet: Bool
    public var errorComment: String?

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, status: DIMSEStatus,
                hasDataSet: Bool? = nil, errorComment: String? = nil) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.status = status
        self.hasDataSet = hasDataSet ?? status.isPending
        self.errorComment = errorComment
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageIDBeingRespondedTo = try r.requiredUInt16(.messageIDBeingRespondedTo, "Message ID Being Responded To")
        affectedSOPClassUID = r.text(.affectedSOPClassUID)
        status = try r.status()
        hasDataSet = try r.hasDataSet
        errorComment = r.text(.errorComment)
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: hasDataSet)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.uint16(.status, status.rawValue)
        b.text(.errorComment, errorComment, vr: .LO)
        return b.dataSet
    }
}

/// C-GET-RQ (PS3.7 §9.3.3, Table 9.3-5). The identifier follows as a data set.
public struct CGetRequest: DIMSERequest {
    public static let commandField = CommandField.cGetRequest
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var priority: DIMSEPriority
    public var hasDataSet: Bool { true }

    public init(messageID: UInt16, affectedSOPClassUID: String, priority: DIMSEPriority = .medium) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
        self.priority = priority
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        affectedSOPClassUID = try r.requiredText(.affectedSOPClassUID, "Affected SOP Class UID")
        priority = try r.priority()
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: true)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.uint16(.priority, priority.rawValue)
        return b.dataSet
    }
}

/// Sub-operation counters of C-GET-RSP and C-MOVE-RSP (0000,1020)–(0000,1023).
public struct SuboperationCounts: Hashable, Sendable {
    public var remaining: UInt16?
    public var completed: UInt16?
    public var failed: UInt16?
    public var warning: UInt16?
    public init(remaining: UInt16? = nil, completed: UInt16? = nil, failed: UInt16? = nil, warning: UInt16? = nil) {
        self.remaining = remaining
        self.completed = completed
        self.failed = failed
        self.warning = warning
    }

    init(_ r: CommandSetReader) throws {
        remaining = try r.uint16(.numberOfRemainingSuboperations)
        completed = try r.uint16(.numberOfCompletedSuboperations)
        failed = try r.uint16(.numberOfFailedSuboperations)
        warning = try r.uint16(.numberOfWarningSuboperations)
    }

    func write(_ b: inout CommandSetBuilder) {
        b.uint16(.numberOfRemainingSuboperations, remaining)
        b.uint16(.numberOfCompletedSuboperations, completed)
        b.uint16(.numberOfFailedSuboperations, failed)
        b.uint16(.numberOfWarningSuboperations, warning)
    }
}

/// C-GET-RSP (PS3.7 §9.3.3, Table 9.3-6). A final failure or warning may carry the Failed SOP Instance UID List.
public struct CGetResponse: DIMSEResponse {
    public static let commandField = CommandField.cGetResponse
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String?
    public var status: DIMSEStatus
    public var suboperations: SuboperationCounts
    public var hasDataSet: Bool
    public var errorComment: String?

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, status: DIMSEStatus,
                suboperations: SuboperationCounts = .init(), hasDataSet: Bool = false, errorComment: String? = nil) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.status = status
        self.suboperations = suboperations
        self.hasDataSet = hasDataSet
        self.errorComment = errorComment
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageIDBeingRespondedTo = try r.requiredUInt16(.messageIDBeingRespondedTo, "Message ID Being Responded To")
        affectedSOPClassUID = r.text(.affectedSOPClassUID)
        status = try r.status()
        suboperations = try SuboperationCounts(r)
        hasDataSet = try r.hasDataSet
        errorComment = r.text(.errorComment)
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: hasDataSet)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.uint16(.status, status.rawValue)
        b.text(.errorComment, errorComment, vr: .LO)
        suboperations.write(&b)
        return b.dataSet
    }
}

/// C-MOVE-RQ (PS3.7 §9.3.4, Table 9.3-7). The identifier follows as a data set.
public struct CMoveRequest: DIMSERequest {
    public static let commandField = CommandField.cMoveRequest
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var priority: DIMSEPriority
    /// Move Destination (0000,0600): the AE title to send the instances to.
    public var moveDestination: String
    public var hasDataSet: Bool { true }

    public init(messageID: UInt16, affectedSOPClassUID: String, moveDestination: String, priority: DIMSEPriority = .medium) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
        self.moveDestination = moveDestination
        self.priority = priority
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        affectedSOPClassUID = try r.requiredText(.affectedSOPClassUID, "Affected SOP Class UID")
        priority = try r.priority()
        moveDestination = try r.requiredText(.moveDestination, "Move Destination")
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: true)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.text(.moveDestination, moveDestination, vr: .AE)
        b.uint16(.priority, priority.rawValue)
        return b.dataSet
    }
}

/// C-MOVE-RSP (PS3.7 §9.3.4, Table 9.3-8).
public struct CMoveResponse: DIMSEResponse {
    public static let commandField = CommandField.cMoveResponse
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String?
    public var status: DIMSEStatus
    public var suboperations: SuboperationCounts
    public var hasDataSet: Bool
    public var errorComment: String?

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, status: DIMSEStatus,
                suboperations: SuboperationCounts = .init(), hasDataSet: Bool = false, errorComment: String? = nil) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.status = status
        self.suboperations = suboperations
        self.hasDataSet = hasDataSet
        self.errorComment = errorComment
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageIDBeingRespondedTo = try r.requiredUInt16(.messageIDBeingRespondedTo, "Message ID Being Responded To")
        affectedSOPClassUID = r.text(.affectedSOPClassUID)
        status = try r.status()
        suboperations = try SuboperationCounts(r)
        hasDataSet = try r.hasDataSet
        errorComment = r.text(.errorComment)
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: hasDataSet)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.uint16(.status, status.rawValue)
        b.text(.errorComment, errorComment, vr: .LO)
        suboperations.write(&b)
        return b.dataSet
    }
}

/// C-CANCEL-RQ (PS3.7 §9.3.2.3, Table 9.3-9 etc.): cancels the C-FIND, C-GET or C-MOVE with this message ID.
public struct CCancelRequest: DIMSEMessage {
    public static let commandField = CommandField.cCancelRequest
    public var messageIDBeingRespondedTo: UInt16
    public var hasDataSet: Bool { false }

    public init(messageIDBeingRespondedTo: UInt16) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageIDBeingRespondedTo = try r.requiredUInt16(.messageIDBeingRespondedTo, "Message ID Being Responded To")
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: false)
        b.uint16(.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        return b.dataSet
    }
}
