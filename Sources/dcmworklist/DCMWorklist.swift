import ArgumentParser
import DICOMArchive
import DICOMToolSupport
import DICOMWorklist
import Foundation

/// `dcmworklist`: patients, orders, the Modality Worklist and MPPS services, and radiology reports of one archive folder.
@main
struct DCMWorklist: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dcmworklist",
        abstract: "Patients, orders, Modality Worklist and MPPS SCP, and radiology reports for an archive folder.",
        discussion: """
            The worklist lives in ARCHIVE/worklist (the folder `dcmstore` uses); the CLI and a running `serve` share it safely.
            Order status: SCHEDULED → IN PROGRESS → COMPLETED or DISCONTINUED → IMAGES RECEIVED → REPORTED (CANCELLED from SCHEDULED).
            Exit status: 0 on success, 1 when the action was refused or failed (nothing was changed), 64 for bad options.
            """,
        subcommands: [PatientCommand.self, Add.self, List.self, Show.self, Update.self, Cancel.self, SetStatus.self, Serve.self, Report.self])
}

/// Options every subcommand shares.
struct WorklistOptions: ParsableArguments {
    @Option(help: "The archive folder (the one dcmstore uses).")
    var archive: String = ArchiveLayout.defaultRoot

    @Option(help: "The worklist configuration file (default ARCHIVE/worklist/config.json): character sets per calling AE, report destinations.")
    var config: String?

    @Flag(help: "Print results as JSON.")
    var json = false

    func store() throws -> WorklistStore {
        try WorklistStore(archiveRoot: archive)
    }

    func configuration(_ store: WorklistStore) throws -> WorklistConfiguration {
        if let config { return try WorklistConfiguration.load(path: config, required: true) }
        return try WorklistConfiguration.load(path: WorklistConfiguration.defaultPath(worklistDirectory: store.directory), required: false)
    }
}

/// Runs a worklist action: a ``WorklistError`` is printed and ends the command with exit status 1.
func perform(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as WorklistError {
        printError("dcmworklist: \(error.message)")
        throw ExitCode(1)
    }
}

/// Prints a value as pretty JSON.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

extension Patient {
    var line: String {
        var parts = ["\(patientID)\(issuer.map { " (\($0))" } ?? "")", name]
        if let birthDate { parts.append(birthDate) }
        if let sex { parts.append(sex) }
        if isLocalID { parts.append("local ID") }
        return parts.joined(separator: "  ")
    }
}

extension Patient {
    static let tableHeader = ["PATIENT ID", "ISSUER", "NAME", "BIRTH DATE", "SEX", "ID"]

    /// The patient as a row of ``tableHeader``.
    var tableRow: [String] {
        [patientID, issuer ?? "", name, birthDate ?? "", sex ?? "", isLocalID ? "local" : "national"]
    }

    /// Patients as an aligned table with a header row.
    static func table(_ patients: [Patient]) -> String {
        TextTable.render(header: tableHeader, rows: patients.map(\.tableRow))
    }
}

extension OrderEntry {
    static let tableHeader = ["ACCESSION", "STATUS", "SCHEDULED", "MODALITY", "STATION", "PATIENT ID", "NAME", "IMAGES"]

    /// The order as a row of ``tableHeader``; IMAGES is instances/series received, empty before any.
    var tableRow: [String] {
        let o = order
        return [o.accessionNumber, o.status.rawValue, scheduled, o.modality, o.stationAETitle, patient.patientID, patient.name,
                o.instanceCount.map { "\($0)/\(o.seriesCount ?? 0)" } ?? ""]
    }

    /// Orders as an aligned table with a header row.
    static func table(_ entries: [OrderEntry]) -> String {
        TextTable.render(header: tableHeader, rows: entries.map(\.tableRow))
    }

    /// The scheduled date and time as `YYYY-MM-DD HH:MM`.
    var scheduled: String {
        let o = order
        return "\(o.scheduledDate.prefix(4))-\(o.scheduledDate.dropFirst(4).prefix(2))-\(o.scheduledDate.suffix(2)) \(o.scheduledTime.prefix(2)):\(o.scheduledTime.dropFirst(2).prefix(2))"
    }

    var details: String {
        let o = order
        var lines = [
            "Accession Number: \(o.accessionNumber)",
            "Status: \(o.status.rawValue)",
            "Patient: \(patient.line)",
            "Scheduled: \(o.scheduledDate) \(o.scheduledTime) on \(o.stationAETitle) (\(o.modality))",
            "Requested Procedure ID: \(o.requestedProcedureID)",
            "Scheduled Procedure Step ID: \(o.scheduledProcedureStepID)",
            "Study Instance UID: \(o.studyInstanceUID)",
        ]
        if let value = o.bodyPart { lines.append("Body part: \(value)") }
        if let value = o.procedure { lines.append("Procedure: \(value)") }
        if let value = o.weight { lines.append("Weight: \(value) kg") }
        if let value = o.complaints { lines.append("Complaints: \(value)") }
        if let value = o.history { lines.append("History: \(value)") }
        if let value = o.referringPhysician { lines.append("Referring physician: \(value)") }
        if let value = o.referringOrganization { lines.append("Referring organization: \(value)") }
        if let count = o.instanceCount { lines.append("Images: \(count) instances in \(o.seriesCount ?? 0) series") }
        if let report = o.report { lines.append("Report: \(report.sopInstanceUID) by \(report.author)") }
        for change in o.history_ {
            lines.append("  \(ISO8601DateFormatter().string(from: change.at))  \(change.status.rawValue)  (\(change.by))")
        }
        return lines.joined(separator: "\n")
    }
}
