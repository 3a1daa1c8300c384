import DICOMCore
@testable import DICOMNetwork
import Foundation
import Testing

/// Text values of command sets are trimmed of leading and trailing spaces and NULs, byte by byte.
struct CommandTextTests {
    static func storeRequest(instanceUIDBytes: [UInt8]) throws -> CStoreRequest {
        var commandSet = CStoreRequest(messageID: 7, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2",
                                       affectedSOPInstanceUID: "1.2.3").commandSet
        commandSet.set(DataElement(tag: .affectedSOPInstanceUID, vr: .UI, bytes: Data(instanceUIDBytes)))
        return try CStoreRequest(commandSet: commandSet)
    }

    static let uid: [UInt8] = Array("1.2.3.4".utf8)
    static let cases: [([UInt8], String)] = [
        (uid + [0], "1.2.3.4"),
        ([0x20, 0x20] + uid + [0x20], "1.2.3.4"),
        ([0, 0x20] + Array("1.2 3.4".utf8) + [0, 0], "1.2 3.4"),
        (Array("Ωmega".utf8) + [0x20], "Ωmega"),
    ]

    @Test(arguments: cases)
    func trimsSpacesAndNULs(_ bytes: [UInt8], _ expected: String) throws {
        let request = try Self.storeRequest(instanceUIDBytes: bytes)
        #expect(request.affectedSOPInstanceUID == expected)
    }

    @Test func aRequiredValueOfPaddingOnlyIsMissing() throws {
        #expect { _ = try Self.storeRequest(instanceUIDBytes: [0x20, 0, 0x20]) } throws: { error in
            (error as? DICOMNetworkError)?.message.contains("lacks Affected SOP Instance UID") == true
        }
    }

    @Test func aWrongLengthStillNamesTheCommand() throws {
        var commandSet = CStoreRequest(messageID: 7, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2", affectedSOPInstanceUID: "1.2.3").commandSet
        commandSet.set(DataElement(tag: .messageID, vr: .US, bytes: Data([1, 2, 3])))
        #expect { _ = try CStoreRequest(commandSet: commandSet) } throws: { error in
            guard let error = error as? DICOMNetworkError else { return false }
            return error.code == .invalidCommandSet && error.message.contains("C-STORE") && error.message.contains("3 bytes")
        }
    }
}
