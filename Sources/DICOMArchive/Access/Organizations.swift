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
    private var organizationByAETitle: [String: String]

    /// - Throws: ``ArchiveError`` when an AE title is listed under two organizations or a name is empty.
    public init(members: [String: [String]]) throws {
        var byAETitle: [String: String] = [:]
        for (name, titles) in members {
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ArchiveError(.invalidArgument, "an organization name is empty")
            }
            for title in titles {
                let key = title.trimmingCharacters(in: .whitespaces)
                if let other = byAETitle[key], other != name {
                    throw ArchiveError(.invalidArgument, "AE title \"\(key)\" is listed under both \"\(other)\" and \"\(name)\"")
                }
                byAETitle[key] = name
            }
        }
        self.members = members
        organizationByAETitle = byAETitle
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

    /// The organization an AE title belongs to, or nil.
    public func organization(ofAETitle title: String) -> String? {
        organizationByAETitle[title.trimmingCharacters(in: .whitespaces)]
    }

    /// Every AE title of every organization.
    public var allAETitles: Set<String> { Set(organizationByAETitle.keys) }

    public init(from decoder: Decoder) throws {
        try self.init(members: try decoder.singleValueContainer().decode([String: [String]].self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(members)
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
