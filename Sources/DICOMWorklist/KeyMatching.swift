import DICOMArchive
import DICOMCore
import DICOMServices
import Foundation

/// Matching of one C-FIND key against a stored value (PS3.4 C.2.2.2): universal (empty or `*`), single value,
/// wild card (`*`, `?` over characters, not bytes), List of UID matching for UI keys (`uid1\uid2`, PS3.4 C.2.2.2.2)
/// and, for DA and TM, range matching (`a-b`, `-b`, `a-`).
enum KeyMatch: Sendable {
    case universal
    case text(WildcardPattern, foldCase: Bool)
    case range(TemporalRange)
    /// List of UID matching: the stored UID is any of these.
    case uids(Set<String>)

    /// Compiles the key `tag` of `identifier`; throws ``DIMSEFailure`` 0xC000 naming the attribute for a malformed date or time.
    static func make(_ tag: Tag, in identifier: DataSet, name: String, foldCase: Bool = false) throws -> KeyMatch {
        guard let element = identifier[tag], element.bytes != nil else { return .universal }
        let value = (identifier.text(tag) ?? "").trimmingCharacters(in: .whitespaces)
        if value.isEmpty || value == "*" { return .universal }
        switch element.vr {
        case .DA, .TM:
            guard let range = TemporalRange.parse(value, kind: element.vr == .DA ? .date : .time) else {
                throw DIMSEFailure(.cannotUnderstand,
                                   "\(name): '\(value)' is not a valid \(element.vr) value or range (PS3.4 C.2.2.2.5)")
            }
            return .range(range)
        case .UI where value.contains("\\"):
            let uids = value.split(separator: "\\").map { $0.trimmingCharacters(in: Self.uidPadding) }.filter { !$0.isEmpty }
            return uids.isEmpty ? .universal : .uids(Set(uids))
        default:
            return .text(WildcardPattern(foldCase ? value.lowercased() : value), foldCase: foldCase)
        }
    }

    /// Whether `stored` matches; an absent or empty stored value matches only universal keys.
    func matches(_ stored: String?) -> Bool {
        switch self {
        case .universal: return true
        case .text(let pattern, let foldCase):
            guard let stored, !stored.isEmpty else { return false }
            if pattern.matches(foldCase ? stored.lowercased() : stored) { return true }
            // A PN key also matches the alphabetic group alone (a scanner asks for "IVANOV*", we store "IVANOV^IVAN=...").
            if let alphabetic = stored.split(separator: "=", omittingEmptySubsequences: false).first, alphabetic.count != stored.count {
                return pattern.matches(foldCase ? alphabetic.lowercased() : String(alphabetic))
            }
            return false
        case .range(let range):
            guard let stored else { return false }
            return range.contains(stored: stored)
        case .uids(let uids):
            guard let stored else { return false }
            return uids.contains(stored.trimmingCharacters(in: Self.uidPadding))
        }
    }

    /// What may pad a UI value: the NUL of PS3.5 §9.1 and spaces some senders add.
    static let uidPadding = CharacterSet(charactersIn: " \u{0}")
}
