import DICOMCore
import Foundation

/// Formats a data set as text, one element a line, in the manner of DCMTK's `dcmdump`:
/// `(0010,0010) PN [Иванов^Иван]                          # 22, 1 PatientName`, items indented.
public struct DumpFormatter: Sendable {
    /// How many values of a binary element to show before eliding.
    public var maximumValues: Int = 16
    /// How many characters of text to show before eliding.
    public var maximumTextLength: Int = 64

    public init() {}

    /// Every line of the dump of `dataSet`.
    public func lines(_ dataSet: DataSet, indent: Int = 0) -> [String] {
        var out: [String] = []
        append(dataSet, indent: indent, into: &out)
        return out
    }

    func append(_ dataSet: DataSet, indent: Int, into out: inout [String]) {
        let pad = String(repeating: "  ", count: indent)
        for element in dataSet {
            let keyword = DataDictionary.entry(for: element.tag)?.keyword ?? (element.tag.isPrivate ? "PrivateTag" : "UnknownTag")
            switch element.value {
            case .sequence(let items):
                let length = element.hadUndefinedLength ? "u/l" : "-"
                out.append(line(pad, element.tag, element.vr, "(Sequence with \(items.count) item\(items.count == 1 ? "" : "s"))", length, items.count, keyword))
                for (index, item) in items.enumerated() {
                    out.append("\(pad)  (FFFE,E000) na (Item #\(index + 1)\(item.hadUndefinedLength ? ", undefined length" : ""))")
                    append(item, indent: indent + 2, into: &out)
                }
            case .encapsulated(let pixels):
                out.append(line(pad, element.tag, element.vr, "(PixelSequence, \(pixels.fragments.count) fragment\(pixels.fragments.count == 1 ? "" : "s"))", "u/l", 1, keyword))
                out.append("\(pad)  (FFFE,E000) pi (Basic Offset Table, \(pixels.basicOffsetTable.count) bytes)")
                for (index, fragment) in pixels.fragments.enumerated() {
                    out.append("\(pad)  (FFFE,E000) pi (Fragment #\(index + 1), \(fragment.count) bytes)")
                }
            case .bytes(let data):
                let (text, multiplicity) = render(element, data, in: dataSet)
                out.append(line(pad, element.tag, element.vr, text, String(data.count), multiplicity, keyword))
            }
        }
    }

    func line(_ pad: String, _ tag: Tag, _ vr: VR, _ value: String, _ length: String, _ vm: Int, _ keyword: String) -> String {
        var text = "\(pad)\(tag) \(vr) \(value)"
        let column = 52
        if text.count < column { text += String(repeating: " ", count: column - text.count) }
        return "\(text) # \(length), \(vm) \(keyword)"
    }

    /// The shown value and its multiplicity.
    public func render(_ element: DataElement, _ data: Data, in dataSet: DataSet) -> (String, Int) {
        if data.isEmpty { return ("(no value available)", 0) }
        let vr = element.vr
        if vr.isString {
            let values = dataSet.strings(element.tag) ?? []
            var joined = values.joined(separator: "\\")
            joined = joined.map { $0.isASCII && $0.asciiValue! < 0x20 ? "." : String($0) }.joined()
            if joined.count > maximumTextLength { joined = String(joined.prefix(maximumTextLength)) + "..." }
            return ("[\(joined)]", values.count)
        }
        switch vr {
        case .US, .SS, .UL, .SL, .SV, .UV:
            let values = dataSet.integers(element.tag) ?? []
            return (elide(values.map(String.init)), values.count)
        case .FL, .FD:
            let values = dataSet.doubles(element.tag) ?? []
            return (elide(values.map { "\($0)" }), values.count)
        case .AT:
            let tags = dataSet.tags(element.tag) ?? []
            return (elide(tags.map(\.description)), tags.count)
        default:
            // OB, OD, OF, OL, OV, OW, UN: hexadecimal words.
            let size = vr == .OW ? 2 : vr == .OL || vr == .OF ? 4 : vr == .OD || vr == .OV ? 8 : 1
            var words: [String] = []
            data.withUnsafeBytes { raw in
                var i = 0
                while i + size <= raw.count && words.count <= maximumValues {
                    var value: UInt64 = 0
                    for k in 0..<size { value |= UInt64(raw[i + k]) << (8 * UInt64(k)) }
                    words.append(hexString(value, digits: size * 2).lowercased())
                    i += size
                }
            }
            return (elide(words, separator: "\\"), max(1, data.count / size))
        }
    }

    func elide(_ values: [String], separator: String = "\\") -> String {
        if values.count > maximumValues { return values.prefix(maximumValues).joined(separator: separator) + "..." }
        return values.joined(separator: separator)
    }
}
