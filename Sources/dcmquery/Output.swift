import DICOMCore
import Foundation

/// Formats matches as an aligned text table or as CSV; the columns are the requested keys.
enum MatchFormatter {
    /// The text of one attribute of a match: values joined with `\`, a sequence as its item count.
    static func cell(_ match: DataSet, _ tag: Tag) -> String {
        guard let element = match[tag] else { return "" }
        if let items = element.items { return items.count == 1 ? "(1 item)" : "(\(items.count) items)" }
        if element.vr.isString { return match.strings(tag)?.joined(separator: "\\") ?? "" }
        if element.vr == .FL || element.vr == .FD { return match.doubles(tag)?.map { String($0) }.joined(separator: "\\") ?? "" }
        if let integers = match.integers(tag) { return integers.map(String.init).joined(separator: "\\") }
        return "(\(element.valueLength) bytes)"
    }

    /// An aligned table: a header of keywords, a rule, one row per match. Cells are padded by display width.
    static func table(_ matches: [DataSet], columns: [(keyword: String, tag: Tag)]) -> String {
        let header = columns.map(\.keyword)
        let rows = matches.map { match in columns.map { cell(match, $0.tag).replacingOccurrences(of: "\n", with: " ") } }
        var widths = header.map(displayWidth)
        for row in rows {
            for (index, text) in row.enumerated() { widths[index] = max(widths[index], displayWidth(text)) }
        }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (index, text) in cells.enumerated() {
                if index > 0 { out += "  " }
                out += text
                if index < cells.count - 1 { out += String(repeating: " ", count: widths[index] - displayWidth(text)) }
            }
            while out.hasSuffix(" ") { out.removeLast() }
            return out
        }
        var lines = [line(header), line(widths.map { String(repeating: "-", count: $0) })]
        lines += rows.map(line)
        return lines.joined(separator: "\n") + "\n"
    }

    /// CSV (RFC 4180): a header of keywords, one record per match, fields quoted when needed.
    static func csv(_ matches: [DataSet], columns: [(keyword: String, tag: Tag)]) -> String {
        func field(_ text: String) -> String {
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var lines = [columns.map { field($0.keyword) }.joined(separator: ",")]
        for match in matches {
            lines.append(columns.map { field(cell(match, $0.tag)) }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// The columns a string takes on a terminal: combining marks, format characters (ZWNJ in Persian) and
    /// zero-width spaces take none, East Asian wide and fullwidth characters two, everything else one.
    static func displayWidth(_ text: String) -> Int {
        var width = 0
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .enclosingMark, .format, .control:
                continue
            default:
                width += isWide(scalar.value) ? 2 : 1
            }
        }
        return width
    }

    static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
             0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
            return true
        default:
            return false
        }
    }
}
