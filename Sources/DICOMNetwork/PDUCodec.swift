import DICOMCore
import Logging
import NIOCore

/// Frames a byte stream into ``PDU``s (PS3.8 §9.3.1): reads the 6-byte header, rejects a PDU whose
/// length exceeds ``maximumPDULength`` before buffering it, waits (without consuming) until the whole
/// PDU has arrived, and requires the body to be consumed exactly.
///
/// Add it with `ByteToMessageHandler(PDUDecoder(...))`, paired with ``PDUEncoder``. The first bytes of a
/// TLS ClientHello (16H 03H) produce a `tlsOnPlainPort` error instead of "unknown PDU type".
public struct PDUDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = PDU

    /// The default cap: 16 MiB, well above common Maximum Length values (16 KiB to 1 MiB).
    public static let defaultMaximumPDULength: UInt32 = 16 * 1024 * 1024

    /// The largest PDU-length field accepted; a longer PDU is an error (`pduTooLarge`) before any of it is buffered.
    /// Set it to at least the Maximum Length this side advertised (A-ASSOCIATE PDUs are not bound by that value).
    public var maximumPDULength: UInt32
    var logger: Logger?

    public init(maximumPDULength: UInt32 = PDUDecoder.defaultMaximumPDULength, logger: Logger? = nil) {
        self.maximumPDULength = maximumPDULength
        self.logger = logger
    }

    /// The length of a PDU header: type, reserved byte, 4-byte PDU-length.
    public static let headerLength = 6

    /// The whole size (header included) of the PDU starting at `buffer`'s reader index, once its header has arrived
    /// (nil before), after checking the header: a known PDU type, a length within ``maximumPDULength``, not TLS.
    /// - Throws: ``DICOMNetworkError`` `tlsOnPlainPort`, `unknownPDUType` or `pduTooLarge`.
    public func pduSize(in buffer: ByteBuffer) throws -> Int? {
        if let tls = ProtocolSniffing.tlsError(buffer) { throw tls }
        guard buffer.readableBytes >= Self.headerLength else { return nil }
        let start = buffer.readerIndex
        let typeByte = buffer.getInteger(at: start, as: UInt8.self)!
        guard let type = PDUType(rawValue: typeByte) else {
            throw DICOMNetworkError(.unknownPDUType, "unknown PDU type \(hexString(typeByte, digits: 2))H; the peer may not be speaking DICOM",
                                    pduType: typeByte, offset: 0)
        }
        let length = buffer.getInteger(at: start + 2, as: UInt32.self)!
        guard length <= maximumPDULength else {
            throw DICOMNetworkError(.pduTooLarge, "\(type) declares \(length) bytes, more than the maximum of \(maximumPDULength)",
                                    pduType: typeByte, offset: 2)
        }
        return Self.headerLength + Int(length)
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> PDU? {
        guard let size = try pduSize(in: buffer), buffer.readableBytes >= size else { return nil }
        let type = PDUType(rawValue: buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!)!
        let length = size - Self.headerLength
        buffer.moveReaderIndex(forwardBy: Self.headerLength)
        let body = buffer.readSlice(length: length)!
        let pdu = try PDU.decode(type: type, body: body)
        logger?.trace("received PDU", metadata: ["dicom.pdu": "\(type)", "dicom.pdu.length": "\(length)"])
        return pdu
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> PDU? {
        if let pdu = try decode(buffer: &buffer) { return pdu }
        if seenEOF && buffer.readableBytes > 0 {
            let count = buffer.readableBytes
            let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)
            buffer.moveReaderIndex(forwardBy: count)
            throw DICOMNetworkError(.truncated, "connection closed inside a PDU (\(count) bytes of an incomplete PDU received)",
                                    pduType: type, offset: 0)
        }
        return nil
    }
}

/// Encodes outbound ``PDU``s (PS3.8 §9.3). Add it with `MessageToByteHandler(PDUEncoder())`.
public struct PDUEncoder: MessageToByteEncoder {
    public typealias OutboundIn = PDU
    public init() {}
    public func encode(data: PDU, out: inout ByteBuffer) throws {
        try data.encode(into: &out)
    }
}

/// Recognizes a peer speaking the wrong protocol on a port: TLS on a plain DICOM port, or plain DICOM on a TLS port.
public enum ProtocolSniffing {
    /// Whether the bytes begin like a TLS record carrying a handshake (content type 16H, major version 03H),
    /// as a ClientHello does. Needs 2 bytes.
    public static func looksLikeTLS(_ buffer: ByteBuffer) -> Bool {
        guard buffer.readableBytes >= 2 else { return false }
        return buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0x16
            && buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == 0x03
    }

    /// Whether the bytes begin like an A-ASSOCIATE-RQ PDU (01H 00H, a length, then protocol version 0001H):
    /// a plain DICOM peer. A TLS server can check the first received bytes with this when the handshake fails.
    /// Needs 8 bytes.
    public static func looksLikePlainDICOM(_ buffer: ByteBuffer) -> Bool {
        guard buffer.readableBytes >= 8 else { return false }
        let i = buffer.readerIndex
        return buffer.getInteger(at: i, as: UInt8.self) == 0x01 && buffer.getInteger(at: i + 1, as: UInt8.self) == 0x00
            && buffer.getInteger(at: i + 6, as: UInt16.self)! & 1 == 1
    }

    /// The error for a TLS client on a plain port, or nil when the bytes do not look like TLS.
    public static func tlsError(_ buffer: ByteBuffer) -> DICOMNetworkError? {
        guard looksLikeTLS(buffer) else { return nil }
        return DICOMNetworkError(.tlsOnPlainPort,
                                 "peer is speaking TLS on a plain DICOM port (received a TLS handshake record, 16H 03H); enable TLS on this port or connect without TLS",
                                 pduType: 0x16, offset: 0)
    }

    /// The error a TLS server reports when the first bytes look like plain DICOM (see ``looksLikePlainDICOM(_:)``).
    public static let plainDICOMOnTLSPortError = DICOMNetworkError(
        .plainOnTLSPort, "peer is speaking plain DICOM on a TLS port (received an A-ASSOCIATE-RQ instead of a TLS ClientHello); connect with TLS or use the plain port",
        pduType: 0x01, offset: 0)
}
