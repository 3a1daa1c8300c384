import DICOMCore
import DICOMServices
import Foundation

/// Matching of one C-FIND key against a stored value (PS3.4 C.2.2.2): universal (empty or `*`), single value,
/// wild card (`*`, `?` over characters, not bytes) and, for DA and TM, range matching (`a-b`, `-b`, `a-`).
enum KeyMatch: Sendable {
    case universal
    case text(pattern: [Character], foldCase: Bool)
    /// Inclusive bounds in normalised digits (`YYYYMMDD` or `HHMMSS`); nil for an open end.
    case range(lower: String?, upper: String?)

    /// Compiles the key `tag` of `identifier`; throws ``DIMSEFailure`` 0xC000 naming the attribute for a malformed date or time.
    static func make(_ tag: Tag, in identifier: DataSet, name: String, foldCase: Bool = false) throws -> KeyMatch {
        guard let element = identifier[tag], element.bytes != nil else { return .universal }
        let value = (identifier.text(tag) ?? "").trimmingCharacters(in: .whitespaces)
        if value.isEmpty || value == "*" { return .universal }
        switch element.vr {
        case .DA, .TM:
            let isDate = element.vr == .DA
            guard let range = parseRange(value, isDate: isDate) else {
                throw DIMSEFailure(.cannotUnderstand,
                                   "\(name): '\(value)' is not a valid \(element.vr) value or range (PS3.4 C.2.2.2.5)")
            }
            return .range(lower: range.lower, upper: range.upper)
        default:
            let text = foldCase ? value.lowercased() : value
            return .text(pattern: Array(text), foldCase: foldCase)
        }
    }

    /// Whether `stored` matches; an absent or empty stored value matches only universal keys.
    func matches(_ stored: String?) -> Bool {
        switch self {
        case .universal: return true
        case .text(let pattern, let foldCase):
            guard let stored, !stored.isEmpty else { return false }
            let value = Array(foldCase ? stored.lowercased() : stored)
            if KeyMatch.wildcardMatch(pattern, value) { return true }
            // A PN key also matches the alphabetic group alone (a scanner asks for "IVANOV*", we store "IVANOV^IVAN=...").
            if let alphabetic = stored.split(separator: "=", omittingEmptySubsequences: false).first, alphabetic.count != stored.count {
                return KeyMatch.wildcardMatch(pattern, Array(foldCase ? alphabetic.lowercased() : String(alphabetic)))
            }
            return false
        case .range(let lower, let upper):
            guard let stored, let value = KeyMatch.normalise(stored) else { return false }
            if let lower, value < lower { return false }
            if let upper, value > upper { return false }
            return true
        }
    }

    /// `*` matches any run of characters (also none), `?` one character; iterative with one backtrack point.
    static func wildcardMatch(_ pattern: [Character], _ value: [Character]) -> Bool {
        var p = 0, v = 0, starP = -1, starV = 0
        while v < value.count {
            if p < pattern.count && pattern[p] == "*" {
                starP = p; starV = v; p += 1
            } else if p < pattern.count && (pattern[p] == "?" || pattern[p] == value[v]) {
                p += 1; v += 1
            } else if starP >= 0 {
                p = starP + 1; starV += 1; v = starV
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }

    /// The digits of a stored DA or TM value (`2026-11-23`, `10:30`, fractions dropped).
    static func normalise(_ value: String) -> String? {
        let digits = value.split(separator: ".").first.map { String($0) }?.filter { $0 != "-" && $0 != ":" } ?? ""
        return digits.isEmpty || !digits.allSatisfy(\.isASCIIDigit) ? nil : digits
    }

    /// Parses `a`, `a-b`, `-b` or `a-` of dates (`YYYYMMDD`) or times (`HH`, `HHMM`, `HHMMSS[.F]`). A single value is the
    /// range of its own period; a lower bound pads with zeros, an upper one covers the whole period it names.
    static func parseRange(_ text: String, isDate: Bool) -> (lower: String?, upper: String?)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        func bound(_ value: String, upper: Bool) -> String? {
            let digits = value.split(separator: ".", omittingEmptySubsequences: false).first.map { $0.replacingOccurrences(of: ":", with: "") } ?? ""
            if isDate {
                guard (try? Validation.date(digits, field: "date")) != nil else { return nil }
                return digits
            }
            guard [2, 4, 6].contains(digits.count), digits.allSatisfy(\.isASCIIDigit) else { return nil }
            let hour = Int(digits.prefix(2)) ?? 99, minute = digits.count >= 4 ? Int(digits.dropFirst(2).prefix(2)) ?? 99 : 0
            let second = digits.count == 6 ? Int(digits.suffix(2)) ?? 99 : 0
            guard hour < 24, minute < 60, second < 61 else { return nil }
            return upper ? digits + String(repeating: "9", count: 6 - digits.count) : digits + String(repeating: "0", count: 6 - digits.count)
        }
        switch parts.count {
        case 1:
            guard let lower = bound(parts[0], upper: false), let upper = bound(parts[0], upper: true) else { return nil }
            return (lower, upper)
        case 2:
            if parts[0].isEmpty && parts[1].isEmpty { return nil }
            let lower = parts[0].isEmpty ? nil : bound(parts[0], upper: false)
            let upper = parts[1].isEmpty ? nil : bound(parts[1], upper: true)
            if !parts[0].isEmpty && lower == nil { return nil }
            if !parts[1].isEmpty && upper == nil { return nil }
            if let lower, let upper, lower > upper { return nil }
            return (lower, upper)
        default:
            return nil
        }
    }
}
