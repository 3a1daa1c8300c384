import Foundation
import Testing
@testable import DICOMCore

/// Caller-chosen fallbacks for mislabelled files, lenient term spellings, and the generated tables.
@Suite struct CharacterSetFallbackTests {
    @Test func windowsAndKOI8CodePages() throws {
        let samples: [(String, [UInt8], String)] = [
            ("windows-1251", [0xC8, 0xE2, 0xE0, 0xED, 0xEE, 0xE2, 0x5E, 0xC8, 0xE2, 0xE0, 0xED], "Иванов^Иван"),
            ("CP1251", [0xC8, 0xE2, 0xE0, 0xED, 0xEE, 0xE2], "Иванов"),
            ("koi8-r", [0xE9, 0xD7, 0xC1, 0xCE, 0xCF, 0xD7], "Иванов"),
            ("windows-1256", [0x81, 0xD1, 0xE6, 0x5E, 0x8D, 0x8E, 0x90, 0x98], "پرو^چژگک"),
            ("cp1252", [0x80, 0x20, 0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72], "€ Müller"),
        ]
        for (name, bytes, text) in samples {
            let charset = try SpecificCharacterSet(fallbackEncodingName: name)
            #expect(!charset.isDefinedByDICOM)
            #expect(charset.decode(bytes, vr: .PN) == text, "\(name)")
            #expect(try charset.encode(text, vr: .PN) == bytes, "\(name)")
        }
        #expect(try SpecificCharacterSet(fallbackEncodingName: "windows-1251").terms == ["windows-1251"])
        // Windows-1251 has no Kyrgyz Ү either, and says so.
        #expect { try SpecificCharacterSet(fallbackEncodingName: "windows-1251").encode("Үмүт", vr: .PN) } throws: { error in
            (error as? DICOMError)?.message.contains("windows-1251") == true
        }
    }

    @Test func fallbackAcceptsDICOMTermsAndIconvNames() throws {
        #expect(try SpecificCharacterSet(fallbackEncodingName: "ISO_IR 144") == SpecificCharacterSet(terms: ["ISO_IR 144"]))
        #expect(try SpecificCharacterSet(fallbackEncodingName: "UTF-8") == .utf8)
        #expect(try SpecificCharacterSet(fallbackEncodingName: "latin1").isDefinedByDICOM)
        let shiftJIS = try SpecificCharacterSet(fallbackEncodingName: "SHIFT_JIS")
        #expect(shiftJIS.decode([0x8E, 0x52, 0x93, 0x63], vr: .PN) == "山田")
        #expect(try shiftJIS.encode("山田", vr: .PN) == [0x8E, 0x52, 0x93, 0x63])
        #expect { try SpecificCharacterSet(fallbackEncodingName: "no-such-code") } throws: { error in
            guard let error = error as? DICOMError else { return false }
            return error.code == .unknownCharacterSet && error.message.contains("'no-such-code'")
        }
        #expect(throws: DICOMError.self) { try SpecificCharacterSet(fallbackEncodingName: "") }
    }

    @Test func lenientTermSpellings() throws {
        let cases: [([String], [String])] = [
            (["ISO-IR 192"], ["ISO_IR 192"]), (["ISO_IR_100"], ["ISO_IR 100"]), (["UTF-8"], ["ISO_IR 192"]),
            (["utf8"], ["ISO_IR 192"]), (["iso ir 144"], ["ISO_IR 144"]), (["ISOIR100"], ["ISO_IR 100"]),
            (["ISO 2022 IR100", "ISO 2022 IR 144"], ["ISO 2022 IR 100", "ISO 2022 IR 144"]),
            (["", "ISO_IR 87"], ["", "ISO 2022 IR 87"]), (["ISO_IR 149"], ["ISO 2022 IR 149"]),
            (["ISO 2022 IR 192"], ["ISO_IR 192"]), (["GB 18030"], ["GB18030"]), (["ISO-8859-5"], ["ISO_IR 144"]),
            (["ISO_IR 6", "ISO 2022 IR 87"], ["", "ISO 2022 IR 87"]), (["ISO_IR 100"], ["ISO_IR 100"]),
        ]
        for (spelled, canonical) in cases {
            let lenient = try #require(SpecificCharacterSet(lenientTerms: spelled), "\(spelled)")
            #expect(lenient.terms == canonical, "\(spelled)")
            #expect(lenient == (try SpecificCharacterSet(terms: canonical)))
        }
        #expect(SpecificCharacterSet(lenientTerms: ["ISO_IR 999"]) == nil)
        #expect(SpecificCharacterSet(lenientTerms: ["ISO_IR 100", "klingon"]) == nil)
        #expect(SpecificCharacterSet(lenientTerms: ["ISO-IR 144"])?.decode([0xB8], vr: .PN) == "И")
    }

    @Test func unicodeTermAmongSeveralWins() throws {
        let charset = try SpecificCharacterSet(terms: ["ISO 2022 IR 100", "ISO_IR 192"])
        #expect(charset.isUnicode)
        #expect(charset.decode(Array("Үмүт".utf8), vr: .PN) == "Үмүт")
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `python3 Tools/generate_charset_tables.py --stdout`; nil where python3 or the script is missing.
    static let generatorOutput: Data? = {
        let script = packageRoot.appendingPathComponent("Tools/generate_charset_tables.py")
        guard FileManager.default.fileExists(atPath: script.path) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--stdout"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? output : nil
    }()

    /// The generated tables match what the generator produces now (swift-format's GeneratedFilesValidityTests).
    @Test(.enabled(if: CharacterSetFallbackTests.generatorOutput != nil, "needs python3 and Tools/generate_charset_tables.py"))
    func generatedTablesAreCurrent() throws {
        let generated = Self.packageRoot.appendingPathComponent("Sources/DICOMCore/CharacterSets/SingleByteCode+Tables.swift")
        #expect(Self.generatorOutput == (try Data(contentsOf: generated)), "run python3 Tools/generate_charset_tables.py")
    }

    /// The tables agree with glibc iconv on every defined byte (an independent source).
    @Test func tablesAgreeWithIconv() throws {
        let names: [(SingleByteCode, String)] = [
            (.latin1, "ISO-8859-1"), (.latin2, "ISO-8859-2"), (.latin3, "ISO-8859-3"), (.latin4, "ISO-8859-4"),
            (.cyrillic, "ISO-8859-5"), (.arabic, "ISO-8859-6"), (.greek, "ISO-8859-7"), (.hebrew, "ISO-8859-8"),
            (.latin5, "ISO-8859-9"), (.latin9, "ISO-8859-15"), (.thai, "TIS-620"), (.windows1251, "CP1251"),
            (.windows1256, "CP1256"), (.koi8R, "KOI8-R"),
        ]
        for (code, name) in names {
            let pool = IconvPool(from: name, to: "UTF-8")
            guard pool.isAvailable else { continue }
            for (index, value) in code.upperHalf.enumerated() where value != 0xFFFD {
                var output: [UInt8] = []
                [UInt8(0x80 + index)].withUnsafeBufferPointer { pool.decode($0, invalidSkip: 1, into: &output) }
                #expect(String(decoding: output, as: UTF8.self).unicodeScalars.first?.value == UInt32(value),
                        "\(name) byte \(hexString(0x80 + index, digits: 2))")
            }
        }
    }
}
