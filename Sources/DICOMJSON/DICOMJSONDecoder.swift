import Foundation
import DICOMCore

/// Reads the DICOM JSON Model (PS3.18 Annex F.2) into data sets.
///
/// - Text is stored as UTF-8. When any text value anywhere in the data set is not ASCII, Specific Character
///   Set (0008,0005) is set to "ISO_IR 192", replacing the one the JSON carried (PS3.18 §F.2 note 3: that
///   attribute describes the source encoding, not the JSON text). Values are padded to even length with the
///   VR's padding byte (PS3.5 §6.2).
/// - JSON numbers for DS keep their digits when they fit in 16 characters, else the shortest text that
///   does; IS must be an integer in the 32-bit range. DS and IS also accept JSON strings (§F.2.3).
/// - US, SS, UL, SL, SV, UV, FL, FD and AT become little-endian binary values. SV and UV also accept
///   strings; FL and FD accept the strings "NaN", "Infinity" and "-Infinity".
/// - PN objects become `Alphabetic=Ideographic=Phonetic` with trailing empty groups dropped.
/// - "InlineBinary" is base64 (§F.2.7); an InlineBinary Pixel Data (7FE0,0010) whose bytes are Items
///   becomes encapsulated pixel data. "BulkDataURI" (§F.2.6) is fetched with the caller's resolver.
///
/// Malformed input throws `DICOMError` naming the attribute (as a tag path) and the problem.
public struct DICOMJSONDecoder: Sendable {
    /// Limits for untrusted input.
    public struct Options: Sendable, Equatable {
        /// How deep sequences may nest.
        public var maximumSequenceDepth: Int

        public init(maximumSequenceDepth: Int = 32) {
            self.maximumSequenceDepth = maximumSequenceDepth
        }
    }

    /// Fetches the value a "BulkDataURI" points to (PS3.18 §F.2.6): the raw Value Field bytes,
    /// little endian for binary VRs.
    public typealias BulkDataResolver = @Sendable (_ uri: String, _ tag: Tag, _ vr: VR) throws -> Data

    public var options: Options
    public var bulkDataResolver: BulkDataResolver?

    public init(options: Options = Options(), bulkDataResolver: BulkDataResolver? = nil) {
        self.options = options
        self.bulkDataResolver = bulkDataResolver
    }

    /// Decodes one DICOM JSON Model object. A top-level array holding exactly one object is accepted too.
    public func decode(_ data: Data) throws -> DataSet {
        switch try parse(data) {
        case .array(let elements):
            guard elements.count == 1 else {
                throw DICOMError(.malformed, "expected one DICOM JSON object, found an array of \(elements.count); use decodeArray")
            }
            return try decodeTopLevel(elements[0], index: 0)
        case let value:
            return try decodeTopLevel(value, index: nil)
        }
    }

    /// Decodes a top-level array of DICOM JSON Model objects (PS3.18 §F.2.1), or a single object as one data set.
    public func decodeArray(_ data: Data) throws -> [DataSet] {
        switch try parse(data) {
        case .array(let elements):
            return try elements.enumerated().map { try decodeTopLevel($1, index: $0) }
        case let value:
            return [try decodeTopLevel(value, index: nil)]
        }
    }

    private func parse(_ data: Data) throws -> JSONValue {
        // Each sequence level nests three JSON containers: attribute object, "Value" array, item object.
        try JSONParser.parse(data, maximumDepth: 3 * options.maximumSequenceDepth + 6)
    }

    private func decodeTopLevel(_ value: JSONValue, index: Int?) throws -> DataSet {
        var run = Run(decoder: self, path: index.map { "[\($0)]" } ?? "")
        var dataSet = try run.decodeDataSet(value, depth: 0)
        if run.sawNonASCII {
            dataSet.set(DataElement(tag: Self.specificCharacterSet, vr: .CS, bytes: Data("ISO_IR 192".utf8)))
            Self.replaceItemCharacterSets(in: &dataSet)
        }
        Self.propagateCharacterSet(into: &dataSet)
        return dataSet
    }

    static let specificCharacterSet = Tag(0x0008, 0x0005)
    static let pixelData = Tag(0x7FE0, 0x0010)

    /// Items that declare their own Specific Character Set get "ISO_IR 192" too, since their text is UTF-8 now.
    private static func replaceItemCharacterSets(in dataSet: inout DataSet) {
        for element in dataSet.elements {
            guard var items = element.items else { continue }
            for index in items.indices {
                if items[index].contains(specificCharacterSet) {
                    items[index].set(DataElement(tag: specificCharacterSet, vr: .CS, bytes: Data("ISO_IR 192".utf8)))
                }
                replaceItemCharacterSets(in: &items[index])
            }
            dataSet.set(DataElement(tag: element.tag, vr: element.vr, value: .sequence(items), hadUndefinedLength: element.hadUndefinedLength))
        }
    }

    /// Sets each item's inherited character set to its enclosing data set's resolved one (PS3.5 §6.1.2.5.1).
    private static func propagateCharacterSet(into dataSet: inout DataSet) {
        let characterSet = dataSet.characterSet
        for element in dataSet.elements {
            guard var items = element.items, !items.isEmpty else { continue }
            for index in items.indices {
                items[index].inheritedCharacterSet = characterSet
                propagateCharacterSet(into: &items[index])
            }
            dataSet.set(DataElement(tag: element.tag, vr: element.vr, value: .sequence(items), hadUndefinedLength: element.hadUndefinedLength))
        }
    }

    /// One top-level decoding: the tag path for messages and whether any text was not ASCII.
    private struct Run {
        let decoder: DICOMJSONDecoder
        var path: String
        var sawNonASCII = false

        init(decoder: DICOMJSONDecoder, path: String) {
            self.decoder = decoder
            self.path = path
        }

        func fail(_ message: String, code: DICOMError.Code = .malformed) -> DICOMError {
            DICOMError(code, message, tagPath: path.isEmpty ? nil : path)
        }

        mutating func decodeDataSet(_ value: JSONValue, depth: Int) throws -> DataSet {
            guard case .object(let members) = value else {
                throw fail("a DICOM JSON data set must be an object, found \(value.typeName)")
            }
            var elements: [DataElement] = []
            elements.reserveCapacity(members.count)
            var seen = Set<UInt32>()
            let base = path
            defer { path = base }
            for (key, attribute) in members {
                path = base.isEmpty ? "\"\(key)\"" : base + ".\"\(key)\""
                guard key.utf8.count == 8, key.utf8.allSatisfy(Self.isHexDigit), let raw = UInt32(key, radix: 16) else {
                    throw fail("attribute name \"\(key)\" is not eight hexadecimal digits")
                }
                let tag = Tag(rawValue: raw)
                path = base.isEmpty ? tag.description : base + "." + tag.description
                guard seen.insert(raw).inserted else { throw fail("attribute \(key) appears twice") }
                elements.append(try decodeElement(tag: tag, attribute, depth: depth))
            }
            // Names should already be in ascending order (§F.2.2); sort anyway, duplicates were rejected above.
            if zip(elements, elements.dropFirst()).contains(where: { $0.tag > $1.tag }) { elements.sort { $0.tag < $1.tag } }
            return DataSet(sortedElements: elements)
        }

        static func isHexDigit(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
        }

        mutating func decodeElement(tag: Tag, _ attribute: JSONValue, depth: Int) throws -> DataElement {
            guard case .object(let members) = attribute else {
                throw fail("an attribute must be an object, found \(attribute.typeName)")
            }
            var vrName: String?
            var value: JSONValue?, inline: JSONValue?, bulk: JSONValue?
            for (name, member) in members {
                func store(_ slot: inout JSONValue?) throws {
                    guard slot == nil else { throw fail("member \"\(name)\" appears twice") }
                    slot = member
                }
                switch name {
                case "vr":
                    guard vrName == nil else { throw fail("member \"vr\" appears twice") }
                    guard case .string(let text) = member else { throw fail("\"vr\" must be a string, found \(member.typeName)") }
                    vrName = text
                case "Value": try store(&value)
                case "InlineBinary": try store(&inline)
                case "BulkDataURI": try store(&bulk)
                default: throw fail("unknown member \"\(name)\" (expected vr, Value, InlineBinary or BulkDataURI)")
                }
            }
            guard let vrName else { throw fail("the attribute has no \"vr\"", code: .invalidVR) }
            guard let vr = VR(vrName) else { throw fail("unknown VR \"\(vrName)\"", code: .invalidVR) }
            let given = [value.map { _ in "Value" }, inline.map { _ in "InlineBinary" }, bulk.map { _ in "BulkDataURI" }].compactMap { $0 }
            guard given.count <= 1 else { throw fail("an attribute may have only one of Value, InlineBinary and BulkDataURI; this one has \(given.joined(separator: " and "))") }

            if let value {
                guard case .array(let values) = value else { throw fail("\"Value\" must be an array, found \(value.typeName)") }
                if vr == .SQ {
                    guard depth < decoder.options.maximumSequenceDepth else {
                        throw fail("sequences nest deeper than \(decoder.options.maximumSequenceDepth) levels", code: .tooDeep)
                    }
                    var items: [DataSet] = []
                    items.reserveCapacity(values.count)
                    let base = path
                    for (index, item) in values.enumerated() {
                        path = base + "[\(index)]"
                        guard case .object = item else { throw fail("a sequence item must be an object, found \(item.typeName)") }
                        items.append(try decodeDataSet(item, depth: depth + 1))
                    }
                    path = base
                    return DataElement(tag: tag, items: items)
                }
                return DataElement(tag: tag, vr: vr, bytes: try encodeValues(values, vr: vr))
            }
            if let inline {
                guard vr != .SQ else { throw fail("an SQ attribute cannot have InlineBinary") }
                guard case .string(let text) = inline else { throw fail("\"InlineBinary\" must be a string, found \(inline.typeName)") }
                guard let bytes = Data(base64Encoded: text) else { throw fail("\"InlineBinary\" is not valid base64") }
                return try binaryElement(tag: tag, vr: vr, bytes: bytes)
            }
            if let bulk {
                guard vr != .SQ else { throw fail("an SQ attribute cannot have a BulkDataURI") }
                guard case .string(let uri) = bulk else { throw fail("\"BulkDataURI\" must be a string, found \(bulk.typeName)") }
                guard let resolver = decoder.bulkDataResolver else {
                    throw fail("has BulkDataURI \"\(uri)\" but no bulk data resolver was given")
                }
                let bytes: Data
                do {
                    bytes = try resolver(uri, tag, vr)
                } catch var error as DICOMError {
                    if error.tagPath == nil { error.tagPath = path }
                    throw error
                } catch {
                    throw fail("BulkDataURI \"\(uri)\" could not be resolved: \(error)", code: .io)
                }
                return try binaryElement(tag: tag, vr: vr, bytes: bytes)
            }
            return vr == .SQ ? DataElement(tag: tag, items: []) : DataElement(tag: tag, vr: vr, bytes: Data())
        }

        /// An element from raw Value Field bytes: encapsulated Pixel Data when the bytes are Items,
        /// otherwise the bytes padded to even length.
        func binaryElement(tag: Tag, vr: VR, bytes: Data) throws -> DataElement {
            if tag == DICOMJSONDecoder.pixelData, vr == .OB, EncapsulatedPixelData.looksEncapsulated(bytes) {
                let pixels = try EncapsulatedPixelData(valueField: bytes, tagPath: path)
                return DataElement(tag: tag, vr: vr, value: .encapsulated(pixels), hadUndefinedLength: true)
            }
            var bytes = bytes
            if bytes.count % 2 == 1 { bytes.append(vr.paddingByte) }
            return DataElement(tag: tag, vr: vr, bytes: bytes)
        }

        // MARK: Values

        mutating func encodeValues(_ values: [JSONValue], vr: VR) throws -> Data {
            switch vr {
            case .OB, .OD, .OF, .OL, .OV, .OW, .UN:
                throw fail("a \(vr) attribute carries its value in InlineBinary or BulkDataURI, not in Value")
            case .US: return try integers(values, vr: vr, as: UInt16.self)
            case .SS: return try integers(values, vr: vr, as: Int16.self)
            case .UL: return try integers(values, vr: vr, as: UInt32.self)
            case .SL: return try integers(values, vr: vr, as: Int32.self)
            case .UV: return try integers(values, vr: vr, as: UInt64.self)
            case .SV: return try integers(values, vr: vr, as: Int64.self)
            case .FL, .FD: return try floats(values, vr: vr)
            case .AT: return try tags(values)
            default: return try text(values, vr: vr)
            }
        }

        func describe(_ index: Int, _ vr: VR) -> String { "value \(index + 1) of this \(vr) attribute" }

        mutating func text(_ values: [JSONValue], vr: VR) throws -> Data {
            if vr.isSingleValuedText && values.count > 1 {
                throw fail("a \(vr) attribute holds one value, found \(values.count)")
            }
            var strings: [String] = []
            strings.reserveCapacity(values.count)
            for (index, value) in values.enumerated() {
                let string: String
                switch (vr, value) {
                case (_, .null): string = ""
                case (.PN, .object(let groups)): string = try personName(groups, index: index)
                case (.PN, _): throw fail("\(describe(index, vr)) must be an object with Alphabetic, Ideographic or Phonetic, found \(value.typeName)")
                case (.DS, .number(let literal)):
                    guard let text = NumberText.decimalString(jsonNumber: literal) else {
                        throw fail("\(describe(index, vr)) \(literal) cannot be written as a decimal string", code: .invalidValue)
                    }
                    string = text
                case (.IS, .number(let literal)):
                    guard let integer = NumberText.integer(jsonNumber: literal, as: Int32.self) else {
                        throw fail("\(describe(index, vr)) \(literal) is not an integer from -2147483648 to 2147483647", code: .invalidValue)
                    }
                    string = String(integer)
                case (_, .string(let text)): string = text
                default: throw fail("\(describe(index, vr)) must be a string, found \(value.typeName)")
                }
                if !vr.isSingleValuedText && string.utf8.contains(UInt8(ascii: "\\")) {
                    throw fail("\(describe(index, vr)) contains a backslash, which separates values in DICOM (PS3.18 §F.2.4)", code: .invalidValue)
                }
                strings.append(string)
            }
            var bytes = Data(strings.joined(separator: "\\").utf8)
            if !sawNonASCII && bytes.contains(where: { $0 >= 0x80 }) { sawNonASCII = true }
            if bytes.count % 2 == 1 { bytes.append(vr.paddingByte) }
            return bytes
        }

        /// `Alphabetic=Ideographic=Phonetic` with trailing empty component groups dropped (PS3.5 §6.2.1.1).
        func personName(_ members: [(key: String, value: JSONValue)], index: Int) throws -> String {
            var groups = ["", "", ""]
            var seen = Set<String>()
            for (name, member) in members {
                let slot: Int
                switch name {
                case "Alphabetic": slot = 0
                case "Ideographic": slot = 1
                case "Phonetic": slot = 2
                default: throw fail("\(describe(index, .PN)) has unknown component group \"\(name)\"")
                }
                guard seen.insert(name).inserted else { throw fail("\(describe(index, .PN)) has \"\(name)\" twice") }
                guard case .string(let text) = member else {
                    throw fail("\(describe(index, .PN)) group \"\(name)\" must be a string, found \(member.typeName)")
                }
                guard !text.utf8.contains(UInt8(ascii: "=")) else {
                    throw fail("\(describe(index, .PN)) group \"\(name)\" contains '=', which separates component groups", code: .invalidValue)
                }
                groups[slot] = text
            }
            while let last = groups.last, last.isEmpty { groups.removeLast() }
            return groups.joined(separator: "=")
        }

        func integers<T: FixedWidthInteger>(_ values: [JSONValue], vr: VR, as type: T.Type) throws -> Data {
            var bytes = Data(capacity: values.count * MemoryLayout<T>.size)
            for (index, value) in values.enumerated() {
                let integer: T?
                switch value {
                case .number(let literal): integer = NumberText.integer(jsonNumber: literal, as: T.self)
                case .string(let text) where vr == .SV || vr == .UV: integer = T(text)
                default:
                    throw fail("\(describe(index, vr)) must be a number, found \(value.typeName)")
                }
                guard let integer else {
                    throw fail("\(describe(index, vr)) is not an integer from \(T.min) to \(T.max)", code: .invalidValue)
                }
                withUnsafeBytes(of: integer.littleEndian) { bytes.append(contentsOf: $0) }
            }
            return bytes
        }

        func floats(_ values: [JSONValue], vr: VR) throws -> Data {
            var bytes = Data(capacity: values.count * (vr == .FL ? 4 : 8))
            for (index, value) in values.enumerated() {
                let number: Double
                switch value {
                case .number(let literal):
                    guard let parsed = Double(literal), parsed.isFinite else {
                        throw fail("\(describe(index, vr)) \(literal) is out of range", code: .invalidValue)
                    }
                    number = parsed
                case .string("NaN"): number = .nan
                case .string("Infinity"): number = .infinity
                case .string("-Infinity"): number = -.infinity
                default: throw fail("\(describe(index, vr)) must be a number, found \(value.typeName)")
                }
                if vr == .FL {
                    // Parse the literal as Float directly to round once.
                    var single = Float(number)
                    if case .number(let literal) = value, let direct = Float(literal) { single = direct }
                    guard single.isFinite || !number.isFinite else {
                        throw fail("\(describe(index, vr)) is out of range for FL", code: .invalidValue)
                    }
                    withUnsafeBytes(of: single.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                } else {
                    withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                }
            }
            return bytes
        }

        /// "GGGGEEEE" strings as group then element, 16-bit little endian each (PS3.5 §6.2 AT).
        func tags(_ values: [JSONValue]) throws -> Data {
            var bytes = Data(capacity: values.count * 4)
            for (index, value) in values.enumerated() {
                guard case .string(let text) = value else { throw fail("\(describe(index, .AT)) must be a string, found \(value.typeName)") }
                guard text.utf8.count == 8, text.utf8.allSatisfy(Self.isHexDigit), let raw = UInt32(text, radix: 16) else {
                    throw fail("\(describe(index, .AT)) \"\(text)\" is not eight hexadecimal digits", code: .invalidValue)
                }
                let tag = Tag(rawValue: raw)
                withUnsafeBytes(of: tag.group.littleEndian) { bytes.append(contentsOf: $0) }
                withUnsafeBytes(of: tag.element.littleEndian) { bytes.append(contentsOf: $0) }
            }
            return bytes
        }
    }
}
