/// A person's name, one value of VR PN (PS3.5 §6.2.1).
///
/// Up to three component groups — alphabetic, ideographic and phonetic — separated by `=`, each with up
/// to five components separated by `^`: family name, given name, middle name, prefix and suffix.
/// For example "Yamada^Tarou=山田^太郎=やまだ^たろう" (PS3.5 Example H.3-1).
///
/// Work on decoded text: with ISO 2022 code extensions, decode through `SpecificCharacterSet.decode(_:vr:)`
/// with VR PN or `decodePersonName(_:)`, which reset the escape state at each `^` and `=`.
public struct PersonName: Sendable, Hashable, CustomStringConvertible {
    /// One component group (PS3.5 §6.2.1.1): five components, any of them empty.
    public struct ComponentGroup: Sendable, Hashable {
        public var familyName: String
        public var givenName: String
        public var middleName: String
        /// Prefix, e.g. "Dr.".
        public var namePrefix: String
        /// Suffix, e.g. "Jr.". A lenient parse keeps components beyond the fifth here, joined with `^`.
        public var nameSuffix: String

        public init(familyName: String = "", givenName: String = "", middleName: String = "",
                    namePrefix: String = "", nameSuffix: String = "") {
            self.familyName = familyName
            self.givenName = givenName
            self.middleName = middleName
            self.namePrefix = namePrefix
            self.nameSuffix = nameSuffix
        }

        /// A group from its DICOM form, e.g. "Иванов^Иван". Components beyond the fifth stay in the suffix.
        public init(_ text: some StringProtocol) {
            let parts = Substring(text).splitASCII(0x5E, maxPieces: 5)  // ^
            func part(_ i: Int) -> String { i < parts.count ? String(parts[i]) : "" }
            self.init(familyName: part(0), givenName: part(1), middleName: part(2), namePrefix: part(3), nameSuffix: part(4))
        }

        /// The components in DICOM order.
        public var components: [String] { [familyName, givenName, middleName, namePrefix, nameSuffix] }

        /// Whether every component is empty.
        public var isEmpty: Bool { components.allSatisfy(\.isEmpty) }

        /// The DICOM form, with trailing empty components and their `^` dropped (PS3.5 §6.2.1.1).
        public var dicomString: String {
            var parts = components
            while let last = parts.last, last.isEmpty { parts.removeLast() }
            return parts.joined(separator: "^")
        }

        /// The non-empty components, prefix first: "Dr. Иванов Иван Петрович".
        public var readable: String {
            [namePrefix, familyName, givenName, middleName, nameSuffix]
                .map { $0.trimmingSpaces() }
                .filter { !$0.isEmpty }
                .joined(separator: " ")
        }
    }

    public var alphabetic: ComponentGroup
    public var ideographic: ComponentGroup
    public var phonetic: ComponentGroup

    public init(alphabetic: ComponentGroup = ComponentGroup(), ideographic: ComponentGroup = ComponentGroup(),
                phonetic: ComponentGroup = ComponentGroup()) {
        self.alphabetic = alphabetic
        self.ideographic = ideographic
        self.phonetic = phonetic
    }

    /// A name from the alphabetic components alone.
    public init(familyName: String, givenName: String = "", middleName: String = "", namePrefix: String = "", nameSuffix: String = "") {
        self.init(alphabetic: ComponentGroup(familyName: familyName, givenName: givenName, middleName: middleName,
                                             namePrefix: namePrefix, nameSuffix: nameSuffix))
    }

    /// Parses one decoded PN value, e.g. "Hong^Gildong=洪^吉洞=홍^길동". Never fails: trailing padding (spaces
    /// and NULs) is removed; components beyond the fifth stay in the suffix and text beyond the third group stays in
    /// the phonetic group verbatim, so `dicomString` gives the text back. Use `init(validating:)` to reject those.
    public init(_ value: some StringProtocol) {
        let text = Substring(value).withoutPersonNamePadding()
        let groups = text.splitASCII(0x3D, maxPieces: 3)  // =
        if groups.count == 1, !text.utf8.contains(0x5E) {  // the common "Family" alone
            self.init(alphabetic: ComponentGroup(familyName: String(text)))
            return
        }
        func group(_ i: Int) -> ComponentGroup { i < groups.count ? ComponentGroup(groups[i]) : ComponentGroup() }
        self.init(alphabetic: group(0), ideographic: group(1), phonetic: group(2))
    }

    /// Parses one decoded PN value strictly: throws `.invalidValue` for more than three component groups,
    /// more than five components in a group, or a backslash (which separates values, not names).
    public init(validating value: some StringProtocol) throws {
        let text = Substring(value).withoutPersonNamePadding()
        if text.utf8.contains(0x5C) {
            throw DICOMError(.invalidValue, "a person name value contains a backslash, which separates values (PS3.5 §6.2)")
        }
        let groups = text.splitASCII(0x3D, maxPieces: .max)
        guard groups.count <= 3 else {
            throw DICOMError(.invalidValue, "a person name has \(groups.count) component groups; PS3.5 §6.2.1 allows at most 3")
        }
        for (index, group) in groups.enumerated() {
            let count = group.splitASCII(0x5E, maxPieces: .max).count
            guard count <= 5 else {
                throw DICOMError(.invalidValue, "component group \(index + 1) of a person name has \(count) components; PS3.5 §6.2.1 allows at most 5")
            }
        }
        self.init(text)
    }

    /// The groups in DICOM order.
    public var componentGroups: [ComponentGroup] { [alphabetic, ideographic, phonetic] }

    /// Whether every component of every group is empty.
    public var isEmpty: Bool { componentGroups.allSatisfy(\.isEmpty) }

    /// The DICOM form: groups joined by `=` and components by `^`, trailing empty components and groups
    /// dropped (PS3.5 §6.2.1.1), e.g. "Yamada^Tarou=山田^太郎=やまだ^たろう". Not padded.
    public var dicomString: String {
        var groups = componentGroups.map(\.dicomString)
        while let last = groups.last, last.isEmpty { groups.removeLast() }
        return groups.joined(separator: "=")
    }

    /// A readable form: the first non-empty group, then the others in parentheses, e.g.
    /// "Yamada Tarou (山田 太郎; やまだ たろう)".
    public var description: String {
        let readable = componentGroups.map(\.readable).filter { !$0.isEmpty }
        guard let first = readable.first else { return "" }
        return readable.count == 1 ? first : first + " (" + readable.dropFirst().joined(separator: "; ") + ")"
    }
}

extension Substring {
    /// Splits on an ASCII byte into at most `maxPieces` pieces (the last keeps the rest), keeping empty pieces.
    /// Works on UTF-8 code units: an ASCII byte never occurs inside a multi-byte character, and this avoids
    /// grapheme breaking, which made `split(separator: Character)` the cost of parsing a name.
    func splitASCII(_ separator: UInt8, maxPieces: Int) -> [Substring] {
        var pieces: [Substring] = []
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex, pieces.count < maxPieces - 1 {
            if utf8[index] == separator {
                pieces.append(self[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        pieces.append(self[start..<utf8.endIndex])
        return pieces
    }
}

extension StringProtocol {
    /// Without trailing spaces and NULs (the padding of text values, PS3.5 §6.2).
    fileprivate func withoutPersonNamePadding() -> Substring {
        var text = Substring(self)
        var end = text.utf8.endIndex
        while end > text.utf8.startIndex {
            let before = text.utf8.index(before: end)
            guard text.utf8[before] == 0x20 || text.utf8[before] == 0x00 else { break }
            end = before
        }
        text = text[text.startIndex..<end]
        return text
    }

    /// Without leading and trailing spaces.
    fileprivate func trimmingSpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " { text.removeFirst() }
        while let last = text.last, last == " " { text.removeLast() }
        return String(text)
    }
}
