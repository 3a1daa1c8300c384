import ArgumentParser
import DICOMWorklist
import Foundation

/// `dcmworklist patient add|find|show|update`.
struct PatientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient", abstract: "The patient registry: add, find, show and update patients.",
        subcommands: [AddPatient.self, FindPatient.self, ShowPatient.self, UpdatePatient.self])
}

struct PatientFields: ParsableArguments {
    @Option(name: .customLong("name"), help: "Patient's name, FAMILY^GIVEN, in any script.")
    var name: String?
    @Option(name: .customLong("birth-date"), help: "Birth date, YYYYMMDD.")
    var birthDate: String?
    @Option(help: "Sex: M, F or O.")
    var sex: String?
    @Option(help: "Issuer of the Patient ID (e.g. the national PIN registry).")
    var issuer: String?
}

struct AddPatient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Registers a patient; without --id a local ID is generated.")
    @OptionGroup var options: WorklistOptions
    @Option(name: .customLong("id"), help: "Patient ID (the national PIN); omit for a patient without one.")
    var patientID: String?
    @OptionGroup var fields: PatientFields

    func run() async throws {
        try await perform {
            let patient = try options.store().addPatient(PatientInput(patientID: patientID, issuer: fields.issuer, name: fields.name,
                                                                      birthDate: fields.birthDate, sex: fields.sex))
            if options.json { try printJSON(patient) } else { print(patient.line) }
        }
    }
}

struct FindPatient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "find", abstract: "Finds patients by ID, or by the start of a name (case-insensitive, any script).")
    @OptionGroup var options: WorklistOptions
    @Argument(help: "A Patient ID or the beginning of a family or given name.")
    var query: String

    func run() async throws {
        try await perform {
            let patients = try options.store().findPatients(query)
            if options.json { try printJSON(patients) } else { print(Patient.table(patients), terminator: "") }
        }
    }
}

struct ShowPatient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Shows a patient and their orders.")
    @OptionGroup var options: WorklistOptions
    @Argument(help: "The Patient ID.")
    var patientID: String

    func run() async throws {
        try await perform {
            let store = try options.store()
            guard let patient = try store.patient(id: patientID) else { throw WorklistError(.notFound, "unknown patient \(patientID)") }
            let orders = try store.orders(matching: OrderFilter(patientID: patientID))
            if options.json {
                struct Output: Encodable { var patient: Patient; var orders: [Order] }
                try printJSON(Output(patient: patient, orders: orders.map(\.order)))
            } else {
                print(patient.line)
                if !orders.isEmpty { print(""); print(OrderEntry.table(orders), terminator: "") }
            }
        }
    }
}

struct UpdatePatient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Changes a patient's name, birth date, sex or issuer.")
    @OptionGroup var options: WorklistOptions
    @Argument(help: "The Patient ID.")
    var patientID: String
    @OptionGroup var fields: PatientFields

    func run() async throws {
        try await perform {
            let patient = try options.store().updatePatient(id: patientID, PatientInput(issuer: fields.issuer, name: fields.name,
                                                                                        birthDate: fields.birthDate, sex: fields.sex))
            if options.json { try printJSON(patient) } else { print(patient.line) }
        }
    }
}
