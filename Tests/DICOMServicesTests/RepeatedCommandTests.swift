import DICOMCore
import DICOMNetwork
import Foundation
import NIOCore
import Testing
@testable import DICOMServices

/// The requestor's shortcut for pending responses whose command set repeats the previous one byte for byte
/// (``RepeatedCommand``): it gives what ``DIMSEMessageAssembler`` gives for such a PDU, and nothing for any other shape.
@Suite struct RepeatedCommandTests {
    static func command(messageID: UInt16, status: DIMSEStatus = .pending) throws -> ByteBuffer {
        try CommandSet.encode(CFindResponse(messageIDBeingRespondedTo: messageID, affectedSOPClassUID: QueryRetrieveModel.studyRootFind,
                                            status: status, hasDataSet: true).commandSet)
    }

    static func pdv(_ bytes: ByteBuffer, command: Bool, last: Bool = true, context: UInt8 = 1) -> PresentationDataValue {
        PresentationDataValue(presentationContextID: context, isCommand: command, isLastFragment: last, fragment: bytes)
    }

    static let identifier = ByteBuffer(bytes: [0x08, 0x00, 0x52, 0x00, 0x43, 0x53, 0x06, 0x00] + Array("STUDY ".utf8))

    /// Learns from a whole response decoded by the assembler, then answers a repeat exactly as the assembler would.
    @Test func repeatGivesWhatTheAssemblerGives() throws {
        let values = [Self.pdv(try Self.command(messageID: 9), command: true), Self.pdv(Self.identifier, command: false)]
        var assembler = DIMSEMessageAssembler(acceptedContextIDs: [1, 3])
        let repeated = try #require(RepeatedCommand(values, try assembler.receive(values)))
        let other = ByteBuffer(bytes: Array(Self.identifier.readableBytesView) + [0x10, 0x00, 0x10, 0x00, 0x50, 0x4E, 0x00, 0x00])
        let next = [Self.pdv(try Self.command(messageID: 9), command: true), Self.pdv(other, command: false)]
        #expect(repeated.dataSet(repeating: next) == other)
        let events = try assembler.receive(next)
        #expect(events == [.command(repeated.command, presentationContextID: 1), .dataSetFragment(other, presentationContextID: 1, isLast: true)])
        #expect(assembler.isIdle)
    }

    @Test func otherShapesAreNotRepeats() throws {
        let command = try Self.command(messageID: 9)
        let values = [Self.pdv(command, command: true), Self.pdv(Self.identifier, command: false)]
        var assembler = DIMSEMessageAssembler(acceptedContextIDs: [1, 3])
        let repeated = try #require(RepeatedCommand(values, try assembler.receive(values)))
        // Another message ID, another status, another context, fragments that are not last, other PDV counts.
        #expect(repeated.dataSet(repeating: [Self.pdv(try Self.command(messageID: 10), command: true), Self.pdv(Self.identifier, command: false)]) == nil)
        #expect(repeated.dataSet(repeating: [Self.pdv(try Self.command(messageID: 9, status: .success), command: true),
                                             Self.pdv(Self.identifier, command: false)]) == nil)
        #expect(repeated.dataSet(repeating: [Self.pdv(command, command: true, context: 3), Self.pdv(Self.identifier, command: false, context: 3)]) == nil)
        #expect(repeated.dataSet(repeating: [Self.pdv(command, command: true), Self.pdv(Self.identifier, command: false, context: 3)]) == nil)
        #expect(repeated.dataSet(repeating: [Self.pdv(command, command: true), Self.pdv(Self.identifier, command: false, last: false)]) == nil)
        #expect(repeated.dataSet(repeating: [Self.pdv(command, command: true, last: false), Self.pdv(Self.identifier, command: false)]) == nil)
        #expect(repeated.dataSet(repeating: [Self.pdv(command, command: true)]) == nil)
        #expect(repeated.dataSet(repeating: [Self.pdv(command, command: true), Self.pdv(Self.identifier, command: false),
                                             Self.pdv(Self.identifier, command: false)]) == nil)
    }

    @Test func onlyAWholeCommandWithItsWholeDataSetIsLearnt() throws {
        let command = try Self.command(messageID: 9)
        // The command alone (its data set in the next PDU): nothing learnt.
        var assembler = DIMSEMessageAssembler(acceptedContextIDs: [1])
        let alone = [Self.pdv(command, command: true)]
        #expect(RepeatedCommand(alone, try assembler.receive(alone)) == nil)
        // A data set in two fragments: the first PDU holds the command and a fragment that is not the last.
        assembler = DIMSEMessageAssembler(acceptedContextIDs: [1])
        let split = [Self.pdv(command, command: true), Self.pdv(Self.identifier, command: false, last: false)]
        #expect(RepeatedCommand(split, try assembler.receive(split)) == nil)
        // A command without a data set (the final response).
        assembler = DIMSEMessageAssembler(acceptedContextIDs: [1])
        let final = try CommandSet.encode(CFindResponse(messageIDBeingRespondedTo: 9, affectedSOPClassUID: QueryRetrieveModel.studyRootFind,
                                                        status: .success, hasDataSet: false).commandSet)
        let finalValues = [Self.pdv(final, command: true)]
        #expect(RepeatedCommand(finalValues, try assembler.receive(finalValues)) == nil)
    }
}
