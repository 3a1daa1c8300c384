import ArgumentParser
import Logging

@main
struct DCMQuery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dcmquery",
        abstract: "Query (C-FIND) and retrieve (C-MOVE, C-GET) from a DICOM Query/Retrieve SCP.",
        discussion: """
            Examples:
              dcmquery pacs.example 104 --called-aet PACS -k PatientName='DOE^*'
              dcmquery find pacs.example 104 --level SERIES -k StudyInstanceUID=1.2.3 --json
              dcmquery move pacs.example 104 --dest MYSCP -k StudyInstanceUID=1.2.3
              dcmquery get pacs.example 104 --output ./studies -k PatientID=PID-42
            Exit codes: 0 success; 1 the association failed, the peer answered with a failure, or a sub-operation \
            failed; 64 bad usage.
            """,
        subcommands: [Find.self, Move.self, Get.self],
        defaultSubcommand: Find.self)

    /// Logging to standard error, set up once before any subcommand runs.
    static let logging: Void = LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
}
