import Testing
@testable import DICOMWorklist

@Suite struct DICOMWorklistModuleTests {
    @Test func moduleNamespaceExists() {
        #expect(String(describing: DICOMWorklist.self) == "DICOMWorklist")
    }
}
