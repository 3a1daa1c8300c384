import ArgumentParser
import DICOMWorklist
import Foundation

/// The fields of an order on the command line; JSON imports use the same names.
struct OrderFields: ParsableArguments {
    @Option(name: .customLong("modality"), help: "Modality, e.g. CT, MR, DX.")
    var modality: String?
    @Option(name: .customLong("station-aet"), help: "The scanner's AE title (Scheduled Station AE Title).")
    var stationAETitle: String?
    @Option(help: "Scheduled start, YYYY-MM-DDTHH:MM (local time; `add` without it: now).")
    var scheduled: String?
    @Option(name: .customLong("body-part"), help: "Body part examined, e.g. HEAD.")
    var bodyPart: String?
    @Option(help: "The kind of examination (Requested Procedure Description).")
    var procedure: String?
    @Option(help: "Weight in kg.")
    var weight: Double?
    @Option(help: "Complaints (Reason for the Requested Procedure).")
    var complaints: String?
    @Option(help: "Anamnesis (Additional Patient History).")
    var history: String?
    @Option(name: .customLong("referring-physician"), help: "Referring physician, FAMILY^GIVEN.")
    var referringPhysician: String?
    @Option(name: .customLong("referring-org"), help: "Referring organization (where the report goes).")
    var referringOrganization: String?

    func apply(to input: inout OrderInput) {
        input.modality = modality
        input.stationAETitle = stationAETitle
        input.scheduled = scheduled
        input.bodyPart = bodyPart
        input.procedure = procedure
        input.weight = weight
        input.complaints = complaints
        input.history = history
        input.referringPhysician = referringPhysician
        input.referringOrganization = referringOrganization
    }
}

struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Schedules a procedure; prints the generated Accession Number, Requested Procedure ID, Scheduled Procedure Step ID and Study Instance UID.",
        discussion: """
            --from FILE adds orders in bulk, all or none: a JSON array of orders with the option names as keys \
            (patient-id, patient-name, birth-date, sex, modality, station-aet, scheduled, ...; '-' reads standard input), \
            a DICOM worklist file (*.wl) or a folder of them (DCMTK wlmscpfs).
            """)
    @OptionGroup var options: WorklistOptions
    @Option(name: .customLong("patient-id"), help: "Patient ID (PIN); a new patient needs --patient-name too.")
    var patientID: String?
    @Option(name: .customLong("patient-name"), help: "Patient's name, FAMILY^GIVEN (registers an unknown patient).")
    var patientName: String?
    @Option(name: .customLong("birth-date"), help: "Birth date, YYYYMMDD.")
    var birthDate: String?
    @Option(help: "Sex: M, F or O.")
    var sex: String?
    @Option(help: "Issuer of the Patient ID.")
    var issuer: String?
    @OptionGroup var fields: OrderFields
    @Option(help: "Import orders from a JSON file ('-' for standard input), a *.wl file or a folder of *.wl files.")
    var from: String?

    func validate() throws {
        if from != nil && (patientID != nil || fields.modality != nil || fields.scheduled != nil) {
            throw ValidationError("--from imports orders from a file; give the order fields there, not as options")
        }
    }

    func run() async throws {
        try await perform {
            let store = try options.store()
            let inputs: [OrderInput]
            var sources: [String]?
            if let from {
                if from == "-" {
                    inputs = try OrderImport.orders(json: FileHandle.standardInput.readDataToEndOfFile())
                } else if from.lowercased().hasSuffix(".json") {
                    guard let data = FileManager.default.contents(atPath: from) else { throw WorklistError(.notFound, "cannot read \(from)") }
                    inputs = try OrderImport.orders(json: data)
                } else {
                    let imported = try OrderImport.ordersWithSources(worklistFilesAt: from)
                    inputs = imported.map(\.order)
                    sources = imported.map(\.file)
                }
                guard !inputs.isEmpty else { throw WorklistError(.invalidInput, "\(from) holds no orders") }
            } else {
                var input = OrderInput()
                input.patientID = patientID
                input.patientName = patientName
                input.birthDate = birthDate
                input.sex = sex
                input.issuer = issuer
                fields.apply(to: &input)
                // An examination registered at the scanner starts now: without --scheduled, the current local time.
                if input.scheduled == nil { input.scheduled = OrderInput.scheduled(at: Date()) }
                inputs = [input]
            }
            let entries = try store.addOrders(inputs, sources: sources)
            if options.json {
                if from == nil, let entry = entries.first { try printJSON(entry.order) } else { try printJSON(entries.map(\.order)) }
            } else {
                for entry in entries {
                    let o = entry.order
                    print("accession=\(o.accessionNumber) requested-procedure-id=\(o.requestedProcedureID) sps-id=\(o.scheduledProcedureStepID) study-uid=\(o.studyInstanceUID) patient-id=\(o.patientID)")
                }
            }
        }
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lists orders; `--status images-received` is the radiologist's list awaiting review.")
    @OptionGroup var options: WorklistOptions
    @Option(help: "Only orders in these statuses (comma-separated): scheduled, in-progress, completed, discontinued, images-received, reported, cancelled.")
    var status: String?
    @Option(help: "Scheduled on or after this date (YYYYMMDD).")
    var from: String?
    @Option(help: "Scheduled on or before this date (YYYYMMDD).")
    var to: String?
    @Option(help: "Scheduled on this date (YYYYMMDD, or 'today').")
    var date: String?
    @Option(help: "Only this modality.")
    var modality: String?
    @Option(help: "Only this scheduled station AE title.")
    var station: String?

    func run() async throws {
        try await perform {
            var filter = OrderFilter(modality: modality, stationAETitle: station)
            if let status {
                var statuses = Set<OrderStatus>()
                for name in status.split(separator: ",") {
                    guard let parsed = OrderStatus(argument: String(name)) else {
                        throw WorklistError(.invalidInput, "unknown status '\(name)': expected \(OrderStatus.allCases.map(\.argument).joined(separator: ", "))")
                    }
                    statuses.insert(parsed)
                }
                filter.statuses = statuses
            }
            func day(_ text: String, _ field: String) throws -> String {
                if text == "today" {
                    let c = Calendar(identifier: .gregorian).dateComponents([.year, .month, .day], from: Date())
                    return String(format: "%04d%02d%02d", c.year ?? 2000, c.month ?? 1, c.day ?? 1)
                }
                let digits = text.replacingOccurrences(of: "-", with: "")
                guard digits.count == 8, Int(digits) != nil else { throw WorklistError(.invalidInput, "\(field) '\(text)' is not a date: expected YYYYMMDD") }
                return digits
            }
            filter.fromDate = try from.map { try day($0, "--from") }
            filter.toDate = try to.map { try day($0, "--to") }
            if let date { filter.fromDate = try day(date, "--date"); filter.toDate = filter.fromDate }
            let entries = try options.store().orders(matching: filter)
            if options.json { try printJSON(entries) } else { print(OrderEntry.table(entries), terminator: "") }
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Shows an order with its patient and status history.")
    @OptionGroup var options: WorklistOptions
    @Argument(help: "The accession number.")
    var accession: String

    func run() async throws {
        try await perform {
            guard let entry = try options.store().order(accession: accession) else { throw WorklistError(.notFound, "unknown accession number \(accession)") }
            if options.json { try printJSON(entry) } else { print(entry.details) }
        }
    }
}

struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Changes the scheduling or clinical fields of a SCHEDULED order.")
    @OptionGroup var options: WorklistOptions
    @Argument(help: "The accession number.")
    var accession: String
    @OptionGroup var fields: OrderFields

    func run() async throws {
        try await perform {
            var input = OrderInput()
            fields.apply(to: &input)
            let order = try options.store().updateOrder(accession: accession, input)
            if options.json { try printJSON(order) } else { print("updated \(order.accessionNumber)") }
        }
    }
}

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancels a SCHEDULED order.")
    @OptionGroup var options: WorklistOptions
    @Argument(help: "The accession number.")
    var accession: String

    func run() async throws {
        try await perform {
            let order = try options.store().cancel(accession: accession)
            if options.json { try printJSON(order) } else { print("\(order.accessionNumber) \(order.status.rawValue)") }
        }
    }
}

struct SetStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status",
                                                    abstract: "Moves an order to a status by hand (for scanners without MPPS); illegal transitions are refused.")
    @OptionGroup var options: WorklistOptions
    @Argument(help: "The accession number.")
    var accession: String
    @Argument(help: "The new status: in-progress, completed, discontinued, images-received, reported, cancelled.")
    var status: String

    func run() async throws {
        try await perform {
            guard let next = OrderStatus(argument: status) else {
                throw WorklistError(.invalidInput, "unknown status '\(status)': expected \(OrderStatus.allCases.map(\.argument).joined(separator: ", "))")
            }
            let order = try options.store().setStatus(accession: accession, to: next, by: "cli")
            if options.json { try printJSON(order) } else { print("\(order.accessionNumber) \(order.status.rawValue)") }
        }
    }
}
