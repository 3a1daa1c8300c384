/// A C-FIND wild card pattern (PS3.4 C.2.2.2.4): `*` matches any sequence of characters, including none,
/// and `?` exactly one character. Characters are Unicode characters (extended grapheme clusters), not bytes,
/// so `Ү?` matches a two-letter Kyrgyz name whatever encoding the data set used.
public struct WildcardPattern: Sendable, Equatable {
    public enum Element: Sendable, Equatable {
        case literal(Character)
        case any
        case anySequence
    }

    public let elements: [Element]
    /// The text before the first wild card, for a quick prefix check.
    let literalPrefix: String
    /// True when the only wild card is one trailing `*` (the commonest pattern, "SMITH*").
    let isPrefixOnly: Bool

    /// Compiles a key value; every character other than `*` and `?` is literal.
    public init(_ pattern: String) {
        var elements: [Element] = []
        for character in pattern {
            switch character {
            case "*": if elements.last != .anySequence { elements.append(.anySequence) }
            case "?": elements.append(.any)
            default: elements.append(.literal(character))
            }
        }
        self.elements = elements
        literalPrefix = String(pattern.prefix { $0 != "*" && $0 != "?" })
        let wildcards = elements.filter { $0 != .anySequence && $0 == .any }.count
        isPrefixOnly = wildcards == 0 && elements.last == .anySequence && elements.filter { $0 == .anySequence }.count == 1
        if wildcards == 0 {
            segments = pattern.split(separator: "*", omittingEmptySubsequences: false).map { Array($0.utf8) }
        } else {
            segments = nil
        }
    }

    /// For patterns with `*` but no `?`: the literal text between the stars, as UTF-8. Matching these bytes is
    /// exact for UTF-8 text (a code point's bytes cannot match inside another's) and avoids per-character work.
    let segments: [[UInt8]]?

    /// Matches patterns without `?`: first segment as prefix, last as suffix, the others in order between (one segment:
    /// a pattern without wild cards, equal to the value).
    private func matchSegments(_ segments: [[UInt8]], _ value: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes -> Bool in
            guard let first = segments.first, let last = segments.last else { return false }
            // No `*` at all: the whole value must equal the pattern.
            if segments.count == 1 { return bytes.elementsEqual(first) }
            guard bytes.count >= first.count + last.count,
                  bytes.starts(with: first), bytes.suffix(last.count).elementsEqual(last) else { return false }
            var position = first.count
            let end = bytes.count - last.count
            for segment in segments.dropFirst().dropLast() where !segment.isEmpty {
                guard let found = WildcardPattern.find(segment, in: bytes, from: position, to: end) else { return false }
                position = found + segment.count
            }
            return true
        }
    }

    private static func find(_ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int? {
        guard needle.count <= end - start, let head = needle.first else { return nil }
        var i = start
        while i + needle.count <= end {
            if haystack[i] == head {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// Whether a string contains `*` or `?`.
    public static func hasWildcard(_ text: String) -> Bool { text.contains { $0 == "*" || $0 == "?" } }

    /// Whether `value` matches the whole pattern. Literal text compares by code points as stored (no Unicode
    /// normalisation), which is what a byte-exact DICOM match does.
    public func matches(_ value: String) -> Bool {
        if !value.utf8.starts(with: literalPrefix.utf8) { return false }
        if isPrefixOnly { return true }
        if let segments { return matchSegments(segments, value) }
        // Iterative matching with one backtrack point (the last `*`): O(pattern × value) in the worst case.
        var p = 0
        var v = value.startIndex
        var starP = -1
        var starV = value.startIndex
        while v < value.endIndex {
            if p < elements.count {
                switch elements[p] {
                case .anySequence:
                    starP = p
                    starV = v
                    p += 1
                    continue
                case .any:
                    p += 1
                    v = value.index(after: v)
                    continue
                case .literal(let c):
                    if value[v] == c {
                        p += 1
                        v = value.index(after: v)
                        continue
                    }
                }
            }
            guard starP >= 0 else { return false }
            p = starP + 1
            starV = value.index(after: starV)
            v = starV
        }
        while p < elements.count, elements[p] == .anySequence { p += 1 }
        return p == elements.count
    }
}
