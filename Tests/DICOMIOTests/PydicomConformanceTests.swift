import CZlib
import DICOMCore
import Foundation
import Testing
@testable import DICOMIO

/// Reads every file of the test-file collection that the pydicom wheel ships and compares every element —
/// tag, VR, raw value bytes (CRC-32, little endian), sequence structure, encapsulated fragments and the
/// decoded text of character-set-dependent values — with what pydicom reads (Tools/pydicom_reference.py).
@Suite(.enabled(if: PydicomFiles.available, "pydicom is not installed (pip install pydicom)"))
struct PydicomConformanceTests {
    /// Files where we differ from pydicom on purpose, with the reason.
    static let expectedDifferences: [String: String] = [
        "MR_truncated.dcm": "truncated inside the pixel data: pydicom with force=True keeps a short value, we report the truncation",
        "rtplan_truncated.dcm": "truncated inside an element: pydicom with force=True keeps what it got, we report the truncation",
        "no_meta.dcm": "starts with a stray byte before (0008,0005): pydicom with force=True reads misaligned garbage elements, we reject the length that overruns",
        "DICOMDIR-nooffset": "an item's length overruns its sequence by 24 bytes: pydicom reads on, we report the overrun",
        "README": "a text file, not DICOM: pydicom with force=True makes elements of its bytes, we reject it",
    ]

    struct Reference: Decodable, Sendable {
        let pydicom: String
        let files: [FileResult]
    }

    struct FileResult: Decodable, Sendable {
        let path: String
        let error: String?
        let transfer_syntax: String?
        let meta: [Element]?
        let dataset: [Element]?
    }

    final class Element: Decodable, Sendable {
        let tag: String
        let vr: String
        let length: Int?
        let crc: UInt32?
        let fragments: UInt32?
        let text: String?
        let items: [[Element]]?
    }

    static func collectionFiles() -> [String] {
        guard let dir = PydicomFiles.directory else { return [] }
        let root = (dir as NSString).deletingLastPathComponent
        var files: [String] = []
        for sub in ["test_files", "charset_files"] {
            let path = root + "/" + sub
            guard let enumerator = FileManager.default.enumerator(atPath: path) else { continue }
            for case let relative as String in enumerator {
                let lower = relative.lowercased()
                if [".json", ".txt", ".icc", ".gz", ".dump", ".py", ".bz2", ".zip"].contains(where: lower.hasSuffix) { continue }
                let full = path + "/" + relative
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue { files.append(full) }
            }
        }
        return files.sorted()
    }

    static func reference(for files: [String]) throws -> Reference {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/pydicom_reference.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + files
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    static func crc(_ data: Data) -> UInt32 {
        data.withUnsafeBytes { raw in
            UInt32(crc32(0, raw.bindMemory(to: Bytef.self).baseAddress, uInt(raw.count)))
        }
    }

    /// The encapsulated item stream as pydicom holds it: items, without the sequence delimiter.
    static func itemStream(_ pixels: EncapsulatedPixelData) -> Data {
        var out = Data()
        for value in [pixels.basicOffsetTable] + pixels.fragments {
            out.append(contentsOf: [0xFE, 0xFF, 0x00, 0xE0])
            withUnsafeBytes(of: UInt32(value.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(value)
        }
        return out
    }

    /// Compares one level; returns the differences found.
    static func compare(_ ours: DataSet, _ theirs: [Element], path: String) -> [String] {
        var problems: [String] = []
        let ourTags = ours.elements.map { hexString($0.tag.rawValue, digits: 8) }
        let theirTags = theirs.map(\.tag)
        if ourTags != theirTags {
            problems.append("\(path): tags differ: only ours \(Set(ourTags).subtracting(theirTags).sorted()), only pydicom's \(Set(theirTags).subtracting(ourTags).sorted())")
        }
        let byTag = Dictionary(theirs.map { ($0.tag, $0) }, uniquingKeysWith: { a, _ in a })
        for element in ours {
            let key = hexString(element.tag.rawValue, digits: 8)
            guard let reference = byTag[key] else { continue }
            let where_ = "\(path)\(element.tag)"
            switch element.value {
            case .sequence(let items):
                guard let theirItems = reference.items else {
                    problems.append("\(where_): we read a sequence, pydicom a \(reference.vr)")
                    continue
                }
                if items.count != theirItems.count {
                    problems.append("\(where_): \(items.count) items, pydicom \(theirItems.count)")
                    continue
                }
                for (index, item) in items.enumerated() {
                    problems += compare(item, theirItems[index], path: "\(where_)[\(index)].")
                }
            case .encapsulated(let pixels):
                if reference.fragments != crc(itemStream(pixels)) {
                    problems.append("\(where_): encapsulated fragments differ")
                }
            case .bytes(let data):
                if reference.vr != element.vr.description && !(reference.vr == "UN" || element.vr == .UN) {
                    problems.append("\(where_): VR \(element.vr), pydicom \(reference.vr)")
                }
                if reference.length != data.count || reference.crc != crc(data) {
                    problems.append("\(where_): value differs (length \(data.count), pydicom \(reference.length ?? -1))")
                }
                if let text = reference.text, element.vr.usesSpecificCharacterSet {
                    let ourText = (ours.strings(element.tag) ?? []).joined(separator: "\\")
                    // Padding is insignificant, and so are trailing empty PN components and groups (PS3.5 §6.2.1),
                    // which pydicom drops when it formats a PersonName.
                    let trailing = CharacterSet(charactersIn: element.vr == .PN ? " \0=^" : " \0")
                    let norm: (String) -> String = { s in
                        s.split(separator: "\\", omittingEmptySubsequences: false)
                            .map { $0.trimmingCharacters(in: trailing) }.joined(separator: "\\")
                    }
                    if norm(ourText) != norm(text) {
                        problems.append("\(where_): text '\(ourText)', pydicom '\(text)'")
                    }
                }
            }
        }
        return problems
    }

    @Test func everyFileMatchesPydicom() async throws {
        let files = Self.collectionFiles()
        #expect(files.count > 80, "the pydicom wheel ships about 95 DICOM test files")
        // pydicom reads the whole collection for seconds: waited for on a thread of its own (``runBlocking(_:)``), not
        // on one of the cooperative pool's few threads, which the other suites' tasks and timers need meanwhile.
        let reference = try await runBlocking { try Self.reference(for: files) }
        #expect(reference.files.count == files.count)
        var compared = 0
        var failures: [String] = []
        for result in reference.files {
            let name = (result.path as NSString).lastPathComponent
            let expected = Self.expectedDifferences[name]
            do {
                let file = try DICOMFile(contentsOf: result.path)
                if result.error != nil { failures.append("\(name): pydicom fails (\(result.error!)) but we read it"); continue }
                var problems = Self.compare(file.fileMetaInformation, result.meta ?? [], path: "meta ")
                problems += Self.compare(file.dataSet, result.dataset ?? [], path: "")
                if problems.isEmpty {
                    if expected != nil { failures.append("\(name): listed as an expected difference but now matches; remove it") }
                    compared += 1
                } else if expected == nil {
                    failures.append("\(name): " + problems.prefix(5).joined(separator: "; "))
                }
            } catch {
                if expected == nil && result.error == nil {
                    failures.append("\(name): we fail (\(error)), pydicom reads it")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(compared + Self.expectedDifferences.count >= files.count - 2)
    }
}
