import DICOMCore

/// A DIMSE status (0000,0900): the code, its category and its meaning (PS3.7 Annex C, and the
/// service-specific codes of PS3.4, e.g. Table B.2-1 for the Storage Service Class).
///
/// The table of meanings is written by hand from PS3.7 Annex C (C.1–C.5) and PS3.4 Annex B/C; codes a service
/// class defines in a range (A7xx, A9xx, Cxxx) are named by range.
public struct DIMSEStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The status classes of PS3.7 Annex C.
    public enum Category: String, Sendable, CaseIterable {
        case success, warning, failure, cancel, pending
    }

    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ code: UInt16) { rawValue = code }

    public static let success = DIMSEStatus(0x0000)
    public static let pending = DIMSEStatus(0xFF00)
    /// Pending: matches are continuing; one or more optional keys were not supported (C-FIND).
    public static let pendingWithWarning = DIMSEStatus(0xFF01)
    public static let cancel = DIMSEStatus(0xFE00)

    // General failures and warnings (PS3.7 Annex C.4, C.5).
    public static let noSuchAttribute = DIMSEStatus(0x0105)
    public static let invalidAttributeValue = DIMSEStatus(0x0106)
    public static let attributeListError = DIMSEStatus(0x0107)
    public static let processingFailure = DIMSEStatus(0x0110)
    public static let duplicateSOPInstance = DIMSEStatus(0x0111)
    public static let noSuchSOPInstance = DIMSEStatus(0x0112)
    public static let noSuchEventType = DIMSEStatus(0x0113)
    public static let noSuchArgument = DIMSEStatus(0x0114)
    public static let invalidArgumentValue = DIMSEStatus(0x0115)
    public static let attributeValueOutOfRange = DIMSEStatus(0x0116)
    public static let invalidObjectInstance = DIMSEStatus(0x0117)
    public static let noSuchSOPClass = DIMSEStatus(0x0118)
    public static let classInstanceConflict = DIMSEStatus(0x0119)
    public static let missingAttribute = DIMSEStatus(0x0120)
    public static let missingAttributeValue = DIMSEStatus(0x0121)
    public static let sopClassNotSupported = DIMSEStatus(0x0122)
    public static let noSuchAction = DIMSEStatus(0x0123)
    public static let notAuthorized = DIMSEStatus(0x0124)
    public static let duplicateInvocation = DIMSEStatus(0x0210)
    public static let unrecognizedOperation = DIMSEStatus(0x0211)
    public static let mistypedArgument = DIMSEStatus(0x0212)
    public static let resourceLimitation = DIMSEStatus(0x0213)

    // Storage (PS3.4 Table B.2-1) and Query/Retrieve (PS3.4 C.4).
    /// Refused: out of resources (A7xx).
    public static let outOfResources = DIMSEStatus(0xA700)
    /// Refused: out of resources — unable to calculate number of matches (C-FIND) / perform sub-operations.
    public static let outOfResourcesUnableToCalculateMatches = DIMSEStatus(0xA701)
    public static let outOfResourcesUnableToPerformSuboperations = DIMSEStatus(0xA702)
    /// Refused: move destination unknown (C-MOVE).
    public static let moveDestinationUnknown = DIMSEStatus(0xA801)
    /// Error: data set does not match SOP class (A9xx) / identifier does not match SOP class.
    public static let dataSetDoesNotMatchSOPClass = DIMSEStatus(0xA900)
    /// Error: cannot understand (Cxxx) / unable to process.
    public static let cannotUnderstand = DIMSEStatus(0xC000)
    /// Warning: coercion of data elements (C-STORE) / sub-operations complete, one or more failures or warnings (C-MOVE, C-GET).
    public static let coercionOfDataElements = DIMSEStatus(0xB000)
    /// Warning: elements discarded (C-STORE).
    public static let elementsDiscarded = DIMSEStatus(0xB006)
    /// Warning: data set does not match SOP class (C-STORE).
    public static let dataSetDoesNotMatchSOPClassWarning = DIMSEStatus(0xB007)

    /// The category of the code (PS3.7 Annex C): 0000H success; FF00H/FF01H pending; FE00H cancel;
    /// 0001H, 0107H, 0116H and Bxxx warning; everything else failure.
    public var category: Category {
        switch rawValue {
        case 0x0000: .success
        case 0xFF00, 0xFF01: .pending
        case 0xFE00: .cancel
        case 0x0001, 0x0107, 0x0116, 0xB000...0xBFFF: .warning
        default: .failure
        }
    }

    public var isSuccess: Bool { category == .success }
    public var isPending: Bool { category == .pending }
    public var isWarning: Bool { category == .warning }
    public var isFailure: Bool { category == .failure }
    public var isCancel: Bool { category == .cancel }
    /// Success or warning: the operation was performed.
    public var isSuccessOrWarning: Bool { category == .success || category == .warning }

    /// The meaning of the code from PS3.7 Annex C and the Storage and Query/Retrieve classes of PS3.4.
    public var meaning: String {
        switch rawValue {
        case 0x0000: "Success"
        case 0x0001: "Warning: requested optional attributes are not supported"
        case 0x0105: "Failure: no such attribute"
        case 0x0106: "Failure: invalid attribute value"
        case 0x0107: "Warning: attribute list error"
        case 0x0110: "Failure: processing failure"
        case 0x0111: "Failure: duplicate SOP instance"
        case 0x0112: "Failure: no such SOP instance"
        case 0x0113: "Failure: no such event type"
        case 0x0114: "Failure: no such argument"
        case 0x0115: "Failure: invalid argument value"
        case 0x0116: "Warning: attribute value out of range"
        case 0x0117: "Failure: invalid object instance"
        case 0x0118: "Failure: no such SOP class"
        case 0x0119: "Failure: class-instance conflict"
        case 0x0120: "Failure: missing attribute"
        case 0x0121: "Failure: missing attribute value"
        case 0x0122: "Refused: SOP class not supported"
        case 0x0123: "Failure: no such action"
        case 0x0124: "Refused: not authorized"
        case 0x0210: "Failure: duplicate invocation"
        case 0x0211: "Failure: unrecognized operation"
        case 0x0212: "Failure: mistyped argument"
        case 0x0213: "Failure: resource limitation"
        case 0xA701: "Refused: out of resources, unable to calculate number of matches"
        case 0xA702: "Refused: out of resources, unable to perform sub-operations"
        case 0xA700...0xA7FF: "Refused: out of resources"
        case 0xA801: "Refused: move destination unknown"
        case 0xA900...0xA9FF: "Error: data set does not match SOP class"
        case 0xB000: "Warning: coercion of data elements, or sub-operations completed with failures"
        case 0xB006: "Warning: elements discarded"
        case 0xB007: "Warning: data set does not match SOP class"
        case 0xC000...0xCFFF: "Error: cannot understand"
        case 0xFE00: "Cancel: operation terminated"
        case 0xFF00: "Pending"
        case 0xFF01: "Pending: one or more optional keys were not supported"
        default:
            switch category {
            case .warning: "Warning"
            case .failure: "Failure"
            default: "Status"
            }
        }
    }

    public var description: String { "\(hexString(rawValue, digits: 4))H (\(meaning))" }
}
