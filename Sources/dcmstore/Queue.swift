import ArgumentParser
import DICOMArchive
import Foundation

/// `dcmstore queue`: shows and steers the forwarding queue of an archive (through the running server's control socket,
/// or on the folder when no server runs).
struct Queue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show and steer the forwarding queue (ARCHIVE/queue), also while the server runs.",
        subcommands: [QueueStatus.self, QueueList.self, QueueRetry.self, QueueDrop.self],
        defaultSubcommand: QueueStatus.self)
}

extension ArchiveOptions {
    /// Opens the forwarding queue of the archive.
    func openQueue() throws -> ForwardQueue {
        let configuration = try load()
        let root = archivePath(configuration)
        guard FileManager.default.fileExists(atPath: root) else {
            throw ValidationError("no archive at \(root) (give --archive)")
        }
        return try ForwardQueue(directory: ForwardQueue.directory(inArchive: root))
    }
}

/// Formats a date for the text output.
private func formatted(_ date: Date?) -> String {
    guard let date else { return "-" }
    return ISO8601DateFormatter().string(from: date)
}

struct QueueStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Pending and failed counts per destination.")
    @OptionGroup var options: ArchiveOptions

    func run() async throws {
        let rows = try await options.perform(.queue(.status)).queueStatus()
        try printReport(rows, json: options.json) {
            guard !rows.isEmpty else { return "the forwarding queue is empty" }
            return rows.map { row in
                "\(row.destination): \(row.pending) pending, \(row.failed) failed, oldest pending \(formatted(row.oldestPending))"
                    + (row.committed > 0 ? ", \(row.committed) committed" : "")
                    + (row.lastError.map { ", last error: \($0)" } ?? "")
            }.joined(separator: "\n")
        }
    }
}

struct QueueList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the queued instances in order of arrival.")
    @OptionGroup var options: ArchiveOptions
    @Option(help: "Only this destination AE title.") var destination: String?
    @Flag(help: "Only the failed entries.") var failed = false
    @Flag(help: "Only the pending entries.") var pending = false

    func run() async throws {
        guard !(failed && pending) else { throw ValidationError("give at most one of --failed and --pending") }
        let entries = try await options.perform(.queue(.list(destination: destination, state: failed ? .failed : pending ? .pending : nil)))
            .queueEntries()
        try printReport(entries, json: options.json) {
            guard !entries.isEmpty else { return "no entries" }
            return entries.map { entry in
                "\(entry.state.rawValue)\t\(entry.destination)\t\(entry.sopInstanceUID)\tstudy \(entry.studyInstanceUID)\t\(entry.path)"
                    + "\tattempts \(entry.attempts)" + (entry.lastError.map { "\t\($0)" } ?? "")
            }.joined(separator: "\n")
        }
    }
}

struct QueueRetry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry", abstract: "Move failed entries back to pending (all, or one instance's).")
    @OptionGroup var options: ArchiveOptions
    @Option(help: "Only this SOP Instance UID.") var instance: String?
    @Option(help: "Only this destination AE title.") var destination: String?

    struct Report: Codable { var retried: Int }

    func run() async throws {
        let count = try await options.perform(.queue(.retry(sopInstanceUID: instance, destination: destination))).queueCount()
        try printReport(Report(retried: count), json: options.json) { "\(count) entr\(count == 1 ? "y" : "ies") moved back to pending" }
        if count == 0 { throw ExitCode(1) }
    }
}

struct QueueDrop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drop", abstract: "Remove entries: one instance's (--instance) or all failed ones (--failed).")
    @OptionGroup var options: ArchiveOptions
    @Option(help: "The SOP Instance UID to remove (pending or failed).") var instance: String?
    @Flag(help: "Remove every failed entry.") var failed = false
    @Option(help: "Only this destination AE title.") var destination: String?

    struct Report: Codable { var dropped: Int }

    func run() async throws {
        guard (instance != nil) != failed else { throw ValidationError("give exactly one of --instance UID and --failed") }
        let count = try await options.perform(.queue(.drop(sopInstanceUID: instance, destination: destination))).queueCount()
        try printReport(Report(dropped: count), json: options.json) { "\(count) entr\(count == 1 ? "y" : "ies") removed" }
        if count == 0 { throw ExitCode(1) }
    }
}
