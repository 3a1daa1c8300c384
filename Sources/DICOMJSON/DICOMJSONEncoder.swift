import Foundation
import DICOMCore

/// Writes data sets in the DICOM JSON Model (PS3.18 Annex F.2), UTF-8 encoded (RFC 8259).
///
/// - Attribute names are the eight upper-case hexadecimal digits of the tag, in ascending order (§F.2.2);
///   Group Length (gggg,0000) elements are left out.
/// - Text is decoded with the data set's resolved Specific Character Set; values of multi-valued VRs are
///   split at the backslash (§F.2.4), LT, ST, UT and UR are not.
/// - DS and IS are JSON numbers, written with the digits of the DICOM value ("1.50" stays `1.50`); a value
///   that is not a valid number is written as a JSON string, which §F.2.3 allows for DS and IS.
/// - US, SS, UL, SL, SV, UV, FL and FD are JSON numbers. FL and FD values that JSON cannot represent are
///   written as the strings "NaN", "Infinity" and "-Infinity".
/// - PN values are objects with the non-empty component groups "Alphabetic", "Ideographic", "Phonetic".
/// - OB, OD, OF, OL, OV, OW and UN values, and encapsulated pixel data (its whole Value Field of Items,
///   §F.2.7), are "InlineBinary" base64, or "BulkDataURI" (§F.2.6) when a provider is set, the value is
///   longer than `Options.bulkDataThreshold` bytes and the provider returns a URI.
/// - An element with an empty value has only "vr" (§F.2.5); an empty value among several is `null`.
///
/// Output is deterministic: the same data set gives the same bytes.
public struct DICOMJSONEncoder: Sendable {
    /// How the output is laid out and when values go to bulk data.
    public struct Options: Sendable, Equatable {
        /// Newlines and two-space indentation instead of the compact form.
        public var prettyPrinted: Bool
        /// Values longer than this many bytes are offered to the bulk data URI provider.
        public var bulkDataThreshold: Int

        public init(prettyPrinted: Bool = false, bulkDataThreshold: Int = 1024) {
            self.prettyPrinted = prettyPrinted
            self.bulkDataThreshold = bulkDataThreshold
        }
    }

    /// Returns the "BulkDataURI" for an element (PS3.18 §F.2.6), or nil to write the value inline.
    /// The tag path is written like `DICOMError.tagPath`, e.g. `(0040,0275)[0].(0040,0009)`.
    public typealias BulkDataURIProvider = @Sendable (_ tagPath: String, _ element: DataElement) -> String?

    public var options: Options
    public var bulkDataURIProvider: BulkDataURIProvider?

    public init(options: Options = Options(), bulkDataURIProvider: BulkDataURIProvider? = nil) {
        self.options = options
        self.bulkDataURIProvider = bulkDataURIProvider
    }

    /// One data set as a DICOM JSON Model object (PS3.18 §F.2.2).
    ///
    /// Throws `DICOMError` `.invalidLength` naming the tag path when a binary numeric value's length is
    /// not a multiple of its value size.
    public func encode(_ dataSet: DataSet) throws -> Data {
        var run = Run(encoder: self)
        try run.writeDataSet(dataSet, characterSet: dataSet.characterSet)
        return Data(run.writer.bytes)
    }

    /// Several data sets as one top-level array of DICOM JSON Model objects (PS3.18 §F.2.1), as QIDO-RS answers.
    public func encode(_ dataSets: [DataSet]) throws -> Data {
        var run = Run(encoder: self)
        run.writer.beginArray()
        for dataSet in dataSets { try run.writeDataSet(dataSet, characterSet: dataSet.characterSet) }
        run.writer.endArray()
        return Data(run.writer.bytes)
    }

    /// VRs whose value PS3.18 §F.2.2 allows to be sent as a BulkDataURI.
    static func allowsBulkData(_ vr: VR) -> Bool {
        switch vr {
        case .DS, .FL, .FD, .IS, .LT, .OB, .OD, .OF, .OL, .OV, .OW, .SL, .SS, .ST, .SV, .UC, .UL, .UN, .US, .UT, .UV: return true
        default: return false
        }
    }

    /// One encoding pass: the writer and the tag path to the element being written.
    private struct Run {
        let encoder: DICOMJSONEncoder
        var writer: JSONWriter
        var path: [(tag: Tag, item: Int?)] = []

        init(encoder: DICOMJSONEncoder) {
            self.encoder = encoder
            writer = JSONWriter(prettyPrinted: encoder.options.prettyPrinted)
        }

        var tagPath: String {
            path.map { component in
                component.tag.description + (component.item.map { "[\($0)]" } ?? "")
            }.joined(separator: ".")
        }

        mutating func writeDataSet(_ dataSet: DataSet, characterSet: SpecificCharacterSet) throws {
            writer.beginObject()
            for element in dataSet where !element.tag.isGroupLength {
                path.append((element.tag, nil))
                writer.key(hexString(element.tag.rawValue, digits: 8))
                try writeElement(element, characterSet: characterSet)
                path.removeLast()
            }
            writer.endObject()
        }

        mutating func writeElement(_ element: DataElement, characterSet: SpecificCharacterSet) throws {
            writer.beginObject()
            writer.key("vr")
            switch element.value {
            case .sequence(let items):
                writer.string("SQ")
                if !items.isEmpty {
                    writer.key("Value")
                    writer.beginArray()
                    for (index, item) in items.enumerated() {
                        path[path.count - 1].item = index
                        try writeDataSet(item, characterSet: Self.characterSet(of: item, inheriting: characterSet))
                    }
                    writer.endArray()
                }
            case .encapsulated(let pixels):
                writer.string(element.vr.description)
                let field = pixels.valueField
                if !writeBulkDataURI(element, length: field.count) {
                    writer.key("InlineBinary")
                    writer.string(field.base64EncodedString())
                }
            case .bytes(let data):
                writer.string(element.vr.description)
                guard !data.isEmpty else { break }
                if DICOMJSONEncoder.allowsBulkData(element.vr), writeBulkDataURI(element, length: data.count) { break }
                try writeValue(data, vr: element.vr, characterSet: characterSet)
            }
            writer.endObject()
        }

        /// Writes "BulkDataURI" when the value is over the threshold and the provider gives a URI.
        mutating func writeBulkDataURI(_ element: DataElement, length: Int) -> Bool {
            guard let provider = encoder.bulkDataURIProvider, length > encoder.options.bulkDataThreshold,
                  let uri = provider(tagPath, element) else { return false }
            writer.key("BulkDataURI")
            writer.string(uri)
            return true
        }

        mutating func writeValue(_ data: Data, vr: VR, characterSet: SpecificCharacterSet) throws {
            switch vr {
            case .OB, .OD, .OF, .OL, .OV, .OW, .UN:
                writer.key("InlineBinary")
                writer.string(data.base64EncodedString())
            case .US: try writeIntegers(data, vr: vr, as: UInt16.self)
            case .SS: try writeIntegers(data, vr: vr, as: Int16.self)
            case .UL: try writeIntegers(data, vr: vr, as: UInt32.self)
            case .SL: try writeIntegers(data, vr: vr, as: Int32.self)
            case .UV: try writeIntegers(data, vr: vr, as: UInt64.self)
            case .SV: try writeIntegers(data, vr: vr, as: Int64.self)
            case .FL, .FD: try writeFloats(data, vr: vr)
            case .AT: try writeTags(data)
            case .SQ: break // a sequence held as bytes has no items to write
            default: writeText(data, vr: vr, characterSet: characterSet)
            }
        }

        // MARK: Text

        mutating func writeText(_ data: Data, vr: VR, characterSet: SpecificCharacterSet) {
            let text = characterSet.decode(data, vr: vr)
            let values: [Substring] = vr.isSingleValuedText
                ? [Substring(text)]
                : text.split(separator: "\\", omittingEmptySubsequences: false)
            let trimmed = values.map { Self.trim($0, vr: vr) }
            if trimmed.count == 1 && trimmed[0].isEmpty { return }
            writer.key("Value")
            writer.beginArray()
            for value in trimmed {
                if value.isEmpty { writer.null(); continue }
                switch vr {
                case .PN: writePersonName(value)
                case .DS:
                    if let number = NumberText.jsonNumber(decimalString: value) { writer.number(number) } else { writer.string(String(value)) }
                case .IS:
                    if let number = NumberText.jsonNumber(integerString: value) { writer.number(number) } else { writer.string(String(value)) }
                default: writer.string(String(value))
                }
            }
            writer.endArray()
        }

        /// PS3.5 §6.2: trailing spaces (and NUL padding) are insignificant for all text VRs, leading
        /// spaces as well for AE, CS, DS, IS, LO and SH.
        static func trim(_ value: Substring, vr: VR) -> Substring {
            var value = value
            while let last = value.last, last == " " || last == "\0" { value.removeLast() }
            switch vr {
            case .AE, .CS, .DS, .IS, .LO, .SH, .AS, .DA, .TM, .DT, .UI:
                while let first = value.first, first == " " { value.removeFirst() }
            default: break
            }
            return value
        }

        /// A PN value as an object of its non-empty component groups (PS3.18 §F.2.2, PS3.5 §6.2.1).
        mutating func writePersonName(_ value: Substring) {
            let groups = value.split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false)
            let names = ["Alphabetic", "Ideographic", "Phonetic"]
            let present = groups.enumerated().compactMap { index, group -> (String, Substring)? in
                let trimmed = Self.trim(group, vr: .PN)
                return trimmed.isEmpty ? nil : (names[index], trimmed)
            }
            if present.isEmpty { writer.null(); return }
            writer.beginObject()
            for (name, group) in present {
                writer.key(name)
                writer.string(String(group))
            }
            writer.endObject()
        }

        // MARK: Binary numbers

        func checkLength(_ data: Data, vr: VR, size: Int) throws {
            guard data.count % size == 0 else {
                throw DICOMError(.invalidLength, "a \(vr) value of \(data.count) bytes is not a whole number of \(size)-byte values", tagPath: tagPath)
            }
        }

        mutating func writeIntegers<T: FixedWidthInteger>(_ data: Data, vr: VR, as type: T.Type) throws {
            try checkLength(data, vr: vr, size: MemoryLayout<T>.size)
            writer.key("Value")
            writer.beginArray()
            data.withUnsafeBytes { raw in
                for offset in stride(from: 0, to: raw.count, by: MemoryLayout<T>.size) {
                    writer.number(T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self)))
                }
            }
            writer.endArray()
        }

        /// FL or FD values in their shortest round-trip decimal form.
        mutating func writeFloats(_ data: Data, vr: VR) throws {
            let size = vr == .FL ? 4 : 8
            try checkLength(data, vr: vr, size: size)
            writer.key("Value")
            writer.beginArray()
            data.withUnsafeBytes { raw in
                for offset in stride(from: 0, to: raw.count, by: size) {
                    let value: Double
                    let text: String
                    if size == 4 {
                        let single = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                        (value, text) = (Double(single), single.description)
                    } else {
                        value = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
                        text = value.description
                    }
                    if value.isNaN { writer.string("NaN") }
                    else if value.isInfinite { writer.string(value < 0 ? "-Infinity" : "Infinity") }
                    else { writer.number(text) }
                }
            }
            writer.endArray()
        }

        /// AT values as "GGGGEEEE" (PS3.18 §F.2.3): group then element, each 16-bit little endian.
        mutating func writeTags(_ data: Data) throws {
            try checkLength(data, vr: .AT, size: 4)
            writer.key("Value")
            writer.beginArray()
            data.withUnsafeBytes { raw in
                for offset in stride(from: 0, to: raw.count, by: 4) {
                    let group = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
                    let element = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self))
                    writer.string(hexString(Tag(group, element).rawValue, digits: 8))
                }
            }
            writer.endArray()
        }

        /// The character set for an item: its own when it declares one, else the enclosing data set's.
        static func characterSet(of item: DataSet, inheriting parent: SpecificCharacterSet) -> SpecificCharacterSet {
            if item.characterSetOverride != nil || item.contains(Tag(0x0008, 0x0005)) { return item.characterSet }
            return item.inheritedCharacterSet ?? parent
        }
    }
}

extension DataSet {
    /// This data set in the DICOM JSON Model (PS3.18 §F.2), UTF-8 encoded. See `DICOMJSONEncoder`.
    public func jsonData(options: DICOMJSONEncoder.Options = .init()) throws -> Data {
        try DICOMJSONEncoder(options: options).encode(self)
    }
}
