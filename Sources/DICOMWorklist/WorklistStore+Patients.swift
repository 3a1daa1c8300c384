import Foundation

/// What the operator enters for a new patient, or the fields to change.
public struct PatientInput: Codable, Sendable, Equatable {
    /// The PIN or other Patient ID; nil or empty to generate a local ID.
    public var patientID: String?
    public var issuer: String?
    public var name: String?
    public var birthDate: String?
    public var sex: String?

    public init(patientID: String? = nil, issuer: String? = nil, name: String? = nil, birthDate: String? = nil, sex: String? = nil) {
        self.patientID = patientID
        self.issuer = issuer
        self.name = name
        self.birthDate = birthDate
        self.sex = sex
    }
}

extension WorklistStore {
    /// The prefix of generated local Patient IDs.
    public static let localPatientIDPrefix = "LOC"

    /// Registers a patient. Without a Patient ID a local one (`LOC000001`…) is generated.
    /// - Throws: ``WorklistError`` for invalid fields or a Patient ID already registered.
    @discardableResult
    public func addPatient(_ input: PatientInput, now: Date = Date()) throws -> Patient {
        guard let rawName = input.name else { throw WorklistError(.invalidInput, "a patient needs a name (FAMILY^GIVEN)") }
        let name = try Validation.personName(rawName, field: "patient name")
        let birthDate = try input.birthDate.map { try Validation.date($0, field: "birth date") }
        let sex = try input.sex.map { try Validation.sex($0) }
        let givenID = try input.patientID.flatMap { $0.isEmpty ? nil : try Validation.identifier($0, field: "patient ID", maximum: 64) }
        let issuer = try input.issuer.flatMap { $0.isEmpty ? nil : try Validation.identifier($0, field: "issuer", maximum: 64) }
        return try modify { database in
            var patient: Patient
            if let givenID {
                if database.patients.contains(where: { $0.patientID == givenID }) {
                    throw WorklistError(.duplicate, "patient ID \(givenID) is already registered (use `patient update`)")
                }
                patient = Patient(patientID: givenID, issuer: issuer, name: name, birthDate: birthDate, sex: sex, createdAt: now)
            } else {
                var number = database.localPatientCounter
                var id: String
                repeat {
                    number += 1
                    id = Self.localPatientIDPrefix + String(format: "%06d", number)
                } while database.patients.contains(where: { $0.patientID == id })
                database.localPatientCounter = number
                patient = Patient(patientID: id, issuer: nil, name: name, birthDate: birthDate, sex: sex, isLocalID: true, createdAt: now)
            }
            patient.updatedAt = now
            database.patients.append(patient)
            return patient
        }
    }

    /// The patient with this Patient ID.
    public func patient(id: String) throws -> Patient? {
        try read().patients.first { $0.patientID == id }
    }

    /// Patients whose ID equals `query`, or whose name (any component, or the whole name) starts with `query`,
    /// compared case-insensitively in any script (Иванов, Асанбеков, احمدی).
    public func findPatients(_ query: String) throws -> [Patient] {
        let database = try read()
        let wanted = Self.folded(query.trimmingCharacters(in: .whitespaces))
        guard !wanted.isEmpty else { return database.patients }
        return database.patients.filter { patient in
            if patient.patientID == query.trimmingCharacters(in: .whitespaces) { return true }
            return Self.nameMatches(patient.name, prefix: wanted)
        }
    }

    /// Case- and diacritic-insensitive form used for name search; the DICOM separator `^` becomes a space.
    static func folded(_ text: String) -> String {
        text.replacingOccurrences(of: "^", with: " ").folding(options: [.caseInsensitive], locale: nil).lowercased()
    }

    static func nameMatches(_ name: String, prefix wanted: String) -> Bool {
        let folded = Self.folded(name)
        if folded.hasPrefix(wanted) { return true }
        let words = folded.split(separator: " ")
        for index in words.indices where words[index...].joined(separator: " ").hasPrefix(wanted) { return true }
        return false
    }

    /// Changes a patient's name, birth date, sex or issuer.
    /// - Throws: ``WorklistError`` for an unknown patient or invalid fields.
    @discardableResult
    public func updatePatient(id: String, _ input: PatientInput, now: Date = Date()) throws -> Patient {
        let name = try input.name.map { try Validation.personName($0, field: "patient name") }
        let birthDate = try input.birthDate.map { try Validation.date($0, field: "birth date") }
        let sex = try input.sex.map { try Validation.sex($0) }
        let issuer = try input.issuer.map { try Validation.identifier($0, field: "issuer", maximum: 64) }
        return try modify { database in
            guard let index = database.patients.firstIndex(where: { $0.patientID == id }) else {
                throw WorklistError(.notFound, "unknown patient \(id)")
            }
            if let name { database.patients[index].name = name }
            if let birthDate { database.patients[index].birthDate = birthDate }
            if let sex { database.patients[index].sex = sex }
            if let issuer { database.patients[index].issuer = issuer }
            database.patients[index].updatedAt = now
            return database.patients[index]
        }
    }
}
