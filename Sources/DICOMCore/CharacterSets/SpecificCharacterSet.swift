import Foundation

/// The character repertoires a data set's text uses, from Specific Character Set (0008,0005)
/// (PS3.5 §6.1, PS3.3 C.12.1.1.2).
///
/// Covers every Defined Term of PS3.3 Tables C.12-2 to C.12-5: the single-byte sets (ISO_IR 100, 101, 109,
/// 110, 144, 127, 126, 138, 148, 203, 13, 166), their ISO 2022 forms with code extension escape sequences,
/// the multi-byte ISO 2022 IR 87, 159, 149 and 58, and ISO_IR 192 (UTF-8), GB18030 and GBK.
/// Single-byte sets decode through generated tables; multi-byte sets through glibc iconv.
///
/// - Decoding never fails: bytes that do not decode become U+FFFD.
/// - Encoding throws `.unencodableCharacter` naming the character, its code point and the set; it never
///   substitutes `?`.
/// - For files that declare one set and hold another, see `init(fallbackEncodingName:)` and
///   `init(lenientTerms:)`; `DataSet.characterSetOverride` applies the result.
public struct SpecificCharacterSet: Sendable, Hashable, CustomStringConvertible {
    /// The defined terms, as in (0008,0005); empty means the default repertoire. For a caller-chosen
    /// non-DICOM code (`init(fallbackEncodingName:)`) this holds that code's name and `isDefinedByDICOM` is false.
    public let terms: [String]

    /// How text is decoded and encoded.
    enum Mode: Sendable, Hashable {
        /// The default repertoire, ISO_IR 6 (ASCII).
        case ascii
        /// One single-byte code without code extensions.
        case singleByte(SingleByteCode)
        /// ISO 2022 code extensions.
        case iso2022(ISO2022Configuration)
        case utf8
        case gb18030
        case gbk
        /// Any other code glibc iconv knows, for caller-chosen fallbacks.
        case iconv(String)
    }

    let mode: Mode
    /// What the set is called in messages, e.g. "ISO_IR 144 (ISO 8859-5 Latin/Cyrillic (ISO-IR 144))".
    let displayName: String
    /// Whether the set comes from DICOM Defined Terms (false for caller-chosen fallback codes).
    public let isDefinedByDICOM: Bool

    /// The default repertoire, ISO_IR 6 (ASCII).
    public static let `default` = SpecificCharacterSet(terms: [], mode: .ascii, displayName: "the default repertoire ISO_IR 6 (ASCII)")
    /// ISO_IR 192, Unicode in UTF-8.
    public static let utf8 = SpecificCharacterSet(terms: ["ISO_IR 192"], mode: .utf8, displayName: "ISO_IR 192 (Unicode in UTF-8)")

    init(terms: [String], mode: Mode, displayName: String, isDefinedByDICOM: Bool = true) {
        self.terms = terms
        self.mode = mode
        self.displayName = displayName
        self.isDefinedByDICOM = isDefinedByDICOM
    }

    /// A character set from the values of (0008,0005), spelled as the standard spells them (surrounding
    /// spaces are ignored). An empty value 1 means the default repertoire; "ISO_IR 6" is accepted for it.
    /// Throws `.unknownCharacterSet` naming the first unknown term; `init(lenientTerms:)` accepts common misspellings.
    ///
    /// With several values, value 1 sets the initial G0 and G1 and every value may be designated by escape
    /// sequences (PS3.5 §6.1.2.5); a plain "ISO_IR n" term among several is read as its "ISO 2022 IR n" form.
    /// If any value is ISO_IR 192, GB18030 or GBK (which allow no code extensions), that value alone is used.
    public init(terms: [String]) throws {
        let trimmed = terms.map { $0.trimmingCharacters(in: .whitespaces) }
        var definitions: [DefinedTerm] = []
        for (index, term) in trimmed.enumerated() {
            if term.isEmpty {
                if index == 0 { definitions.append(DefinedTerm.named("ISO 2022 IR 6")!) }
                continue
            }
            guard let definition = DefinedTerm.named(term) else {
                throw DICOMError(.unknownCharacterSet,
                                 "unknown Specific Character Set term '\(term)' (value \(index + 1) of (0008,0005)); PS3.3 Table C.12-2 to C.12-5 list the Defined Terms")
            }
            definitions.append(definition)
        }
        self.init(definitions: definitions, terms: trimmed)
    }

    /// Builds the set from resolved terms; `terms` is what (0008,0005) holds.
    init(definitions: [DefinedTerm], terms: [String]) {
        let terms = terms.allSatisfy(\.isEmpty) ? [] : terms
        let name = terms.isEmpty ? "the default repertoire ISO_IR 6 (ASCII)" : terms.joined(separator: "\\")
        func named(_ detail: String) -> String { terms.isEmpty ? name : "\(name) (\(detail))" }
        if let unicode = definitions.first(where: { if case .iso2022 = $0.form { return false } else { return true } }) {
            let mode: Mode
            switch unicode.form {
            case .utf8: mode = .utf8
            case .gb18030: mode = .gb18030
            default: mode = .gbk
            }
            self.init(terms: terms, mode: mode, displayName: named(unicode.displayName))
            return
        }
        if definitions.allSatisfy({ $0.form == .iso2022(g0: .ascii, g1: nil) }) {
            self.init(terms: terms, mode: .ascii, displayName: named("ASCII"))
            return
        }
        if definitions.count == 1, let only = definitions.first, !only.codeExtensions,
           case .iso2022(_, let g1) = only.form, case .upperHalf(let code)? = g1 {
            self.init(terms: terms, mode: .singleByte(code), displayName: named(only.displayName))
            return
        }
        let detail = definitions.map(\.displayName).joined(separator: ", ")
        self.init(terms: terms, mode: .iso2022(ISO2022Configuration(terms: definitions)), displayName: named(detail))
    }

    public static func == (lhs: SpecificCharacterSet, rhs: SpecificCharacterSet) -> Bool {
        lhs.terms == rhs.terms && lhs.mode == rhs.mode
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(terms)
    }

    public var description: String { terms.isEmpty ? "ISO_IR 6" : terms.joined(separator: "\\") }

    /// Whether the set can hold every Unicode character (ISO_IR 192, GB18030).
    public var isUnicode: Bool { mode == .utf8 || mode == .gb18030 }

    /// Whether text in this set may contain ISO 2022 escape sequences.
    public var usesCodeExtensions: Bool {
        if case .iso2022 = mode { return true }
        return false
    }

    // MARK: Decoding

    /// Decodes a text value of the given VR. Never fails: bytes that do not decode become U+FFFD.
    ///
    /// Padding is not removed. With code extensions, the escape state resets as PS3.5 §6.1.2.5.3 requires,
    /// which depends on the VR (backslash delimits values except in LT, ST, UT and UR; PN also resets at `^` and `=`).
    @inlinable public func decode(_ bytes: some Collection<UInt8>, vr: VR) -> String {
        if let result = bytes.withContiguousStorageIfAvailable({ decode(buffer: $0, vr: vr) }) { return result }
        return Array(bytes).withUnsafeBufferPointer { decode(buffer: $0, vr: vr) }
    }

    /// Decodes a text value held in `Data` (as `DataElement` holds it).
    public func decode(_ data: Data, vr: VR) -> String {
        data.withUnsafeBytes { decode(buffer: $0.bindMemory(to: UInt8.self), vr: vr) }
    }

    /// Decodes a text value held in an array.
    public func decode(_ bytes: [UInt8], vr: VR) -> String {
        bytes.withUnsafeBufferPointer { decode(buffer: $0, vr: vr) }
    }

    /// Decodes a text value held in contiguous memory.
    public func decode(buffer: UnsafeBufferPointer<UInt8>, vr: VR) -> String {
        switch mode {
        case .ascii:
            return SpecificCharacterSet.decodeASCII(buffer)
        case .utf8:
            return String(decoding: buffer, as: UTF8.self)
        case .singleByte(let code):
            return SingleByteCodec.codec(for: code).decode(buffer)
        case .iso2022(let configuration):
            return ISO2022Decoder(configuration: configuration).decode(buffer, vr: vr)
        case .gb18030:
            return SpecificCharacterSet.decode(buffer, with: IconvCodes.gb18030Decoder)
        case .gbk:
            return SpecificCharacterSet.decode(buffer, with: IconvCodes.gbkDecoder)
        case .iconv(let name):
            guard let pools = IconvCodes.pools(for: name) else { return SpecificCharacterSet.decodeASCII(buffer) }
            return SpecificCharacterSet.decode(buffer, with: pools.decoder)
        }
    }

    /// ASCII; every byte above 0x7F becomes U+FFFD.
    static func decodeASCII(_ buffer: UnsafeBufferPointer<UInt8>) -> String {
        if !buffer.contains(where: { $0 >= 0x80 }) { return String(decoding: buffer, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        for byte in buffer { scalars.append(byte < 0x80 ? Unicode.Scalar(byte) : "\u{FFFD}") }
        return String(scalars)
    }

    /// A stateless multi-byte code through iconv, with an ASCII fast path.
    static func decode(_ buffer: UnsafeBufferPointer<UInt8>, with pool: IconvPool) -> String {
        if !buffer.contains(where: { $0 >= 0x80 }) { return String(decoding: buffer, as: UTF8.self) }
        var output: [UInt8] = []
        output.reserveCapacity(buffer.count * 2)
        pool.decode(buffer, invalidSkip: 1, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    // MARK: Encoding

    /// Encodes a text value of the given VR. Padding is not added.
    ///
    /// Throws `.unencodableCharacter` naming the first character the set cannot hold, its code point and
    /// the set. Text that fails only because it is in decomposed form (NFD) is retried in composed form (NFC).
    /// VRs outside SH, LO, ST, LT, PN, UC and UT use the default repertoire whatever the set (PS3.5 §6.1.2.3).
    public func encode(_ string: String, vr: VR) throws -> [UInt8] {
        do {
            return try encodeExactly(string, vr: vr)
        } catch let error as DICOMError where error.code == .unencodableCharacter {
            let composed = string.precomposedStringWithCanonicalMapping
            if composed.unicodeScalars.elementsEqual(string.unicodeScalars) { throw error }
            guard let bytes = try? encodeExactly(composed, vr: vr) else { throw error }
            return bytes
        }
    }

    private func encodeExactly(_ string: String, vr: VR) throws -> [UInt8] {
        if !vr.usesSpecificCharacterSet && mode != .ascii {
            return try SpecificCharacterSet.default.encodeExactly(string, vr: vr)
        }
        switch mode {
        case .ascii:
            var output: [UInt8] = []
            output.reserveCapacity(string.utf8.count)
            for (offset, scalar) in string.unicodeScalars.enumerated() {
                if scalar.value == 0x1B {
                    throw unencodable(scalar, at: offset, in: displayName, hint: "ESC is allowed only in code extension escape sequences")
                }
                guard scalar.value < 0x80 else {
                    let hint = vr.usesSpecificCharacterSet
                        ? "declare a Specific Character Set (0008,0005) that holds it, e.g. ISO_IR 192 (UTF-8)"
                        : "VR \(vr) allows only the default repertoire"
                    throw unencodable(scalar, at: offset, in: displayName, hint: hint)
                }
                output.append(UInt8(scalar.value))
            }
            return output
        case .utf8:
            return Array(string.utf8)
        case .singleByte(let code):
            return try SingleByteCodec.codec(for: code).encode(string, setName: displayName)
        case .iso2022(let configuration):
            return try ISO2022Encoder(configuration: configuration, setName: displayName).encode(string, vr: vr)
        case .gb18030:
            return try encode(string, with: IconvCodes.gb18030Encoder)
        case .gbk:
            return try encode(string, with: IconvCodes.gbkEncoder)
        case .iconv(let name):
            guard let pools = IconvCodes.pools(for: name) else {
                throw DICOMError(.unknownCharacterSet, "iconv cannot convert to '\(name)' on this system")
            }
            return try encode(string, with: pools.encoder)
        }
    }

    /// A stateless multi-byte code through iconv; on failure, finds the character to name.
    private func encode(_ string: String, with pool: IconvPool) throws -> [UInt8] {
        if let bytes = pool.convert(string.utf8) { return bytes }
        guard pool.isAvailable else {
            throw DICOMError(.unencodableCharacter, "iconv cannot convert to \(pool.to) on this system, needed for \(displayName)")
        }
        for (offset, scalar) in string.unicodeScalars.enumerated() where pool.encode(scalar) == nil {
            throw unencodable(scalar, at: offset, in: displayName)
        }
        throw DICOMError(.unencodableCharacter, "the text cannot be written in \(displayName)")
    }

    // MARK: Person names

    /// Decodes a PN value and parses its first value as a person name (PS3.5 §6.2.1). With code extensions,
    /// the escape state resets at each `^` and `=`, so each component is decoded on its own.
    public func decodePersonName(_ bytes: some Collection<UInt8>) -> PersonName {
        decodePersonNames(bytes).first ?? PersonName()
    }

    /// Decodes a PN value with any number of values (separated by backslashes) into person names.
    public func decodePersonNames(_ bytes: some Collection<UInt8>) -> [PersonName] {
        let text = decode(bytes, vr: .PN)
        return Substring(text).splitASCII(0x5C, maxPieces: .max).map { PersonName($0) }
    }

    /// Encodes a person name as a PN value (no padding); throws `.unencodableCharacter` like `encode(_:vr:)`.
    public func encodePersonName(_ name: PersonName) throws -> [UInt8] {
        try encode(name.dicomString, vr: .PN)
    }

    /// Encodes several person names as one multi-valued PN value (no padding).
    public func encodePersonNames(_ names: [PersonName]) throws -> [UInt8] {
        try encode(names.map(\.dicomString).joined(separator: "\\"), vr: .PN)
    }
}
