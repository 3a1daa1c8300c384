import DICOMCore
import NIOCore

extension PDU {
    /// Appends this PDU, header included, to `buffer` (PS3.8 §9.3, big-endian lengths).
    /// - Throws: ``DICOMNetworkError`` `invalidLength` when a field is too long for its length field
    ///   (e.g. a user identity over 65,535 bytes), `invalidPresentationContextID` for an even context ID.
    public func encode(into buffer: inout ByteBuffer) throws {
        let type = self.type
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(UInt8(0))  // reserved
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))  // PDU-length, patched below
        let bodyStart = buffer.writerIndex
        switch self {
        case .associateRequest(let request):
            try Self.writeAssociateHeader(protocolVersion: request.protocolVersion, called: request.calledAETitle.paddedBytes,
                                          calling: request.callingAETitle.paddedBytes, into: &buffer)
            try Self.writeItem(0x10, into: &buffer, pduType: type) { $0.writeString(request.applicationContextName) }
            for context in request.presentationContexts {
                try Self.checkContextID(context.id, pduType: type)
                try Self.writeItem(0x20, into: &buffer, pduType: type) { item in
                    item.writeBytes([context.id, 0, 0, 0])
                    try Self.writeItem(0x30, into: &item, pduType: type) { $0.writeString(context.abstractSyntax) }
                    for syntax in context.transferSyntaxes {
                        try Self.writeItem(0x40, into: &item, pduType: type) { $0.writeString(syntax) }
                    }
                }
            }
            try Self.writeUserInformation(request.userInformation, into: &buffer, pduType: type)
            try Self.writeUnknownItems(request.unknownItems, into: &buffer, pduType: type)
        case .associateAccept(let accept):
            let spaces = [UInt8](repeating: 0x20, count: 16)
            try Self.writeAssociateHeader(protocolVersion: accept.protocolVersion, called: accept.calledAETitle?.paddedBytes ?? spaces,
                                          calling: accept.callingAETitle?.paddedBytes ?? spaces, into: &buffer)
            try Self.writeItem(0x10, into: &buffer, pduType: type) { $0.writeString(accept.applicationContextName) }
            for result in accept.presentationContextResults {
                try Self.checkContextID(result.id, pduType: type)
                try Self.writeItem(0x21, into: &buffer, pduType: type) { item in
                    item.writeBytes([result.id, 0, result.result.rawValue, 0])
                    try Self.writeItem(0x40, into: &item, pduType: type) { $0.writeString(result.transferSyntax ?? "") }
                }
            }
            try Self.writeUserInformation(accept.userInformation, into: &buffer, pduType: type)
            try Self.writeUnknownItems(accept.unknownItems, into: &buffer, pduType: type)
        case .associateReject(let reject):
            buffer.writeBytes([0, reject.result.rawValue, reject.source.rawValue, reject.reason.code])
        case .dataTransfer(let values):
            for value in values {
                try Self.checkContextID(value.presentationContextID, pduType: type)
                buffer.writeInteger(UInt32(2 + value.fragment.readableBytes))
                buffer.writeInteger(value.presentationContextID)
                buffer.writeInteger(value.messageControlHeader)
                var fragment = value.fragment
                buffer.writeBuffer(&fragment)
            }
        case .releaseRequest, .releaseResponse:
            buffer.writeInteger(UInt32(0))  // reserved
        case .abort(let abort):
            buffer.writeBytes([0, 0, abort.source.rawValue, abort.reason.rawValue])
        }
        let length = buffer.writerIndex - bodyStart
        guard length <= Int(UInt32.max) else {
            throw DICOMNetworkError(.invalidLength, "PDU body of \(length) bytes does not fit a 32-bit length", pduType: type.rawValue)
        }
        buffer.setInteger(UInt32(length), at: lengthIndex)
    }

    /// The PDU encoded into a new buffer.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        try encode(into: &buffer)
        return buffer
    }

    private static func checkContextID(_ id: UInt8, pduType: PDUType) throws {
        guard PresentationContext.isValidID(id) else {
            throw DICOMNetworkError(.invalidPresentationContextID, "presentation context ID \(id) is not odd", pduType: pduType.rawValue)
        }
    }

    /// Fields 7–74 of A-ASSOCIATE-RQ/AC (PS3.8 Tables 9-11 and 9-17).
    private static func writeAssociateHeader(protocolVersion: UInt16, called: [UInt8], calling: [UInt8], into buffer: inout ByteBuffer) throws {
        buffer.writeInteger(protocolVersion)
        buffer.writeInteger(UInt16(0))
        buffer.writeBytes(called)
        buffer.writeBytes(calling)
        buffer.writeRepeatingByte(0, count: 32)
    }

    /// Writes an item header (type, reserved, 16-bit length) and a body; `reserved` is the second byte.
    static func writeItem(_ itemType: UInt8, reserved: UInt8 = 0, into buffer: inout ByteBuffer, pduType: PDUType,
                          _ body: (inout ByteBuffer) throws -> Void) throws {
        buffer.writeInteger(itemType)
        buffer.writeInteger(reserved)
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        let start = buffer.writerIndex
        try body(&buffer)
        let length = buffer.writerIndex - start
        guard length <= Int(UInt16.max) else {
            throw DICOMNetworkError(.invalidLength, "item \(hexString(itemType, digits: 2))H of \(length) bytes does not fit a 16-bit length",
                                    pduType: pduType.rawValue)
        }
        buffer.setInteger(UInt16(length), at: lengthIndex)
    }

    private static func writeShortField(_ bytes: [UInt8], into buffer: inout ByteBuffer, what: String, pduType: PDUType) throws {
        guard bytes.count <= Int(UInt16.max) else {
            throw DICOMNetworkError(.invalidLength, "\(what) of \(bytes.count) bytes does not fit a 16-bit length", pduType: pduType.rawValue)
        }
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
    }

    private static func writeUnknownItems(_ items: [UnknownItem], into buffer: inout ByteBuffer, pduType: PDUType) throws {
        for item in items {
            try writeItem(item.type, into: &buffer, pduType: pduType) { $0.writeBytes(item.value) }
        }
    }

    /// User Information item 50H (PS3.8 §9.3.2.3) with its sub-items (PS3.7 Annex D.3.3), in sub-item type order.
    private static func writeUserInformation(_ info: UserInformation, into buffer: inout ByteBuffer, pduType: PDUType) throws {
        try writeItem(0x50, into: &buffer, pduType: pduType) { item in
            if let maximumLength = info.maximumLength {
                try writeItem(0x51, into: &item, pduType: pduType) { $0.writeInteger(maximumLength) }
            }
            if let uid = info.implementationClassUID {
                try writeItem(0x52, into: &item, pduType: pduType) { $0.writeString(uid) }
            }
            if let window = info.asynchronousOperationsWindow {
                try writeItem(0x53, into: &item, pduType: pduType) {
                    $0.writeInteger(window.maximumInvoked)
                    $0.writeInteger(window.maximumPerformed)
                }
            }
            for role in info.roleSelections {
                try writeItem(0x54, into: &item, pduType: pduType) {
                    try writeShortField(Array(role.sopClassUID.utf8), into: &$0, what: "SOP class UID", pduType: pduType)
                    $0.writeInteger(UInt8(role.scuRole ? 1 : 0))
                    $0.writeInteger(UInt8(role.scpRole ? 1 : 0))
                }
            }
            if let name = info.implementationVersionName {
                try writeItem(0x55, into: &item, pduType: pduType) { $0.writeString(name) }
            }
            for negotiation in info.extendedNegotiations {
                try writeItem(0x56, into: &item, pduType: pduType) {
                    try writeShortField(Array(negotiation.sopClassUID.utf8), into: &$0, what: "SOP class UID", pduType: pduType)
                    $0.writeBytes(negotiation.serviceClassApplicationInformation)
                }
            }
            for negotiation in info.commonExtendedNegotiations {
                try writeItem(0x57, reserved: negotiation.subItemVersion, into: &item, pduType: pduType) { sub in
                    try writeShortField(Array(negotiation.sopClassUID.utf8), into: &sub, what: "SOP class UID", pduType: pduType)
                    try writeShortField(Array(negotiation.serviceClassUID.utf8), into: &sub, what: "service class UID", pduType: pduType)
                    var related = ByteBuffer()
                    for uid in negotiation.relatedGeneralSOPClassUIDs {
                        try writeShortField(Array(uid.utf8), into: &related, what: "related general SOP class UID", pduType: pduType)
                    }
                    try writeShortField(Array(related.readableBytesView), into: &sub, what: "related general SOP class identification", pduType: pduType)
                }
            }
            if let identity = info.userIdentity {
                try writeItem(0x58, into: &item, pduType: pduType) {
                    $0.writeInteger(identity.kind.rawValue)
                    $0.writeInteger(UInt8(identity.positiveResponseRequested ? 1 : 0))
                    try writeShortField(identity.primaryField, into: &$0, what: "user identity primary field", pduType: pduType)
                    try writeShortField(identity.secondaryField, into: &$0, what: "user identity secondary field", pduType: pduType)
                }
            }
            if let response = info.userIdentityServerResponse {
                try writeItem(0x59, into: &item, pduType: pduType) {
                    try writeShortField(response, into: &$0, what: "user identity server response", pduType: pduType)
                }
            }
            try writeUnknownItems(info.unknownItems, into: &item, pduType: pduType)
        }
    }
}
