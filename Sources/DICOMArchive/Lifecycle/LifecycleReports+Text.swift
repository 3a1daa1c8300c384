import Foundation

/// Plain-text renderings of the lifecycle reports for the command line (the reports are also `Codable` for `--json`).
extension LifecycleReport: CustomStringConvertible {
    public var description: String {
        var target = ""
        if let level, let uid { target = " \(level.rawValue) \(uid)" }
        let verb = switch action {
        case "delete": "moved to trash"
        case "restore": "restored"
        case "purge": "purged"
        default: action
        }
        var lines = ["\(action)\(target): \(count) instance\(count == 1 ? "" : "s") \(verb), \(ArchiveStats.formatBytes(bytes))"]
        lines += problems.map { "  problem: \($0.path): \($0.message)" }
        return lines.joined(separator: "\n")
    }
}

extension RetentionReport: CustomStringConvertible {
    public var description: String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        var lines = ["retention at \(formatter.string(from: now)) (images \(policy.imageYears) years, reports \(policy.reportYears) years): "
            + "\(instances) instance\(instances == 1 ? "" : "s") past retention, \(ArchiveStats.formatBytes(bytes))"
            + (applied ? ", moved to trash" : "; listed only (--apply moves them to the trash)")]
        for item in items {
            lines.append("  study \(item.studyInstanceUID) patient \(item.patientID) \(item.kind.rawValue): \(item.instances) instance\(item.instances == 1 ? "" : "s"), "
                + "\(item.fromStudyDate ? "study date" : "received") \(formatter.string(from: item.referenceDate)), "
                + "expired \(formatter.string(from: item.expiredAt))")
        }
        lines += problems.map { "  problem: \($0.path): \($0.message)" }
        return lines.joined(separator: "\n")
    }
}

extension VerifyReport: CustomStringConvertible {
    public var description: String {
        var lines = ["verify: \(checked) files checked, \(ArchiveStats.formatBytes(bytes)); \(missing.count) missing, "
            + "\(damaged.count) damaged, \(unindexed.count) not in the index — \(ok ? "OK" : "PROBLEMS")"]
        lines += missing.map { "  missing: \($0.path) (\($0.sopInstanceUID))" }
        lines += damaged.map { "  damaged: \($0.path): \($0.message)" }
        lines += unindexed.map { "  not indexed: \($0)" }
        return lines.joined(separator: "\n")
    }
}

extension ArchiveStats: CustomStringConvertible {
    public var description: String {
        """
        patients:  \(patients)
        studies:   \(studies)
        series:    \(series)
        instances: \(instances), \(ArchiveStats.formatBytes(bytes))
        trash:     \(trashedInstances) instance\(trashedInstances == 1 ? "" : "s") in \(trashedStudies) stud\(trashedStudies == 1 ? "y" : "ies"), \(ArchiveStats.formatBytes(trashedBytes))
        """
    }

    /// Bytes with a binary unit, e.g. `1.5 MiB (1572864 bytes)`.
    static func formatBytes(_ bytes: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = ""
        for next in units where value >= 1024 {
            value /= 1024
            unit = next
        }
        return unit.isEmpty ? "\(bytes) bytes" : String(format: "%.1f", value) + " \(unit) (\(bytes) bytes)"
    }
}

extension ReindexReport: CustomStringConvertible {
    public var description: String {
        var lines = ["reindex: \(filesScanned) files scanned, \(indexed) indexed (\(trashed) in trash), \(ArchiveStats.formatBytes(bytes)); "
            + "\(removedFromIndex) records without a file removed; \(unreadable.count) files skipped"]
        lines += unreadable.map { "  skipped: \($0.path): \($0.message)" }
        return lines.joined(separator: "\n")
    }
}
