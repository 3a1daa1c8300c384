import Foundation
import DICOMCore
import DICOMJSON

/// A text element with the value padded to even length with the VR's padding byte.
func text(_ group: UInt16, _ element: UInt16, _ vr: VR, _ value: String) -> DataElement {
    var bytes = Data(value.utf8)
    if bytes.count % 2 == 1 { bytes.append(vr.paddingByte) }
    return DataElement(tag: Tag(group, element), vr: vr, bytes: bytes)
}

/// An element with raw bytes.
func raw(_ group: UInt16, _ element: UInt16, _ vr: VR, _ bytes: [UInt8]) -> DataElement {
    DataElement(tag: Tag(group, element), vr: vr, bytes: Data(bytes))
}

/// Little-endian bytes of fixed-width integers.
func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

func littleEndian(_ values: [Double]) -> [UInt8] { littleEndian(values.map(\.bitPattern)) }
func littleEndian(_ values: [Float]) -> [UInt8] { littleEndian(values.map(\.bitPattern)) }

/// Compact JSON text of a data set.
func jsonText(_ dataSet: DataSet, encoder: DICOMJSONEncoder = DICOMJSONEncoder()) throws -> String {
    String(decoding: try encoder.encode(dataSet), as: UTF8.self)
}

/// The JSON text of one attribute of a data set holding only that element, e.g. `{"vr":"US","Value":[1]}`.
func attributeJSON(_ element: DataElement) throws -> String {
    let whole = try jsonText(DataSet([element]))
    // {"GGGGEEEE":<attribute>}
    return String(whole.dropFirst(12).dropLast())
}
