/// An aligned text table for the tools' terminal output: a header row, a rule, one row per entry, columns separated by
/// two spaces and padded by display width (so Cyrillic, Persian and CJK names line up), trailing spaces trimmed.
public enum TextTable {
    /// The table as text, one line per row, each ending in a newline. A row shorter than `header` is padded with
    /// empty cells; line breaks inside a cell become spaces.
    public static func render(header: [String], rows: [[String]]) -> String {
        let cleaned = rows.map { row in
            (0..<header.count).map { index in
                index < row.count ? row[index].replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ") : ""
            }
        }
        var widths = header.map(displayWidth)
        for row in cleaned {
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
        lines += cleaned.map(line)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The columns a string takes on a terminal: combining marks, format characters (ZWNJ in Persian) and
    /// zero-width spaces take none, East Asian wide and fullwidth characters two, everything else one.
    public static func displayWidth(_ text: String) -> Int {
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
