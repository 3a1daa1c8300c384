import DICOMNetwork
@testable import DICOMServices
import NIOCore
import NIOEmbedded
import Testing

/// `PDUStreamHandler` hands the PDUs of one read burst to the consumer as one batch, once the event loop has finished
/// the read, and delivers what it holds before an error or the end of the connection.
struct PDUBatchTests {
    static func pdus() -> [PDU] {
        let command = ByteBuffer(bytes: (0..<40).map { UInt8($0) })
        let data = ByteBuffer(bytes: (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        return [
            .dataTransfer([PresentationDataValue(presentationContextID: 1, isCommand: true, isLastFragment: true, fragment: command)]),
            .dataTransfer([PresentationDataValue(presentationContextID: 1, isCommand: false, isLastFragment: true, fragment: data)]),
            .releaseRequest,
        ]
    }

    static func bytes(of pdus: [PDU]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for pdu in pdus { try pdu.encode(into: &buffer) }
        return buffer
    }

    /// A channel that frames PDUs and batches them into the returned stream.
    static func channel() throws -> (EmbeddedChannel, AsyncThrowingStream<[PDU], Error>, InboundBacklog) {
        let (stream, continuation) = AsyncThrowingStream<[PDU], Error>.makeStream()
        let backlog = InboundBacklog()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(PDUFrameHandler(maximumPDULength: 1 << 20))
        try channel.pipeline.syncOperations.addHandler(
            PDUStreamHandler(continuation: continuation, backlog: backlog, failure: ConnectionFailure()))
        return (channel, stream, backlog)
    }

    @Test func onePDUBatchPerReadBurst() async throws {
        let (channel, stream, _) = try Self.channel()
        var iterator = stream.makeAsyncIterator()
        let first = Self.pdus(), second: [PDU] = [.releaseResponse]
        // Two reads in one burst (before the loop runs its tasks), then a third read alone.
        try channel.writeInbound(try Self.bytes(of: Array(first.prefix(2))))
        try channel.writeInbound(try Self.bytes(of: Array(first.suffix(1))))
        channel.embeddedEventLoop.run()
        try channel.writeInbound(try Self.bytes(of: second))
        channel.embeddedEventLoop.run()
        _ = try channel.finish()
        #expect(try await iterator.next() == first)
        #expect(try await iterator.next() == second)
        #expect(try await iterator.next() == nil)
    }

    @Test func pdusBeforeAnErrorAreDeliveredFirst() async throws {
        let (channel, stream, _) = try Self.channel()
        var iterator = stream.makeAsyncIterator()
        var bytes = try Self.bytes(of: Self.pdus())
        bytes.writeBytes([0x09, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00])   // PDU type 09H does not exist
        // The error is raised within the read, before the batch task ran.
        try channel.writeInbound(bytes)
        channel.embeddedEventLoop.run()
        #expect(try await iterator.next() == Self.pdus())
        await #expect(throws: DICOMNetworkError.self) { _ = try await iterator.next() }
        _ = try? channel.finish()
    }

    @Test func pdusBeforeTheCloseAreDeliveredFirst() async throws {
        let (channel, stream, _) = try Self.channel()
        var iterator = stream.makeAsyncIterator()
        try channel.writeInbound(try Self.bytes(of: Self.pdus()))
        // Closed before the loop ran the batch task.
        _ = try channel.finish()
        #expect(try await iterator.next() == Self.pdus())
        #expect(try await iterator.next() == nil)
    }

    /// Back-pressure counts batches: reading pauses once `pauseAt` batches wait (EmbeddedChannel ignores the autoRead
    /// option, so the backlog's answers are checked: taking batches resumes reading only after a pause).
    @Test(arguments: [InboundBacklog.pauseAt - 1, InboundBacklog.pauseAt])
    func readingPausesWhenEnoughBatchesWait(_ batches: Int) throws {
        let (channel, stream, backlog) = try Self.channel()
        for _ in 0..<batches {
            try channel.writeInbound(try Self.bytes(of: [.releaseRequest]))
            channel.embeddedEventLoop.run()
        }
        var resumed = false
        for _ in 0..<batches { resumed = backlog.taken() || resumed }
        #expect(resumed == (batches >= InboundBacklog.pauseAt))
        withExtendedLifetime(stream) {}
        _ = try? channel.finish()
    }
}
