import ArgumentParser
import DICOMArchive
import DICOMToolSupport
import Foundation

/// `dcmstore share`: makes a study visible to another organization (for a remote reading), until a date or until
/// unshared. Works while the server runs: it rereads the shares on the next query.
struct Share: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Share a study with another organization (takes effect at once, also on a running server).")
    @OptionGroup var options: ArchiveOptions
    @Option(help: "The Study Instance UID.") var study: String
    @Option(name: .customLong("with"), help: "The organization to share it with.") var organization: String
    @Option(help: "Last day of the share, YYYY-MM-DD (it ends at midnight after that day, local time; default: until unshared).")
    var until: String?
    @Option(help: "Why (recorded in the audit log).") var reason: String?

    func run() async throws {
        try runCommand {
            let (layout, configuration) = try sharesContext(options)
            try checkOrganization(organization, configuration)
            let end = try until.map(Self.endOfDay)
            if let end, end <= Date() { throw ConfigurationError("--until \(until ?? ""): the day is already over") }
            let share = StudyShare(studyInstanceUID: study, organization: organization, until: end, sharedAt: Date(),
                                   sharedBy: AuditLog.currentUser)
            try StudyShares(archiveRoot: layout.root).share(share)
            try AuditLog(path: layout.auditLogPath).append(AuditEntry(
                time: share.sharedAt, action: "share", level: "study", uid: study, count: 0, user: AuditLog.currentUser, host: AuditLog.hostName,
                reason: "with \(organization)" + (until.map { " until \($0)" } ?? "") + (reason.map { ": \($0)" } ?? "")))
            try printReport(share, json: options.json) {
                "shared study \(study) with \(organization)" + (until.map { " through \($0)" } ?? " until unshared")
            }
        }
    }

    /// Midnight after `text` (YYYY-MM-DD or YYYYMMDD) in the local time zone.
    static func endOfDay(_ text: String) throws -> Date {
        let digits = text.replacingOccurrences(of: "-", with: "")
        guard digits.count == 8, digits.allSatisfy(\.isASCII), let number = Int(digits) else {
            throw ConfigurationError("--until \(text): expected a date YYYY-MM-DD")
        }
        var components = DateComponents()
        components.year = number / 10000
        components.month = number / 100 % 100
        components.day = number % 100
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        guard let day = calendar.date(from: components), calendar.component(.day, from: day) == components.day,
              let next = calendar.date(byAdding: .day, value: 1, to: day) else {
            throw ConfigurationError("--until \(text): not a valid date")
        }
        return next
    }
}

/// `dcmstore unshare`: ends a share at once.
struct Unshare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End the share of a study with an organization.")
    @OptionGroup var options: ArchiveOptions
    @Option(help: "The Study Instance UID.") var study: String
    @Option(name: .customLong("with"), help: "The organization it was shared with.") var organization: String

    func run() async throws {
        try runCommand {
            let (layout, _) = try sharesContext(options)
            guard try StudyShares(archiveRoot: layout.root).unshare(studyInstanceUID: study, organization: organization) else {
                throw ConfigurationError("study \(study) is not shared with \(organization)")
            }
            try AuditLog(path: layout.auditLogPath).append(AuditEntry(
                time: Date(), action: "unshare", level: "study", uid: study, count: 0, user: AuditLog.currentUser, host: AuditLog.hostName,
                reason: "with \(organization)"))
            if options.json { print("{\"unshared\":true}") } else { print("study \(study) is no longer shared with \(organization)") }
        }
    }
}

/// `dcmstore shares`: lists the shares, those in force and those expired.
struct Shares: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the studies shared between organizations.")
    @OptionGroup var options: ArchiveOptions

    func run() async throws {
        try runCommand {
            let (layout, _) = try sharesContext(options)
            let shares = try StudyShares(archiveRoot: layout.root).all()
            let now = Date()
            try printReport(shares, json: options.json) {
                if shares.isEmpty { return "no shares" }
                let formatter = ISO8601DateFormatter()
                return shares.map { share in
                    "\(share.studyInstanceUID) with \(share.organization)"
                        + (share.until.map { " until \(formatter.string(from: $0))" } ?? "")
                        + (share.isActive(at: now) ? "" : " (expired)")
                }.joined(separator: "\n")
            }
        }
    }
}

/// `dcmstore audit`: prints the audit trail, optionally only what concerns one study and what happened since a date.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the audit trail: associations, stores, queries, retrieves, shares, deletes and restores.")
    @OptionGroup var options: ArchiveOptions
    @Option(help: "Only entries about this Study Instance UID.") var study: String?
    @Option(help: "Only entries from this day on, YYYY-MM-DD (local time), or an ISO 8601 time.") var since: String?

    func run() async throws {
        try runCommand {
            let (layout, _) = try sharesContext(options)
            let start = try since.map(Self.start)
            let entries = try AuditLog(path: layout.auditLogPath).entries().filter { entry in
                if let start, entry.time < start { return false }
                if let study { return entry.uid == study || entry.studies?.contains(study) == true }
                return true
            }
            try printReport(entries, json: options.json) {
                let formatter = ISO8601DateFormatter()
                return entries.map { entry in
                    var parts = [formatter.string(from: entry.time), entry.action]
                    if let ae = entry.aeTitle { parts.append("ae=\(ae)") }
                    if let organization = entry.organization { parts.append("org=\(organization)") }
                    if !entry.user.isEmpty { parts.append("user=\(entry.user)") }
                    if let level = entry.level { parts.append(level.lowercased()) }
                    if let uid = entry.uid { parts.append(uid) }
                    if let keys = entry.keys, !keys.isEmpty { parts.append("[\(keys)]") }
                    if let studies = entry.studies, !studies.isEmpty, entry.uid == nil || entry.level != "study" {
                        parts.append("studies=\(studies.joined(separator: ","))")
                    }
                    if entry.count > 0 { parts.append("count=\(entry.count)") }
                    if let status = entry.status { parts.append("status=\(status)") }
                    if let peer = entry.peer { parts.append("from \(peer)") }
                    if let reason = entry.reason { parts.append("(\(reason))") }
                    return parts.joined(separator: " ")
                }.joined(separator: "\n")
            }
        }
    }

    static func start(_ text: String) throws -> Date {
        if let time = ISO8601DateFormatter().date(from: text) { return time }
        do {
            return try Calendar.current.date(byAdding: .day, value: -1, to: Share.endOfDay(text)) ?? Date.distantPast
        } catch {
            throw ConfigurationError("--since \(text): expected a date YYYY-MM-DD or an ISO 8601 time")
        }
    }
}

/// The archive layout and configuration for the share commands (which do not open the index, so they work while the
/// server runs).
private func sharesContext(_ options: ArchiveOptions) throws -> (ArchiveLayout, StoreConfiguration) {
    let configuration = try options.load()
    let layout = ArchiveLayout(root: options.archivePath(configuration))
    guard FileManager.default.fileExists(atPath: layout.root) else {
        throw ConfigurationError("no archive at \(layout.root)")
    }
    return (layout, configuration)
}

/// With organizations in the configuration, the name must be one of them.
private func checkOrganization(_ name: String, _ configuration: StoreConfiguration) throws {
    if let known = configuration.organizations?.members, known[name] == nil {
        throw ConfigurationError("--with \(name): not an organization of the configuration (\(known.keys.sorted().joined(separator: ", ")))")
    }
}

/// Runs a subcommand body: configuration errors exit 64, others 1, each with one line on stderr.
private func runCommand(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ConfigurationError {
        printError("dcmstore: \(error)")
        throw ExitCode(64)
    } catch {
        printError("dcmstore: \(error)")
        throw ExitCode(1)
    }
}
