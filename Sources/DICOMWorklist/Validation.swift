import DICOMCore
import Foundation

/// Checks of operator input, each throwing a ``WorklistError`` that names the field and the accepted form.
enum Validation {
    /// A calendar date `YYYYMMDD` (or `YYYY-MM-DD`), returned as `YYYYMMDD`.
    static func date(_ text: String, field: String) throws -> String {
        let digits = text.replacingOccurrences(of: "-", with: "")
        guard digits.count == 8, digits.allSatisfy(\.isASCIIDigit),
              let year = Int(digits.prefix(4)), let month = Int(digits.dropFirst(4).prefix(2)), let day = Int(digits.suffix(2)),
              year >= 1, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else {
            throw WorklistError(.invalidInput, "\(field) '\(text)' is not a valid date: expected YYYYMMDD, e.g. 19800131")
        }
        return digits
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// A time `HHMM`, `HHMMSS` or `HH:MM[:SS]`, returned as `HHMMSS`.
    static func time(_ text: String, field: String) throws -> String {
        let digits = text.replacingOccurrences(of: ":", with: "")
        guard digits.count == 4 || digits.count == 6, digits.allSatisfy(\.isASCIIDigit),
              let hour = Int(digits.prefix(2)), let minute = Int(digits.dropFirst(2).prefix(2)),
              hour < 24, minute < 60, digits.count == 4 || (Int(digits.suffix(2)) ?? 99) < 60 else {
            throw WorklistError(.invalidInput, "\(field) '\(text)' is not a valid time: expected HH:MM or HHMMSS, e.g. 10:30")
        }
        return digits.count == 4 ? digits + "00" : digits
    }

    /// A scheduled start `YYYY-MM-DDTHH:MM[:SS]`, `YYYYMMDDHHMM[SS]` or `YYYYMMDD HH:MM`: (date, time).
    static func dateTime(_ text: String, field: String) throws -> (date: String, time: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts: (String, String)
        if let separator = trimmed.firstIndex(where: { $0 == "T" || $0 == " " }) {
            parts = (String(trimmed[..<separator]), String(trimmed[trimmed.index(after: separator)...]))
        } else if trimmed.count >= 12, trimmed.allSatisfy(\.isASCIIDigit) {
            parts = (String(trimmed.prefix(8)), String(trimmed.dropFirst(8)))
        } else {
            throw WorklistError(.invalidInput, "\(field) '\(text)' is not a valid date and time: expected YYYY-MM-DDTHH:MM, e.g. 2026-11-23T10:30")
        }
        do {
            return (try date(parts.0, field: field), try time(parts.1, field: field))
        } catch {
            throw WorklistError(.invalidInput, "\(field) '\(text)' is not a valid date and time: expected YYYY-MM-DDTHH:MM, e.g. 2026-11-23T10:30")
        }
    }

    /// Patient's Sex: M, F or O.
    static func sex(_ text: String) throws -> String {
        let value = text.uppercased()
        guard ["M", "F", "O"].contains(value) else {
            throw WorklistError(.invalidInput, "sex '\(text)' is not valid: expected M, F or O")
        }
        return value
    }

    /// A code string (CS, PS3.5 §6.2): upper-case letters, digits, space and underscore, at most 16 characters.
    static func codeString(_ text: String, field: String) throws -> String {
        let value = text.uppercased()
        guard !value.isEmpty, value.count <= 16,
              value.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == " " || $0 == "_" }) else {
            throw WorklistError(.invalidInput, "\(field) '\(text)' is not valid: expected up to 16 letters, digits, spaces or underscores (e.g. CT)")
        }
        return value
    }

    /// An AE title: 1 to 16 printable ASCII characters, no backslash.
    static func aeTitle(_ text: String, field: String) throws -> String {
        let value = text.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty, value.count <= 16, value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F && $0 != "\\" }) else {
            throw WorklistError(.invalidInput, "\(field) '\(text)' is not a valid AE title: expected 1 to 16 ASCII characters")
        }
        return value
    }

    /// A Patient ID or accession number (LO/SH): no backslash or control characters, at most `maximum` characters.
    static func identifier(_ text: String, field: String, maximum: Int) throws -> String {
        let value = text.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty, value.count <= maximum, !value.unicodeScalars.contains(where: { $0 == "\\" || $0.value < 0x20 }) else {
            throw WorklistError(.invalidInput, "\(field) '\(text)' is not valid: expected 1 to \(maximum) characters without backslashes")
        }
        return value
    }

    /// A person name `FAMILY^GIVEN[^MIDDLE^PREFIX^SUFFIX]` in any script.
    static func personName(_ text: String, field: String) throws -> String {
        let value = text.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { throw WorklistError(.invalidInput, "\(field) is empty: expected FAMILY^GIVEN") }
        do {
            _ = try PersonName(validating: value)
        } catch {
            throw WorklistError(.invalidInput, "\(field) '\(text)' is not a valid person name: expected FAMILY^GIVEN (\(error))")
        }
        guard !value.unicodeScalars.contains(where: { $0 == "\\" || $0.value < 0x20 }) else {
            throw WorklistError(.invalidInput, "\(field) '\(text)' contains a backslash or control character")
        }
        return value
    }

    /// Free text (LT): no control characters other than CR, LF, tab and form feed.
    static func text(_ value: String, field: String, maximum: Int = 10240) throws -> String {
        guard value.count <= maximum else { throw WorklistError(.invalidInput, "\(field) is longer than \(maximum) characters") }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 && !["\r", "\n", "\t", "\u{0C}"].contains($0) }) else {
            throw WorklistError(.invalidInput, "\(field) contains a control character")
        }
        return value
    }

    /// A one-line value (LO): no backslash (the value separator) and no control characters.
    static func line(_ value: String, field: String, maximum: Int = 64) throws -> String {
        let value = value.trimmingCharacters(in: .whitespaces)
        guard value.count <= maximum else { throw WorklistError(.invalidInput, "\(field) is longer than \(maximum) characters") }
        guard !value.unicodeScalars.contains(where: { $0 == "\\" || $0.value < 0x20 }) else {
            throw WorklistError(.invalidInput, "\(field) '\(value)' contains a backslash or a line break; it must be one line")
        }
        return value
    }

    /// A weight in kg: greater than 0 and at most 500.
    static func weight(_ value: Double) throws -> Double {
        guard value > 0, value <= 500, value.isFinite else {
            throw WorklistError(.invalidInput, "weight \(value) is not valid: expected kilograms between 0 and 500")
        }
        return value
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
