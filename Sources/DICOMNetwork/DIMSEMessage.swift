import DICOMCore
import Foundation

/// A typed DIMSE message (PS3.7 §9 and §10): one struct per command kind, convertible to and from its
/// command set (group 0000).
public protocol DIMSEMessage: Sendable, Hashable {
    /// The Command Field (0000,0100) of this kind.
    static var commandField: CommandField { get }
    /// Reads the message from a command set.
    /// - Throws: ``DICOMNetworkError`` `invalidCommandSet` when the command field differs or a required element is missing.
    init(commandSet: DataSet) throws
    /// The command set, without (0000,0000), which ``CommandSet/encode(_:)`` computes.
    var commandSet: DataSet { get }
    /// Whether a data set follows the command set (Command Data Set Type ≠ 0101H).
    var hasDataSet: Bool { get }
}

/// A DIMSE request: identified by its Message ID (0000,0110).
public protocol DIMSERequest: DIMSEMessage {
    var messageID: UInt16 { get }
}

/// A DIMSE response: answers a request's Message ID with a status.
public protocol DIMSEResponse: DIMSEMessage {
    var messageIDBeingRespondedTo: UInt16 { get }
    var status: DIMSEStatus { get }
}

// MARK: - Reading and writing command elements

/// Builds a command set element by element.
struct CommandSetBuilder {
    var dataSet = DataSet()

    init(_ field: CommandField, hasDataSet: Bool) {
        uint16(.commandField, field.rawValue)
        uint16(.commandDataSetType, hasDataSet ? CommandDataSetType.present : CommandDataSetType.none)
    }

    mutating func uint16(_ tag: Tag, _ value: UInt16?) {
        guard let value else { return }
        withUnsafeBytes(of: value.littleEndian) { dataSet.set(DataElement(tag: tag, vr: .US, bytes: Data($0))) }
    }

    mutating func text(_ tag: Tag, _ value: String?, vr: VR) {
        guard let value else { return }
        var bytes = Array(value.utf8)
        if bytes.count & 1 == 1 { bytes.append(vr.paddingByte) }
        dataSet.set(DataElement(tag: tag, vr: vr, bytes: Data(bytes)))
    }

    mutating func tags(_ tag: Tag, _ values: [Tag]?) {
        guard let values, !values.isEmpty else { return }
        var bytes: [UInt8] = []
        for t in values {
            withUnsafeBytes(of: t.group.littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: t.element.littleEndian) { bytes.append(contentsOf: $0) }
        }
        dataSet.set(DataElement(tag: tag, vr: .AT, bytes: Data(bytes)))
    }
}

/// Reads typed command elements, throwing errors that name the message kind and the element.
struct CommandSetReader {
    let dataSet: DataSet
    let kind: CommandField

    init(_ dataSet: DataSet, expecting kind: CommandField) throws {
        self.dataSet = dataSet
        self.kind = kind
        let field = try Self.uint16(dataSet, .commandField, kind: "command set")
        guard field == kind.rawValue else {
            throw DICOMNetworkError(.invalidCommandSet, "command field \(CommandField(rawValue: field ?? 0)) where \(kind) was expected")
        }
    }

    /// `kind` names the command in the error and is formatted only then (every DIMSE message reads several values).
    static func uint16(_ dataSet: DataSet, _ tag: Tag, kind: @autoclosure () -> String) throws -> UInt16? {
        guard let bytes = dataSet[tag]?.bytes else { return nil }
        guard bytes.count == 2 else {
            throw DICOMNetworkError(.invalidCommandSet, "\(kind()) element \(tag) has \(bytes.count) bytes; US needs 2")
        }
        return UInt16(bytes[bytes.startIndex]) | UInt16(bytes[bytes.startIndex + 1]) << 8
    }

    func uint16(_ tag: Tag) throws -> UInt16? { try Self.uint16(dataSet, tag, kind: "\(kind)") }

    func requiredUInt16(_ tag: Tag, _ name: String) throws -> UInt16 {
        guard let value = try uint16(tag) else { throw missing(tag, name) }
        return value
    }

    /// The value as text without leading and trailing spaces and NULs (trimmed byte by byte: both are single bytes in
    /// UTF-8, so this equals trimming the decoded characters).
    func text(_ tag: Tag) -> String? {
        guard let bytes = dataSet[tag]?.bytes else { return nil }
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    func requiredText(_ tag: Tag, _ name: String) throws -> String {
        guard let value = text(tag), !value.isEmpty else { throw missing(tag, name) }
        return value
    }

    func tags(_ tag: Tag) -> [Tag] {
        guard let bytes = dataSet[tag]?.bytes else { return [] }
        let b = Array(bytes)
        var result: [Tag] = []
        var i = 0
        while i + 4 <= b.count {
            let group: UInt16 = UInt16(b[i]) | (UInt16(b[i + 1]) << 8)
            let element: UInt16 = UInt16(b[i + 2]) | (UInt16(b[i + 3]) << 8)
            result.append(Tag(group, element))
            i += 4
        }
        return result
    }

    var hasDataSet: Bool {
        get throws { (try uint16(.commandDataSetType) ?? CommandDataSetType.none) != CommandDataSetType.none }
    }

    func priority() throws -> DIMSEPriority {
        let raw = try uint16(.priority) ?? 0
        return DIMSEPriority(rawValue: raw) ?? .medium
    }

    func status() throws -> DIMSEStatus { DIMSEStatus(try requiredUInt16(.status, "Status")) }

    func missing(_ tag: Tag, _ name: String) -> DICOMNetworkError {
        DICOMNetworkError(.invalidCommandSet, "\(kind) lacks \(name) \(tag)")
    }
}

// MARK: - Any message

/// Any DIMSE message, decoded by its command field: what a receiver gets from ``DIMSEMessageAssembler``.
public enum DIMSECommand: Sendable, Hashable {
    case cEchoRequest(CEchoRequest)
    case cEchoResponse(CEchoResponse)
    case cStoreRequest(CStoreRequest)
    case cStoreResponse(CStoreResponse)
    case cFindRequest(CFindRequest)
    case cFindResponse(CFindResponse)
    case cGetRequest(CGetRequest)
    case cGetResponse(CGetResponse)
    case cMoveRequest(CMoveRequest)
    case cMoveResponse(CMoveResponse)
    case cCancelRequest(CCancelRequest)
    case nEventReportRequest(NEventReportRequest)
    case nEventReportResponse(NEventReportResponse)
    case nGetRequest(NGetRequest)
    case nGetResponse(NGetResponse)
    case nSetRequest(NSetRequest)
    case nSetResponse(NSetResponse)
    case nActionRequest(NActionRequest)
    case nActionResponse(NActionResponse)
    case nCreateRequest(NCreateRequest)
    case nCreateResponse(NCreateResponse)
    case nDeleteRequest(NDeleteRequest)
    case nDeleteResponse(NDeleteResponse)

    /// Decodes the typed message a command set holds.
    /// - Throws: ``DICOMNetworkError`` `invalidCommandSet` for a missing or unknown command field or a missing required element.
    public init(commandSet: DataSet) throws {
        guard let raw = try CommandSetReader.uint16(commandSet, .commandField, kind: "command set") else {
            throw DICOMNetworkError(.invalidCommandSet, "command set lacks Command Field (0000,0100)")
        }
        switch CommandField(rawValue: raw) {
        case .cEchoRequest: self = .cEchoRequest(try .init(commandSet: commandSet))
        case .cEchoResponse: self = .cEchoResponse(try .init(commandSet: commandSet))
        case .cStoreRequest: self = .cStoreRequest(try .init(commandSet: commandSet))
        case .cStoreResponse: self = .cStoreResponse(try .init(commandSet: commandSet))
        case .cFindRequest: self = .cFindRequest(try .init(commandSet: commandSet))
        case .cFindResponse: self = .cFindResponse(try .init(commandSet: commandSet))
        case .cGetRequest: self = .cGetRequest(try .init(commandSet: commandSet))
        case .cGetResponse: self = .cGetResponse(try .init(commandSet: commandSet))
        case .cMoveRequest: self = .cMoveRequest(try .init(commandSet: commandSet))
        case .cMoveResponse: self = .cMoveResponse(try .init(commandSet: commandSet))
        case .cCancelRequest: self = .cCancelRequest(try .init(commandSet: commandSet))
        case .nEventReportRequest: self = .nEventReportRequest(try .init(commandSet: commandSet))
        case .nEventReportResponse: self = .nEventReportResponse(try .init(commandSet: commandSet))
        case .nGetRequest: self = .nGetRequest(try .init(commandSet: commandSet))
        case .nGetResponse: self = .nGetResponse(try .init(commandSet: commandSet))
        case .nSetRequest: self = .nSetRequest(try .init(commandSet: commandSet))
        case .nSetResponse: self = .nSetResponse(try .init(commandSet: commandSet))
        case .nActionRequest: self = .nActionRequest(try .init(commandSet: commandSet))
        case .nActionResponse: self = .nActionResponse(try .init(commandSet: commandSet))
        case .nCreateRequest: self = .nCreateRequest(try .init(commandSet: commandSet))
        case .nCreateResponse: self = .nCreateResponse(try .init(commandSet: commandSet))
        case .nDeleteRequest: self = .nDeleteRequest(try .init(commandSet: commandSet))
        case .nDeleteResponse: self = .nDeleteResponse(try .init(commandSet: commandSet))
        default:
            throw DICOMNetworkError(.invalidCommandSet, "unknown command field \(hexString(raw, digits: 4))H")
        }
    }

    /// The message inside.
    public var message: any DIMSEMessage {
        switch self {
        case .cEchoRequest(let m): m
        case .cEchoResponse(let m): m
        case .cStoreRequest(let m): m
        case .cStoreResponse(let m): m
        case .cFindRequest(let m): m
        case .cFindResponse(let m): m
        case .cGetRequest(let m): m
        case .cGetResponse(let m): m
        case .cMoveRequest(let m): m
        case .cMoveResponse(let m): m
        case .cCancelRequest(let m): m
        case .nEventReportRequest(let m): m
        case .nEventReportResponse(let m): m
        case .nGetRequest(let m): m
        case .nGetResponse(let m): m
        case .nSetRequest(let m): m
        case .nSetResponse(let m): m
        case .nActionRequest(let m): m
        case .nActionResponse(let m): m
        case .nCreateRequest(let m): m
        case .nCreateResponse(let m): m
        case .nDeleteRequest(let m): m
        case .nDeleteResponse(let m): m
        }
    }

    public var commandField: CommandField { type(of: message).commandField }
    public var hasDataSet: Bool { message.hasDataSet }
    public var commandSet: DataSet { message.commandSet }
}
