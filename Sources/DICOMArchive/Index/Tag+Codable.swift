import DICOMCore

/// Tags are written in JSON as their eight hexadecimal digits ("00100010"), like the DICOM JSON model's keys.
extension Tag: Codable, CodingKeyRepresentable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = UInt32(text, radix: 16), text.count == 8 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "tag \"\(text)\" is not eight hexadecimal digits")
        }
        self.init(rawValue: value)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hexKey)
    }

    public var codingKey: CodingKey { TagKey(stringValue: hexKey) }

    public init?<T: CodingKey>(codingKey: T) {
        guard codingKey.stringValue.count == 8, let value = UInt32(codingKey.stringValue, radix: 16) else { return nil }
        self.init(rawValue: value)
    }

    var hexKey: String {
        let digits = String(rawValue, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

private struct TagKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
