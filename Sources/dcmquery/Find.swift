import ArgumentParser
import DICOMCore
import DICOMServices
import DICOMToolSupport
import Foundation

/// `dcmquery find`: C-FIND, printing the matches as a table, DICOM JSON or CSV.
struct Find: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Query with C-FIND and print the matches (a table by default).",
        discussion: """
            Without -k keys that ask for something back (an empty value), the usual attributes of the level are \
            asked for. Specific Character Set ISO_IR 192 is sent when a value is not ASCII.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var query: KeyOptions

    @Flag(help: "Print the matches as one DICOM JSON array (PS3.18 F.2).")
    var json = false

    @Flag(help: "Print the matches as CSV with a header of keywords.")
    var csv = false

    @Option(help: "Stop after this many matches (sends C-CANCEL).")
    var limit: Int?

    func validate() throws {
        guard !(json && csv) else { throw ValidationError("choose one of --json and --csv") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        DCMQuery.logging
        let keys = IdentifierBuilder.keys(try query.parsedKeys(), level: query.level, addDefaults: true)
        let identifier = try IdentifierBuilder.identifier(level: query.level, keys: keys)
        let association = try await connection.connect(DICOMClient.queryRetrieveContexts([query.model.find]), tool: "dcmquery")
        let result: FindResult
        do {
            result = try await association.find(identifier, model: query.model.find, maximumMatches: limit)
            try? await association.release()
        } catch {
            await association.abort()
            printError("dcmquery: C-FIND failed: \(error)")
            throw ExitCode(1)
        }
        var matches = result.matches
        if let limit, matches.count > limit { matches.removeLast(matches.count - limit) }
        let columns = keys.map { (keyword: $0.keyword, tag: $0.tag) }
        if json {
            FileHandle.standardOutput.write(try JSONOutput.encode(matches, single: false))
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else if csv {
            FileHandle.standardOutput.write(Data(MatchFormatter.csv(matches, columns: columns).utf8))
        } else {
            FileHandle.standardOutput.write(Data(MatchFormatter.table(matches, columns: columns).utf8))
        }
        guard result.status.isSuccess || result.status.isCancel && result.cancelRequested else {
            printError("dcmquery: C-FIND ended with \(result.status)\(result.errorComment.map { ": \($0)" } ?? "")")
            throw ExitCode(1)
        }
        if !json && !csv { printError("\(matches.count) match\(matches.count == 1 ? "" : "es")") }
    }
}
