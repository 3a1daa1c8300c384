/// A small streaming JSON writer into a byte buffer (RFC 8259), compact or indented.
///
/// Callers emit tokens in document order; the writer inserts commas, colons and, when pretty-printing,
/// newlines and two-space indentation. Strings are escaped per RFC 8259 §7. Used by the DICOM JSON encoder and by
/// the archive index, whose records it writes much faster than `JSONEncoder`.
public struct JSONWriter {
    /// The document so far (UTF-8).
    public private(set) var bytes: [UInt8] = []
    public let prettyPrinted: Bool
    /// One entry per open container: whether it already holds a member or element.
    private var hasContent: [Bool] = []
    /// Set after a key so the following value is not preceded by a comma or newline.
    private var afterKey = false

    /// A writer with room for `capacity` bytes before it grows.
    public init(prettyPrinted: Bool, capacity: Int = 4096) {
        self.prettyPrinted = prettyPrinted
        bytes.reserveCapacity(capacity)
    }

    // MARK: Structure

    public mutating func beginObject() { beginValue(); bytes.append(UInt8(ascii: "{")); hasContent.append(false) }
    public mutating func endObject() { endContainer(UInt8(ascii: "}")) }
    public mutating func beginArray() { beginValue(); bytes.append(UInt8(ascii: "[")); hasContent.append(false) }
    public mutating func endArray() { endContainer(UInt8(ascii: "]")) }

    /// Writes an object member name; the next call writes its value.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        if prettyPrinted { bytes.append(UInt8(ascii: " ")) }
        afterKey = true
    }

    // MARK: Values

    /// Writes a string value, quoted and escaped.
    public mutating func string(_ value: String) { beginValue(); appendQuoted(value) }

    /// Writes text that the caller guarantees is a valid JSON number.
    public mutating func number(_ text: String) { beginValue(); bytes.append(contentsOf: text.utf8) }

    /// Writes an integer value.
    public mutating func number<I: BinaryInteger>(_ value: I) { number(String(value)) }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) { beginValue(); bytes.append(contentsOf: (value ? "true" : "false").utf8) }

    /// Writes `null`.
    public mutating func null() { beginValue(); bytes.append(contentsOf: "null".utf8) }

    // MARK: Internals

    private mutating func beginValue() {
        if afterKey { afterKey = false; return }
        separate()
    }

    /// Comma and indentation before a member or element of the innermost container.
    private mutating func separate() {
        guard !hasContent.isEmpty else { return }
        if hasContent[hasContent.count - 1] { bytes.append(UInt8(ascii: ",")) }
        hasContent[hasContent.count - 1] = true
        if prettyPrinted { newline(depth: hasContent.count) }
    }

    private mutating func endContainer(_ close: UInt8) {
        let hadContent = hasContent.removeLast()
        if prettyPrinted && hadContent { newline(depth: hasContent.count) }
        bytes.append(close)
    }

    private mutating func newline(depth: Int) {
        bytes.append(0x0A)
        for _ in 0..<depth { bytes.append(0x20); bytes.append(0x20) }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends a quoted, escaped string: `"` and `\` are escaped, control characters U+0000–U+001F use
    /// the short forms where RFC 8259 §7 has them and `\u00XX` otherwise. Other characters are copied as UTF-8.
    private mutating func appendQuoted(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for i in 0..<utf8.count {
                let byte = utf8[i]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0xF)]])
                }
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
