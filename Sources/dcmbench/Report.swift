import Foundation

/// A Markdown table printed as soon as it is complete, so that it can be pasted into docs/BENCHMARKS.md.
struct Table {
    var title: String
    var header: [String]
    var rows: [[String]] = []
    var notes: [String] = []

    init(_ title: String, _ header: [String]) {
        self.title = title
        self.header = header
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, cell in
                cell + String(repeating: " ", count: max(0, widths[i] - cell.count))
            }
            return "| " + padded.joined(separator: " | ") + " |"
        }
        var out = "### \(title)\n\n"
        out += line(header) + "\n"
        out += "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|\n"
        for row in rows { out += line(row + Array(repeating: "", count: max(0, header.count - row.count))) + "\n" }
        for note in notes { out += "\n" + note + "\n" }
        return out
    }
}

/// The targets from the issue, checked at the end of a run.
struct TargetCheck {
    var name: String
    var measured: String
    var target: String
    var met: Bool
}

/// Collects tables and target checks across subcommands (`dcmbench all` prints one summary).
final class BenchReport {
    var checks: [TargetCheck] = []

    func print(_ table: Table) {
        Swift.print(table.render())
        fflush(nil)
    }

    func check(_ name: String, measured: String, target: String, met: Bool) {
        checks.append(TargetCheck(name: name, measured: measured, target: target, met: met))
    }

    func printSummary() {
        guard !checks.isEmpty else { return }
        var table = Table("Targets", ["target", "measured", "required", "met"])
        for check in checks { table.add([check.name, check.measured, check.target, check.met ? "yes" : "NO"]) }
        self.print(table)
    }
}

/// Progress and notes go to stderr so that stdout holds only the tables.
func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

// MARK: Number formatting

/// 12,345 with thousands separators, no fraction.
func grouped(_ value: Double) -> String {
    let n = Int(value.rounded())
    let digits = String(abs(n))
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}

func fixed(_ value: Double, _ decimals: Int = 2) -> String { String(format: "%.\(decimals)f", value) }

/// A ratio written as "3.41×".
func ratio(_ value: Double) -> String { String(format: "%.2f×", value) }

/// Bytes in MB (10^6, as throughput figures are usually given).
func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
