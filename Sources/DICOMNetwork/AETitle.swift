import DICOMCore
/// An Application Entity title (PS3.8 §9.3.2, PS3.5 §6.2 VR AE): 1 to 16 characters of the
/// ISO 646 G0 set without backslash or control characters, leading and trailing spaces not significant.
///
/// In an A-ASSOCIATE PDU the title occupies 16 bytes padded with spaces (20H); sixteen spaces
/// ("no title") shall not be used. The stored ``value`` is trimmed of leading and trailing spaces.
public struct AETitle: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The title without leading or trailing spaces.
    public let value: String

    /// Validates and trims a title.
    /// - Throws: ``DICOMNetworkError`` with code `invalidAETitle` when it is empty (or only spaces),
    ///   longer than 16 characters, or holds a byte outside 20H–7EH or a backslash.
    public init(_ title: String) throws {
        try self.init(bytes: Array(title.utf8), context: "AE title \"\(title)\"")
    }

    /// A title from a string literal; the literal must be a valid title (a programming error otherwise).
    /// Note that `AETitle("X")` with a literal argument also uses this initializer (SE-0213): titles from
    /// user input or configuration are `String` values and go through the throwing ``init(_:)``.
    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { preconditionFailure("invalid AE title literal: \(error)") }
    }

    init(bytes: some Collection<UInt8>, context: String, pduType: UInt8? = nil, offset: Int? = nil) throws {
        var bytes = Array(bytes)
        guard bytes.count <= 16 else {
            throw DICOMNetworkError(.invalidAETitle, "\(context) is \(bytes.count) characters long; at most 16 are allowed",
                                    pduType: pduType, offset: offset)
        }
        for (i, byte) in bytes.enumerated() where byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "\\") {
            throw DICOMNetworkError(.invalidAETitle,
                                    "\(context) contains byte \(hexString(byte, digits: 2))H at position \(i + 1), outside ISO 646 G0 without backslash",
                                    pduType: pduType, offset: offset.map { $0 + i })
        }
        while bytes.last == 0x20 { bytes.removeLast() }
        let start = bytes.firstIndex { $0 != 0x20 } ?? bytes.endIndex
        guard start < bytes.endIndex else {
            throw DICOMNetworkError(.invalidAETitle, "\(context) is empty or all spaces", pduType: pduType, offset: offset)
        }
        value = String(decoding: bytes[start...], as: UTF8.self)
    }

    /// The 16 bytes written into an A-ASSOCIATE PDU: the title followed by spaces.
    public var paddedBytes: [UInt8] {
        var bytes = Array(value.utf8)
        bytes.append(contentsOf: repeatElement(0x20, count: 16 - bytes.count))
        return bytes
    }

    public var description: String { value }
}
