import Foundation

/// The character repertoires a data set's text uses, from Specific Character Set (0008,0005) (PS3.5 §6.1, PS3.3 C.12.1.1.2).
///
/// INTERIM VERSION: only ISO_IR 6, ISO_IR 100 and ISO_IR 192. The full implementation replaces this file.
public struct SpecificCharacterSet: Sendable, Equatable, CustomStringConvertible {
    /// The defined terms, as in (0008,0005); empty means the default repertoire.
    public let terms: [String]

    /// The default repertoire, ISO_IR 6 (ASCII).
    public static let `default` = SpecificCharacterSet(validatedTerms: [])
    /// ISO_IR 192, Unicode in UTF-8.
    public static let utf8 = SpecificCharacterSet(validatedTerms: ["ISO_IR 192"])

    init(validatedTerms: [String]) { terms = validatedTerms }

    /// A character set from the values of (0008,0005). Throws `.unknownCharacterSet` for an unknown term.
    public init(terms: [String]) throws {
        for term in terms where !["", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192"].contains(term) {
            throw DICOMError(.unknownCharacterSet, "unknown Specific Character Set term '\(term)'")
        }
        self.init(validatedTerms: terms.allSatisfy { $0.isEmpty } ? [] : terms)
    }

    public var description: String { terms.isEmpty ? "ISO_IR 6" : terms.joined(separator: "\\") }

    /// Decodes a text value. Never fails: bytes that do not decode become U+FFFD.
    public func decode(_ bytes: some Collection<UInt8>, vr: VR) -> String {
        switch terms.first ?? "" {
        case "ISO_IR 100": return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        default: return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Encodes a text value. Throws `.unencodableCharacter` naming the first character the set cannot hold.
    public func encode(_ string: String, vr: VR) throws -> [UInt8] {
        switch terms.first ?? "" {
        case "ISO_IR 192": return Array(string.utf8)
        case "ISO_IR 100":
            return try string.unicodeScalars.map { scalar in
                guard scalar.value < 256 else {
                    throw DICOMError(.unencodableCharacter, "'\(scalar)' (U+\(hexString(scalar.value, digits: 4))) cannot be written in ISO_IR 100")
                }
                return UInt8(scalar.value)
            }
        default:
            return try string.unicodeScalars.map { scalar in
                guard scalar.value < 128 else {
                    throw DICOMError(.unencodableCharacter, "'\(scalar)' (U+\(hexString(scalar.value, digits: 4))) cannot be written in the default repertoire ISO_IR 6")
                }
                return UInt8(scalar.value)
            }
        }
    }
}
