import DICOMCore
import Logging
import NIOCore

/// Frames received bytes into ``PDU``s without moving them: a PDU that lies whole in one read is decoded from that
/// read's buffer (its P-DATA fragments are slices of it), and only a PDU that spans reads is gathered, once, into a
/// buffer of its own. Validation is ``PDUDecoder``'s: a PDU longer than the maximum is refused from its header, before
/// any of its body is buffered, and the first bytes of a TLS ClientHello give a `tlsOnPlainPort` error.
///
/// NIO's `ByteToMessageHandler` keeps one cumulation buffer that it appends to and compacts; the fragments handed on
/// (still referenced while they are written to disk) make every append and compaction copy the whole buffer. This
/// handler never writes into a buffer that a fragment handed on may share.
///
/// After an error (an invalid header, a PDU that cannot be decoded) the handler reports it with `fireErrorCaught` and
/// drops whatever arrives afterwards. When the connection closes inside a PDU, a `truncated` error is reported before
/// `channelInactive`.
public final class PDUFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = PDU

    /// The largest buffer reserved up front for a PDU spanning reads; a longer PDU's buffer grows as its bytes arrive.
    static let initialGatherCapacity = 1 << 20

    private var decoder: PDUDecoder
    /// The bytes received so far of a PDU that spans reads.
    private var partial: ByteBuffer?
    /// The whole size (header included) of ``partial``'s PDU once its header is complete; 0 before.
    private var partialSize = 0
    private var failed = false

    public init(maximumPDULength: UInt32 = PDUDecoder.defaultMaximumPDULength, logger: Logger? = nil) {
        decoder = PDUDecoder(maximumPDULength: maximumPDULength, logger: logger)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = unwrapInboundIn(data)
        do {
            if partial != nil {
                guard let pdu = try gather(from: &input, allocator: context.channel.allocator) else { return }
                context.fireChannelRead(wrapInboundOut(pdu))
            }
            while !failed, let pdu = try decoder.decode(buffer: &input) {
                context.fireChannelRead(wrapInboundOut(pdu))
            }
            if !failed && input.readableBytes > 0 {
                try startGathering(&input, allocator: context.channel.allocator)
            }
        } catch {
            failed = true
            partial = nil
            context.fireErrorCaught(error)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if !failed, let partial, partial.readableBytes > 0 {
            failed = true
            let type = partial.getInteger(at: partial.readerIndex, as: UInt8.self)
            self.partial = nil
            context.fireErrorCaught(DICOMNetworkError(
                .truncated, "connection closed inside a PDU (\(partial.readableBytes) bytes of an incomplete PDU received)",
                pduType: type, offset: 0))
        }
        context.fireChannelInactive()
    }

    /// Begins gathering the incomplete PDU at the start of `input` (all of `input`'s remaining bytes).
    private func startGathering(_ input: inout ByteBuffer, allocator: ByteBufferAllocator) throws {
        let size = try decoder.pduSize(in: input) ?? 0
        var buffer = allocator.buffer(capacity: size > 0 ? min(size, Self.initialGatherCapacity) : PDUDecoder.headerLength)
        buffer.writeBuffer(&input)
        partial = buffer
        partialSize = size
    }

    /// Adds bytes from `input` to the PDU being gathered; returns it decoded once complete (`input` then holds what
    /// follows it), nil while more bytes are needed (`input` is then empty).
    private func gather(from input: inout ByteBuffer, allocator: ByteBufferAllocator) throws -> PDU? {
        // Taken out of the property, so that this is the only reference and writing does not copy it.
        guard var buffer = partial.take() else { return nil }
        if partialSize == 0 {
            var head = input.readSlice(length: min(PDUDecoder.headerLength - buffer.readableBytes, input.readableBytes))!
            buffer.writeBuffer(&head)
            guard let size = try decoder.pduSize(in: buffer) else {
                partial = buffer
                return nil
            }
            partialSize = size
            buffer.reserveCapacity(minimumWritableBytes: min(size, Self.initialGatherCapacity) - buffer.readableBytes)
        }
        var body = input.readSlice(length: min(partialSize - buffer.readableBytes, input.readableBytes))!
        buffer.writeBuffer(&body)
        guard buffer.readableBytes == partialSize else {
            partial = buffer
            return nil
        }
        partialSize = 0
        guard let pdu = try decoder.decode(buffer: &buffer) else {
            throw DICOMNetworkError(.truncated, "a gathered PDU of \(buffer.readableBytes) bytes did not decode as complete")
        }
        return pdu
    }
}

/// PDUs written together: one pass through the pipeline and, for small PDUs, one buffer for all of them.
public struct OutboundPDUs: Sendable {
    public var pdus: [PDU]
    public init(_ pdus: [PDU]) { self.pdus = pdus }
}

/// Writes outbound PDUs (``OutboundPDUs``, written in order). Small PDUs are encoded one after another into one buffer;
/// a large P-DATA fragment goes out as its own buffer behind its headers (gathered by `writev`, not copied). A batch of
/// 64 C-FIND responses is then one pipeline pass and one buffer instead of 64 of each.
public final class PDUWriteHandler: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = OutboundPDUs
    public typealias OutboundOut = IOData

    /// Fragments up to this size are copied next to their header; larger ones are written as they are.
    static let copyLimit = 8 * 1024

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let pdus = unwrapOutboundIn(data).pdus
        do {
            var parts: [ByteBuffer] = []
            var buffer = context.channel.allocator.buffer(capacity: Self.copiedLength(of: pdus))
            for pdu in pdus {
                if case .dataTransfer(let values) = pdu, values.contains(where: { $0.fragment.readableBytes > Self.copyLimit }) {
                    try Self.appendGathered(values, to: &buffer, parts: &parts, allocator: context.channel.allocator)
                } else {
                    try pdu.encode(into: &buffer)
                }
            }
            if buffer.readableBytes > 0 || parts.isEmpty { parts.append(buffer) }
            for part in parts.dropLast() { context.write(wrapOutboundOut(.byteBuffer(part)), promise: nil) }
            context.write(wrapOutboundOut(.byteBuffer(parts[parts.count - 1])), promise: promise)
        } catch {
            // Nothing of the batch was written.
            promise?.fail(error)
            context.fireErrorCaught(error)
        }
    }

    /// The bytes the batch puts in the shared buffer: everything but the large fragments (estimated for association
    /// PDUs, which are rare and grow the buffer when longer).
    static func copiedLength(of pdus: [PDU]) -> Int {
        var total = 0
        for pdu in pdus {
            if case .dataTransfer(let values) = pdu {
                total += 6
                for value in values {
                    total += 6 + (value.fragment.readableBytes > copyLimit ? 0 : value.fragment.readableBytes)
                }
            } else {
                total += 256
            }
        }
        return total
    }

    /// A P-DATA-TF with large fragments: the PDU header and each PDV item header into `buffer`, each large fragment
    /// as its own part (a slice of the caller's buffer, not a copy) after what `buffer` holds so far.
    private static func appendGathered(_ values: [PresentationDataValue], to buffer: inout ByteBuffer, parts: inout [ByteBuffer],
                                       allocator: ByteBufferAllocator) throws {
        let length = values.reduce(0) { $0 + $1.encodedLength }
        guard length <= Int(UInt32.max) else {
            throw DICOMNetworkError(.invalidLength, "PDU body of \(length) bytes does not fit a 32-bit length", pduType: PDUType.dataTransfer.rawValue)
        }
        buffer.writeInteger(PDUType.dataTransfer.rawValue)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(length))
        for value in values {
            guard PresentationContext.isValidID(value.presentationContextID) else {
                throw DICOMNetworkError(.invalidPresentationContextID, "presentation context ID \(value.presentationContextID) is not odd",
                                        pduType: PDUType.dataTransfer.rawValue)
            }
            buffer.writeInteger(UInt32(2 + value.fragment.readableBytes))
            buffer.writeInteger(value.presentationContextID)
            buffer.writeInteger(value.messageControlHeader)
            if value.fragment.readableBytes <= copyLimit {
                var fragment = value.fragment
                buffer.writeBuffer(&fragment)
            } else {
                parts.append(buffer)
                parts.append(value.fragment)
                buffer = allocator.buffer(capacity: 6 * values.count + 64)
            }
        }
    }
}
