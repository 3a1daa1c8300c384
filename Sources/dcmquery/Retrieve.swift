import ArgumentParser
import DICOMCore
import DICOMNetwork
import DICOMServices
import DICOMToolSupport
import Foundation

/// `dcmquery move`: C-MOVE what matches to another AE.
struct Move: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retrieve what matches with C-MOVE to a destination AE known to the peer.",
        discussion: "Without a value for the level's unique key, a C-FIND first finds what matches, then each match is moved.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var query: KeyOptions

    @Option(name: .customLong("dest"), help: "Move Destination: the AE title the peer sends the instances to.")
    var destination: String

    @Flag(help: "Print a JSON summary (status, counts, ok) on standard output.")
    var json = false

    func validate() throws { _ = try connection.aeTitle(destination, "--dest") }

    func run() async throws {
        DCMQuery.logging
        let model = query.model
        let destinationAE = try connection.aeTitle(destination, "--dest")
        let association = try await connection.connect(DICOMClient.queryRetrieveContexts([model.find, model.move]), tool: "dcmquery")
        let result = await RetrieveRunner(query: query, json: json).run(association, service: "C-MOVE") { identifier, progress in
            try await association.move(identifier, model: model.move, destination: destinationAE, progress: progress)
        }
        if !result { throw ExitCode(1) }
    }
}

/// `dcmquery get`: C-GET what matches into a directory.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retrieve what matches with C-GET into a directory (files named after their SOP Instance UIDs).",
        discussion: "Without a value for the level's unique key, a C-FIND first finds what matches, then each match is retrieved.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var query: KeyOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "Directory to write the retrieved instances to.")
    var output: String

    @Flag(help: "Print a JSON summary (status, counts, received, ok) on standard output.")
    var json = false

    func run() async throws {
        DCMQuery.logging
        let model = query.model
        let storage: DirectoryStorageHandler
        do {
            storage = try DirectoryStorageHandler(directory: output)
        } catch {
            printError("dcmquery: \(error)")
            throw ExitCode(1)
        }
        let contexts = PresentationContext.numbered([model.find, model.get] + DICOMClient.commonStorageSOPClasses,
                                                    transferSyntaxes: DICOMClient.nativeTransferSyntaxes)
        let association = try await connection.connect(contexts, roleSelections: DICOMClient.scpRoleSelections(for: contexts),
                                                       tool: "dcmquery")
        let output = output
        let result = await RetrieveRunner(query: query, json: json).run(association, service: "C-GET") { identifier, progress in
            try await association.get(identifier, model: model.get, storage: storage, temporaryDirectory: output, progress: progress)
        }
        if !result { throw ExitCode(1) }
    }
}

/// Runs a retrieve: directly when the identifier names the level's unique key, else C-FIND first and one retrieve
/// per match. Reports progress and a summary; returns whether everything succeeded.
struct RetrieveRunner {
    var query: KeyOptions
    var json: Bool

    func run(_ association: Association, service: String,
             retrieve: (DataSet, @escaping @Sendable (SuboperationCounts) -> Void) async throws -> RetrieveResult) async -> Bool {
        do {
            let identifiers = try await identifiers(association)
            if identifiers.isEmpty {
                printError("dcmquery: nothing matches; nothing to retrieve")
                report(service, statuses: [], totals: SuboperationCounts(), received: [], ok: true)
                try? await association.release()
                return true
            }
            var totals = SuboperationCounts(remaining: 0, completed: 0, failed: 0, warning: 0)
            var ok = true
            var statuses: [DIMSEStatus] = []
            var received: [String] = []
            let display = ProgressDisplay(label: service)
            for identifier in identifiers {
                let base = totals
                let result = try await retrieve(identifier) { counts in display.update(Self.sum(base, counts)) }
                totals = Self.sum(base, result.counts)
                totals.remaining = 0
                statuses.append(result.status)
                received += result.received.filter { $0.status.isSuccessOrWarning }.map(\.sopInstanceUID)
                display.update(totals)
                if !RetrieveReport.succeeded(result) {
                    ok = false
                    display.finish()
                    printError("dcmquery: " + RetrieveReport.summary(service, result))
                }
            }
            display.finish()
            report(service, statuses: statuses, totals: totals, received: received, ok: ok)
            try? await association.release()
            return ok
        } catch {
            await association.abort()
            printError("dcmquery: \(service) failed: \(error)")
            return false
        }
    }

    static func sum(_ a: SuboperationCounts, _ b: SuboperationCounts) -> SuboperationCounts {
        SuboperationCounts(remaining: b.remaining, completed: (a.completed ?? 0) + (b.completed ?? 0),
                           failed: (a.failed ?? 0) + (b.failed ?? 0), warning: (a.warning ?? 0) + (b.warning ?? 0))
    }

    func report(_ service: String, statuses: [DIMSEStatus], totals: SuboperationCounts, received: [String], ok: Bool) {
        if json {
            var object: [String: Any] = [
                "service": service, "ok": ok, "retrieves": statuses.count,
                "statuses": statuses.map { String(format: "%04X", $0.rawValue) },
                "completed": Int(totals.completed ?? 0), "failed": Int(totals.failed ?? 0), "warning": Int(totals.warning ?? 0),
            ]
            if service == "C-GET" { object["received"] = received }
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]) {
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            }
        } else {
            print("\(service): \(ok ? "done" : "FAILED"): \(totals.completed ?? 0) completed, \(totals.failed ?? 0) failed, \(totals.warning ?? 0) warning")
        }
    }

    /// The levels whose unique keys identify something at `level` in the model's hierarchy (PS3.4 C.4.2.2.1).
    func hierarchy() -> [QueryLevel] {
        let all: [QueryLevel] = query.model == .patient ? [.patient, .study, .series, .image] : [.study, .series, .image]
        return Array(all.prefix { $0 != query.level }) + [query.level]
    }

    /// The identifiers to retrieve: the user's keys when they give the unique key, else one per C-FIND match.
    func identifiers(_ association: Association) async throws -> [DataSet] {
        let given = try query.parsedKeys()
        let level = query.level
        if given.contains(where: { $0.tag == level.uniqueKey && !$0.value.isEmpty }) {
            return [try IdentifierBuilder.identifier(level: level, keys: given.filter { !$0.value.isEmpty })]
        }
        var keys = given.filter { !$0.value.isEmpty }
        for upper in hierarchy() where !keys.contains(where: { $0.tag == upper.uniqueKey }) {
            keys.append(QueryKey(keyword: DataDictionary.entry(for: upper.uniqueKey)?.keyword ?? ""))
        }
        let result = try await association.find(try IdentifierBuilder.identifier(level: level, keys: keys), model: query.model.find)
        guard result.status.isSuccess else {
            throw DIMSEFailure(result.status, "the C-FIND to find what to retrieve failed\(result.errorComment.map { ": \($0)" } ?? "")")
        }
        var identifiers: [DataSet] = []
        var seen = Set<String>()
        for match in result.matches {
            var identifier = DataSet()
            identifier.setASCII(IdentifierBuilder.queryRetrieveLevel, vr: .CS, level.rawValue)
            var complete = true
            for upper in hierarchy() {
                guard let element = match[upper.uniqueKey], let value = match.string(upper.uniqueKey), !value.isEmpty else {
                    complete = false
                    break
                }
                identifier.set(element)
            }
            if let characterSet = match[IdentifierBuilder.specificCharacterSet] { identifier.set(characterSet) }
            let unique = match.string(level.uniqueKey) ?? ""
            if complete && seen.insert(unique).inserted { identifiers.append(identifier) }
        }
        return identifiers
    }
}
