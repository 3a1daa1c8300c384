import DICOMCore
import Testing
@testable import DICOMCodecs

@Suite struct FrameDescriptionTests {
    @Test func readsImagePixelModuleAndComputesFrameSize() throws {
        var dataSet = DataSet()
        try dataSet.set(.rows, vr: .US, integers: [512])
        try dataSet.set(.columns, vr: .US, integers: [256])
        try dataSet.set(.bitsAllocated, vr: .US, integers: [16])
        try dataSet.set(.bitsStored, vr: .US, integers: [12])
        try dataSet.set(.pixelRepresentation, vr: .US, integers: [1])
        let description = try FrameDescription(dataSet: dataSet)
        #expect(description.bytesPerFrame == 512 * 256 * 2)
        #expect(description.highBit == 11)
        #expect(description.isSigned)
    }

    @Test func rejectsMissingRowsAndImpossibleBitDepths() throws {
        #expect(throws: CodecError.self) { try FrameDescription(dataSet: DataSet()) }
        let bad = FrameDescription(rows: 2, columns: 2, bitsAllocated: 8, bitsStored: 12)
        #expect(throws: CodecError.self) { try bad.validate() }
    }
}
