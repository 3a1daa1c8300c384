import DICOMCore
import NIOCore

/// A bounds-checked reader over one PDU or one of its items; every read throws a
/// ``DICOMNetworkError`` naming the field and its offset from the start of the PDU.
struct PDUCursor {
    var buffer: ByteBuffer
    /// Offset from the PDU's first byte of `buffer.readerIndex` at `startReader`.
    let base: Int
    let startReader: Int
    let pduType: UInt8

    init(_ buffer: ByteBuffer, base: Int, pduType: UInt8) {
        self.buffer = buffer
        self.base = base
        self.startReader = buffer.readerIndex
        self.pduType = pduType
    }

    /// Offset of the next byte from the start of the PDU.
    var offset: Int { base + buffer.readerIndex - startReader }
    var remaining: Int { buffer.readableBytes }
    var isAtEnd: Bool { buffer.readableBytes == 0 }

    func error(_ code: DICOMNetworkError.Code, _ message: String, at offset: Int? = nil) -> DICOMNetworkError {
        DICOMNetworkError(code, message, pduType: pduType, offset: offset ?? self.offset)
    }

    private func need(_ count: Int, _ what: String) throws {
        guard buffer.readableBytes >= count else {
            throw error(.truncated, "\(what) needs \(count) bytes but only \(buffer.readableBytes) remain")
        }
    }

    mutating func readUInt8(_ what: String) throws -> UInt8 {
        try need(1, what)
        return buffer.readInteger(as: UInt8.self)!
    }

    mutating func readUInt16(_ what: String) throws -> UInt16 {
        try need(2, what)
        return buffer.readInteger(as: UInt16.self)!
    }

    mutating func readUInt32(_ what: String) throws -> UInt32 {
        try need(4, what)
        return buffer.readInteger(as: UInt32.self)!
    }

    mutating func readBytes(_ count: Int, _ what: String) throws -> [UInt8] {
        try need(count, what)
        return buffer.readBytes(length: count)!
    }

    mutating func skip(_ count: Int, _ what: String) throws {
        try need(count, what)
        buffer.moveReaderIndex(forwardBy: count)
    }

    /// A cursor over the next `length` bytes, which this cursor skips. A length past the end is `invalidLength`.
    mutating func readCursor(length: Int, _ what: String, reportingAt headerOffset: Int? = nil) throws -> PDUCursor {
        guard length <= buffer.readableBytes else {
            throw error(.invalidLength, "\(what) declares \(length) bytes but only \(buffer.readableBytes) remain in its container", at: headerOffset)
        }
        let start = offset
        return PDUCursor(buffer.readSlice(length: length)!, base: start, pduType: pduType)
    }

    /// A 16-bit length followed by that many bytes.
    mutating func readShortField(_ what: String) throws -> [UInt8] {
        let lengthOffset = offset
        let length = Int(try readUInt16("\(what) length"))
        guard length <= buffer.readableBytes else {
            throw error(.invalidLength, "\(what) length \(length) overruns its item (\(buffer.readableBytes) bytes remain)", at: lengthOffset)
        }
        return buffer.readBytes(length: length)!
    }

    /// The rest of the bytes as an ASCII UID or name, trailing NUL and space padding removed.
    mutating func readRestAsText() -> String {
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        return uidText(bytes)
    }

    func expectEnd(_ what: String) throws {
        guard buffer.readableBytes == 0 else {
            throw error(.invalidLength, "\(buffer.readableBytes) unexpected bytes after \(what)")
        }
    }
}

func uidText(_ bytes: [UInt8]) -> String {
    var end = bytes.count
    while end > 0 && (bytes[end - 1] == 0 || bytes[end - 1] == 0x20) { end -= 1 }
    return String(decoding: bytes[..<end], as: UTF8.self)
}

extension PDU {
    /// Decodes one complete PDU, header included, from the front of `buffer` and moves past it;
    /// bytes after it are left in `buffer`.
    /// - Throws: ``DICOMNetworkError``: `truncated` when `buffer` holds less than the declared PDU,
    ///   `unknownPDUType`, `tlsOnPlainPort`, `invalidLength`, `malformedItem`, `invalidValue`, `invalidAETitle`,
    ///   `invalidPresentationContextID`, each with the PDU type and the byte offset.
    public static func decode(from buffer: inout ByteBuffer) throws -> PDU {
        guard buffer.readableBytes >= 6 else {
            if let tls = ProtocolSniffing.tlsError(buffer) { throw tls }
            throw DICOMNetworkError(.truncated, "a PDU header needs 6 bytes but only \(buffer.readableBytes) are present",
                                    pduType: buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), offset: 0)
        }
        let typeByte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!
        guard let type = PDUType(rawValue: typeByte) else {
            if let tls = ProtocolSniffing.tlsError(buffer) { throw tls }
            throw DICOMNetworkError(.unknownPDUType, "unknown PDU type \(hexString(typeByte, digits: 2))H", pduType: typeByte, offset: 0)
        }
        let length = Int(buffer.getInteger(at: buffer.readerIndex + 2, as: UInt32.self)!)
        guard buffer.readableBytes - 6 >= length else {
            throw DICOMNetworkError(.truncated, "\(type) declares \(length) bytes but only \(buffer.readableBytes - 6) follow the header",
                                    pduType: typeByte, offset: 6)
        }
        buffer.moveReaderIndex(forwardBy: 6)
        let body = buffer.readSlice(length: length)!
        return try decode(type: type, body: body)
    }

    /// Decodes the body of a PDU (the bytes after the 6-byte header), which must be consumed exactly.
    public static func decode(type: PDUType, body: ByteBuffer) throws -> PDU {
        var cursor = PDUCursor(body, base: 6, pduType: type.rawValue)
        let pdu: PDU
        switch type {
        case .associateRequest:
            pdu = .associateRequest(try decodeAssociateRequest(&cursor))
        case .associateAccept:
            pdu = .associateAccept(try decodeAssociateAccept(&cursor))
        case .associateReject:
            _ = try cursor.readUInt8("reserved")
            let resultOffset = cursor.offset
            let resultByte = try cursor.readUInt8("Result")
            let sourceByte = try cursor.readUInt8("Source")
            let reasonByte = try cursor.readUInt8("Reason/Diag.")
            guard let result = AssociationReject.Result(rawValue: resultByte) else {
                throw cursor.error(.invalidValue, "A-ASSOCIATE-RJ result \(resultByte) is neither 1 (permanent) nor 2 (transient)", at: resultOffset)
            }
            guard let source = AssociationReject.Source(rawValue: sourceByte) else {
                throw cursor.error(.invalidValue, "A-ASSOCIATE-RJ source \(sourceByte) is not 1, 2 or 3", at: resultOffset + 1)
            }
            pdu = .associateReject(AssociationReject(result: result, reason: .init(source: source, code: reasonByte)))
        case .dataTransfer:
            pdu = .dataTransfer(try decodeDataValues(&cursor))
        case .releaseRequest, .releaseResponse:
            try cursor.skip(4, "reserved field")
            pdu = type == .releaseRequest ? .releaseRequest : .releaseResponse
        case .abort:
            try cursor.skip(2, "reserved fields")
            let source = try cursor.readUInt8("Source")
            let reason = try cursor.readUInt8("Reason/Diag.")
            pdu = .abort(AssociationAbort(source: .init(rawValue: source), reason: .init(rawValue: reason)))
        }
        try cursor.expectEnd("the \(type) fields")
        return pdu
    }

    private static func decodeDataValues(_ cursor: inout PDUCursor) throws -> [PresentationDataValue] {
        var values: [PresentationDataValue] = []
        while !cursor.isAtEnd {
            let itemOffset = cursor.offset
            let length = Int(try cursor.readUInt32("PDV item length"))
            guard length >= 2 else {
                throw cursor.error(.invalidLength, "PDV item length \(length) is less than 2 (context ID and message control header)", at: itemOffset)
            }
            var item = try cursor.readCursor(length: length, "PDV item", reportingAt: itemOffset)
            let id = try item.readUInt8("presentation context ID")
            guard PresentationContext.isValidID(id) else {
                throw cursor.error(.invalidPresentationContextID, "PDV presentation context ID \(id) is not odd", at: itemOffset + 4)
            }
            let header = try item.readUInt8("message control header")
            let fragment = item.buffer.readSlice(length: item.remaining)!
            values.append(PresentationDataValue(presentationContextID: id, isCommand: header & 1 != 0,
                                                isLastFragment: header & 2 != 0, fragment: fragment))
        }
        guard !values.isEmpty else {
            throw cursor.error(.malformedItem, "P-DATA-TF PDU holds no presentation data value item")
        }
        return values
    }

    /// Items of an A-ASSOCIATE-RQ or -AC body after the fixed fields, as (type, offset, cursor over value).
    private static func readItems(_ cursor: inout PDUCursor) throws -> [(type: UInt8, reserved: UInt8, offset: Int, value: PDUCursor)] {
        var items: [(UInt8, UInt8, Int, PDUCursor)] = []
        while !cursor.isAtEnd {
            let offset = cursor.offset
            let type = try cursor.readUInt8("item type")
            let reserved = try cursor.readUInt8("item reserved byte")
            let length = Int(try cursor.readUInt16("item length"))
            let value = try cursor.readCursor(length: length, "item \(hexString(type, digits: 2))H", reportingAt: offset)
            items.append((type, reserved, offset, value))
        }
        return items
    }

    private static func decodeFixedAssociateFields(_ cursor: inout PDUCursor) throws -> (version: UInt16, called: [UInt8], calling: [UInt8], calledOffset: Int) {
        let version = try cursor.readUInt16("Protocol-version")
        try cursor.skip(2, "reserved field")
        let calledOffset = cursor.offset
        let called = try cursor.readBytes(16, "Called-AE-title")
        let calling = try cursor.readBytes(16, "Calling-AE-title")
        try cursor.skip(32, "reserved field")
        return (version, called, calling, calledOffset)
    }

    private static func decodeAssociateRequest(_ cursor: inout PDUCursor) throws -> AssociationRequest {
        let fixed = try decodeFixedAssociateFields(&cursor)
        let called = try AETitle(bytes: fixed.called, context: "Called-AE-title", pduType: cursor.pduType, offset: fixed.calledOffset)
        let calling = try AETitle(bytes: fixed.calling, context: "Calling-AE-title", pduType: cursor.pduType, offset: fixed.calledOffset + 16)
        var applicationContext: String?
        var contexts: [PresentationContext] = []
        var userInformation: UserInformation?
        var unknown: [UnknownItem] = []
        for var item in try readItems(&cursor) {
            switch item.type {
            case 0x10:
                guard applicationContext == nil else {
                    throw cursor.error(.malformedItem, "second Application Context item", at: item.offset)
                }
                applicationContext = item.value.readRestAsText()
            case 0x20:
                let context = try decodeProposedContext(&item.value, itemOffset: item.offset)
                guard !contexts.contains(where: { $0.id == context.id }) else {
                    throw cursor.error(.invalidPresentationContextID, "presentation context ID \(context.id) is proposed twice", at: item.offset + 4)
                }
                contexts.append(context)
            case 0x50:
                guard userInformation == nil else { throw cursor.error(.malformedItem, "second User Information item", at: item.offset) }
                userInformation = try decodeUserInformation(&item.value)
            case 0x21, 0x30, 0x40, 0x51...0x59:
                throw cursor.error(.malformedItem, "item \(hexString(item.type, digits: 2))H does not belong at the top level of an A-ASSOCIATE-RQ", at: item.offset)
            default:
                unknown.append(UnknownItem(type: item.type, value: Array(item.value.buffer.readableBytesView)))
            }
        }
        guard let applicationContext else { throw cursor.error(.malformedItem, "A-ASSOCIATE-RQ has no Application Context item (10H)") }
        guard !contexts.isEmpty else { throw cursor.error(.malformedItem, "A-ASSOCIATE-RQ has no Presentation Context item (20H)") }
        guard let userInformation else { throw cursor.error(.malformedItem, "A-ASSOCIATE-RQ has no User Information item (50H)") }
        return AssociationRequest(calledAETitle: called, callingAETitle: calling, presentationContexts: contexts,
                                  userInformation: userInformation, applicationContextName: applicationContext,
                                  protocolVersion: fixed.version, unknownItems: unknown)
    }

    private static func decodeAssociateAccept(_ cursor: inout PDUCursor) throws -> AssociationAccept {
        let fixed = try decodeFixedAssociateFields(&cursor)
        // Reserved fields: sent with the request's values, not tested (PS3.8 Table 9-17).
        let called = try? AETitle(bytes: fixed.called, context: "")
        let calling = try? AETitle(bytes: fixed.calling, context: "")
        var applicationContext: String?
        var results: [PresentationContextResult] = []
        var userInformation: UserInformation?
        var unknown: [UnknownItem] = []
        for var item in try readItems(&cursor) {
            switch item.type {
            case 0x10:
                guard applicationContext == nil else {
                    throw cursor.error(.malformedItem, "second Application Context item", at: item.offset)
                }
                applicationContext = item.value.readRestAsText()
            case 0x21:
                let result = try decodeContextResult(&item.value, itemOffset: item.offset)
                guard !results.contains(where: { $0.id == result.id }) else {
                    throw cursor.error(.invalidPresentationContextID, "presentation context ID \(result.id) is answered twice", at: item.offset + 4)
                }
                results.append(result)
            case 0x50:
                guard userInformation == nil else { throw cursor.error(.malformedItem, "second User Information item", at: item.offset) }
                userInformation = try decodeUserInformation(&item.value)
            case 0x20, 0x30, 0x40, 0x51...0x59:
                throw cursor.error(.malformedItem, "item \(hexString(item.type, digits: 2))H does not belong at the top level of an A-ASSOCIATE-AC", at: item.offset)
            default:
                unknown.append(UnknownItem(type: item.type, value: Array(item.value.buffer.readableBytesView)))
            }
        }
        guard let applicationContext else { throw cursor.error(.malformedItem, "A-ASSOCIATE-AC has no Application Context item (10H)") }
        guard let userInformation else { throw cursor.error(.malformedItem, "A-ASSOCIATE-AC has no User Information item (50H)") }
        return AssociationAccept(calledAETitle: called, callingAETitle: calling, presentationContextResults: results,
                                 userInformation: userInformation, applicationContextName: applicationContext,
                                 protocolVersion: fixed.version, unknownItems: unknown)
    }

    /// Presentation Context item 20H (PS3.8 §9.3.2.2, Table 9-13).
    private static func decodeProposedContext(_ item: inout PDUCursor, itemOffset: Int) throws -> PresentationContext {
        let idOffset = item.offset
        let id = try item.readUInt8("presentation context ID")
        guard PresentationContext.isValidID(id) else {
            throw item.error(.invalidPresentationContextID, "presentation context ID \(id) is not odd (PS3.8 §9.3.2.2)", at: idOffset)
        }
        try item.skip(3, "reserved fields")
        var abstractSyntax: String?
        var transferSyntaxes: [String] = []
        for var sub in try readItems(&item) {
            switch sub.type {
            case 0x30:
                guard abstractSyntax == nil else {
                    throw item.error(.malformedItem, "presentation context \(id) has a second Abstract Syntax sub-item", at: sub.offset)
                }
                abstractSyntax = sub.value.readRestAsText()
            case 0x40:
                transferSyntaxes.append(sub.value.readRestAsText())
            default:
                throw item.error(.malformedItem, "presentation context \(id) holds sub-item \(hexString(sub.type, digits: 2))H; only 30H and 40H belong there", at: sub.offset)
            }
        }
        guard let abstractSyntax, !abstractSyntax.isEmpty else {
            throw item.error(.malformedItem, "presentation context \(id) has no (or an empty) Abstract Syntax sub-item", at: itemOffset)
        }
        guard !transferSyntaxes.isEmpty else {
            throw item.error(.malformedItem, "presentation context \(id) proposes no transfer syntax", at: itemOffset)
        }
        return PresentationContext(id: id, abstractSyntax: abstractSyntax, transferSyntaxes: transferSyntaxes)
    }

    /// Presentation Context item 21H (PS3.8 §9.3.3.2, Table 9-18).
    private static func decodeContextResult(_ item: inout PDUCursor, itemOffset: Int) throws -> PresentationContextResult {
        let idOffset = item.offset
        let id = try item.readUInt8("presentation context ID")
        guard PresentationContext.isValidID(id) else {
            throw item.error(.invalidPresentationContextID, "presentation context ID \(id) is not odd (PS3.8 §9.3.3.2)", at: idOffset)
        }
        try item.skip(1, "reserved field")
        let resultByte = try item.readUInt8("Result/Reason")
        guard let result = PresentationContextResult.Result(rawValue: resultByte) else {
            throw item.error(.invalidValue, "presentation context \(id) has result \(resultByte); only 0–4 are defined", at: idOffset + 2)
        }
        try item.skip(1, "reserved field")
        var transferSyntax: String?
        for var sub in try readItems(&item) {
            guard sub.type == 0x40, transferSyntax == nil else {
                throw item.error(.malformedItem, "presentation context \(id) result holds an unexpected sub-item \(hexString(sub.type, digits: 2))H", at: sub.offset)
            }
            transferSyntax = sub.value.readRestAsText()
        }
        if transferSyntax?.isEmpty == true { transferSyntax = nil }
        if result == .acceptance && transferSyntax == nil {
            throw item.error(.malformedItem, "presentation context \(id) is accepted without a transfer syntax", at: itemOffset)
        }
        return PresentationContextResult(id: id, result: result, transferSyntax: transferSyntax)
    }

    /// User Information item 50H (PS3.8 §9.3.2.3) and its sub-items (PS3.7 Annex D.3.3, PS3.8 Annex D.1).
    private static func decodeUserInformation(_ item: inout PDUCursor) throws -> UserInformation {
        var info = UserInformation()
        func once<T>(_ value: T?, _ name: String, _ offset: Int) throws {
            if value != nil { throw item.error(.malformedItem, "second \(name) sub-item", at: offset) }
        }
        for var sub in try readItems(&item) {
            let name = hexString(sub.type, digits: 2) + "H"
            switch sub.type {
            case 0x51:
                try once(info.maximumLength, "Maximum Length", sub.offset)
                guard sub.value.remaining == 4 else {
                    throw item.error(.invalidLength, "Maximum Length sub-item (51H) has length \(sub.value.remaining); it must be 4", at: sub.offset + 2)
                }
                info.maximumLength = try sub.value.readUInt32("maximum length")
            case 0x52:
                try once(info.implementationClassUID, "Implementation Class UID", sub.offset)
                info.implementationClassUID = sub.value.readRestAsText()
            case 0x53:
                try once(info.asynchronousOperationsWindow, "Asynchronous Operations Window", sub.offset)
                guard sub.value.remaining == 4 else {
                    throw item.error(.invalidLength, "Asynchronous Operations Window sub-item (53H) has length \(sub.value.remaining); it must be 4", at: sub.offset + 2)
                }
                info.asynchronousOperationsWindow = AsynchronousOperationsWindow(
                    maximumInvoked: try sub.value.readUInt16("maximum invoked"), maximumPerformed: try sub.value.readUInt16("maximum performed"))
            case 0x54:
                let uid = uidText(try sub.value.readShortField("SOP class UID (54H)"))
                let scu = try sub.value.readUInt8("SCU-role")
                let scp = try sub.value.readUInt8("SCP-role")
                try sub.value.expectEnd("SCP/SCU Role Selection sub-item (54H)")
                info.roleSelections.append(RoleSelection(sopClassUID: uid, scuRole: scu != 0, scpRole: scp != 0))
            case 0x55:
                try once(info.implementationVersionName, "Implementation Version Name", sub.offset)
                info.implementationVersionName = sub.value.readRestAsText()
            case 0x56:
                let uid = uidText(try sub.value.readShortField("SOP class UID (56H)"))
                let rest = Array(sub.value.buffer.readableBytesView)
                info.extendedNegotiations.append(SOPClassExtendedNegotiation(sopClassUID: uid, serviceClassApplicationInformation: rest))
            case 0x57:
                let uid = uidText(try sub.value.readShortField("SOP class UID (57H)"))
                let service = uidText(try sub.value.readShortField("service class UID (57H)"))
                let relatedLength = Int(try sub.value.readUInt16("related general SOP class identification length"))
                var related = try sub.value.readCursor(length: relatedLength, "related general SOP class identification")
                var relatedUIDs: [String] = []
                while !related.isAtEnd { relatedUIDs.append(uidText(try related.readShortField("related general SOP class UID"))) }
                try sub.value.expectEnd("SOP Class Common Extended Negotiation sub-item (57H)")
                info.commonExtendedNegotiations.append(SOPClassCommonExtendedNegotiation(
                    sopClassUID: uid, serviceClassUID: service, relatedGeneralSOPClassUIDs: relatedUIDs, subItemVersion: sub.reserved))
            case 0x58:
                try once(info.userIdentity, "User Identity", sub.offset)
                let kind = try sub.value.readUInt8("User-Identity-Type")
                let positive = try sub.value.readUInt8("Positive-response-requested")
                let primary = try sub.value.readShortField("Primary-field")
                let secondary = try sub.value.readShortField("Secondary-field")
                try sub.value.expectEnd("User Identity sub-item (58H)")
                info.userIdentity = UserIdentity(kind: .init(rawValue: kind), positiveResponseRequested: positive != 0,
                                                 primaryField: primary, secondaryField: secondary)
            case 0x59:
                try once(info.userIdentityServerResponse, "User Identity server response", sub.offset)
                info.userIdentityServerResponse = try sub.value.readShortField("Server-response")
                try sub.value.expectEnd("User Identity sub-item (59H)")
            default:
                _ = name
                info.unknownItems.append(UnknownItem(type: sub.type, value: Array(sub.value.buffer.readableBytesView)))
            }
        }
        return info
    }
}
