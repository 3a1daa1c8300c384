import DICOMCore

/// N-EVENT-REPORT-RQ (PS3.7 §10.3.1, Table 10.3-1).
public struct NEventReportRequest: DIMSERequest {
    public static let commandField = CommandField.nEventReportRequest
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    public var affectedSOPInstanceUID: String
    public var eventTypeID: UInt16
    /// Event Information follows.
    public var hasDataSet: Bool

    public init(messageID: UInt16, affectedSOPClassUID: String, affectedSOPInstanceUID: String, eventTypeID: UInt16, hasDataSet: Bool = true) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
        self.affectedSOPInstanceUID = affectedSOPInstanceUID
        self.eventTypeID = eventTypeID
        self.hasDataSet = hasDataSet
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        affectedSOPClassUID = try r.requiredText(.affectedSOPClassUID, "Affected SOP Class UID")
        affectedSOPInstanceUID = try r.requiredText(.affectedSOPInstanceUID, "Affected SOP Instance UID")
        eventTypeID = try r.requiredUInt16(.eventTypeID, "Event Type ID")
        hasDataSet = try r.hasDataSet
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: hasDataSet)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.text(.affectedSOPInstanceUID, affectedSOPInstanceUID, vr: .UI)
        b.uint16(.eventTypeID, eventTypeID)
        return b.dataSet
    }
}

/// N-EVENT-REPORT-RSP (PS3.7 §10.3.1, Table 10.3-2).
public struct NEventReportResponse: DIMSEResponse {
    public static let commandField = CommandField.nEventReportResponse
    public var messageIDBeingRespondedTo: UInt16
    public var affectedSOPClassUID: String?
    public var affectedSOPInstanceUID: String?
    public var eventTypeID: UInt16?
    public var status: DIMSEStatus
    public var hasDataSet: Bool
    public var errorComment: String?

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, affectedSOPInstanceUID: String?,
                eventTypeID: UInt16? = nil, status: DIMSEStatus, hasDataSet: Bool = false, errorComment: String? = nil) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.affectedSOPInstanceUID = affectedSOPInstanceUID
        self.eventTypeID = eventTypeID
        self.status = status
        self.hasDataSet = hasDataSet
        self.errorComment = errorComment
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageIDBeingRespondedTo = try r.requiredUInt16(.messageIDBeingRespondedTo, "Message ID Being Responded To")
        affectedSOPClassUID = r.text(.affectedSOPClassUID)
        affectedSOPInstanceUID = r.text(.affectedSOPInstanceUID)
        eventTypeID = try r.uint16(.eventTypeID)
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
        b.text(.affectedSOPInstanceUID, affectedSOPInstanceUID, vr: .UI)
        b.uint16(.eventTypeID, eventTypeID)
        return b.dataSet
    }
}

/// N-GET-RQ (PS3.7 §10.3.2, Table 10.3-3). No data set; the wanted attributes are listed in the command.
public struct NGetRequest: DIMSERequest {
    public static let commandField = CommandField.nGetRequest
    public var messageID: UInt16
    public var requestedSOPClassUID: String
    public var requestedSOPInstanceUID: String
    /// Attribute Identifier List (0000,1005); empty means all attributes.
    public var attributeIdentifierList: [Tag]
    public var hasDataSet: Bool { false }

    public init(messageID: UInt16, requestedSOPClassUID: String, requestedSOPInstanceUID: String, attributeIdentifierList: [Tag] = []) {
        self.messageID = messageID
        self.requestedSOPClassUID = requestedSOPClassUID
        self.requestedSOPInstanceUID = requestedSOPInstanceUID
        self.attributeIdentifierList = attributeIdentifierList
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        requestedSOPClassUID = try r.requiredText(.requestedSOPClassUID, "Requested SOP Class UID")
        requestedSOPInstanceUID = try r.requiredText(.requestedSOPInstanceUID, "Requested SOP Instance UID")
        attributeIdentifierList = r.tags(.attributeIdentifierList)
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: false)
        b.text(.requestedSOPClassUID, requestedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.text(.requestedSOPInstanceUID, requestedSOPInstanceUID, vr: .UI)
        b.tags(.attributeIdentifierList, attributeIdentifierList)
        return b.dataSet
    }
}

/// The shape shared by N-GET-RSP, N-SET-RSP, N-CREATE-RSP and N-DELETE-RSP (PS3.7 §10.3).
struct NResponseFields: Hashable, Sendable {
    var messageIDBeingRespondedTo: UInt16
    var affectedSOPClassUID: String?
    var affectedSOPInstanceUID: String?
    var status: DIMSEStatus
    var hasDataSet: Bool
    var errorComment: String?

    init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, affectedSOPInstanceUID: String?,
         status: DIMSEStatus, hasDataSet: Bool, errorComment: String?) {
        self.messageIDBeingRespondedTo = messageIDBeingRespondedTo
        self.affectedSOPClassUID = affectedSOPClassUID
        self.affectedSOPInstanceUID = affectedSOPInstanceUID
        self.status = status
        self.hasDataSet = hasDataSet
        self.errorComment = errorComment
    }

    init(_ commandSet: DataSet, _ field: CommandField) throws {
        let r = try CommandSetReader(commandSet, expecting: field)
        messageIDBeingRespondedTo = try r.requiredUInt16(.messageIDBeingRespondedTo, "Message ID Being Responded To")
        affectedSOPClassUID = r.text(.affectedSOPClassUID)
        affectedSOPInstanceUID = r.text(.affectedSOPInstanceUID)
        status = try r.status()
        hasDataSet = try r.hasDataSet
        errorComment = r.text(.errorComment)
    }

    func builder(_ field: CommandField) -> CommandSetBuilder {
        var b = CommandSetBuilder(field, hasDataSet: hasDataSet)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageIDBeingRespondedTo, messageIDBeingRespondedTo)
        b.uint16(.status, status.rawValue)
        b.text(.errorComment, errorComment, vr: .LO)
        b.text(.affectedSOPInstanceUID, affectedSOPInstanceUID, vr: .UI)
        return b
    }
}

/// N-GET-RSP (PS3.7 §10.3.2, Table 10.3-4): the attribute list follows on success.
public struct NGetResponse: DIMSEResponse {
    public static let commandField = CommandField.nGetResponse
    var fields: NResponseFields
    public var messageIDBeingRespondedTo: UInt16 { fields.messageIDBeingRespondedTo }
    public var affectedSOPClassUID: String? { fields.affectedSOPClassUID }
    public var affectedSOPInstanceUID: String? { fields.affectedSOPInstanceUID }
    public var status: DIMSEStatus { fields.status }
    public var hasDataSet: Bool { fields.hasDataSet }
    public var errorComment: String? { fields.errorComment }

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, affectedSOPInstanceUID: String?,
                status: DIMSEStatus, hasDataSet: Bool, errorComment: String? = nil) {
        fields = NResponseFields(messageIDBeingRespondedTo: messageIDBeingRespondedTo, affectedSOPClassUID: affectedSOPClassUID,
                                 affectedSOPInstanceUID: affectedSOPInstanceUID, status: status, hasDataSet: hasDataSet, errorComment: errorComment)
    }

    public init(commandSet: DataSet) throws { fields = try NResponseFields(commandSet, Self.commandField) }
    public var commandSet: DataSet { fields.builder(Self.commandField).dataSet }
}

/// N-SET-RQ (PS3.7 §10.3.3, Table 10.3-5). The modification list follows as a data set.
public struct NSetRequest: DIMSERequest {
    public static let commandField = CommandField.nSetRequest
    public var messageID: UInt16
    public var requestedSOPClassUID: String
    public var requestedSOPInstanceUID: String
    public var hasDataSet: Bool { true }

    public init(messageID: UInt16, requestedSOPClassUID: String, requestedSOPInstanceUID: String) {
        self.messageID = messageID
        self.requestedSOPClassUID = requestedSOPClassUID
        self.requestedSOPInstanceUID = requestedSOPInstanceUID
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        requestedSOPClassUID = try r.requiredText(.requestedSOPClassUID, "Requested SOP Class UID")
        requestedSOPInstanceUID = try r.requiredText(.requestedSOPInstanceUID, "Requested SOP Instance UID")
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: true)
        b.text(.requestedSOPClassUID, requestedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.text(.requestedSOPInstanceUID, requestedSOPInstanceUID, vr: .UI)
        return b.dataSet
    }
}

/// N-SET-RSP (PS3.7 §10.3.3, Table 10.3-6).
public struct NSetResponse: DIMSEResponse {
    public static let commandField = CommandField.nSetResponse
    var fields: NResponseFields
    public var messageIDBeingRespondedTo: UInt16 { fields.messageIDBeingRespondedTo }
    public var affectedSOPClassUID: String? { fields.affectedSOPClassUID }
    public var affectedSOPInstanceUID: String? { fields.affectedSOPInstanceUID }
    public var status: DIMSEStatus { fields.status }
    public var hasDataSet: Bool { fields.hasDataSet }
    public var errorComment: String? { fields.errorComment }

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, affectedSOPInstanceUID: String?,
                status: DIMSEStatus, hasDataSet: Bool = false, errorComment: String? = nil) {
        fields = NResponseFields(messageIDBeingRespondedTo: messageIDBeingRespondedTo, affectedSOPClassUID: affectedSOPClassUID,
                                 affectedSOPInstanceUID: affectedSOPInstanceUID, status: status, hasDataSet: hasDataSet, errorComment: errorComment)
    }

    public init(commandSet: DataSet) throws { fields = try NResponseFields(commandSet, Self.commandField) }
    public var commandSet: DataSet { fields.builder(Self.commandField).dataSet }
}

/// N-ACTION-RQ (PS3.7 §10.3.4, Table 10.3-7).
public struct NActionRequest: DIMSERequest {
    public static let commandField = CommandField.nActionRequest
    public var messageID: UInt16
    public var requestedSOPClassUID: String
    public var requestedSOPInstanceUID: String
    public var actionTypeID: UInt16
    /// Action Information follows.
    public var hasDataSet: Bool

    public init(messageID: UInt16, requestedSOPClassUID: String, requestedSOPInstanceUID: String, actionTypeID: UInt16, hasDataSet: Bool = true) {
        self.messageID = messageID
        self.requestedSOPClassUID = requestedSOPClassUID
        self.requestedSOPInstanceUID = requestedSOPInstanceUID
        self.actionTypeID = actionTypeID
        self.hasDataSet = hasDataSet
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        requestedSOPClassUID = try r.requiredText(.requestedSOPClassUID, "Requested SOP Class UID")
        requestedSOPInstanceUID = try r.requiredText(.requestedSOPInstanceUID, "Requested SOP Instance UID")
        actionTypeID = try r.requiredUInt16(.actionTypeID, "Action Type ID")
        hasDataSet = try r.hasDataSet
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: hasDataSet)
        b.text(.requestedSOPClassUID, requestedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.text(.requestedSOPInstanceUID, requestedSOPInstanceUID, vr: .UI)
        b.uint16(.actionTypeID, actionTypeID)
        return b.dataSet
    }
}

/// N-ACTION-RSP (PS3.7 §10.3.4, Table 10.3-8).
public struct NActionResponse: DIMSEResponse {
    public static let commandField = CommandField.nActionResponse
    var fields: NResponseFields
    public var actionTypeID: UInt16?
    public var messageIDBeingRespondedTo: UInt16 { fields.messageIDBeingRespondedTo }
    public var affectedSOPClassUID: String? { fields.affectedSOPClassUID }
    public var affectedSOPInstanceUID: String? { fields.affectedSOPInstanceUID }
    public var status: DIMSEStatus { fields.status }
    public var hasDataSet: Bool { fields.hasDataSet }
    public var errorComment: String? { fields.errorComment }

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, affectedSOPInstanceUID: String?,
                actionTypeID: UInt16? = nil, status: DIMSEStatus, hasDataSet: Bool = false, errorComment: String? = nil) {
        fields = NResponseFields(messageIDBeingRespondedTo: messageIDBeingRespondedTo, affectedSOPClassUID: affectedSOPClassUID,
                                 affectedSOPInstanceUID: affectedSOPInstanceUID, status: status, hasDataSet: hasDataSet, errorComment: errorComment)
        self.actionTypeID = actionTypeID
    }

    public init(commandSet: DataSet) throws {
        fields = try NResponseFields(commandSet, Self.commandField)
        actionTypeID = try CommandSetReader(commandSet, expecting: Self.commandField).uint16(.actionTypeID)
    }

    public var commandSet: DataSet {
        var b = fields.builder(Self.commandField)
        b.uint16(.actionTypeID, actionTypeID)
        return b.dataSet
    }
}

/// N-CREATE-RQ (PS3.7 §10.3.5, Table 10.3-9).
public struct NCreateRequest: DIMSERequest {
    public static let commandField = CommandField.nCreateRequest
    public var messageID: UInt16
    public var affectedSOPClassUID: String
    /// The instance UID, or nil to let the performer assign one.
    public var affectedSOPInstanceUID: String?
    /// The attribute list follows.
    public var hasDataSet: Bool

    public init(messageID: UInt16, affectedSOPClassUID: String, affectedSOPInstanceUID: String? = nil, hasDataSet: Bool = true) {
        self.messageID = messageID
        self.affectedSOPClassUID = affectedSOPClassUID
        self.affectedSOPInstanceUID = affectedSOPInstanceUID
        self.hasDataSet = hasDataSet
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        affectedSOPClassUID = try r.requiredText(.affectedSOPClassUID, "Affected SOP Class UID")
        affectedSOPInstanceUID = r.text(.affectedSOPInstanceUID)
        hasDataSet = try r.hasDataSet
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: hasDataSet)
        b.text(.affectedSOPClassUID, affectedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.text(.affectedSOPInstanceUID, affectedSOPInstanceUID, vr: .UI)
        return b.dataSet
    }
}

/// N-CREATE-RSP (PS3.7 §10.3.5, Table 10.3-10).
public struct NCreateResponse: DIMSEResponse {
    public static let commandField = CommandField.nCreateResponse
    var fields: NResponseFields
    public var messageIDBeingRespondedTo: UInt16 { fields.messageIDBeingRespondedTo }
    public var affectedSOPClassUID: String? { fields.affectedSOPClassUID }
    public var affectedSOPInstanceUID: String? { fields.affectedSOPInstanceUID }
    public var status: DIMSEStatus { fields.status }
    public var hasDataSet: Bool { fields.hasDataSet }
    public var errorComment: String? { fields.errorComment }

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, affectedSOPInstanceUID: String?,
                status: DIMSEStatus, hasDataSet: Bool = false, errorComment: String? = nil) {
        fields = NResponseFields(messageIDBeingRespondedTo: messageIDBeingRespondedTo, affectedSOPClassUID: affectedSOPClassUID,
                                 affectedSOPInstanceUID: affectedSOPInstanceUID, status: status, hasDataSet: hasDataSet, errorComment: errorComment)
    }

    public init(commandSet: DataSet) throws { fields = try NResponseFields(commandSet, Self.commandField) }
    public var commandSet: DataSet { fields.builder(Self.commandField).dataSet }
}

/// N-DELETE-RQ (PS3.7 §10.3.6, Table 10.3-11).
public struct NDeleteRequest: DIMSERequest {
    public static let commandField = CommandField.nDeleteRequest
    public var messageID: UInt16
    public var requestedSOPClassUID: String
    public var requestedSOPInstanceUID: String
    public var hasDataSet: Bool { false }

    public init(messageID: UInt16, requestedSOPClassUID: String, requestedSOPInstanceUID: String) {
        self.messageID = messageID
        self.requestedSOPClassUID = requestedSOPClassUID
        self.requestedSOPInstanceUID = requestedSOPInstanceUID
    }

    public init(commandSet: DataSet) throws {
        let r = try CommandSetReader(commandSet, expecting: Self.commandField)
        messageID = try r.requiredUInt16(.messageID, "Message ID")
        requestedSOPClassUID = try r.requiredText(.requestedSOPClassUID, "Requested SOP Class UID")
        requestedSOPInstanceUID = try r.requiredText(.requestedSOPInstanceUID, "Requested SOP Instance UID")
    }

    public var commandSet: DataSet {
        var b = CommandSetBuilder(Self.commandField, hasDataSet: false)
        b.text(.requestedSOPClassUID, requestedSOPClassUID, vr: .UI)
        b.uint16(.messageID, messageID)
        b.text(.requestedSOPInstanceUID, requestedSOPInstanceUID, vr: .UI)
        return b.dataSet
    }
}

/// N-DELETE-RSP (PS3.7 §10.3.6, Table 10.3-12).
public struct NDeleteResponse: DIMSEResponse {
    public static let commandField = CommandField.nDeleteResponse
    var fields: NResponseFields
    public var messageIDBeingRespondedTo: UInt16 { fields.messageIDBeingRespondedTo }
    public var affectedSOPClassUID: String? { fields.affectedSOPClassUID }
    public var affectedSOPInstanceUID: String? { fields.affectedSOPInstanceUID }
    public var status: DIMSEStatus { fields.status }
    public var hasDataSet: Bool { false }
    public var errorComment: String? { fields.errorComment }

    public init(messageIDBeingRespondedTo: UInt16, affectedSOPClassUID: String?, affectedSOPInstanceUID: String?,
                status: DIMSEStatus, errorComment: String? = nil) {
        fields = NResponseFields(messageIDBeingRespondedTo: messageIDBeingRespondedTo, affectedSOPClassUID: affectedSOPClassUID,
                                 affectedSOPInstanceUID: affectedSOPInstanceUID, status: status, hasDataSet: false, errorComment: errorComment)
    }

    public init(commandSet: DataSet) throws { fields = try NResponseFields(commandSet, Self.commandField) }
    public var commandSet: DataSet { fields.builder(Self.commandField).dataSet }
}
