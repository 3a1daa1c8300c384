import Foundation

/// Latin transliteration of names for character sets that cannot hold them, so that a scanner shows a readable
/// name rather than `?`.
///
/// Cyrillic follows ICAO Doc 9303 (the machine-readable passport table used in Russian and Kyrgyz passports), with the
/// Kyrgyz letters Ң → NG, Ө → O, Ү → U and the Kazakh letters Ә Ғ Қ Ұ Һ І → A G Q U H I. Persian and Arabic letters
/// map to their usual Latin consonants (short vowels are not written in the script and cannot be recovered); Persian
/// digits become ASCII digits. Anything else loses its diacritics or, failing that, is dropped — never replaced by `?`.
public enum Transliteration {
    private static let cyrillic: [Character: String] = [
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i", "й": "i",
        "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
        "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
        // Kyrgyz.
        "ң": "ng", "ө": "o", "ү": "u",
        // Kazakh, Ukrainian, Belarusian.
        "ә": "a", "ғ": "g", "қ": "q", "ұ": "u", "һ": "h", "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
    ]

    private static let arabicScript: [Character: String] = [
        "ا": "a", "آ": "a", "أ": "a", "إ": "e", "ب": "b", "پ": "p", "ت": "t", "ث": "s", "ج": "j", "چ": "ch", "ح": "h",
        "خ": "kh", "د": "d", "ذ": "z", "ر": "r", "ز": "z", "ژ": "zh", "س": "s", "ش": "sh", "ص": "s", "ض": "z", "ط": "t",
        "ظ": "z", "ع": "", "غ": "gh", "ف": "f", "ق": "gh", "ک": "k", "ك": "k", "گ": "g", "ل": "l", "م": "m", "ن": "n",
        "و": "v", "ه": "h", "ة": "h", "ی": "i", "ي": "y", "ى": "a", "ئ": "y", "ؤ": "v", "ء": "",
        "۰": "0", "۱": "1", "۲": "2", "۳": "3", "۴": "4", "۵": "5", "۶": "6", "۷": "7", "۸": "8", "۹": "9",
        "\u{200C}": "", "\u{064E}": "", "\u{064F}": "", "\u{0650}": "", "\u{0651}": "", "\u{0652}": "",
    ]

    /// `text` in ASCII Latin letters. Upper-case source letters give upper-case Latin (`Ш` → `SH`, or `Sh` before a
    /// lower-case letter); a word written in Arabic script is capitalised.
    public static func latin(_ text: String) -> String {
        var output = ""
        let characters = Array(text)
        var wordStartsArabic = true
        for (index, character) in characters.enumerated() {
            let lower = Character(String(character).lowercased())
            if let mapped = cyrillic[lower] {
                let isUpper = character != lower
                if isUpper {
                    let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                    output += nextIsLower ? mapped.prefix(1).uppercased() + mapped.dropFirst() : mapped.uppercased()
                } else {
                    output += mapped
                }
                wordStartsArabic = false
            } else if let mapped = arabicScript[character] {
                output += wordStartsArabic ? mapped.prefix(1).uppercased() + mapped.dropFirst() : mapped
                if !mapped.isEmpty && !mapped.allSatisfy(\.isNumber) { wordStartsArabic = false }
            } else if character.isASCII {
                output.append(character)
                wordStartsArabic = !(character.isLetter || character.isNumber)
            } else {
                // Latin with diacritics and other scripts: strip the marks; drop what is still not ASCII.
                let stripped = String(character).folding(options: [.diacriticInsensitive, .widthInsensitive], locale: nil)
                output += stripped.unicodeScalars.filter(\.isASCII).map(String.init).joined()
                wordStartsArabic = false
            }
        }
        return output
    }
}
