import DICOMCore
import Foundation
import NIOCore

/// Encoding and decoding of DIMSE command sets (PS3.7 §6.3, §E.1): group 0000 elements in Implicit VR
/// Little Endian, Command Group Length (0000,0000) first, always, whatever the presentation context's
/// transfer syntax.
///
/// The command set is a ``DataSet`` (DICOMCore), so a command reads and writes with the same accessors as
/// any data set; the typed messages (``CEchoRequest`` …) convert to and from it.
public enum CommandSet {
    /// The VR of each command element (PS3.7 Table E.1-1 and E.2-1); UN for unknown ones.
    public static func vr(for tag: Tag) -> VR {
        switch tag.element {
        case 0x0000, 0x0001: .UL
        case 0x0002, 0x0003, 0x1000, 0x1001: .UI
        case 0x0600, 0x1030: .AE
        case 0x0901, 0x1005: .AT
        case 0x0902: .LO
        case 0x0010, 0x0100, 0x0110, 0x0120, 0x0700, 0x0800, 0x0850, 0x0860, 0x0900, 0x0903,
             0x1002, 0x1008, 0x1020, 0x1021, 0x1022, 0x1023, 0x1031: .US
        default: .UN
        }
    }

    /// Encodes a command set: (0000,0000) is computed and written first, then the other elements in tag order.
    /// Values are written as stored, padded to even length with the VR's padding byte.
    /// - Throws: ``DICOMNetworkError`` `invalidCommandSet` for an element outside group 0000 or a sequence value.
    public static func encode(_ commandSet: DataSet, into buffer: inout ByteBuffer) throws {
        var body = ByteBuffer()
        for element in commandSet.elements where element.tag != .commandGroupLength {
            guard element.tag.group == 0 else {
                throw DICOMNetworkError(.invalidCommandSet, "element \(element.tag) is not in the command group 0000")
            }
            guard case .bytes(let value) = element.value else {
                throw DICOMNetworkError(.invalidCommandSet, "command element \(element.tag) holds a sequence or encapsulated value")
            }
            let padded = value.count & 1 == 1
            guard value.count + (padded ? 1 : 0) <= Int(UInt32.max) else {
                throw DICOMNetworkError(.invalidCommandSet, "command element \(element.tag) is too long")
            }
            body.writeInteger(element.tag.group, endianness: .little)
            body.writeInteger(element.tag.element, endianness: .little)
            body.writeInteger(UInt32(value.count + (padded ? 1 : 0)), endianness: .little)
            body.writeBytes(value)
            if padded { body.writeInteger(element.vr.paddingByte) }
        }
        buffer.writeInteger(UInt16(0), endianness: .little)
        buffer.writeInteger(UInt16(0), endianness: .little)
        buffer.writeInteger(UInt32(4), endianness: .little)
        buffer.writeInteger(UInt32(body.readableBytes), endianness: .little)
        buffer.writeBuffer(&body)
    }

    /// The encoded command set in a new buffer.
    public static func encode(_ commandSet: DataSet) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try encode(commandSet, into: &buffer)
        return buffer
    }

    /// Decodes a command set in Implicit VR Little Endian. VRs come from the command dictionary.
    /// A Command Group Length that disagrees with the bytes present is an error, as are elements outside
    /// group 0000, elements out of order, truncated headers and values overrunning the buffer.
    public static func decode(_ buffer: ByteBuffer) throws -> DataSet {
        var buffer = buffer
        let start = buffer.readerIndex
        var elements: [DataElement] = []
        var declaredGroupLength: (value: UInt32, end: Int)?
        while buffer.readableBytes > 0 {
            let offset = buffer.readerIndex - start
            guard buffer.readableBytes >= 8,
                  let group = buffer.readInteger(endianness: .little, as: UInt16.self),
                  let element = buffer.readInteger(endianness: .little, as: UInt16.self),
                  let length = buffer.readInteger(endianness: .little, as: UInt32.self) else {
                throw DICOMNetworkError(.invalidCommandSet, "command set ends inside an element header (\(buffer.readableBytes) bytes left)", offset: offset)
            }
            let tag = Tag(group, element)
            guard group == 0 else {
                throw DICOMNetworkError(.invalidCommandSet, "element \(tag) outside group 0000 in a command set", offset: offset)
            }
            guard length != 0xFFFF_FFFF, Int(length) <= buffer.readableBytes else {
                throw DICOMNetworkError(.invalidCommandSet, "command element \(tag) declares \(length) bytes but \(buffer.readableBytes) remain", offset: offset + 4)
            }
            if let last = elements.last, last.tag >= tag {
                throw DICOMNetworkError(.invalidCommandSet, "command element \(tag) follows \(last.tag); elements must ascend", offset: offset)
            }
            let value = Data(buffer.readBytes(length: Int(length))!)
            if tag == .commandGroupLength {
                guard value.count == 4 else {
                    throw DICOMNetworkError(.invalidCommandSet, "Command Group Length (0000,0000) has length \(value.count), not 4", offset: offset + 4)
                }
                let v = value.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
                declaredGroupLength = (v, buffer.readerIndex - start)
            }
            elements.append(DataElement(tag: tag, vr: vr(for: tag), bytes: value))
        }
        if let declared = declaredGroupLength, Int(declared.value) != buffer.readerIndex - start - declared.end {
            throw DICOMNetworkError(.invalidCommandSet,
                                    "Command Group Length (0000,0000) is \(declared.value) but \(buffer.readerIndex - start - declared.end) bytes follow it")
        }
        return DataSet(sortedElements: elements)
    }
}

/// The Command Field (0000,0100) (PS3.7 §E.1): which DIMSE service and whether request or response.
public struct CommandField: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let cStoreRequest = CommandField(rawValue: 0x0001)
    public static let cStoreResponse = CommandField(rawValue: 0x8001)
    public static let cGetRequest = CommandField(rawValue: 0x0010)
    public static let cGetResponse = CommandField(rawValue: 0x8010)
    public static let cFindRequest = CommandField(rawValue: 0x0020)
    public static let cFindResponse = CommandField(rawValue: 0x8020)
    public static let cMoveRequest = CommandField(rawValue: 0x0021)
    public static let cMoveResponse = CommandField(rawValue: 0x8021)
    public static let cEchoRequest = CommandField(rawValue: 0x0030)
    public static let cEchoResponse = CommandField(rawValue: 0x8030)
    public static let nEventReportRequest = CommandField(rawValue: 0x0100)
    public static let nEventReportResponse = CommandField(rawValue: 0x8100)
    public static let nGetRequest = CommandField(rawValue: 0x0110)
    public static let nGetResponse = CommandField(rawValue: 0x8110)
    public static let nSetRequest = CommandField(rawValue: 0x0120)
    public static let nSetResponse = CommandField(rawValue: 0x8120)
    public static let nActionRequest = CommandField(rawValue: 0x0130)
    public static let nActionResponse = CommandField(rawValue: 0x8130)
    public static let nCreateRequest = CommandField(rawValue: 0x0140)
    public static let nCreateResponse = CommandField(rawValue: 0x8140)
    public static let nDeleteRequest = CommandField(rawValue: 0x0150)
    public static let nDeleteResponse = CommandField(rawValue: 0x8150)
    public static let cCancelRequest = CommandField(rawValue: 0x0FFF)

    /// Responses have bit 15 set.
    public var isResponse: Bool { rawValue & 0x8000 != 0 }

    public var description: String {
        let names: [UInt16: String] = [
            0x0001: "C-STORE", 0x0010: "C-GET", 0x0020: "C-FIND", 0x0021: "C-MOVE", 0x0030: "C-ECHO",
            0x0100: "N-EVENT-REPORT", 0x0110: "N-GET", 0x0120: "N-SET", 0x0130: "N-ACTION", 0x0140: "N-CREATE",
            0x0150: "N-DELETE", 0x0FFF: "C-CANCEL",
        ]
        guard let name = names[rawValue & 0x7FFF] else { return "command field \(hexString(rawValue, digits: 4))H" }
        return name + (isResponse ? "-RSP" : "-RQ")
    }
}

/// Priority (0000,0700) (PS3.7 §9.1.1.1.4 and Table E.1-1).
public enum DIMSEPriority: UInt16, Sendable, CaseIterable {
    case medium = 0x0000
    case high = 0x0001
    case low = 0x0002
}

/// Command Data Set Type (0000,0800): 0101H means no data set follows; any other value means one does.
public enum CommandDataSetType {
    public static let none: UInt16 = 0x0101
    /// The value this toolkit writes when a data set follows.
    public static let present: UInt16 = 0x0000
}
