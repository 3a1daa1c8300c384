import DICOMCore
import Foundation
import NIOCore
import Testing
@testable import DICOMNetwork

@Suite struct DIMSETests {
    /// C-ECHO-RQ command set by hand (PS3.7 Table 9.3-12, Implicit VR Little Endian, PS3.5 §7.1.3):
    /// tag group, tag element, 32-bit length, value — all little endian.
    static let echoRequestBytes: [UInt8] =
        [0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00] +  // (0000,0000) UL 56
        [0x00, 0x00, 0x02, 0x00, 0x12, 0x00, 0x00, 0x00] + ascii("1.2.840.10008.1.1") + [0x00] +  // (0000,0002) UI, NUL padded to 18
        [0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x30, 0x00] +  // (0000,0100) Command Field 0030H
        [0x00, 0x00, 0x10, 0x01, 0x02, 0x00, 0x00, 0x00, 0x07, 0x00] +  // (0000,0110) Message ID 7
        [0x00, 0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01]    // (0000,0800) Command Data Set Type 0101H (none)

    @Test func echoRequestGoldenBytes() throws {
        let encoded = try CommandSet.encode(CEchoRequest(messageID: 7).commandSet)
        #expect(Array(encoded.readableBytesView) == Self.echoRequestBytes)
        let dataSet = try CommandSet.decode(buffer(Self.echoRequestBytes))
        #expect(dataSet[.commandGroupLength]?.vr == .UL)
        #expect(dataSet[.affectedSOPClassUID]?.vr == .UI)
        #expect(try DIMSECommand(commandSet: dataSet) == .cEchoRequest(CEchoRequest(messageID: 7)))
    }

    @Test func echoResponse() throws {
        let response = CEchoResponse(answering: CEchoRequest(messageID: 7))
        let decoded = try DIMSECommand(commandSet: CommandSet.decode(CommandSet.encode(response.commandSet)))
        #expect(decoded == .cEchoResponse(response))
        #expect(response.messageIDBeingRespondedTo == 7)
        #expect(!decoded.hasDataSet)
        #expect(decoded.commandField == .cEchoResponse)
        #expect(decoded.commandField.description == "C-ECHO-RSP")
    }

    static let allMessages: [DIMSECommand] = [
        .cEchoRequest(CEchoRequest(messageID: 1)),
        .cEchoResponse(CEchoResponse(messageIDBeingRespondedTo: 1, status: .success)),
        .cStoreRequest(CStoreRequest(messageID: 2, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2", affectedSOPInstanceUID: "1.2.3.4.5",
                                     priority: .high, moveOriginatorAETitle: "MOVESCU", moveOriginatorMessageID: 99)),
        .cStoreResponse(CStoreResponse(messageIDBeingRespondedTo: 2, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2",
                                       affectedSOPInstanceUID: "1.2.3.4.5", status: .dataSetDoesNotMatchSOPClassWarning,
                                       offendingElements: [Tag(0x0010, 0x0010), Tag(0x0008, 0x0018)], errorComment: "odd")),
        .cFindRequest(CFindRequest(messageID: 3, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.2.2.1", priority: .low)),
        .cFindResponse(CFindResponse(messageIDBeingRespondedTo: 3, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.2.2.1", status: .pending)),
        .cFindResponse(CFindResponse(messageIDBeingRespondedTo: 3, affectedSOPClassUID: nil, status: .success)),
        .cGetRequest(CGetRequest(messageID: 4, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.2.2.3")),
        .cGetResponse(CGetResponse(messageIDBeingRespondedTo: 4, affectedSOPClassUID: nil, status: .pending,
                                   suboperations: SuboperationCounts(remaining: 5, completed: 1, failed: 0, warning: 0))),
        .cMoveRequest(CMoveRequest(messageID: 5, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.2.2.2", moveDestination: "ARCHIVE")),
        .cMoveResponse(CMoveResponse(messageIDBeingRespondedTo: 5, affectedSOPClassUID: nil, status: .coercionOfDataElements,
                                     suboperations: SuboperationCounts(remaining: 0, completed: 3, failed: 1, warning: 0), hasDataSet: true)),
        .cCancelRequest(CCancelRequest(messageIDBeingRespondedTo: 3)),
        .nEventReportRequest(NEventReportRequest(messageID: 6, affectedSOPClassUID: "1.2.840.10008.1.20.1", affectedSOPInstanceUID: "1.2.840.10008.1.20.1.1", eventTypeID: 1)),
        .nEventReportResponse(NEventReportResponse(messageIDBeingRespondedTo: 6, affectedSOPClassUID: "1.2.840.10008.1.20.1",
                                                   affectedSOPInstanceUID: "1.2.840.10008.1.20.1.1", eventTypeID: 1, status: .success)),
        .nGetRequest(NGetRequest(messageID: 7, requestedSOPClassUID: "1.2.3", requestedSOPInstanceUID: "1.2.3.1", attributeIdentifierList: [Tag(0x0010, 0x0010)])),
        .nGetResponse(NGetResponse(messageIDBeingRespondedTo: 7, affectedSOPClassUID: "1.2.3", affectedSOPInstanceUID: "1.2.3.1", status: .success, hasDataSet: true)),
        .nSetRequest(NSetRequest(messageID: 8, requestedSOPClassUID: "1.2.840.10008.3.1.2.3.3", requestedSOPInstanceUID: "1.2.9")),
        .nSetResponse(NSetResponse(messageIDBeingRespondedTo: 8, affectedSOPClassUID: "1.2.840.10008.3.1.2.3.3", affectedSOPInstanceUID: "1.2.9", status: .success)),
        .nActionRequest(NActionRequest(messageID: 9, requestedSOPClassUID: "1.2.840.10008.1.20.1", requestedSOPInstanceUID: "1.2.840.10008.1.20.1.1", actionTypeID: 1)),
        .nActionResponse(NActionResponse(messageIDBeingRespondedTo: 9, affectedSOPClassUID: nil, affectedSOPInstanceUID: nil, actionTypeID: 1, status: .noSuchAction)),
        .nCreateRequest(NCreateRequest(messageID: 10, affectedSOPClassUID: "1.2.840.10008.3.1.2.3.3")),
        .nCreateResponse(NCreateResponse(messageIDBeingRespondedTo: 10, affectedSOPClassUID: "1.2.840.10008.3.1.2.3.3", affectedSOPInstanceUID: "1.2.77", status: .success)),
        .nDeleteRequest(NDeleteRequest(messageID: 11, requestedSOPClassUID: "1.2.3", requestedSOPInstanceUID: "1.2.3.1")),
        .nDeleteResponse(NDeleteResponse(messageIDBeingRespondedTo: 11, affectedSOPClassUID: nil, affectedSOPInstanceUID: nil, status: .noSuchSOPInstance)),
    ]

    @Test(arguments: allMessages)
    func roundTripThroughBytesAndDataSet(message: DIMSECommand) throws {
        let bytes = try CommandSet.encode(message.commandSet)
        let dataSet = try CommandSet.decode(bytes)
        // (0000,0000) first, equal to the bytes that follow it.
        #expect(dataSet.elements.first?.tag == .commandGroupLength)
        #expect(dataSet.elements.allSatisfy { $0.tag.group == 0 && $0.valueLength % 2 == 0 })
        let groupLength = try #require(dataSet[.commandGroupLength]?.bytes)
        #expect(Int(groupLength[groupLength.startIndex]) | Int(groupLength[groupLength.startIndex + 1]) << 8 == bytes.readableBytes - 12)
        #expect(try DIMSECommand(commandSet: dataSet) == message)
        // Command Data Set Type matches hasDataSet.
        let type = try #require(dataSet[.commandDataSetType]?.bytes)
        #expect((Array(type) == [0x01, 0x01]) == !message.hasDataSet)
    }

    @Test func storeRequestFields() throws {
        guard case .cStoreRequest(let store) = Self.allMessages[2] else { Issue.record(); return }
        let dataSet = store.commandSet
        #expect(dataSet[.priority]?.bytes.map { Array($0) } == [0x01, 0x00])
        #expect(dataSet[.moveOriginatorApplicationEntityTitle]?.bytes.map { Array($0) } == ascii("MOVESCU "))  // AE padded with a space
        #expect(dataSet[.affectedSOPInstanceUID]?.bytes.map { Array($0) } == ascii("1.2.3.4.5") + [0])         // UI padded with NUL
        let decoded = try CStoreRequest(commandSet: try CommandSet.decode(try CommandSet.encode(dataSet)))
        #expect(decoded.affectedSOPInstanceUID == "1.2.3.4.5")
        #expect(decoded.moveOriginatorAETitle == "MOVESCU")
        #expect(decoded.moveOriginatorMessageID == 99)
    }

    @Test func invalidCommandSets() throws {
        // Unknown command field 0FF0H.
        var unknown = CEchoRequest(messageID: 1).commandSet
        unknown.set(DataElement(tag: .commandField, vr: .US, bytes: Data([0xF0, 0x0F])))
        #expect(networkError { _ = try DIMSECommand(commandSet: unknown) }?.message.contains("unknown command field") == true)
        // Missing Message ID.
        var missing = CEchoRequest(messageID: 1).commandSet
        missing.remove(.messageID)
        #expect(networkError { _ = try DIMSECommand(commandSet: missing) }?.message.contains("Message ID") == true)
        // C-STORE-RQ that claims no data set.
        guard case .cStoreRequest(let store) = Self.allMessages[2] else { Issue.record(); return }
        var noData = store.commandSet
        noData.set(DataElement(tag: .commandDataSetType, vr: .US, bytes: Data([0x01, 0x01])))
        #expect(networkError { _ = try DIMSECommand(commandSet: noData) }?.code == .invalidCommandSet)
        // Element outside group 0000.
        var other = CEchoRequest(messageID: 1).commandSet
        other.set(DataElement(tag: Tag(0x0008, 0x0016), vr: .UI, bytes: Data(ascii("1.2"))))
        #expect(networkError { _ = try CommandSet.encode(other) }?.code == .invalidCommandSet)
    }

    @Test func malformedCommandBytes() {
        var wrongLength = Self.echoRequestBytes
        wrongLength[8] = 0x30  // group length 48 instead of 56
        #expect(networkError { _ = try CommandSet.decode(buffer(wrongLength)) }?.message.contains("Command Group Length") == true)
        let truncated = Array(Self.echoRequestBytes.dropLast(1))
        #expect(networkError { _ = try CommandSet.decode(buffer(truncated)) }?.code == .invalidCommandSet)
        var overrun = Self.echoRequestBytes
        overrun[16] = 0xFF  // (0000,0002) length 255
        #expect(networkError { _ = try CommandSet.decode(buffer(overrun)) }?.offset == 16)
        var wrongGroup = Self.echoRequestBytes
        wrongGroup[12] = 0x08  // (0008,0002)
        #expect(networkError { _ = try CommandSet.decode(buffer(wrongGroup)) }?.message.contains("outside group 0000") == true)
    }

    @Test func statusCategories() {
        let cases: [(UInt16, DIMSEStatus.Category)] = [
            (0x0000, .success), (0xFF00, .pending), (0xFF01, .pending), (0xFE00, .cancel),
            (0x0001, .warning), (0x0107, .warning), (0x0116, .warning), (0xB000, .warning), (0xB006, .warning), (0xB007, .warning),
            (0xA700, .failure), (0xA7FF, .failure), (0xA900, .failure), (0xA9FF, .failure), (0xC000, .failure), (0xCFFF, .failure),
            (0x0110, .failure), (0x0111, .failure), (0x0122, .failure), (0x0211, .failure), (0xA801, .failure),
        ]
        for (code, category) in cases {
            #expect(DIMSEStatus(code).category == category, "\(hexString(code, digits: 4))")
        }
        #expect(DIMSEStatus(0xA7A0).meaning == "Refused: out of resources")
        #expect(DIMSEStatus(0xA9A5).meaning == "Error: data set does not match SOP class")
        #expect(DIMSEStatus(0xC123).meaning == "Error: cannot understand")
        #expect(DIMSEStatus(0xB007).meaning == "Warning: data set does not match SOP class")
        #expect(DIMSEStatus.elementsDiscarded.isWarning && DIMSEStatus.elementsDiscarded.isSuccessOrWarning)
        #expect(DIMSEStatus.success.description == "0000H (Success)")
        #expect(DIMSEStatus.cancel.isCancel && !DIMSEStatus.cancel.isFailure)
    }
}
