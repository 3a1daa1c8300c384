import DICOMCore
import DICOMServices
import Foundation

/// One matching key of a C-FIND identifier, compiled for matching against stored values (PS3.4 C.2.2.2).
///
/// - Single Value Matching (C.2.2.2.1): the stored value equals the key (PN optionally ignoring case).
/// - Universal Matching (C.2.2.2.3): an empty key, or `*` alone, matches everything; no condition is built.
/// - Wild Card Matching (C.2.2.2.4): `*` and `?` in keys of text VRs other than DA, TM, DT and UI.
/// - List of UID Matching (C.2.2.2.2): a UI key with several values matches any of them.
/// - Range Matching (C.2.2.2.5): DA, TM and DT keys `a-b`, `-b` and `a-`.
/// - A key of another VR with several values matches a stored value equal to any of them (multiple value matching).
/// A stored attribute with several values matches when any one of them does; a PN matches on the whole name or on
/// any of its component groups (alphabetic, ideographic, phonetic). An empty or absent stored value matches no
/// non-universal key. Sequence keys are not matched (they are answered empty).
struct KeyCondition: Sendable {
    enum Alternative: Sendable {
        case exact(String)
        case wildcard(WildcardPattern)
        case range(TemporalRange)
        case number(Double)
    }

    let attribute: IndexedAttribute
    let alternatives: [Alternative]
    /// Compare case-insensitively (PN with the caseInsensitiveNames option).
    let foldCase: Bool

    /// Compiles the key in `identifier` for `attribute`; nil for universal matching.
    /// Throws ``DIMSEFailure`` (0xC000) naming the attribute when a DA, TM or DT value or range is malformed.
    static func make(_ attribute: IndexedAttribute, in identifier: DataSet, caseInsensitiveNames: Bool) throws -> KeyCondition? {
        guard let element = identifier[attribute.tag], element.vr != .SQ, element.bytes != nil else { return nil }
        let text = InstanceRecord.textValue(of: attribute.tag, in: identifier) ?? ""
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed == "*" { return nil }

        let foldCase = caseInsensitiveNames && attribute.vr == .PN
        let values = attribute.vr.isSingleValuedText ? [trimmed] : trimmed.split(separator: "\\", omittingEmptySubsequences: true).map {
            String($0).trimmingCharacters(in: .whitespaces)
        }
        var alternatives: [Alternative] = []
        for value in values {
            if value == "*" { return nil }
            switch attribute.vr {
            case .DA, .TM, .DT:
                let kind: TemporalRange.Kind = attribute.vr == .DA ? .date : attribute.vr == .TM ? .time : .dateTime
                guard let range = TemporalRange.parse(value, kind: kind) else {
                    throw DIMSEFailure(.cannotUnderstand,
                                       "\(KeyCondition.name(of: attribute.tag)): '\(value)' is not a valid \(attribute.vr) value or range (PS3.4 C.2.2.2.5)")
                }
                alternatives.append(.range(range))
            case .UI:
                alternatives.append(.exact(value))
            case .IS, .DS, .US, .SS, .UL, .SL:
                if let number = Double(value) { alternatives.append(.number(number)) } else { alternatives.append(.exact(value)) }
            default:
                let comparable = KeyCondition.comparable(value, vr: attribute.vr, foldCase: foldCase)
                if WildcardPattern.hasWildcard(comparable) {
                    alternatives.append(.wildcard(WildcardPattern(comparable)))
                } else {
                    alternatives.append(.exact(comparable))
                }
            }
        }
        if alternatives.isEmpty { return nil }
        return KeyCondition(attribute: attribute, alternatives: alternatives, foldCase: foldCase)
    }

    /// "Patient's Name (0010,0010)" for error comments.
    static func name(of tag: Tag) -> String {
        if let entry = DataDictionary.entry(for: tag) { return "\(entry.name) \(tag)" }
        return tag.description
    }

    /// PN values compare without trailing empty components ("DOE^JOHN^^" equals "DOE^JOHN").
    static func normalizeName(_ value: String, vr: VR) -> String {
        guard vr == .PN, let last = value.utf8.last, last == 0x5E || last == 0x3D || last == 0x20 else { return value }
        var result = Substring(value)
        while let last = result.last, last == "^" || last == "=" || last == " " { result.removeLast() }
        return String(result)
    }

    /// True when every alternative is a wild card pattern whose only wild card is one trailing `*` after some text
    /// ("SMITH*"): a value matches exactly when it starts with one of the literal prefixes.
    var isPrefixOnly: Bool {
        alternatives.allSatisfy { alternative in
            if case .wildcard(let pattern) = alternative { return pattern.isPrefixOnly && !pattern.literalPrefix.isEmpty }
            return false
        }
    }

    /// Whether a stored value (nil or empty when absent) satisfies the key.
    func matches(_ stored: String?) -> Bool {
        guard let stored, !stored.isEmpty else { return false }
        if matchesOne(stored) { return true }
        if attribute.vr == .PN {
            if stored.utf8.contains(0x3D) {
                for group in stored.split(separator: "=") where matchesOne(String(group)) { return true }
            }
            return false
        }
        // Patient ID and the UIDs of the hierarchy have one value (VM 1) and the index finds them by their whole
        // stored value: a backslash in a stored Patient ID is part of that value, not a separator.
        if !attribute.vr.isSingleValuedText && stored.utf8.contains(0x5C) && !IndexedAttribute.hierarchyTags.contains(attribute.tag) {
            for value in stored.split(separator: "\\") where matchesOne(value.trimmingCharacters(in: .whitespaces)) { return true }
        }
        return false
    }

    private func matchesOne(_ stored: String) -> Bool {
        var comparable: String? = nil
        for alternative in alternatives {
            switch alternative {
            case .exact(let value):
                if comparable == nil { comparable = prepare(stored) }
                // Byte comparison: String == would normalise non-ASCII text on every mismatch.
                if comparable!.utf8.elementsEqual(value.utf8) { return true }
            case .wildcard(let pattern):
                if comparable == nil { comparable = prepare(stored) }
                if pattern.matches(comparable!) { return true }
            case .range(let range):
                if range.contains(stored: stored) { return true }
            case .number(let number):
                if let value = Double(stored.trimmingCharacters(in: .whitespaces)), value == number { return true }
            }
        }
        return false
    }

    private func prepare(_ stored: String) -> String {
        KeyCondition.comparable(stored, vr: attribute.vr, foldCase: foldCase)
    }

    static func comparable(_ value: String, vr: VR, foldCase: Bool) -> String {
        let normalized = normalizeName(value, vr: vr)
        return foldCase ? normalized.lowercased() : normalized
    }
}
