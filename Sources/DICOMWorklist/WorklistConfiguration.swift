import DICOMCore
import DICOMNetwork
import Foundation

/// Site settings of the worklist, read from `<archive>/worklist/config.json` or a file given with `--config`:
///
/// ```json
/// {
///   "defaultCharacterSet": "ISO_IR 192",
///   "callingAETitles": { "OLDCT": { "characterSet": "ISO_IR 144" }, "XRAY1": { "characterSet": "ISO_IR 100" } },
///   "destinations": { "CITYPACS": { "host": "10.0.0.5", "port": 104 } },
///   "referringOrganizations": { "City Hospital 1": "CITYPACS" },
///   "archiveNode": "DCMSTORE@127.0.0.1:11112"
/// }
/// ```
///
/// A calling AE title not listed gets `defaultCharacterSet` (ISO_IR 192, UTF-8, when absent). Text that a configured
/// set cannot hold is sent transliterated to Latin (``Transliteration``), never as `?`.
public struct WorklistConfiguration: Codable, Sendable, Equatable {
    public struct Peer: Codable, Sendable, Equatable {
        /// Specific Character Set (0008,0005) terms, backslash-separated, e.g. `ISO_IR 144` or `ISO 2022 IR 6\ISO 2022 IR 144`.
        public var characterSet: String?
        public init(characterSet: String?) { self.characterSet = characterSet }
    }

    public struct Destination: Codable, Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public var defaultCharacterSet: String?
    public var callingAETitles: [String: Peer]?
    /// Where report C-STOREs go, by AE title.
    public var destinations: [String: Destination]?
    /// The AE title a referring organization's reports are sent to by default.
    public var referringOrganizations: [String: String]?
    /// The running archive node (`dcmstore serve`) as `AE@host:port`: a report created while it holds the archive index
    /// is stored through it by C-STORE.
    public var archiveNode: String?

    public init(defaultCharacterSet: String? = nil, callingAETitles: [String: Peer]? = nil,
                destinations: [String: Destination]? = nil, referringOrganizations: [String: String]? = nil) {
        self.defaultCharacterSet = defaultCharacterSet
        self.callingAETitles = callingAETitles
        self.destinations = destinations
        self.referringOrganizations = referringOrganizations
    }

    /// The configuration file of a worklist directory.
    public static func defaultPath(worklistDirectory: String) -> String { worklistDirectory + "/config.json" }

    /// Reads a configuration file; a missing file at the default path gives the defaults.
    /// - Throws: ``WorklistError`` for an unreadable file, invalid JSON or an unknown character set.
    public static func load(path: String, required: Bool) throws -> WorklistConfiguration {
        guard FileManager.default.fileExists(atPath: path) else {
            if required { throw WorklistError(.notFound, "configuration file \(path) does not exist") }
            return WorklistConfiguration()
        }
        let configuration: WorklistConfiguration
        do {
            configuration = try JSONDecoder().decode(WorklistConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw WorklistError(.invalidInput, "configuration file \(path) is not valid: \(error)")
        }
        _ = try configuration.characterSet(for: nil)
        for (title, peer) in configuration.callingAETitles ?? [:] {
            do { _ = try Self.parse(peer.characterSet) } catch {
                throw WorklistError(.invalidInput, "configuration file \(path): calling AE \(title): \(error)")
            }
        }
        return configuration
    }

    static func parse(_ terms: String?) throws -> SpecificCharacterSet {
        guard let terms, !terms.isEmpty else { return .utf8 }
        do {
            return try SpecificCharacterSet(terms: terms.split(separator: "\\", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            })
        } catch {
            throw WorklistError(.invalidInput, "unknown character set '\(terms)': \(error)")
        }
    }

    /// The character set answers to `callingAETitle` are written in.
    public func characterSet(for callingAETitle: String?) throws -> SpecificCharacterSet {
        if let callingAETitle, let peer = callingAETitles?[callingAETitle.trimmingCharacters(in: .whitespaces)] {
            return try Self.parse(peer.characterSet ?? defaultCharacterSet)
        }
        return try Self.parse(defaultCharacterSet)
    }
}

/// Writes text attributes in a chosen character set, transliterating what it cannot hold.
public struct TextEncoder: Sendable {
    public let characterSet: SpecificCharacterSet

    public init(characterSet: SpecificCharacterSet) {
        self.characterSet = characterSet
    }

    /// `value` as it will be written: unchanged when the set holds it, else its Latin transliteration.
    public func representable(_ value: String, vr: VR) -> String {
        if (try? characterSet.encode(value, vr: vr)) != nil { return value }
        let latin = Transliteration.latin(value)
        if (try? characterSet.encode(latin, vr: vr)) != nil { return latin }
        return String(String.UnicodeScalarView(latin.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 }))
    }

    /// A data set (or sequence item) ready for text in this set: Specific Character Set declared at the top level.
    public func newDataSet(topLevel: Bool) -> DataSet {
        var dataSet = DataSet()
        if topLevel {
            if !characterSet.terms.isEmpty { dataSet.setASCII(.specificCharacterSet, vr: .CS, characterSet.terms.joined(separator: "\\")) }
        } else {
            dataSet.inheritedCharacterSet = characterSet
        }
        return dataSet
    }

    /// Sets a text attribute; an empty or nil value gives an empty (zero-length) attribute.
    public func set(_ tag: Tag, vr: VR, _ value: String?, in dataSet: inout DataSet) {
        guard let value, !value.isEmpty else {
            dataSet.set(DataElement(tag: tag, vr: vr, bytes: Data()))
            return
        }
        if vr.usesSpecificCharacterSet {
            let text = representable(value, vr: vr)
            if (try? dataSet.set(tag, vr: vr, string: text)) == nil {
                dataSet.setASCII(tag, vr: vr, String(String.UnicodeScalarView(text.unicodeScalars.filter(\.isASCII))))
            }
        } else {
            dataSet.setASCII(tag, vr: vr, value)
        }
    }
}
