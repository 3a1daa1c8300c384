import DICOMCore
import Foundation
import Testing
@testable import DICOMWorklist

/// List of UID matching for the worklist's UI keys (PS3.4 C.2.2.2.2): the key's values are alternatives.
@Suite struct KeyMatchTests {
    func key(_ value: String) throws -> KeyMatch {
        var identifier = DataSet()
        identifier.setASCII(.studyInstanceUID, vr: .UI, value)
        return try KeyMatch.make(.studyInstanceUID, in: identifier, name: "Study Instance UID")
    }

    @Test func listOfUIDsMatchesAnyOfThem() throws {
        let match = try key("1.2.840.1\\1.2.840.22")
        #expect(match.matches("1.2.840.1"))
        #expect(match.matches("1.2.840.22"))
        #expect(match.matches("1.2.840.22\u{0}"))
        #expect(!match.matches("1.2.840.2"))
        #expect(!match.matches("1.2.840.1\\1.2.840.22"))
        #expect(!match.matches(nil))
    }

    @Test func singleUIDStaysExact() throws {
        let match = try key("1.2.840.1")
        #expect(match.matches("1.2.840.1"))
        #expect(!match.matches("1.2.840.10"))
    }
}
