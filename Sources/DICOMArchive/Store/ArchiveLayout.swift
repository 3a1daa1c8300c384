import DICOMCore
import Foundation

/// Where everything lives under an archive's root directory:
///
/// ```
/// <root>/data/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm   stored instances (Part 10)
/// <root>/trash/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm  deleted, not yet purged
/// <root>/tmp/                                                               files being written
/// <root>/index/                                                             the index (JSONArchiveIndex)
/// <root>/audit.jsonl                                                        one JSON line per lifecycle action
/// ```
///
/// Every path component made from a UID is checked by ``UIDPathComponent`` first, so a UID received from the
/// network can never name a file outside the archive.
public struct ArchiveLayout: Sendable, Equatable {
    /// The archive root directory.
    public var root: String

    /// The default root: `./archive`.
    public static let defaultRoot = "./archive"

    public init(root: String = ArchiveLayout.defaultRoot) {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root.isEmpty ? "." : root
    }

    /// `<root>/data`.
    public var dataDirectory: String { root + "/data" }
    /// `<root>/trash`.
    public var trashDirectory: String { root + "/trash" }
    /// `<root>/tmp`.
    public var temporaryDirectory: String { root + "/tmp" }

    /// A new, unique path in ``temporaryDirectory`` ending in `.part`, named by a new UID (128 random bits from
    /// `getrandom`; Foundation's `UUID()` opens and reads `/dev/urandom` each time, two system calls more per instance).
    func temporaryFileName() -> String { temporaryDirectory + "/" + UID.make() + ".part" }
    /// `<root>/index`.
    public var indexDirectory: String { root + "/index" }
    /// `<root>/audit.jsonl`.
    public var auditLogPath: String { root + "/audit.jsonl" }

    /// Which of the two file trees a path is in.
    public enum Area: String, Sendable, Codable {
        case data, trash

        var directoryName: String { rawValue }
    }

    /// The path of an instance relative to the root, e.g. `data/1.2/1.2.3/1.2.3.4.dcm`, after validating the three UIDs.
    /// - Throws: ``ArchiveError`` (`invalidUID`) naming the UID and what is wrong with it.
    public func relativePath(studyInstanceUID: String, seriesInstanceUID: String, sopInstanceUID: String,
                             in area: Area = .data) throws -> String {
        let study = try UIDPathComponent(studyInstanceUID, attribute: "Study Instance UID")
        let series = try UIDPathComponent(seriesInstanceUID, attribute: "Series Instance UID")
        let instance = try UIDPathComponent(sopInstanceUID, attribute: "SOP Instance UID")
        return "\(area.directoryName)/\(study.value)/\(series.value)/\(instance.value).dcm"
    }

    /// The absolute (root-prefixed) path for a path relative to the root.
    public func absolute(_ relativePath: String) -> String { root + "/" + relativePath }

    /// The same instance's relative path in the other area (`data/…` ↔ `trash/…`).
    /// - Throws: ``ArchiveError`` (`invalidPath`) when the path is in neither area.
    public func relativePath(_ relativePath: String, movedTo area: Area) throws -> String {
        for from in [Area.data, .trash] where relativePath.hasPrefix(from.directoryName + "/") {
            return area.directoryName + relativePath.dropFirst(from.directoryName.count)
        }
        throw ArchiveError(.invalidPath, "path \"\(relativePath)\" is not under data/ or trash/", path: relativePath)
    }

    /// Creates the root and its `data`, `trash`, `tmp` and `index` directories.
    public func createDirectories() throws {
        for directory in [root, dataDirectory, trashDirectory, temporaryDirectory, indexDirectory] {
            try FileSystem.makeDirectories(directory)
        }
    }
}

/// A UID checked for use as a file or directory name: 1 to 64 characters, only digits and dots, not starting or
/// ending with a dot and without empty components (`..`) — PS3.5 §9.1's UID encoding rules, which also rule out
/// `/`, `..` and every other character that would let a name escape its directory.
public struct UIDPathComponent: Sendable, Hashable, CustomStringConvertible {
    /// The validated UID.
    public let value: String

    /// Validates `uid`. `attribute` names it in the error (e.g. "Study Instance UID").
    /// - Throws: ``ArchiveError`` (`invalidUID`) saying what is wrong.
    public init(_ uid: String, attribute: String = "UID") throws {
        if let problem = UIDPathComponent.problem(with: uid) {
            throw ArchiveError(.invalidUID, "\(attribute) \"\(UIDPathComponent.printable(uid))\" cannot be used as a file name: \(problem)",
                               uid: uid)
        }
        value = uid
    }

    public var description: String { value }

    /// What makes `uid` unusable, or nil when it is fine.
    public static func problem(with uid: String) -> String? {
        let bytes = Array(uid.utf8)
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > 64 { return "it is \(bytes.count) characters long; at most 64 are allowed" }
        for (i, byte) in bytes.enumerated() where !(byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) && byte != UInt8(ascii: ".") {
            let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte \(hexString(byte, digits: 2))H"
            return "\(shown) at position \(i + 1) is not a digit or a dot"
        }
        if bytes.first == UInt8(ascii: ".") { return "it starts with a dot" }
        if bytes.last == UInt8(ascii: ".") { return "it ends with a dot" }
        for i in 1..<bytes.count where bytes[i] == UInt8(ascii: ".") && bytes[i - 1] == UInt8(ascii: ".") {
            return "it has an empty component (\"..\") at position \(i)"
        }
        return nil
    }

    /// The UID for an error message: control characters escaped, cut at 80 characters.
    static func printable(_ uid: String) -> String {
        var out = ""
        for scalar in uid.unicodeScalars.prefix(80) {
            out += scalar.value < 0x20 || scalar.value == 0x7F ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return uid.unicodeScalars.count > 80 ? out + "…" : out
    }
}
