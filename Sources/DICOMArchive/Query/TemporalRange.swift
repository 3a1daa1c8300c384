import DICOMCore

/// A DA, TM or DT value or range as C-FIND matches it (PS3.4 C.2.2.2.5 Range Matching).
///
/// Values are normalised to fixed-width digit strings so that they compare as text:
/// DA `yyyymmdd`, TM `HHMMSS.FFFFFF`, DT `YYYYMMDDHHMMSS.FFFFFF`. A partial value stands for the whole period it
/// names: `2020` as a date bound covers 20200101 to 20201231, `10` as a time covers 10:00:00 to 10:59:59.999999.
/// The legacy forms `yyyy.mm.dd` and `hh:mm:ss` (ACR-NEMA) are accepted. DT UTC offsets are ignored.
public struct TemporalRange: Sendable, Equatable {
    public enum Kind: Sendable { case date, time, dateTime }

    var kind: Kind
    /// Inclusive bounds in normalised form; nil for an open end.
    var lower: String?
    var upper: String?

    func contains(normalized value: String) -> Bool {
        if let lower, value < lower { return false }
        if let upper, value > upper { return false }
        return true
    }

    /// Whether a stored value (any accepted form) lies in the range; false when it does not parse.
    public func contains(stored value: String) -> Bool {
        // The usual stored date, `yyyymmdd` and valid, is its own normalised form: no parsing into new strings (a date
        // range query at a million instances checks this for every candidate study).
        if kind == .date, TemporalRange.isValidCompactDate(value) { return contains(normalized: value) }
        guard let normalized = TemporalRange.bounds(of: value, kind: kind)?.lower else { return false }
        return contains(normalized: normalized)
    }

    /// Whether `text` is exactly eight digits forming a valid date (what ``dateBounds(_:)`` accepts unchanged).
    static func isValidCompactDate(_ text: String) -> Bool {
        // A string without contiguous UTF-8 takes the general path (false here).
        text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard bytes.count == 8, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
            func value(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + Int(bytes[$1] - 0x30) } }
            let year = value(0..<4), month = value(4..<6), day = value(6..<8)
            return year >= 1 && (1...12).contains(month) && day >= 1 && day <= daysIn(month, year)
        } ?? false
    }

    /// Parses a query value: `a`, `a-b`, `-b` or `a-`. Returns nil when the value is malformed.
    public static func parse(_ text: String, kind: Kind) -> TemporalRange? {
        let value = text.trimmingCharacters(in: .whitespaces)
        let dashes = value.indices.filter { value[$0] == "-" }
        if dashes.isEmpty {
            guard let bounds = bounds(of: value, kind: kind) else { return nil }
            return TemporalRange(kind: kind, lower: bounds.lower, upper: bounds.upper)
        }
        // A DT value may hold a negative UTC offset, so try each dash as the range separator.
        for dash in dashes {
            let left = String(value[..<dash]), right = String(value[value.index(after: dash)...])
            if left.isEmpty && right.isEmpty { continue }
            if kind != .dateTime && dashes.count > 1 { return nil }
            let lower = left.isEmpty ? nil : bounds(of: left, kind: kind)
            let upper = right.isEmpty ? nil : bounds(of: right, kind: kind)
            if (!left.isEmpty && lower == nil) || (!right.isEmpty && upper == nil) { continue }
            if let lower, let upper, lower.lower > upper.upper {
                if kind == .dateTime { continue }
                return nil
            }
            return TemporalRange(kind: kind, lower: lower?.lower, upper: upper?.upper)
        }
        // A single DT value with a negative UTC offset ("20200101120000-0500").
        if kind == .dateTime, let bounds = bounds(of: value, kind: kind) {
            return TemporalRange(kind: kind, lower: bounds.lower, upper: bounds.upper)
        }
        return nil
    }

    /// The first and last normalised instants a (possibly partial) value stands for.
    static func bounds(of text: String, kind: Kind) -> (lower: String, upper: String)? {
        switch kind {
        case .date: return dateBounds(text)
        case .time: return timeBounds(text)
        case .dateTime: return dateTimeBounds(text)
        }
    }

    /// A complete date as `yyyymmdd`, or nil.
    static func normalizedDate(_ text: String) -> String? {
        guard let bounds = dateBounds(text), bounds.lower == bounds.upper else { return nil }
        return bounds.lower
    }

    // MARK: Parsing

    private static func digits(_ text: Substring) -> [UInt8]? {
        var result: [UInt8] = []
        for byte in text.utf8 {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            result.append(byte - 0x30)
        }
        return result
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> Int { digits.reduce(0) { $0 * 10 + Int($1) } }

    private static func text(_ value: Int, width: Int) -> String {
        let s = String(value)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    private static func dateBounds(_ input: String) -> (lower: String, upper: String)? {
        var value = Substring(input.trimmingCharacters(in: .whitespaces))
        // Legacy ACR-NEMA form yyyy.mm.dd.
        if value.count == 10, value.utf8.filter({ $0 == 0x2E }).count == 2 { value = Substring(value.filter { $0 != "." }) }
        guard let d = digits(value), [4, 6, 8].contains(d.count) else { return nil }
        let year = number(d[0..<4])
        guard year >= 1 else { return nil }
        if d.count == 4 { return (text(year, width: 4) + "0101", text(year, width: 4) + "1231") }
        let month = number(d[4..<6])
        guard (1...12).contains(month) else { return nil }
        let prefix = text(year, width: 4) + text(month, width: 2)
        if d.count == 6 { return (prefix + "01", prefix + text(daysIn(month, year), width: 2)) }
        let day = number(d[6..<8])
        guard day >= 1 && day <= daysIn(month, year) else { return nil }
        return (prefix + text(day, width: 2), prefix + text(day, width: 2))
    }

    private static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func timeBounds(_ input: String) -> (lower: String, upper: String)? {
        var text = Substring(input.trimmingCharacters(in: .whitespaces))
        // Legacy form hh:mm:ss.
        if text.contains(":") { text = Substring(text.filter { $0 != ":" }) }
        var fraction: Substring? = nil
        if let dot = text.firstIndex(of: ".") {
            fraction = text[text.index(after: dot)...]
            text = text[..<dot]
        }
        guard let d = digits(text), [2, 4, 6].contains(d.count) else { return nil }
        let hour = number(d[0..<2])
        guard hour <= 23 else { return nil }
        var lower = self.text(hour, width: 2), upper = lower
        if d.count >= 4 {
            let minute = number(d[2..<4])
            guard minute <= 59 else { return nil }
            lower += self.text(minute, width: 2); upper += self.text(minute, width: 2)
        } else {
            lower += "00"; upper += "59"
        }
        if d.count == 6 {
            let second = number(d[4..<6])
            guard second <= 60 else { return nil }
            lower += self.text(second, width: 2); upper += self.text(second, width: 2)
        } else {
            lower += "00"; upper += "59"
        }
        if let fraction {
            guard d.count == 6, let f = digits(fraction), (1...6).contains(f.count) else { return nil }
            let given = String(f.map { Character(String($0)) })
            lower += "." + given + String(repeating: "0", count: 6 - f.count)
            upper += "." + given + String(repeating: "9", count: 6 - f.count)
        } else {
            lower += ".000000"; upper += ".999999"
        }
        return (lower, upper)
    }

    private static func dateTimeBounds(_ input: String) -> (lower: String, upper: String)? {
        var text = Substring(input.trimmingCharacters(in: .whitespaces))
        // Drop a UTC offset &ZZXX.
        if let sign = text.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let offset = text[text.index(after: sign)...]
            guard offset.count == 4, digits(offset) != nil else { return nil }
            text = text[..<sign]
        }
        var fraction: Substring? = nil
        if let dot = text.firstIndex(of: ".") {
            fraction = text[text.index(after: dot)...]
            text = text[..<dot]
        }
        guard let d = digits(text), [4, 6, 8, 10, 12, 14].contains(d.count) else { return nil }
        let datePart = String(text.prefix(min(8, d.count)))
        guard let date = dateBounds(datePart) else { return nil }
        var lower = date.lower, upper = date.upper
        if d.count > 8 {
            var timeText = String(text.dropFirst(8))
            if let fraction { timeText += "." + fraction }
            guard let time = timeBounds(timeText) else { return nil }
            lower += time.lower; upper += time.upper
        } else {
            guard fraction == nil else { return nil }
            lower += "000000.000000"; upper += "235959.999999"
        }
        return (lower, upper)
    }
}
