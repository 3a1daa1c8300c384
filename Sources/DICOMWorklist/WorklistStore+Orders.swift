import DICOMCore
import Foundation

/// What the operator enters for an order; in JSON the keys are the command-line option names
/// (`patient-id`, `patient-name`, `birth-date`, `sex`, `modality`, `station-aet`, `scheduled`, `body-part`, `procedure`,
/// `weight`, `complaints`, `history`, `referring-physician`, `referring-org`, and optionally `accession`,
/// `study-uid`, `issuer`).
public struct OrderInput: Codable, Sendable, Equatable {
    public var patientID: String?
    public var issuer: String?
    public var patientName: String?
    public var birthDate: String?
    public var sex: String?
    public var modality: String?
    public var stationAETitle: String?
    /// `YYYY-MM-DDTHH:MM`.
    public var scheduled: String?
    public var bodyPart: String?
    public var procedure: String?
    public var weight: Double?
    public var complaints: String?
    public var history: String?
    public var referringPhysician: String?
    public var referringOrganization: String?
    /// An accession number given by another system (imports); generated when nil.
    public var accessionNumber: String?
    /// A Study Instance UID given by another system (imports); generated when nil.
    public var studyInstanceUID: String?
    public var requestedProcedureID: String?
    public var scheduledProcedureStepID: String?

    enum CodingKeys: String, CodingKey {
        case patientID = "patient-id", issuer, patientName = "patient-name", birthDate = "birth-date", sex, modality
        case stationAETitle = "station-aet", scheduled, bodyPart = "body-part", procedure, weight, complaints, history
        case referringPhysician = "referring-physician", referringOrganization = "referring-org", accessionNumber = "accession"
        case studyInstanceUID = "study-uid", requestedProcedureID = "requested-procedure-id"
        case scheduledProcedureStepID = "sps-id"
    }

    public init() {}
}

extension OrderInput {
    /// A ``scheduled`` value for `date` in local time, to the minute (`YYYYMMDDTHHMM`): an examination registered at
    /// the scanner starts now.
    public static func scheduled(at date: Date) -> String {
        let (day, time) = BasicTextReport.dicomDateTime(date)
        return day + "T" + time.prefix(4)
    }
}

/// Filters of ``WorklistStore/orders(matching:)``; nil matches everything.
public struct OrderFilter: Sendable {
    public var statuses: Set<OrderStatus>?
    /// Inclusive `YYYYMMDD` bounds of the scheduled date.
    public var fromDate: String?
    public var toDate: String?
    public var modality: String?
    public var stationAETitle: String?
    public var patientID: String?

    public init(statuses: Set<OrderStatus>? = nil, fromDate: String? = nil, toDate: String? = nil, modality: String? = nil,
                stationAETitle: String? = nil, patientID: String? = nil) {
        self.statuses = statuses
        self.fromDate = fromDate
        self.toDate = toDate
        self.modality = modality
        self.stationAETitle = stationAETitle
        self.patientID = patientID
    }

    func matches(_ order: Order) -> Bool {
        if let statuses, !statuses.contains(order.status) { return false }
        if let fromDate, order.scheduledDate < fromDate { return false }
        if let toDate, order.scheduledDate > toDate { return false }
        if let modality, order.modality != modality.uppercased() { return false }
        if let stationAETitle, order.stationAETitle != stationAETitle { return false }
        if let patientID, order.patientID != patientID { return false }
        return true
    }
}

/// An order with its patient, as listed and answered to the Modality Worklist.
public struct OrderEntry: Codable, Sendable, Equatable {
    public var order: Order
    public var patient: Patient
}

/// A validated order before it gets its identifiers.
struct ValidatedOrder {
    var patient: PatientInput
    var modality: String
    var station: String
    var date: String
    var time: String
    var input: OrderInput
}

extension WorklistStore {
    /// Checks every field of an order; throws the first problem found.
    static func validate(_ input: OrderInput) throws -> ValidatedOrder {
        guard let modality = input.modality else { throw WorklistError(.invalidInput, "an order needs --modality (e.g. CT)") }
        guard let station = input.stationAETitle else { throw WorklistError(.invalidInput, "an order needs --station-aet (the scanner's AE title)") }
        guard let scheduled = input.scheduled else { throw WorklistError(.invalidInput, "an order needs --scheduled YYYY-MM-DDTHH:MM") }
        guard let patientID = input.patientID, !patientID.isEmpty else { throw WorklistError(.invalidInput, "an order needs --patient-id") }
        let (date, time) = try Validation.dateTime(scheduled, field: "scheduled")
        var checked = input
        checked.patientID = try Validation.identifier(patientID, field: "patient ID", maximum: 64)
        checked.bodyPart = try input.bodyPart.map { try Validation.codeString($0, field: "body part") }
        checked.procedure = try input.procedure.map { try Validation.line($0, field: "procedure") }
        checked.weight = try input.weight.map { try Validation.weight($0) }
        checked.complaints = try input.complaints.map { try Validation.text($0, field: "complaints") }
        checked.history = try input.history.map { try Validation.text($0, field: "history") }
        checked.referringPhysician = try input.referringPhysician.map { try Validation.personName($0, field: "referring physician") }
        checked.referringOrganization = try input.referringOrganization.map { try Validation.line($0, field: "referring organization") }
        checked.accessionNumber = try input.accessionNumber.map { try Validation.identifier($0, field: "accession number", maximum: 16) }
        checked.requestedProcedureID = try input.requestedProcedureID.map { try Validation.identifier($0, field: "requested procedure ID", maximum: 16) }
        checked.scheduledProcedureStepID = try input.scheduledProcedureStepID.map { try Validation.identifier($0, field: "scheduled procedure step ID", maximum: 16) }
        if let uid = input.studyInstanceUID, !UID.isValid(uid) {
            throw WorklistError(.invalidInput, "study UID '\(uid)' is not a valid UID")
        }
        let patient = PatientInput(patientID: checked.patientID, issuer: input.issuer, name: input.patientName,
                                   birthDate: input.birthDate, sex: input.sex)
        // Validate the patient fields now so that a bad one is reported before anything is written.
        _ = try patient.name.map { try Validation.personName($0, field: "patient name") }
        _ = try patient.birthDate.map { try Validation.date($0, field: "birth date") }
        _ = try patient.sex.map { try Validation.sex($0) }
        return ValidatedOrder(patient: patient, modality: try Validation.codeString(modality, field: "modality"),
                              station: try Validation.aeTitle(station, field: "station AE title"), date: date, time: time, input: checked)
    }

    /// Schedules one order (see ``addOrders(_:now:)``).
    @discardableResult
    public func addOrder(_ input: OrderInput, now: Date = Date()) throws -> OrderEntry {
        try addOrders([input], now: now)[0]
    }

    /// Schedules orders, all or none: generates the Accession Number (`yyMMdd` and a daily sequence number, e.g.
    /// `261123007`), Requested Procedure ID (the accession number), Scheduled Procedure Step ID (accession `-1`) and
    /// Study Instance UID unless given. An unknown patient is registered when the order carries a name; a known one
    /// must not contradict the registry.
    ///
    /// - Throws: ``WorklistError`` naming the order (1-based) and field: invalid input, unknown patient without a name,
    ///   a patient's name differing from the registry, a duplicate accession number.
    /// - Parameter sources: where each order came from (file names of an import), used in error messages instead of
    ///   "order N".
    public func addOrders(_ inputs: [OrderInput], sources: [String]? = nil, now: Date = Date()) throws -> [OrderEntry] {
        func label(_ number: Int) -> String {
            if let sources, number < sources.count { return sources[number] }
            return "order \(number + 1)"
        }
        var validated: [ValidatedOrder] = []
        for (number, input) in inputs.enumerated() {
            do { validated.append(try Self.validate(input)) } catch let error as WorklistError where inputs.count > 1 || sources != nil {
                throw WorklistError(error.code, "\(label(number)): \(error.message)")
            }
        }
        return try modify { database in
            var entries: [OrderEntry] = []
            // Lookups for a bulk import: patient index by ID, accession numbers and study UIDs in use.
            var patientIndex = Dictionary(database.patients.enumerated().map { ($1.patientID, $0) }, uniquingKeysWith: { first, _ in first })
            var accessions = Set(database.orders.map(\.accessionNumber))
            var studies = Set(database.orders.map(\.studyInstanceUID))
            for (number, item) in validated.enumerated() {
                func fail(_ code: WorklistError.Code, _ message: String) -> WorklistError {
                    WorklistError(code, inputs.count > 1 || sources != nil ? "\(label(number)): \(message)" : message)
                }
                let patientID = item.input.patientID ?? ""
                let patient: Patient
                if let known = patientIndex[patientID].map({ database.patients[$0] }) {
                    if let name = item.patient.name, try Validation.personName(name, field: "patient name") != known.name {
                        throw fail(.invalidInput, "patient \(patientID) is registered as \(known.name), not \(name) (use `patient update` to correct it)")
                    }
                    patient = known
                } else {
                    guard let name = item.patient.name else {
                        throw fail(.notFound, "unknown patient \(patientID): register the patient first or give --patient-name")
                    }
                    var registered = Patient(patientID: patientID, issuer: item.patient.issuer, name: try Validation.personName(name, field: "patient name"),
                                             birthDate: try item.patient.birthDate.map { try Validation.date($0, field: "birth date") },
                                             sex: try item.patient.sex.map { try Validation.sex($0) }, createdAt: now)
                    registered.updatedAt = now
                    patientIndex[patientID] = database.patients.count
                    database.patients.append(registered)
                    patient = registered
                }
                let accession: String
                if let given = item.input.accessionNumber {
                    guard !accessions.contains(given) else {
                        throw fail(.duplicate, "accession number \(given) is already used by another order")
                    }
                    accession = given
                } else {
                    accession = Self.nextAccessionNumber(&database, used: accessions, now: now)
                }
                if let uid = item.input.studyInstanceUID, studies.contains(uid) {
                    throw fail(.duplicate, "study UID \(uid) is already used by another order")
                }
                let order = Order(accessionNumber: accession, requestedProcedureID: item.input.requestedProcedureID ?? accession,
                                  scheduledProcedureStepID: item.input.scheduledProcedureStepID ?? accession + "-1",
                                  studyInstanceUID: item.input.studyInstanceUID ?? UID.make(), patientID: patient.patientID,
                                  issuer: patient.issuer, modality: item.modality, stationAETitle: item.station,
                                  scheduledDate: item.date, scheduledTime: item.time, bodyPart: item.input.bodyPart,
                                  procedure: item.input.procedure, weight: item.input.weight, complaints: item.input.complaints,
                                  history: item.input.history, referringPhysician: item.input.referringPhysician,
                                  referringOrganization: item.input.referringOrganization, status: .scheduled,
                                  history_: [StatusChange(status: .scheduled, at: now, by: "cli")], createdAt: now, updatedAt: now)
                accessions.insert(order.accessionNumber)
                studies.insert(order.studyInstanceUID)
                database.orders.append(order)
                entries.append(OrderEntry(order: order, patient: patient))
            }
            return entries
        }
    }

    static func nextAccessionNumber(_ database: inout WorklistDatabase, used: Set<String>, now: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        let day = String(format: "%02d%02d%02d", (parts.year ?? 2000) % 100, parts.month ?? 1, parts.day ?? 1)
        var sequence = database.accessionCounters[day] ?? 0
        var accession: String
        repeat {
            sequence += 1
            accession = day + String(format: "%03d", sequence)
        } while used.contains(accession)
        database.accessionCounters[day] = sequence
        return accession
    }

    /// Orders with their patients, oldest scheduled first.
    public func orders(matching filter: OrderFilter = OrderFilter()) throws -> [OrderEntry] {
        let database = try read()
        return Self.entries(database, filter)
    }

    static func entries(_ database: WorklistDatabase, _ filter: OrderFilter) -> [OrderEntry] {
        let patients = Dictionary(database.patients.map { ($0.patientID, $0) }, uniquingKeysWith: { first, _ in first })
        return database.orders.filter(filter.matches).compactMap { order in
            patients[order.patientID].map { OrderEntry(order: order, patient: $0) }
        }.sorted { ($0.order.scheduledDate, $0.order.scheduledTime, $0.order.accessionNumber) < ($1.order.scheduledDate, $1.order.scheduledTime, $1.order.accessionNumber) }
    }

    /// The order with this accession number.
    public func order(accession: String) throws -> OrderEntry? {
        let database = try read()
        guard let order = database.orders.first(where: { $0.accessionNumber == accession }),
              let patient = database.patients.first(where: { $0.patientID == order.patientID }) else { return nil }
        return OrderEntry(order: order, patient: patient)
    }

    /// Moves an order to `status`, recording who did it.
    /// - Throws: ``WorklistError`` for an unknown order or a transition ``OrderStatus/allowedNext`` does not allow.
    @discardableResult
    public func setStatus(accession: String, to status: OrderStatus, by actor: String, now: Date = Date()) throws -> Order {
        try modify { database in
            guard let index = database.orders.firstIndex(where: { $0.accessionNumber == accession }) else {
                throw WorklistError(.notFound, "unknown accession number \(accession)")
            }
            try Self.transition(&database.orders[index], to: status, by: actor, now: now)
            return database.orders[index]
        }
    }

    static func transition(_ order: inout Order, to status: OrderStatus, by actor: String, now: Date) throws {
        guard order.status.allowedNext.contains(status) else {
            let allowed = order.status.allowedNext.map(\.rawValue).sorted().joined(separator: ", ")
            throw WorklistError(.illegalTransition,
                                "order \(order.accessionNumber) is \(order.status.rawValue) and cannot become \(status.rawValue)"
                                    + (allowed.isEmpty ? "" : " (allowed: \(allowed))"))
        }
        if order.status != status { order.history_.append(StatusChange(status: status, at: now, by: actor)) }
        order.status = status
        order.updatedAt = now
    }

    /// Cancels a scheduled order (only SCHEDULED orders can be cancelled).
    @discardableResult
    public func cancel(accession: String, now: Date = Date()) throws -> Order {
        try setStatus(accession: accession, to: .cancelled, by: "cli", now: now)
    }

    /// Changes the scheduling and clinical fields of an order that is still SCHEDULED. Patient fields are ignored
    /// (use ``updatePatient(id:_:now:)``).
    @discardableResult
    public func updateOrder(accession: String, _ input: OrderInput, now: Date = Date()) throws -> Order {
        let scheduled = try input.scheduled.map { try Validation.dateTime($0, field: "scheduled") }
        let modality = try input.modality.map { try Validation.codeString($0, field: "modality") }
        let station = try input.stationAETitle.map { try Validation.aeTitle($0, field: "station AE title") }
        let bodyPart = try input.bodyPart.map { try Validation.codeString($0, field: "body part") }
        let procedure = try input.procedure.map { try Validation.line($0, field: "procedure") }
        let weight = try input.weight.map { try Validation.weight($0) }
        let complaints = try input.complaints.map { try Validation.text($0, field: "complaints") }
        let history = try input.history.map { try Validation.text($0, field: "history") }
        let physician = try input.referringPhysician.map { try Validation.personName($0, field: "referring physician") }
        let organization = try input.referringOrganization.map { try Validation.line($0, field: "referring organization") }
        return try modify { database in
            guard let index = database.orders.firstIndex(where: { $0.accessionNumber == accession }) else {
                throw WorklistError(.notFound, "unknown accession number \(accession)")
            }
            var order = database.orders[index]
            guard order.status == .scheduled else {
                throw WorklistError(.illegalTransition, "order \(accession) is \(order.status.rawValue); only SCHEDULED orders can be changed")
            }
            if let scheduled { order.scheduledDate = scheduled.date; order.scheduledTime = scheduled.time }
            if let modality { order.modality = modality }
            if let station { order.stationAETitle = station }
            if let bodyPart { order.bodyPart = bodyPart }
            if let procedure { order.procedure = procedure }
            if let weight { order.weight = weight }
            if let complaints { order.complaints = complaints }
            if let history { order.history = history }
            if let physician { order.referringPhysician = physician }
            if let organization { order.referringOrganization = organization }
            order.updatedAt = now
            database.orders[index] = order
            return order
        }
    }
}
