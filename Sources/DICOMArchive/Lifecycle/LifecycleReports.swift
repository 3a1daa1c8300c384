import Foundation

/// The hierarchy level a lifecycle action is aimed at.
public enum LifecycleLevel: String, Sendable, Codable, CaseIterable {
    /// Everything of one Patient ID (0010,0020).
    case patient
    /// One Study Instance UID.
    case study
    /// One Series Instance UID.
    case series
    /// One SOP Instance UID.
    case instance
}

/// A problem with one instance during a lifecycle action; the action went on with the others.
public struct LifecycleProblem: Sendable, Codable, Equatable {
    public var sopInstanceUID: String
    /// The file concerned, relative to the archive root.
    public var path: String
    public var message: String

    public init(sopInstanceUID: String, path: String, message: String) {
        self.sopInstanceUID = sopInstanceUID
        self.path = path
        self.message = message
    }
}

/// The result of `delete`, `restore` or `purge`.
public struct LifecycleReport: Sendable, Codable, Equatable {
    /// `delete`, `restore` or `purge`.
    public var action: String
    public var level: LifecycleLevel?
    public var uid: String?
    /// Instances moved (delete, restore) or removed (purge).
    public var count: Int
    public var bytes: Int
    /// Their SOP Instance UIDs.
    public var sopInstanceUIDs: [String]
    public var problems: [LifecycleProblem]
}

/// One group of instances past retention: one study, one kind.
public struct RetentionItem: Sendable, Codable, Equatable {
    public var studyInstanceUID: String
    public var patientID: String
    public var kind: RetentionPolicy.Kind
    /// The date retention counted from.
    public var referenceDate: Date
    /// True when `referenceDate` is the Study Date, false when it is the receive time.
    public var fromStudyDate: Bool
    public var expiredAt: Date
    public var instances: Int
    public var bytes: Int
}

/// The result of `retention`.
public struct RetentionReport: Sendable, Codable, Equatable {
    public var now: Date
    public var policy: RetentionPolicy
    /// Whether the expired instances were moved to the trash (false: listed only).
    public var applied: Bool
    public var items: [RetentionItem]
    public var instances: Int
    public var bytes: Int
    public var problems: [LifecycleProblem]
}

/// The result of `verify`: every indexed file's presence and SHA-256.
public struct VerifyReport: Sendable, Codable, Equatable {
    /// Files checked (visible and trashed).
    public var checked: Int
    public var bytes: Int
    /// Indexed instances whose file is missing.
    public var missing: [LifecycleProblem]
    /// Indexed instances whose file's SHA-256 or size differs from the index.
    public var damaged: [LifecycleProblem]
    /// Files under data/ that the index does not know (relative paths).
    public var unindexed: [String]
    /// True when nothing is missing, damaged or unindexed.
    public var ok: Bool { missing.isEmpty && damaged.isEmpty && unindexed.isEmpty }

    enum CodingKeys: String, CodingKey { case checked, bytes, missing, damaged, unindexed, ok }

    public init(checked: Int, bytes: Int, missing: [LifecycleProblem], damaged: [LifecycleProblem], unindexed: [String]) {
        self.checked = checked
        self.bytes = bytes
        self.missing = missing
        self.damaged = damaged
        self.unindexed = unindexed
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        checked = try c.decode(Int.self, forKey: .checked)
        bytes = try c.decode(Int.self, forKey: .bytes)
        missing = try c.decode([LifecycleProblem].self, forKey: .missing)
        damaged = try c.decode([LifecycleProblem].self, forKey: .damaged)
        unindexed = try c.decode([String].self, forKey: .unindexed)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checked, forKey: .checked)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(missing, forKey: .missing)
        try c.encode(damaged, forKey: .damaged)
        try c.encode(unindexed, forKey: .unindexed)
        try c.encode(ok, forKey: .ok)
    }
}

/// The result of `stats`: what the archive holds.
public struct ArchiveStats: Sendable, Codable, Equatable {
    public var patients: Int
    public var studies: Int
    public var series: Int
    public var instances: Int
    public var bytes: Int
    /// Instances in the trash and their bytes.
    public var trashedInstances: Int
    public var trashedBytes: Int
    /// Studies with at least one instance in the trash.
    public var trashedStudies: Int
}

/// The result of `reindex`.
public struct ReindexReport: Sendable, Codable, Equatable {
    /// Files found under data/ and trash/.
    public var filesScanned: Int
    /// Records written to the index (visible + trashed).
    public var indexed: Int
    public var trashed: Int
    public var bytes: Int
    /// Records dropped from the index because their file is gone.
    public var removedFromIndex: Int
    /// Files that could not be read or lack the UIDs needed, and why.
    public var unreadable: [LifecycleProblem]
}
