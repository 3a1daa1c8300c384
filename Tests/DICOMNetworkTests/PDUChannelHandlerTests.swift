import DICOMCore
@testable import DICOMNetwork
import NIOCore
import NIOEmbedded
import Testing

/// `PDUFrameHandler` frames PDUs from reads cut anywhere, and `PDUWriteHandler` writes exactly the bytes of
/// `PDU.encode(into:)`, whether it copies a fragment or hands it on as its own buffer.
struct PDUChannelHandlerTests {
    /// Three PDUs: a small P-DATA-TF (command), a large one (data set, 70,001 bytes), an A-RELEASE-RQ.
    static func samplePDUs() -> [PDU] {
        let command = ByteBuffer(bytes: (0..<40).map { UInt8($0) })
        let data = ByteBuffer(bytes: (0..<70_001).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        return [
            .dataTransfer([PresentationDataValue(presentationContextID: 1, isCommand: true, isLastFragment: true, fragment: command)]),
            .dataTransfer([PresentationDataValue(presentationContextID: 3, isCommand: false, isLastFragment: true, fragment: data)]),
            .releaseRequest,
        ]
    }

    static func bytes(of pdus: [PDU]) throws -> [UInt8] {
        var buffer = ByteBuffer()
        for pdu in pdus { try pdu.encode(into: &buffer) }
        return buffer.readBytes(length: buffer.readableBytes)!
    }

    /// Feeds `bytes` in reads of the given sizes (cycled) and returns the PDUs that came out.
    static func frame(_ bytes: [UInt8], readSizes: [Int], maximumPDULength: UInt32 = PDUDecoder.defaultMaximumPDULength) throws -> [PDU] {
        let channel = EmbeddedChannel(handler: PDUFrameHandler(maximumPDULength: maximumPDULength))
        var offset = 0, index = 0
        while offset < bytes.count {
            let size = min(readSizes[index % readSizes.count], bytes.count - offset)
            try channel.writeInbound(ByteBuffer(bytes: bytes[offset..<offset + size]))
            offset += size
            index += 1
        }
        var result: [PDU] = []
        while let pdu = try channel.readInbound(as: PDU.self) { result.append(pdu) }
        _ = try channel.finish()
        return result
    }

    @Test(arguments: [[1], [5], [6], [7], [4096], [65_536], [1_000_000], [3, 65_000, 2, 9_000, 11]])
    func framesPDUsFromReadsOfAnySize(_ readSizes: [Int]) throws {
        let pdus = Self.samplePDUs()
        #expect(try Self.frame(Self.bytes(of: pdus), readSizes: readSizes) == pdus)
    }

    @Test func framesEveryCutOfTheHeaderAndBody() throws {
        let pdus = Self.samplePDUs()
        let bytes = try Self.bytes(of: pdus)
        // A cut at every position in the first 60 bytes (headers and the first PDU's body), then the rest at once.
        for cut in 1..<60 {
            #expect(try Self.frame(bytes, readSizes: [cut, bytes.count]) == pdus, "cut at \(cut)")
        }
    }

    @Test func refusesAnOversizedPDUFromItsHeaderAndDropsWhatFollows() throws {
        let channel = EmbeddedChannel(handler: PDUFrameHandler(maximumPDULength: 1_000))
        // P-DATA-TF declaring 0xFFFFFFFF bytes: refused from the header, before any body is buffered.
        #expect {
            try channel.writeInbound(ByteBuffer(bytes: [0x04, 0x00, 0xFF, 0xFF]))
            try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0xFF, 0x00]))
        } throws: { ($0 as? DICOMNetworkError)?.code == .pduTooLarge }
        // Later bytes, even a valid PDU, are dropped after the error.
        try channel.writeInbound(ByteBuffer(bytes: try Self.bytes(of: [.releaseRequest])))
        #expect(try channel.readInbound(as: PDU.self) == nil)
        _ = try? channel.finish()
    }

    @Test func reportsAConnectionClosedInsideAPDU() throws {
        let channel = EmbeddedChannel(handler: PDUFrameHandler())
        let bytes = try Self.bytes(of: [.releaseRequest])
        try channel.writeInbound(ByteBuffer(bytes: bytes.dropLast(2)))
        #expect(try channel.readInbound(as: PDU.self) == nil)
        #expect { _ = try channel.finish() } throws: { error in
            guard let error = error as? DICOMNetworkError else { return false }
            return error.code == .truncated && error.message.contains("8 bytes")
        }
    }

    @Test func reportsTLSOnAPlainPort() throws {
        let channel = EmbeddedChannel(handler: PDUFrameHandler())
        #expect { try channel.writeInbound(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00])) } throws: {
            ($0 as? DICOMNetworkError)?.code == .tlsOnPlainPort
        }
        _ = try? channel.finish()
    }

    /// Everything the write handler passed on for `pdus` written as one batch, concatenated, and the number of buffers.
    static func written(_ pdus: [PDU]) throws -> (bytes: [UInt8], writes: Int) {
        let channel = EmbeddedChannel(handler: PDUWriteHandler())
        try channel.writeOutbound(OutboundPDUs(pdus))
        var bytes: [UInt8] = [], writes = 0
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(var buffer) = data else { Issue.record("unexpected file region"); continue }
            bytes += buffer.readBytes(length: buffer.readableBytes)!
            writes += 1
        }
        _ = try channel.finish()
        return (bytes, writes)
    }

    @Test func writesTheBytesOfEncode() throws {
        let pdus = Self.samplePDUs()
        let (bytes, writes) = try Self.written(pdus)
        #expect(bytes == (try Self.bytes(of: pdus)))
        // The command PDU and the large PDU's headers share a buffer, the large fragment is handed on as it is, the
        // A-RELEASE-RQ starts a new buffer.
        #expect(writes == 3)
    }

    @Test func writesManySmallPDUsAsOneBuffer() throws {
        let pdus = (0..<64).map { n in
            PDU.dataTransfer([PresentationDataValue(presentationContextID: 1, isCommand: n % 2 == 0, isLastFragment: true,
                                                    fragment: ByteBuffer(bytes: [UInt8](repeating: UInt8(n), count: 100 + n)))])
        }
        let (bytes, writes) = try Self.written(pdus)
        #expect(bytes == (try Self.bytes(of: pdus)))
        #expect(writes == 1)
    }

    @Test func writesSeveralValuesMixingCopiedAndHandedOnFragments() throws {
        let small = ByteBuffer(bytes: [1, 2, 3, 4])
        let large = ByteBuffer(bytes: [UInt8](repeating: 0xAB, count: 20_000))
        let pdu = PDU.dataTransfer([
            PresentationDataValue(presentationContextID: 1, isCommand: true, isLastFragment: true, fragment: small),
            PresentationDataValue(presentationContextID: 1, isCommand: false, isLastFragment: false, fragment: large),
            PresentationDataValue(presentationContextID: 1, isCommand: false, isLastFragment: true, fragment: small),
        ])
        #expect(try Self.written([pdu]).bytes == (try Self.bytes(of: [pdu])))
    }

    @Test func refusesAnEvenContextIDInAGatheredPDU() throws {
        let channel = EmbeddedChannel(handler: PDUWriteHandler())
        let pdu = PDU.dataTransfer([PresentationDataValue(presentationContextID: 2, isCommand: false, isLastFragment: true,
                                                          fragment: ByteBuffer(bytes: [UInt8](repeating: 0, count: 10_000)))])
        // The whole batch is refused: not even the valid A-RELEASE-RQ before it is written.
        #expect { try channel.writeOutbound(OutboundPDUs([.releaseRequest, pdu])) } throws: {
            ($0 as? DICOMNetworkError)?.code == .invalidPresentationContextID
        }
        #expect(try channel.readOutbound(as: IOData.self) == nil)
        _ = try? channel.finish()
    }
}
