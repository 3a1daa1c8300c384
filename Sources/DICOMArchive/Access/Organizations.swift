import DICOMNetwork
import Foundation

/// The organizations (hospitals) of a regional archive and the AE titles of their nodes and modalities.
///
/// A study belongs to the organizations whose AE titles sent its instances (the calling AE title recorded with
/// each instance), so ownership follows the configuration. A caller sees its own organization's studies and the
/// studies shared with it (``StudyShares``); a caller whose AE title is in no organization sees only studies that
/// no organization sent.
public struct Organizations: Sendable, Equatable, Codable {
    /// AE titles by organization name.
    public private(set) var members: [String: [String]]
    /// Usernames (User Identity Negotiation) by organization name.
    public private(set) var users: [String: [String]]
    /// SHA-256 fingerprints of TLS client certificates by organization name (lower-case hexadecimal, no colons).
    public private(set) var certificates: [String: [String]]
    private var organizationByAETitle: [String: String]
    private var organizationByUser: [String: String]
    private var organizationByCertificate: [String: String]

    /// - Parameters:
    ///   - members: AE titles by organization name.
    ///   - users: usernames by organization name; a caller that authenticated as one of them belongs to that
    ///     organization whatever its AE title. Only list users that the acceptor authenticates
    ///     (``DICOMNetwork/AcceptorPolicy/users``): an identity the policy does not check reaches the handlers unverified.
    ///   - certificates: SHA-256 fingerprints of TLS client certificates by organization name, as
    ///     `openssl x509 -noout -fingerprint -sha256` prints them (colons and case do not matter); a caller that
    ///     presented one belongs to that organization unless its user says otherwise.
    /// - Throws: ``ArchiveError`` when an AE title, username or certificate is listed under two organizations, a
    ///   fingerprint is not 64 hexadecimal digits, or a name is empty.
    public init(members: [String: [String]], users: [String: [String]] = [:], certificates: [String: [String]] = [:]) throws {
        var normalized: [String: [String]] = [:]
        for (name, fingerprints) in certificates {
            normalized[name] = try fingerprints.map { text in
                guard let fingerprint = Self.normalizedFingerprint(text) else {
                    throw ArchiveError(.invalidArgument, "certificate fingerprint \"\(text)\" of \"\(name)\" is not a SHA-256 fingerprint (64 hexadecimal digits)")
                }
                return fingerprint
            }
        }
        organizationByAETitle = try Self.reverse(members, what: "AE title")
        organizationByUser = try Self.reverse(users, what: "user")
        organizationByCertificate = try Self.reverse(normalized, what: "certificate")
        for name in Set(users.keys).union(normalized.keys) where members[name] == nil {
            throw ArchiveError(.invalidArgument, "users or certificates are listed for \"\(name)\", which has no AE titles")
        }
        self.members = members
        self.users = users
        self.certificates = normalized
    }

    /// A SHA-256 fingerprint as lower-case hexadecimal without separators, or nil when it is not one.
    public static func normalizedFingerprint(_ text: String) -> String? {
        let digits = text.lowercased().filter { $0 != ":" && $0 != " " }
        guard digits.count == 64, digits.allSatisfy(\.isHexDigit) else { return nil }
        return digits
    }

    private static func reverse(_ lists: [String: [String]], what: String) throws -> [String: String] {
        var byItem: [String: String] = [:]
        for (name, items) in lists {
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ArchiveError(.invalidArgument, "an organization name is empty")
            }
            for item in items {
                let key = item.trimmingCharacters(in: .whitespaces)
                if let other = byItem[key], other != name {
                    throw ArchiveError(.invalidArgument, "\(what) \"\(key)\" is listed under both \"\(other)\" and \"\(name)\"")
                }
                byItem[key] = name
            }
        }
        return byItem
    }

    /// Parses `NAME=AE[,AE...]` (the `--org` option).
    public static func parseMember(_ text: String) throws -> (name: String, aeTitles: [String]) {
        let parts = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty else {
            throw ArchiveError(.invalidArgument, "organization \"\(text)\" is not NAME=AE[,AE...]")
        }
        let titles = parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !titles.isEmpty, titles.allSatisfy({ $0.utf8.count <= 16 }) else {
            throw ArchiveError(.invalidArgument, "organization \"\(text)\" needs one or more AE titles of at most 16 characters")
        }
        return (parts[0], titles)
    }

    /// `base` (from a configuration file) with the organizations of `--org NAME=AE[,AE...]` options, each replacing one
    /// of the same name (its users and certificates are kept); nil when there are none at all.
    /// - Throws: ``ArchiveError`` naming the option or the entry that is wrong.
    public static func merging(options: [String], into base: Organizations?) throws -> Organizations? {
        var members = base?.members ?? [:]
        for text in options {
            do {
                let (name, titles) = try parseMember(text)
                for title in titles { _ = try AETitle(title) }
                members[name] = titles
            } catch {
                throw ArchiveError(.invalidArgument, "--org \(text): \(error)")
            }
        }
        if members.isEmpty { return nil }
        return try Organizations(members: members, users: base?.users ?? [:], certificates: base?.certificates ?? [:])
    }

    /// The organization an AE title belongs to, or nil.
    public func organization(ofAETitle title: String) -> String? {
        organizationByAETitle[title.trimmingCharacters(in: .whitespaces)]
    }

    /// The organization an authenticated username belongs to, or nil.
    public func organization(ofUser name: String) -> String? {
        organizationByUser[name]
    }

    /// The organization of a caller: its user's when it authenticated as a listed user, else its TLS client
    /// certificate's when it presented a listed one, else its AE title's.
    public func organization(ofAETitle title: String, user: String?, certificate: String? = nil) -> String? {
        user.flatMap { organizationByUser[$0] }
            ?? certificate.flatMap { Self.normalizedFingerprint($0) }.flatMap { organizationByCertificate[$0] }
            ?? organization(ofAETitle: title)
    }

    /// Every AE title of every organization.
    public var allAETitles: Set<String> { Set(organizationByAETitle.keys) }

    /// One organization in a configuration file: a list of AE titles, or
    /// `{"aeTitles": [...], "users": [...], "certificates": [...]}`.
    private enum Entry: Codable {
        case aeTitles([String])
        case full(aeTitles: [String], users: [String]?, certificates: [String]?)

        private enum Keys: String, CodingKey { case aeTitles, users, certificates }

        init(from decoder: Decoder) throws {
            if let titles = try? decoder.singleValueContainer().decode([String].self) {
                self = .aeTitles(titles)
                return
            }
            let container = try decoder.container(keyedBy: Keys.self)
            self = .full(aeTitles: try container.decode([String].self, forKey: .aeTitles),
                         users: try container.decodeIfPresent([String].self, forKey: .users),
                         certificates: try container.decodeIfPresent([String].self, forKey: .certificates))
        }

        func encode(to encoder: Encoder) throws {
            switch self {
            case .aeTitles(let titles):
                var container = encoder.singleValueContainer()
                try container.encode(titles)
            case .full(let titles, let users, let certificates):
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode(titles, forKey: .aeTitles)
                try container.encodeIfPresent(users, forKey: .users)
                try container.encodeIfPresent(certificates, forKey: .certificates)
            }
        }
    }

    public init(from decoder: Decoder) throws {
        let entries = try decoder.singleValueContainer().decode([String: Entry].self)
        var members: [String: [String]] = [:]
        var users: [String: [String]] = [:]
        var certificates: [String: [String]] = [:]
        for (name, entry) in entries {
            switch entry {
            case .aeTitles(let titles): members[name] = titles
            case .full(let titles, let names, let fingerprints):
                members[name] = titles
                if let names { users[name] = names }
                if let fingerprints { certificates[name] = fingerprints }
            }
        }
        try self.init(members: members, users: users, certificates: certificates)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        var entries: [String: Entry] = [:]
        for (name, titles) in members {
            entries[name] = users[name] == nil && certificates[name] == nil ? .aeTitles(titles)
                : .full(aeTitles: titles, users: users[name], certificates: certificates[name])
        }
        try container.encode(entries)
    }
}

/// What one caller may see: the studies its organization sent and those shared with it.
public struct StudyAccess: Sendable {
    public var organizations: Organizations
    /// The caller's organization (nil: its AE title is in none).
    public var organization: String?
    /// Study Instance UIDs currently shared with the caller's organization.
    public var sharedStudies: Set<String>

    public init(organizations: Organizations, organization: String?, sharedStudies: Set<String> = []) {
        self.organizations = organizations
        self.organization = organization
        self.sharedStudies = sharedStudies
    }

    /// Whether a study sent by `senders` (calling AE titles) is visible to the caller.
    public func allows(studyInstanceUID: String, senders: some Sequence<String>) -> Bool {
        if sharedStudies.contains(studyInstanceUID) { return true }
        return senders.contains { organizations.organization(ofAETitle: $0) == organization }
    }
}
