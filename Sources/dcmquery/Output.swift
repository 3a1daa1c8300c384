import DICOMCore
import DICOMToolSupport
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

    /// An aligned table: a header of keywords, a rule, one row per match (``TextTable``).
    static func table(_ matches: [DataSet], columns: [(keyword: String, tag: Tag)]) -> String {
        TextTable.render(header: columns.map(\.keyword), rows: matches.map { match in columns.map { cell(match, $0.tag) } })
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
}
