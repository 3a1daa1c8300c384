import Foundation

extension DataSet {
    /// The resolved character set for decoding text at this level: the override, else the declared
    /// Specific Character Set (0008,0005), else the inherited one, else the default repertoire (ISO_IR 6).
    ///
    /// The declared set is resolved once, when (0008,0005) is set, replaced or removed, not on every access.
    /// Slightly malformed values are read as pydicom and DCMTK read them (see `SpecificCharacterSet.parse(value:)`):
    /// lower case, extra spaces, NUL padding, "ISO-IR 100", "UTF-8". A value with an unrecognisable term is ignored.
    public var characterSet: SpecificCharacterSet {
        characterSetOverride ?? declaredCharacterSet ?? inheritedCharacterSet ?? .default
    }

    /// The set that this data set's own (0008,0005) declares, resolved from `storage`; nil when absent or not recognisable.
    static func resolveDeclaredCharacterSet(_ storage: [DataElement]) -> SpecificCharacterSet? {
        // Elements are sorted: (0008,0005) comes after at most a few group 0000–0008 elements.
        for element in storage {
            if element.tag.rawValue < Tag.specificCharacterSet.rawValue { continue }
            guard element.tag == .specificCharacterSet, case .bytes(let data) = element.value else { return nil }
            return SpecificCharacterSet.parse(value: data)?.set
        }
        return nil
    }
}

extension SpecificCharacterSet {
    /// Reads a raw Specific Character Set (0008,0005) value: values split at backslashes, spaces and NULs
    /// trimmed, each term as the standard spells it or, failing that, as `init(lenientTerms:)` accepts it
    /// (lower case, extra or missing spaces, "ISO-IR 100", code names such as "UTF-8"), like pydicom and DCMTK.
    ///
    /// - Returns: the set, and whether every term was spelled as the standard spells it (false when the
    ///   lenient reading was needed); nil when a term is not recognisable at all.
    public static func parse(value: Data) -> (set: SpecificCharacterSet, isStandardSpelling: Bool)? {
        let terms = splitTerms(value)
        if terms.count == 1, let known = singleTermSets[terms[0]] { return (known, true) }
        if let set = try? SpecificCharacterSet(terms: terms) { return (set, true) }
        if let set = SpecificCharacterSet(lenientTerms: terms) { return (set, false) }
        return nil
    }

    /// The values of a raw (0008,0005) value, split at backslashes, with spaces and NULs trimmed from both ends.
    /// Works on the bytes: no Foundation string trimming.
    static func splitTerms(_ value: Data) -> [String] {
        value.withUnsafeBytes { raw -> [String] in
            var terms: [String] = []
            let count = raw.count
            var start = 0
            while true {
                var end = start
                while end < count && raw[end] != 0x5C { end += 1 }
                var low = start, high = end
                while low < high && (raw[low] == 0x20 || raw[low] == 0) { low += 1 }
                while high > low && (raw[high - 1] == 0x20 || raw[high - 1] == 0) { high -= 1 }
                terms.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[low..<high]), as: UTF8.self))
                if end >= count { break }
                start = end + 1
            }
            return terms
        }
    }

    /// Every single Defined Term (and the empty value) resolved once: most files declare one term.
    private static let singleTermSets: [String: SpecificCharacterSet] = {
        var sets: [String: SpecificCharacterSet] = [:]
        for term in definedTerms + [""] {
            if let set = try? SpecificCharacterSet(terms: [term]) { sets[term] = set }
        }
        return sets
    }()
}
