import DICOMArchive
import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Logging

/// Creates the radiologist's report for an order: a ``BasicTextReport`` stored in the archive, the order moved to
/// REPORTED, and optionally the report sent by C-STORE to the referring organization's system.
public struct ReportService: Sendable {
    public let archiveRoot: String
    public let worklist: WorklistStore
    public let configuration: WorklistConfiguration
    let logger: Logger

    public init(archiveRoot: String, worklist: WorklistStore, configuration: WorklistConfiguration,
                logger: Logger = Logger(label: "dicom.worklist.report")) {
        self.archiveRoot = archiveRoot
        self.worklist = worklist
        self.configuration = configuration
        self.logger = logger
    }

    /// Writes the report of order `accession` into the archive and marks the order REPORTED (checked first, so an
    /// order that cannot be reported leaves the archive unchanged). Returns the order's new record and the Part 10 file.
    ///
    /// - Throws: ``WorklistError`` for an unknown order, one without images (not IMAGES RECEIVED or REPORTED), invalid text,
    ///   or an archive that cannot be written (for example while `dcmstore serve` holds its index).
    public func create(accession: String, description: String, conclusion: String, recommendations: String, author: String,
                       institution: String, now: Date = Date()) async throws -> (report: ReportRecord, file: Data) {
        let author = try Validation.personName(author, field: "author")
        let description = try Validation.text(description, field: "description", maximum: 100_000)
        let conclusion = try Validation.text(conclusion, field: "conclusion", maximum: 100_000)
        let recommendations = try Validation.text(recommendations, field: "recommendations", maximum: 100_000)
        let institution = try Validation.line(institution, field: "institution")
        guard let entry = try worklist.order(accession: accession) else {
            throw WorklistError(.notFound, "unknown accession number \(accession)")
        }
        guard entry.order.status.allowedNext.contains(.reported) else {
            throw WorklistError(.illegalTransition, "order \(accession) is \(entry.order.status.rawValue); a report needs IMAGES RECEIVED (images stored in the archive)")
        }
        let report = BasicTextReport(entry: entry, description: description, conclusion: conclusion, recommendations: recommendations,
                                     author: author, institution: institution, date: now)
        let dataSet: DataSet
        do { dataSet = try report.dataSet() } catch {
            throw WorklistError(.invalidInput, "cannot encode the report: \(error)")
        }
        let file = DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian, sourceAETitle: nil)
        let part10: Data
        let bare: Data
        do {
            part10 = try file.encoded()
            bare = try DataSetWriter.encode(dataSet, transferSyntax: .explicitVRLittleEndian)
        } catch {
            throw WorklistError(.invalidInput, "cannot encode the report: \(error)")
        }
        try await storeInArchive(bare, part10: part10, sopInstanceUID: report.sopInstanceUID)
        let record = ReportRecord(description: description, conclusion: conclusion, recommendations: recommendations, author: author,
                                  sopInstanceUID: report.sopInstanceUID, seriesInstanceUID: report.seriesInstanceUID, createdAt: now, sentTo: [])
        try worklist.modify { database in
            guard let index = database.orders.firstIndex(where: { $0.accessionNumber == accession }) else {
                throw WorklistError(.notFound, "unknown accession number \(accession)")
            }
            try WorklistStore.transition(&database.orders[index], to: .reported, by: "report:\(author)", now: now)
            database.orders[index].report = record
        }
        return (record, part10)
    }

    /// Stores the report in the archive folder directly, or, while `dcmstore serve` holds the archive index, by C-STORE to
    /// the configuration's ``WorklistConfiguration/archiveNode``.
    private func storeInArchive(_ bare: Data, part10: Data, sopInstanceUID: String) async throws {
        let layout = ArchiveLayout(root: archiveRoot)
        let index: JSONArchiveIndex
        do { index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout) } catch {
            guard let node = configuration.archiveNode else {
                throw WorklistError(.io, "cannot open the archive index in \(layout.indexDirectory) (is `dcmstore serve` running on this archive? set \"archiveNode\": \"AE@host:port\" in the worklist configuration to store reports through it): \(error)")
            }
            let status: DIMSEStatus
            do { status = try await cStore(part10, to: node) } catch let error as WorklistError { throw error } catch {
                throw WorklistError(.io, "cannot store the report through the archive node \(node): \(error)")
            }
            guard status.category != .failure else { throw WorklistError(.io, "the archive node \(node) refused the report: \(status)") }
            return
        }
        let store: ArchiveStore
        do { store = try ArchiveStore(layout: layout, index: index) } catch {
            await index.close()
            throw WorklistError(.io, "cannot open the archive \(archiveRoot): \(error)")
        }
        let temporary = layout.temporaryDirectory + "/report-\(UUID().uuidString).dcm"
        do { try bare.write(to: URL(fileURLWithPath: temporary)) } catch {
            await index.close()
            throw WorklistError(.io, "cannot write \(temporary): \(error.localizedDescription)")
        }
        defer { unlink(temporary) }
        let result = await store.store(dataSetAt: temporary, transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid,
                                       sopClassUID: WorklistSOPClass.basicTextSR, sopInstanceUID: sopInstanceUID, callingAETitle: "DCMWORKLIST")
        await index.close()
        guard result.status.category != .failure else {
            throw WorklistError(.io, "the archive refused the report: \(result.status) \(result.comment ?? "")")
        }
    }

    /// Where `aeTitle` lives: `AE@host:port` given directly, or an AE title of the configuration's destinations.
    public func destination(_ aeTitle: String) throws -> (aeTitle: String, host: String, port: Int) {
        if let at = aeTitle.firstIndex(of: "@") {
            let title = String(aeTitle[..<at]), address = String(aeTitle[aeTitle.index(after: at)...])
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
                throw WorklistError(.invalidInput, "--send \(aeTitle): expected AE@host:port")
            }
            return (try Validation.aeTitle(title, field: "--send AE title"), String(address[..<colon]), port)
        }
        guard let known = configuration.destinations?[aeTitle] else {
            throw WorklistError(.notFound, "--send \(aeTitle): unknown destination; add it to \"destinations\" in the worklist configuration or write AE@host:port")
        }
        return (aeTitle, known.host, known.port)
    }

    /// The default destination of a referring organization, from the configuration.
    public func defaultDestination(for organization: String?) -> String? {
        organization.flatMap { configuration.referringOrganizations?[$0] }
    }

    /// Sends a report (a Part 10 file) by C-STORE and records the outcome on the order.
    public func send(_ part10: Data, accession: String, to aeTitle: String, callingAE: String = "DCMWORKLIST") async throws -> DIMSEStatus {
        let status = try await cStore(part10, to: aeTitle, callingAE: callingAE)
        let target = try destination(aeTitle)
        try worklist.modify { database in
            if let index = database.orders.firstIndex(where: { $0.accessionNumber == accession }) {
                database.orders[index].report?.sentTo.append("\(target.aeTitle) \(status)")
            }
        }
        return status
    }

    /// One C-STORE of a Part 10 file to `aeTitle` (`AE@host:port` or a configured destination).
    func cStore(_ part10: Data, to aeTitle: String, callingAE: String = "DCMWORKLIST") async throws -> DIMSEStatus {
        let target = try destination(aeTitle)
        let path = NSTemporaryDirectory() + "report-\(UUID().uuidString).dcm"
        do { try part10.write(to: URL(fileURLWithPath: path)) } catch {
            throw WorklistError(.io, "cannot write \(path): \(error.localizedDescription)")
        }
        defer { unlink(path) }
        let syntaxes = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        let association = try await DICOMClient.connect(host: target.host, port: target.port, callingAE: try AETitle(callingAE),
                                                        calledAE: try AETitle(target.aeTitle),
                                                        presentationContexts: [PresentationContext(id: 1, abstractSyntax: WorklistSOPClass.basicTextSR, transferSyntaxes: syntaxes)],
                                                        logger: logger)
        let status: DIMSEStatus
        do {
            status = try await association.store(fileAt: path).status
            try await association.release()
        } catch {
            await association.abort()
            throw error
        }
        return status
    }
}
