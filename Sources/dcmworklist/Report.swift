import ArgumentParser
import DICOMArchive
import DICOMCore
import DICOMIO
import DICOMWorklist
import Foundation

/// `dcmworklist report`: writes the radiologist's report as a Basic Text SR in the study, or shows it.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the report of an order (DICOM Basic Text SR stored in the archive; the order becomes REPORTED), or show it.",
        discussion: """
            Creating a report needs the archive index: run it while `dcmstore serve` is stopped, or on the same machine between \
            its runs. --send AE forwards the report by C-STORE (AE@host:port, or an AE title of the configuration's \
            "destinations"); without --send, the referring organization's default destination ("referringOrganizations") is used.
            """)
    @OptionGroup var options: WorklistOptions
    @Argument(help: "The accession number.")
    var accession: String
    @Flag(help: "Print the existing report instead of creating one.")
    var show = false
    @Option(help: "The description (findings).")
    var description: String?
    @Option(help: "The conclusion.")
    var conclusion: String?
    @Option(help: "The recommendations.")
    var recommendations: String?
    @Option(help: "The radiologist, FAMILY^GIVEN.")
    var author: String?
    @Option(help: "The verifying organization.")
    var institution: String = "Radiology"
    @Option(help: "Send the report by C-STORE to AE (AE@host:port or a configured destination).")
    var send: String?
    @Flag(name: .customLong("no-send"), help: "Do not send to the referring organization's default destination.")
    var noSend = false

    func validate() throws {
        if !show {
            guard description != nil, conclusion != nil, author != nil else {
                throw ValidationError("a report needs --description, --conclusion and --author (and usually --recommendations)")
            }
        }
    }

    func run() async throws {
        try await perform {
            let store = try options.store()
            let configuration = try options.configuration(store)
            guard let entry = try store.order(accession: accession) else { throw WorklistError(.notFound, "unknown accession number \(accession)") }
            if show {
                try showReport(entry)
                return
            }
            let service = ReportService(archiveRoot: options.archive, worklist: store, configuration: configuration)
            var destination = send
            if destination == nil, !noSend { destination = service.defaultDestination(for: entry.order.referringOrganization) }
            // An unknown destination is refused before anything is written.
            if let destination { _ = try service.destination(destination) }
            let (record, file) = try await service.create(accession: accession, description: description ?? "", conclusion: conclusion ?? "",
                                                          recommendations: recommendations ?? "", author: author ?? "", institution: institution)
            var sent: String?
            if let destination {
                do {
                    let status = try await service.send(file, accession: accession, to: destination)
                    sent = "\(destination): \(status)"
                    guard status.category != .failure else { throw WorklistError(.io, "the report was stored, but \(destination) refused it: \(status)") }
                } catch let error as WorklistError {
                    throw error
                } catch {
                    throw WorklistError(.io, "the report was stored, but sending it to \(destination) failed: \(error)")
                }
            }
            if options.json {
                try printJSON(record)
            } else {
                print("report \(record.sopInstanceUID) stored for \(accession)\(sent.map { "; sent to \($0)" } ?? "")")
            }
        }
    }

    func showReport(_ entry: OrderEntry) throws {
        guard let record = entry.order.report else { throw WorklistError(.notFound, "order \(accession) has no report") }
        let layout = ArchiveLayout(root: options.archive)
        var text: ReportText?
        if let relative = try? layout.relativePath(studyInstanceUID: entry.order.studyInstanceUID, seriesInstanceUID: record.seriesInstanceUID,
                                                   sopInstanceUID: record.sopInstanceUID),
           let file = try? DICOMFile(contentsOf: layout.absolute(relative)) {
            text = ReportText(dataSet: file.dataSet)
        }
        let shown = text ?? {
            var fallback = ReportText(dataSet: DataSet())
            fallback.accessionNumber = accession
            fallback.author = record.author
            fallback.description = record.description
            fallback.conclusion = record.conclusion
            fallback.recommendations = record.recommendations
            return fallback
        }()
        if options.json {
            try printJSON(shown)
        } else {
            print("""
                Accession Number: \(shown.accessionNumber ?? accession)
                Patient: \(shown.patientName ?? entry.patient.name) (\(shown.patientID ?? entry.patient.patientID))
                Author: \(shown.author ?? record.author)
                Date: \(shown.date ?? "")

                Description:
                \(shown.description ?? "")

                Conclusion:
                \(shown.conclusion ?? "")

                Recommendations:
                \(shown.recommendations ?? "")
                """)
        }
    }
}
