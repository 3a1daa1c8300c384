import Foundation
import DICOMCore
import NIOCore
import Testing
@testable import DICOMNetwork

@Suite struct PDataTests {
    static let ct = "1.2.840.10008.5.1.4.1.1.2"
    static let store = CStoreRequest(messageID: 1, affectedSOPClassUID: ct, affectedSOPInstanceUID: "1.2.3.4")
    static let dataSet = ByteBuffer(bytes: (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })

    @Test func fragmentsA100kBDataSetAt16384() throws {
        let fragmenter = PDataFragmenter(maximumPDULength: 16384)
        #expect(fragmenter.maximumFragmentLength == 16378)  // 16384 - 4 (PDV item length) - 1 (context ID) - 1 (control header)
        let pdus = try fragmenter.pdus(for: Self.store, dataSet: Self.dataSet, presentationContextID: 3)
        // One command PDU, then ceil(100000 / 16378) = 7 data PDUs.
        #expect(pdus.count == 8)
        var wire = ByteBuffer()
        var values: [PresentationDataValue] = []
        for pdu in pdus {
            let encoded = try pdu.encoded()
            let length = encoded.getInteger(at: 2, as: UInt32.self)!
            #expect(length <= 16384, "PDU-length field within the peer's maximum")
            var copy = encoded
            wire.writeBuffer(&copy)
            guard case .dataTransfer(let pdvs) = pdu else { Issue.record("not P-DATA"); continue }
            values += pdvs
        }
        #expect(values.first?.isCommand == true && values.first?.isLastFragment == true)
        let data = values.dropFirst()
        #expect(data.allSatisfy { !$0.isCommand && $0.presentationContextID == 3 })
        #expect(data.map(\.isLastFragment) == [false, false, false, false, false, false, true])
        #expect(data.map { $0.fragment.readableBytes } == [16378, 16378, 16378, 16378, 16378, 16378, 1732])

        // The wire bytes decode with a decoder capped at 16384 and reassemble in chunks.
        var decoder = PDUDecoder(maximumPDULength: 16384)
        var assembler = DIMSEMessageAssembler(acceptedContextIDs: [1, 3])
        var events: [DIMSEMessageAssembler.Event] = []
        while let pdu = try decoder.decode(buffer: &wire) {
            guard case .dataTransfer(let pdvs) = pdu else { Issue.record("not P-DATA"); continue }
            events += try assembler.receive(pdvs)
        }
        #expect(wire.readableBytes == 0)
        #expect(events.count == 8)
        #expect(events.first == .command(.cStoreRequest(Self.store), presentationContextID: 3))
        var reassembled = ByteBuffer()
        var chunks = 0
        for case .dataSetFragment(var chunk, let id, let isLast) in events {
            #expect(id == 3)
            #expect(isLast == (chunks == 6))
            chunks += 1
            reassembled.writeBuffer(&chunk)
        }
        #expect(chunks == 7)
        #expect(reassembled == Self.dataSet)
        #expect(assembler.isIdle)
    }

    @Test func unlimitedMaximumLength() throws {
        let fragmenter = PDataFragmenter(maximumPDULength: 0)
        let pdus = fragmenter.pdus(for: Self.dataSet, presentationContextID: 1, isCommand: false)
        #expect(pdus.count == 1)
        let small = PDataFragmenter(maximumPDULength: 0, unlimitedFragmentLength: 40_000)
        #expect(small.pdus(for: Self.dataSet, presentationContextID: 1, isCommand: false).count == 3)
    }

    @Test func streamingChunksMarkOnlyTheFinalFragment() {
        let fragmenter = PDataFragmenter(maximumPDULength: 16384)
        var source = Self.dataSet
        var lastBits: [Bool] = []
        while source.readableBytes > 0 {
            let chunk = source.readSlice(length: min(30_000, source.readableBytes))!
            for pdu in fragmenter.pdus(for: chunk, presentationContextID: 1, isCommand: false, isLast: source.readableBytes == 0) {
                guard case .dataTransfer(let values) = pdu else { continue }
                lastBits += values.map(\.isLastFragment)
            }
        }
        #expect(lastBits.filter { $0 }.count == 1)
        #expect(lastBits.last == true)
        // An empty final chunk still produces one (empty) last fragment.
        let empty = fragmenter.pdus(for: ByteBuffer(), presentationContextID: 1, isCommand: false, isLast: true)
        #expect(empty.count == 1)
    }

    @Test func dataSetPresenceMustMatchTheCommand() {
        let fragmenter = PDataFragmenter(maximumPDULength: 16384)
        #expect(networkError { _ = try fragmenter.pdus(for: Self.store, dataSet: nil, presentationContextID: 1) } != nil)
        #expect(networkError { _ = try fragmenter.pdus(for: CEchoRequest(messageID: 1), dataSet: Self.dataSet, presentationContextID: 1) } != nil)
    }

    static func pdv(_ id: UInt8, command: Bool, last: Bool, _ bytes: ByteBuffer = ByteBuffer(bytes: [1, 2])) -> PresentationDataValue {
        PresentationDataValue(presentationContextID: id, isCommand: command, isLastFragment: last, fragment: bytes)
    }

    static var echoCommand: ByteBuffer { try! CommandSet.encode(CEchoRequest(messageID: 1).commandSet) }
    static var storeCommand: ByteBuffer { try! CommandSet.encode(store.commandSet) }

    @Test func commandInSeveralFragments() throws {
        var assembler = DIMSEMessageAssembler(acceptedContextIDs: [1])
        var command = Self.echoCommand
        let first = command.readSlice(length: 10)!
        #expect(try assembler.receive(Self.pdv(1, command: true, last: false, first)) == nil)
        #expect(!assembler.isIdle)
        #expect(try assembler.receive(Self.pdv(1, command: true, last: true, command)) == .command(.cEchoRequest(CEchoRequest(messageID: 1)), presentationContextID: 1))
        #expect(assembler.isIdle)
    }

    @Test func protocolErrors() throws {
        // PDV for a context that was not accepted.
        var a = DIMSEMessageAssembler(acceptedContextIDs: [1])
        #expect(networkError { _ = try a.receive(Self.pdv(5, command: true, last: true, Self.echoCommand)) }?.code == .protocolError)
        // Data before any command.
        a = DIMSEMessageAssembler(acceptedContextIDs: [1])
        #expect(networkError { _ = try a.receive(Self.pdv(1, command: false, last: true)) }?.message.contains("before any command") == true)
        // Data before the command's last fragment.
        a = DIMSEMessageAssembler(acceptedContextIDs: [1, 3])
        _ = try a.receive(Self.pdv(1, command: true, last: false))
        #expect(networkError { _ = try a.receive(Self.pdv(1, command: false, last: true)) }?.code == .protocolError)
        // Switching context inside a command.
        a = DIMSEMessageAssembler(acceptedContextIDs: [1, 3])
        _ = try a.receive(Self.pdv(1, command: true, last: false))
        #expect(networkError { _ = try a.receive(Self.pdv(3, command: true, last: true)) }?.code == .protocolError)
        // A command fragment after the command's last fragment, while its data set is expected.
        a = DIMSEMessageAssembler(acceptedContextIDs: [1, 3])
        _ = try a.receive(Self.pdv(1, command: true, last: true, Self.storeCommand))
        #expect(a.commandAwaitingDataSet == .cStoreRequest(Self.store))
        #expect(networkError { _ = try a.receive(Self.pdv(1, command: true, last: true, Self.echoCommand)) }?.message.contains("command fragment") == true)
        // Data set on another context.
        a = DIMSEMessageAssembler(acceptedContextIDs: [1, 3])
        _ = try a.receive(Self.pdv(1, command: true, last: true, Self.storeCommand))
        #expect(networkError { _ = try a.receive(Self.pdv(3, command: false, last: true)) }?.code == .protocolError)
        // Data after a command that has no data set.
        a = DIMSEMessageAssembler(acceptedContextIDs: [1])
        _ = try a.receive(Self.pdv(1, command: true, last: true, Self.echoCommand))
        #expect(networkError { _ = try a.receive(Self.pdv(1, command: false, last: true)) }?.code == .protocolError)
        // Command set over the limit.
        a = DIMSEMessageAssembler(acceptedContextIDs: [1], maximumCommandLength: 16)
        #expect(networkError { _ = try a.receive(Self.pdv(1, command: true, last: false, ByteBuffer(bytes: [UInt8](repeating: 0, count: 17)))) }?.code == .limitExceeded)
        // Garbage command bytes.
        a = DIMSEMessageAssembler(acceptedContextIDs: [1])
        #expect(networkError { _ = try a.receive(Self.pdv(1, command: true, last: true, ByteBuffer(bytes: [1, 2, 3]))) }?.code == .invalidCommandSet)
    }

    @Test func accumulatorCollectsSmallMessages() throws {
        let find = "1.2.840.10008.5.1.4.1.2.2.1"
        let fragmenter = PDataFragmenter(maximumPDULength: 64)
        let identifier = ByteBuffer(bytes: [UInt8](repeating: 0x41, count: 150))
        var pdus = try fragmenter.pdus(for: CFindResponse(messageIDBeingRespondedTo: 4, affectedSOPClassUID: find, status: .pending),
                                       dataSet: identifier, presentationContextID: 1)
        pdus += try fragmenter.pdus(for: CFindResponse(messageIDBeingRespondedTo: 4, affectedSOPClassUID: find, status: .success),
                                    dataSet: nil, presentationContextID: 1)
        var accumulator = DIMSEMessageAccumulator(assembler: DIMSEMessageAssembler(acceptedContextIDs: [1]))
        var messages: [AssembledMessage] = []
        for case .dataTransfer(let values) in pdus { messages += try accumulator.receive(values) }
        #expect(messages.count == 2)
        #expect(messages[0].dataSetData == Data(repeating: 0x41, count: 150))
        #expect(messages[1].dataSet == nil)
        guard case .cFindResponse(let final) = messages[1].command else { Issue.record("not C-FIND-RSP"); return }
        #expect(final.status.isSuccess)
        // The limit on accumulated data.
        var limited = DIMSEMessageAccumulator(assembler: DIMSEMessageAssembler(acceptedContextIDs: [1]), maximumDataSetLength: 100)
        var failure: DICOMNetworkError?
        for case .dataTransfer(let values) in pdus {
            do { _ = try limited.receive(values) } catch let error as DICOMNetworkError { failure = error; break }
        }
        #expect(failure?.code == .limitExceeded)
    }
}
