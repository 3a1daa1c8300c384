import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import DICOMNetwork

@Suite struct PDUDecoderTests {
    static let samples: [PDU] = [
        .associateRequest(PDUTests.associateRequest),
        .associateAccept(PDUTests.associateAccept),
        .associateReject(AssociationReject(result: .rejectedTransient, reason: .localLimitExceeded)),
        .dataTransfer([PresentationDataValue(presentationContextID: 3, isCommand: false, isLastFragment: true,
                                             fragment: ByteBuffer(bytes: Array(0..<200)))]),
        .releaseRequest,
        .releaseResponse,
        .abort(.serviceUser),
    ]

    @Test func verifierByteByByteAndCoalesced() throws {
        // ByteToMessageDecoderVerifier drip-feeds every input byte by byte, coalesces them, and checks leftovers.
        let pairs = try Self.samples.map { (try $0.encoded(), [$0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { PDUDecoder() }
    }

    @Test func embeddedChannelRoundTrip() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PDUDecoder()))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(PDUEncoder()))
        for pdu in Self.samples {
            try channel.writeOutbound(pdu)
            let wire = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(wire == (try pdu.encoded()))
            try channel.writeInbound(wire)
            #expect(try channel.readInbound(as: PDU.self) == pdu)
        }
        #expect(try channel.finish().isClean)
    }

    @Test func partialFrameWaitsWithoutConsuming() throws {
        var decoder = PDUDecoder()
        var wire = try PDU.associateRequest(PDUTests.associateRequest).encoded()
        var partial = wire.readSlice(length: 100)!
        #expect(try decoder.decode(buffer: &partial) == nil)
        #expect(partial.readableBytes == 100)  // rewound: nothing consumed
        partial.writeBuffer(&wire)
        #expect(try decoder.decode(buffer: &partial) == .associateRequest(PDUTests.associateRequest))
        #expect(partial.readableBytes == 0)
    }

    @Test func hugeLengthRejectedBeforeBuffering() {
        var decoder = PDUDecoder(maximumPDULength: 1 << 20)
        var header = buffer([0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xFF])  // P-DATA-TF, PDU-length FFFFFFFFH, no body yet
        let error = networkError { _ = try decoder.decode(buffer: &header) }
        #expect(error?.code == .pduTooLarge)
        #expect(error?.offset == 2)
        // Exactly at the cap is fine (waits for the body).
        var atCap = buffer([0x04, 0x00, 0x00, 0x10, 0x00, 0x00])
        #expect(networkError { _ = try decoder.decode(buffer: &atCap) } == nil)
    }

    @Test func hugeLengthThroughChannel() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PDUDecoder()))
        #expect(throws: DICOMNetworkError.self) { try channel.writeInbound(buffer([0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xFF])) }
        _ = try? channel.finish()
    }

    @Test func tlsClientHelloOnPlainPort() throws {
        var decoder = PDUDecoder()
        var hello = buffer([0x16, 0x03])  // two bytes are enough to tell
        let error = networkError { _ = try decoder.decode(buffer: &hello) }
        #expect(error?.code == .tlsOnPlainPort)
        #expect(ProtocolSniffing.looksLikeTLS(buffer([0x16, 0x03, 0x01])))
        #expect(!ProtocolSniffing.looksLikeTLS(buffer([0x01, 0x00])))
    }

    @Test func plainDICOMOnTLSPortHelper() throws {
        let wire = try PDU.associateRequest(PDUTests.associateRequest).encoded()
        #expect(ProtocolSniffing.looksLikePlainDICOM(wire))
        #expect(!ProtocolSniffing.looksLikePlainDICOM(buffer([0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00])))
        #expect(ProtocolSniffing.plainDICOMOnTLSPortError.code == .plainOnTLSPort)
    }

    @Test func unknownTypeAndTruncationAtEOF() throws {
        var decoder = PDUDecoder()
        var unknown = buffer([0x08, 0x00, 0x00, 0x00, 0x00, 0x00])
        #expect(networkError { _ = try decoder.decode(buffer: &unknown) }?.code == .unknownPDUType)
        var truncated = buffer([0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00])
        #expect(try decoder.decode(buffer: &truncated) == nil)
        #expect(networkError { _ = try decoder.decodeLast(buffer: &truncated, seenEOF: true) }?.code == .truncated)
    }

    @Test func bodyMustBeConsumedExactly() {
        var decoder = PDUDecoder()
        // A-ABORT with PDU-length 5: one byte more than its fields.
        var wire = buffer([0x07, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00])
        #expect(networkError { _ = try decoder.decode(buffer: &wire) }?.code == .invalidLength)
    }
}
