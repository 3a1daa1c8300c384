// libFuzzer harness for the Modality Worklist C-FIND matching (DICOMWorklist KeyMatching.swift and WorklistQuery in
// ModalityWorklistHandler.swift). See README.md. Built with fuzz-query: Tools/fuzz/query/Package.swift.
import CFuzzerDriver
import DICOMCore
import DICOMIO
import Foundation
@testable import DICOMArchive
@testable import DICOMWorklist

/// 24 scheduled orders of 8 patients with Latin, Cyrillic, Kyrgyz, Persian and Japanese names, dates and times in
/// several forms, as the handler sees them after reading the worklist.
let entries: [OrderEntry] = {
    let names = ["DOE^JOHN", "Иванов^Иван", "Өмүрбеков^Ңурлан", "رضایی^علی", "Yamada^Tarou=山田^太郎=やまだ^たろう", "^", "",
                 "O'BRIEN^PAT"]
    let dates = ["20240105", "2024", "", "2024.02.10", "20241301", "20240229"]
    let times = ["101500", "1015", "", "10:15:00", "101500.123456", "2460"]
    return (0..<24).map { index in
        let patient = Patient(patientID: ["P1", "ПАЦ-2", "P\\3", "", "P5", "p1", "P7", "P8"][index % 8], name: names[index % 8],
                              birthDate: index % 3 == 0 ? "19800101" : nil, sex: ["M", "F", "O"][index % 3],
                              createdAt: Date(timeIntervalSince1970: 1_700_000_000))
        let order = Order(accessionNumber: "A\(index)", requestedProcedureID: "RP\(index % 5)",
                          scheduledProcedureStepID: "SPS\(index)", studyInstanceUID: "1.2.826.0.1.8.\(index)",
                          patientID: patient.patientID, issuer: nil, modality: ["CT", "MR", "US", ""][index % 4],
                          stationAETitle: ["CT1", "MR1", "ЖЖ", ""][index % 4], scheduledDate: dates[index % dates.count],
                          scheduledTime: times[index % times.count], bodyPart: "HEAD", procedure: ["Head CT", "Голова", nil][index % 3],
                          weight: index % 2 == 0 ? 72.5 : nil, complaints: nil, history: nil,
                          referringPhysician: ["REF^DOC", "Петров^П", nil][index % 3], referringOrganization: nil,
                          status: index % 5 == 0 ? .inProgress : .scheduled, history_: [], performedProcedureStepUID: nil,
                          instanceCount: nil, seriesCount: nil, report: nil,
                          createdAt: Date(timeIntervalSince1970: 1_700_000_000), updatedAt: Date(timeIntervalSince1970: 1_700_000_000))
        return OrderEntry(order: order, patient: patient)
    }
}()

/// The answer's character sets: the handler writes each response in the set configured for the caller and
/// transliterates what it cannot hold.
let encoders: [TextEncoder] = ["ISO_IR 192", "", "ISO_IR 100", "ISO_IR 144", "\\ISO 2022 IR 87", "ISO_IR 127"].map { terms in
    TextEncoder(characterSet: (try? SpecificCharacterSet(terms: terms.isEmpty ? [] : terms.components(separatedBy: "\\")))
        ?? .utf8)
}

/// The first byte picks the answer's character set (modulo 6); the rest is the identifier, a bare data set in
/// Explicit VR Little Endian. A trap is a finding; a thrown error (a malformed date or time key) is a refusal.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count >= 1 else { return 0 }
    let encoder = encoders[Int(start[0]) % encoders.count]
    var options = ReadOptions()
    options.maximumInflatedSize = 1 << 20
    guard let identifier = try? DataSetReader.read(Data(bytes: start + 1, count: count - 1), transferSyntax: .explicitVRLittleEndian,
                                                   options: options),
          let query = try? WorklistQuery(identifier) else { return 0 }
    for entry in entries where query.matches(entry) {
        let response = query.response(for: WorklistAttributes.dataSet(for: entry, encoder: encoder))
        _ = try? DataSetWriter.encode(response, transferSyntax: .explicitVRLittleEndian)
    }
    return 0
}

@_cdecl("fuzz_worklist_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
}
