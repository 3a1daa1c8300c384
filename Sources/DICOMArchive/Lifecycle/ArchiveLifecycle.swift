import DICOMIO
import DICOMCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The archive's data lifecycle: delete to the trash, restore, purge, retention, integrity check, statistics and
/// rebuilding the index from the files.
///
/// Deleting moves files from `data/` to the same place under `trash/` (a rename) and marks them trashed in the index;
/// the record's ``InstanceRecord/path`` keeps naming the `data/` location. A trashed file's modification time is set to
/// the time it was trashed so ``reindex()`` can recover it. Every delete, restore, purge and retention action appends
/// one line to `audit.jsonl`.
public struct ArchiveLifecycle: Sendable {
    public let layout: ArchiveLayout
    public let index: any ArchiveIndex
    public let retentionPolicy: RetentionPolicy
    public let audit: AuditLog
    /// Recorded in the audit log.
    public let user: String
    public let host: String

    /// - Parameters:
    ///   - user: who runs the actions (default: `$USER`, or the numeric user ID).
    ///   - host: where (default: the host name).
    public init(layout: ArchiveLayout, index: any ArchiveIndex, retentionPolicy: RetentionPolicy = RetentionPolicy(),
                user: String? = nil, host: String? = nil) {
        self.layout = layout
        self.index = index
        self.retentionPolicy = retentionPolicy
        self.audit = AuditLog(path: layout.auditLogPath)
        self.user = user ?? AuditLog.currentUser
        self.host = host ?? Self.hostName()
    }

    /// The host name from gethostname(2) (no DNS lookup, unlike `ProcessInfo.hostName`).
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Selecting

    /// Records at `level` with identifier `uid`, trashed or visible.
    func select(level: LifecycleLevel, uid: String, trashed: Bool) async throws -> [InstanceRecord] {
        if level != .patient {
            let attribute = switch level {
            case .study: "Study Instance UID"
            case .series: "Series Instance UID"
            default: "SOP Instance UID"
            }
            _ = try UIDPathComponent(uid, attribute: attribute)
        } else if uid.isEmpty {
            throw ArchiveError(.invalidArgument, "the Patient ID is empty")
        }
        return await index.allRecords().filter { entry in
            guard (entry.trashedAt != nil) == trashed else { return false }
            switch level {
            case .patient: return entry.record.patientID == uid
            case .study: return entry.record.studyInstanceUID == uid
            case .series: return entry.record.seriesInstanceUID == uid
            case .instance: return entry.record.sopInstanceUID == uid
            }
        }.map(\.record)
    }

    static func describe(_ level: LifecycleLevel, _ uid: String) -> String {
        switch level {
        case .patient: "patient with Patient ID \"\(uid)\""
        case .study: "study \(uid)"
        case .series: "series \(uid)"
        case .instance: "instance \(uid)"
        }
    }

    // MARK: Delete and restore

    /// Moves every visible instance of a patient, study, series or instance to the trash.
    /// - Throws: ``ArchiveError`` `notFound` when nothing visible matches, `invalidUID` for a malformed UID.
    public func delete(level: LifecycleLevel, uid: String, reason: String? = nil, now: Date = Date()) async throws -> LifecycleReport {
        let records = try await select(level: level, uid: uid, trashed: false)
        guard !records.isEmpty else {
            throw ArchiveError(.notFound, "no stored \(Self.describe(level, uid))", uid: uid)
        }
        let report = try await moveToTrash(records, action: "delete", level: level, uid: uid, now: now)
        try audit.append(AuditEntry(time: now, action: "delete", level: level.rawValue, uid: uid, count: report.count,
                                    bytes: report.bytes, user: user, host: host, reason: reason))
        return report
    }

    /// Brings every trashed instance of a patient, study, series or instance back from the trash.
    /// - Throws: ``ArchiveError`` `notFound` when nothing in the trash matches.
    public func restore(level: LifecycleLevel, uid: String, reason: String? = nil, now: Date = Date()) async throws -> LifecycleReport {
        let records = try await select(level: level, uid: uid, trashed: true)
        guard !records.isEmpty else {
            throw ArchiveError(.notFound, "no \(Self.describe(level, uid)) in the trash", uid: uid)
        }
        let layout = self.layout
        let (moved, problems) = try await runBlocking { () -> ([InstanceRecord], [LifecycleProblem]) in
            var moved: [InstanceRecord] = []
            var problems: [LifecycleProblem] = []
            for record in records {
                do {
                    let source = layout.absolute(try layout.relativePath(record.path, movedTo: .trash))
                    let destination = layout.absolute(try layout.relativePath(record.path, movedTo: .data))
                    if FileSystem.fileExists(destination) {
                        problems.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: record.path,
                                                         message: "a file is already stored at \(record.path); the trashed copy was left in the trash"))
                        continue
                    }
                    try FileSystem.move(source, to: destination)
                    FileSystem.removeEmptyDirectories(from: (source as NSString).deletingLastPathComponent, stoppingAt: layout.trashDirectory)
                    moved.append(record)
                } catch {
                    problems.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: record.path, message: "\(error)"))
                }
            }
            return (moved, problems)
        }
        if !moved.isEmpty { try await index.setTrashed(moved.map(\.sopInstanceUID), trashed: false, at: now) }
        let report = LifecycleReport(action: "restore", level: level, uid: uid, count: moved.count, bytes: moved.reduce(0) { $0 + $1.size },
                                     sopInstanceUIDs: moved.map(\.sopInstanceUID), problems: problems)
        try audit.append(AuditEntry(time: now, action: "restore", level: level.rawValue, uid: uid, count: report.count,
                                    bytes: report.bytes, user: user, host: host, reason: reason))
        return report
    }

    /// Moves files to the trash and marks them trashed. A file already gone is marked trashed anyway (and reported).
    func moveToTrash(_ records: [InstanceRecord], action: String, level: LifecycleLevel?, uid: String?, now: Date) async throws -> LifecycleReport {
        let layout = self.layout
        let problems = try await runBlocking { () -> [LifecycleProblem] in
            var problems: [LifecycleProblem] = []
            for record in records {
                do {
                    let source = layout.absolute(try layout.relativePath(record.path, movedTo: .data))
                    let destination = layout.absolute(try layout.relativePath(record.path, movedTo: .trash))
                    guard FileSystem.fileExists(source) else {
                        problems.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: record.path,
                                                         message: "the file was already missing; the instance is marked deleted anyway"))
                        continue
                    }
                    try FileSystem.move(source, to: destination)
                    FileSystem.setModificationTime(destination, now)
                    FileSystem.removeEmptyDirectories(from: (source as NSString).deletingLastPathComponent, stoppingAt: layout.dataDirectory)
                } catch {
                    problems.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: record.path, message: "\(error)"))
                }
            }
            return problems
        }
        let failed = Set(problems.filter { !$0.message.hasPrefix("the file was already missing") }.map(\.sopInstanceUID))
        let trashed = records.filter { !failed.contains($0.sopInstanceUID) }
        if !trashed.isEmpty { try await index.setTrashed(trashed.map(\.sopInstanceUID), trashed: true, at: now) }
        return LifecycleReport(action: action, level: level, uid: uid, count: trashed.count, bytes: trashed.reduce(0) { $0 + $1.size },
                               sopInstanceUIDs: trashed.map(\.sopInstanceUID), problems: problems)
    }

    // MARK: Purge

    /// Deletes for good the trashed instances trashed at least `days` days before `now`, and forgets them in the index.
    /// - Throws: ``ArchiveError`` `invalidArgument` for a negative number of days.
    public func purge(olderThan days: Int, reason: String? = nil, now: Date = Date()) async throws -> LifecycleReport {
        guard days >= 0 else { throw ArchiveError(.invalidArgument, "purge: the number of days must not be negative (got \(days))") }
        let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
        let victims = await index.allRecords().compactMap { entry -> InstanceRecord? in
            guard let trashedAt = entry.trashedAt, trashedAt <= cutoff else { return nil }
            return entry.record
        }
        let layout = self.layout
        let problems = try await runBlocking { () -> [LifecycleProblem] in
            var problems: [LifecycleProblem] = []
            for record in victims {
                do {
                    let path = layout.absolute(try layout.relativePath(record.path, movedTo: .trash))
                    if unlink(path) != 0 && errno != ENOENT {
                        throw ArchiveError.system("cannot remove", path: path, errno: errno)
                    }
                    FileSystem.removeEmptyDirectories(from: (path as NSString).deletingLastPathComponent, stoppingAt: layout.trashDirectory)
                } catch {
                    problems.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: record.path, message: "\(error)"))
                }
            }
            FileSystem.syncDirectory(layout.trashDirectory)
            return problems
        }
        let failed = Set(problems.map(\.sopInstanceUID))
        let purged = victims.filter { !failed.contains($0.sopInstanceUID) }
        if !purged.isEmpty { try await index.remove(purged.map(\.sopInstanceUID)) }
        let report = LifecycleReport(action: "purge", level: nil, uid: nil, count: purged.count, bytes: purged.reduce(0) { $0 + $1.size },
                                     sopInstanceUIDs: purged.map(\.sopInstanceUID), problems: problems)
        try audit.append(AuditEntry(time: now, action: "purge", count: report.count, bytes: report.bytes, user: user, host: host,
                                    reason: reason ?? "trashed more than \(days) days ago"))
        return report
    }

    // MARK: Retention

    /// Lists the visible instances past their retention period at `now`, grouped by study and kind; with `apply`,
    /// moves them to the trash (one audit line per study).
    public func retention(now: Date = Date(), apply: Bool = false, reason: String? = nil) async throws -> RetentionReport {
        struct Key: Hashable { var study: String; var kind: RetentionPolicy.Kind }
        var groups: [Key: (item: RetentionItem, records: [InstanceRecord])] = [:]
        for entry in await index.allRecords() where entry.trashedAt == nil {
            let record = entry.record
            let expiry = retentionPolicy.expiry(of: record)
            guard expiry.expiresAt <= now else { continue }
            let key = Key(study: record.studyInstanceUID, kind: expiry.kind)
            if var group = groups[key] {
                group.item.instances += 1
                group.item.bytes += record.size
                if expiry.expiresAt > group.item.expiredAt {
                    group.item.expiredAt = expiry.expiresAt
                    group.item.referenceDate = expiry.reference
                    group.item.fromStudyDate = expiry.fromStudyDate
                }
                group.records.append(record)
                groups[key] = group
            } else {
                groups[key] = (RetentionItem(studyInstanceUID: record.studyInstanceUID, patientID: record.patientID, kind: expiry.kind,
                                             referenceDate: expiry.reference, fromStudyDate: expiry.fromStudyDate,
                                             expiredAt: expiry.expiresAt, instances: 1, bytes: record.size), [record])
            }
        }
        let ordered = groups.values.sorted {
            ($0.item.expiredAt, $0.item.studyInstanceUID, $0.item.kind.rawValue) < ($1.item.expiredAt, $1.item.studyInstanceUID, $1.item.kind.rawValue)
        }
        var problems: [LifecycleProblem] = []
        if apply {
            var byStudy: [String: [InstanceRecord]] = [:]
            for group in ordered { byStudy[group.item.studyInstanceUID, default: []].append(contentsOf: group.records) }
            for study in byStudy.keys.sorted() {
                let records = byStudy[study] ?? []
                let kinds = Set(records.map { retentionPolicy.kind(ofSOPClass: $0.sopClassUID).rawValue }).sorted().joined(separator: ", ")
                let moved = try await moveToTrash(records, action: "retention", level: .study, uid: study, now: now)
                problems += moved.problems
                try audit.append(AuditEntry(time: now, action: "retention", level: LifecycleLevel.study.rawValue, uid: study,
                                            count: moved.count, bytes: moved.bytes, user: user, host: host,
                                            reason: reason ?? "past retention (\(kinds): images \(retentionPolicy.imageYears) years, reports \(retentionPolicy.reportYears) years)"))
            }
        }
        let items = ordered.map(\.item)
        return RetentionReport(now: now, policy: retentionPolicy, applied: apply, items: items,
                               instances: items.reduce(0) { $0 + $1.instances }, bytes: items.reduce(0) { $0 + $1.bytes },
                               problems: problems)
    }

    // MARK: Verify and statistics

    /// Checks every indexed file (visible ones under data/, trashed ones under trash/): present, same size, same SHA-256;
    /// and lists files under data/ that the index does not know.
    public func verify() async -> VerifyReport {
        let entries = await index.allRecords()
        let layout = self.layout
        return (try? await runBlocking { () -> VerifyReport in
            var missing: [LifecycleProblem] = []
            var damaged: [LifecycleProblem] = []
            var bytes = 0
            var known = Set<String>()
            for (record, trashedAt) in entries {
                known.insert(record.path)
                let area: ArchiveLayout.Area = trashedAt == nil ? .data : .trash
                guard let relative = try? layout.relativePath(record.path, movedTo: area) else {
                    damaged.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: record.path,
                                                    message: "the indexed path is not under data/"))
                    continue
                }
                let path = layout.absolute(relative)
                guard FileSystem.fileExists(path) else {
                    missing.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: relative, message: "file missing"))
                    continue
                }
                do {
                    let (size, sha256) = try FileSystem.sha256(ofFileAt: path)
                    bytes += size
                    if sha256 != record.sha256 || size != record.size {
                        damaged.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: relative,
                                                        message: "SHA-256 \(sha256) (\(size) bytes) differs from the indexed \(record.sha256) (\(record.size) bytes)"))
                    }
                } catch {
                    damaged.append(LifecycleProblem(sopInstanceUID: record.sopInstanceUID, path: relative, message: "\(error)"))
                }
            }
            let unindexed = Self.files(under: layout.dataDirectory, relativeTo: layout.root).filter { !known.contains($0) }
            return VerifyReport(checked: entries.count, bytes: bytes, missing: missing, damaged: damaged, unindexed: unindexed)
        }) ?? VerifyReport(checked: 0, bytes: 0, missing: [], damaged: [], unindexed: [])
    }

    /// Counts what the archive holds, visible and in the trash.
    public func stats() async -> ArchiveStats {
        var patients = Set<String>(), studies = Set<String>(), series = Set<String>(), trashedStudies = Set<String>()
        var instances = 0, bytes = 0, trashedInstances = 0, trashedBytes = 0
        for (record, trashedAt) in await index.allRecords() {
            if trashedAt == nil {
                patients.insert(record.patientID)
                studies.insert(record.studyInstanceUID)
                series.insert(record.seriesInstanceUID)
                instances += 1
                bytes += record.size
            } else {
                trashedStudies.insert(record.studyInstanceUID)
                trashedInstances += 1
                trashedBytes += record.size
            }
        }
        return ArchiveStats(patients: patients.count, studies: studies.count, series: series.count, instances: instances, bytes: bytes,
                            trashedInstances: trashedInstances, trashedBytes: trashedBytes, trashedStudies: trashedStudies.count)
    }

    /// The regular files under `directory`, as paths relative to `root`, sorted.
    static func files(under directory: String, relativeTo root: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        let prefix = String(directory.dropFirst(root.count + 1))
        var out: [String] = []
        while let name = enumerator.nextObject() as? String {
            let relative = prefix + "/" + name
            if FileSystem.fileExists(root + "/" + relative) { out.append(relative) }
        }
        return out.sorted()
    }
}
