import DICOMCore
import DICOMIO
import Foundation

/// Reads orders in bulk: a JSON array (or one object) of ``OrderInput`` with the command-line field names, or DICOM
/// worklist files (`*.wl`, Modality Worklist data sets as DCMTK's `wlmscpfs` keeps them, one per file).
public enum OrderImport {
    /// Orders from JSON text.
    /// - Throws: ``WorklistError`` naming what is wrong with the JSON.
    public static func orders(json data: Data) throws -> [OrderInput] {
        let decoder = JSONDecoder()
        let first = data.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
        do {
            if first == UInt8(ascii: "{") { return [try decoder.decode(OrderInput.self, from: data)] }
            return try decoder.decode([OrderInput].self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            let path = context.codingPath.map { $0.intValue.map { "order \($0 + 1)" } ?? $0.stringValue }.joined(separator: ": ")
            throw WorklistError(.invalidInput, "the JSON orders are not valid\(path.isEmpty ? "" : " at \(path)"): \(context.debugDescription)")
        } catch {
            throw WorklistError(.invalidInput, "the JSON orders are not valid: \(error)")
        }
    }

    /// An order from a DICOM worklist data set: patient and request attributes at the top level, the first item of the
    /// Scheduled Procedure Step Sequence (0040,0100) for station, modality, start and step ID.
    public static func order(worklistDataSet ds: DataSet) -> OrderInput {
        var input = OrderInput()
        input.patientID = ds.string(.patientID)
        input.issuer = ds.string(.issuerOfPatientID)
        input.patientName = ds.string(.patientName)
        input.birthDate = ds.string(.patientBirthDate)
        input.sex = ds.string(.patientSex)
        input.accessionNumber = ds.string(.accessionNumber)
        input.studyInstanceUID = ds.string(.studyInstanceUID)
        input.requestedProcedureID = ds.string(.requestedProcedureID)
        input.procedure = ds.string(.requestedProcedureDescription)
        input.complaints = ds.string(.reasonForTheRequestedProcedure)
        input.history = ds.text(.additionalPatientHistory).flatMap { $0.isEmpty ? nil : $0 }
        input.weight = ds.double(.patientWeight)
        input.referringPhysician = ds.string(.referringPhysicianName)
        input.referringOrganization = ds.string(.requestingService)
        input.bodyPart = ds.string(.bodyPartExamined)
        if let step = ds.items(.scheduledProcedureStepSequence)?.first {
            input.stationAETitle = step.string(.scheduledStationAETitle)
            input.modality = step.string(.modality)
            input.scheduledProcedureStepID = step.string(.scheduledProcedureStepID)
            input.procedure = input.procedure ?? step.string(.scheduledProcedureStepDescription)
            if let date = step.string(.scheduledProcedureStepStartDate) {
                let time = step.string(.scheduledProcedureStepStartTime).map { String($0.split(separator: ".").first ?? "") } ?? "000000"
                let padded = time.count >= 4 ? String(time.prefix(6)) : time + String(repeating: "0", count: 4 - time.count)
                input.scheduled = date + padded
            }
        }
        return input
    }

    /// Orders from `*.wl` files: a file or every `*.wl` in a directory, in name order.
    /// - Throws: ``WorklistError`` naming the file that cannot be read.
    public static func orders(worklistFilesAt path: String) throws -> [OrderInput] {
        try ordersWithSources(worklistFilesAt: path).map(\.order)
    }

    /// Like ``orders(worklistFilesAt:)``, with the file each order came from.
    public static func ordersWithSources(worklistFilesAt path: String) throws -> [(order: OrderInput, file: String)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw WorklistError(.notFound, "\(path) does not exist")
        }
        let files: [String]
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            files = names.filter { $0.lowercased().hasSuffix(".wl") }.sorted().map { path + "/" + $0 }
            guard !files.isEmpty else { throw WorklistError(.notFound, "\(path) holds no *.wl files") }
        } else {
            files = [path]
        }
        return try files.map { file in
            do {
                return (order(worklistDataSet: try DICOMFile(contentsOf: file).dataSet), file)
            } catch {
                throw WorklistError(.invalidInput, "\(file) is not a readable DICOM worklist file: \(error)")
            }
        }
    }
}
