import ArgumentParser
import DICOMCore

/// Parses a character-set option value: a DICOM defined term or one of the fallback encodings.
public enum CharacterSetOption {
    public static func parse(_ text: String) throws -> SpecificCharacterSet {
        if let set = try? SpecificCharacterSet(terms: text.split(separator: "\\", omittingEmptySubsequences: false).map(String.init)) {
            return set
        }
        if let set = try? SpecificCharacterSet(fallbackEncodingName: text) { return set }
        throw ValidationError("unknown character set '\(text)': give a Specific Character Set term such as 'ISO_IR 144' or an encoding such as windows-1251")
    }
}
