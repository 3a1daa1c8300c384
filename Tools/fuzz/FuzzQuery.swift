// libFuzzer harness for the archive's C-FIND query path (DICOMArchive Query/*, Index/IndexState). See README.md.
// Built as a package against the repository's DICOMArchive product: Tools/fuzz/query/Package.swift, with
// `-enable-testing` so the harness can reach the query engine's internal planning and matching functions.
import CFuzzerDriver
import DICOMCore
import DICOMIO
import Foundation
@testable import DICOMArchive

/// One small in-memory index, built once: 50 instances in 20 studies of 8 patients, with Latin, Cyrillic, Kyrgyz,
/// Persian and Japanese names, full, partial, legacy and multi-valued dates, times, accession numbers and modalities.
nonisolated(unsafe) let state: IndexState = {
    let names = ["DOE^JOHN", "doe^jane", "Smith^Anna^B^Dr^", "Иванов^Иван", "ИВАНОВА^МАРИЯ", "Өмүрбеков^Ңурлан",
                 "ҮСӨНОВА^АЙГҮЛ", "رضایی^علی", "Yamada^Tarou=山田^太郎=やまだ^たろう", "", "O'BRIEN^ PAT ", "DOE^JOHN\\DOE^J", "^", "=^^", "Ңурлан"]
    let dates: [String?] = ["20240105", "2024", "202403", "20240101\\20240301", "2024.02.10", "", nil, "19991231",
                            "20240229", " 20240131 ", "2024133", "20231231\\2024"]
    let times: [String?] = ["101500", "1015", "10", "101500.123456", "", nil, "235959.999999", "10:15:00", "0000"]
    let accessions: [String?] = ["A1", "a1", "ACC\\ACC2", "", nil, " A1 ", "Ж-7", "A*1"]
    let modalities = ["CT", "MR", "", "US", "SR", "ct"]
    let births: [String?] = ["19800101", "1980", nil, "", "19700615"]
    let sexes: [String?] = ["M", "F", "O", nil]
    let state = IndexState()
    for index in 0..<50 {
        let studyNumber = index % 20
        let seriesNumber = index % 3
        let patientNumber = studyNumber % 8
        let study = "1.2.826.0.1.9.\(studyNumber)"
        let series = study + ".\(seriesNumber + 1)"
        let sop = series + ".\(index)"
        var patient: [Tag: String] = [Tag(0x0010, 0x0010): names[(patientNumber + index / 20 * 5 + index % 3) % names.count]]
        if let birth = births[patientNumber % births.count] { patient[Tag(0x0010, 0x0030)] = birth }
        if let sex = sexes[patientNumber % sexes.count] { patient[Tag(0x0010, 0x0040)] = sex }
        var studyAttributes: [Tag: String] = [:]
        if let date = dates[studyNumber % dates.count] { studyAttributes[Tag(0x0008, 0x0020)] = date }
        if let time = times[studyNumber % times.count] { studyAttributes[Tag(0x0008, 0x0030)] = time }
        if let accession = accessions[studyNumber % accessions.count] { studyAttributes[Tag(0x0008, 0x0050)] = accession }
        studyAttributes[Tag(0x0020, 0x0010)] = "S\(studyNumber)"
        studyAttributes[Tag(0x0008, 0x1030)] = ["Head CT", "ГОЛОВА", "", "Chest\\Abdomen"][studyNumber % 4]
        studyAttributes[Tag(0x0008, 0x0090)] = ["", "REF^DOC", "Петров^П"][studyNumber % 3]
        let seriesAttributes: [Tag: String] = [Tag(0x0008, 0x0060): modalities[(studyNumber + seriesNumber) % modalities.count],
                                               Tag(0x0020, 0x0011): String(seriesNumber + 1),
                                               Tag(0x0008, 0x103E): ["AX", "Cor\\Sag", ""][seriesNumber]]
        let instance: [Tag: String] = [Tag(0x0020, 0x0013): String(index)]
        state.upsert(InstanceRecord(
            patientID: ["P1", "P2", "p1", "ПАЦ-3", "P 5", "P\\6", "", "P8"][patientNumber], studyInstanceUID: study,
            seriesInstanceUID: series, sopInstanceUID: sop,
            sopClassUID: ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"][index % 2], patient: patient,
            study: studyAttributes, series: seriesAttributes, instance: instance, path: "objects/\(sop).dcm", size: 1000,
            transferSyntaxUID: "1.2.840.10008.1.2.1", sha256: String(repeating: "0", count: 64),
            receivedAt: Date(timeIntervalSince1970: 1_700_000_000 + Double(index)), callingAETitle: "SCU",
            specificCharacterSet: "ISO_IR 192"))
    }
    return state
}()

/// The entities the planned (index) path found, by identity, and the same query checked on every entity (scan).
func compare(_ engine: QueryEngine, _ parsed: ParsedQuery, _ text: String) {
    func check(_ found: [String], _ scanned: Set<String>, _ what: String) {
        precondition(Set(found).count == found.count, "\(what): an entity found twice by the index path (\(text))")
        precondition(Set(found) == scanned, "\(what): index path \(found.sorted()) != scan \(scanned.sorted()) (\(text))")
    }
    let upper = parsed.conditions.filter { $0.attribute.level.depth <= QueryLevel.study.depth }
    let studyMatches = { (study: StudyNode) in upper.allSatisfy { $0.matches(engine.studyValue($0.attribute, study)) } }
    switch parsed.level {
    case .patient:
        let conditions = parsed.conditions(at: .patient)
        let scanned = state.patients.values.filter { patient in
            conditions.allSatisfy { $0.matches(engine.patientValue($0.attribute.tag, patient)) }
        }
        check(engine.matchingPatients(parsed).map(\.patientID), Set(scanned.map(\.patientID)), "patients")
    case .study:
        check(engine.matchingStudies(parsed).map(\.studyInstanceUID),
              Set(state.studies.values.filter(studyMatches).map(\.studyInstanceUID)), "studies")
    case .series:
        let conditions = parsed.conditions(at: .series)
        let scanned = state.series.values.filter { series in
            guard let study = state.studies[series.studyInstanceUID] else { return false }
            return studyMatches(study) && conditions.allSatisfy { $0.matches(engine.seriesValue($0.attribute.tag, series)) }
        }
        check(engine.matchingSeries(parsed).map(\.seriesInstanceUID), Set(scanned.map(\.seriesInstanceUID)), "series")
    case .image:
        let conditions = parsed.conditions(at: .image)
        var scanned = Set<String>()
        for series in state.series.values {
            guard let study = state.studies[series.studyInstanceUID], studyMatches(study),
                  parsed.conditions(at: .series).allSatisfy({ $0.matches(engine.seriesValue($0.attribute.tag, series)) })
            else { continue }
            for uid in series.instances {
                guard let record = state.visibleRecord(uid) else { continue }
                if conditions.allSatisfy({ $0.matches(record.value($0.attribute.tag, level: .image)) }) { scanned.insert(uid) }
            }
        }
        check(engine.matchingInstances(parsed).map(\.sopInstanceUID), scanned, "instances")
    }
}

let levels: [QueryLevel] = [.patient, .study, .series, .image]

/// The first byte: bits 0–1 the Query/Retrieve Level written into the identifier (PATIENT, STUDY, SERIES, IMAGE),
/// bit 2 Patient Root (else Study Root), bit 3 case-insensitive names, bit 4 keep the identifier's own level element.
/// The rest: the identifier, a bare data set in Explicit VR Little Endian.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count >= 1 else { return 0 }
    let mode = start[0]
    let data = Data(bytes: start + 1, count: count - 1)
    var options = ReadOptions()
    options.maximumInflatedSize = 1 << 20
    guard var identifier = try? DataSetReader.read(data, transferSyntax: .explicitVRLittleEndian, options: options) else { return 0 }
    if mode & 0x10 == 0 {
        try? identifier.set(.queryRetrieveLevel, vr: .CS, string: levels[Int(mode & 3)].rawValue)
    }
    let query = IndexQuery(identifier: identifier, patientRoot: mode & 4 != 0, caseInsensitiveNames: mode & 8 != 0)
    let engine = QueryEngine(state: state)
    // What the SCP runs: JSONArchiveIndex.find / findEncoded are these calls on the index's state.
    guard let found = try? engine.find(query) else {
        // A query that cannot be parsed is refused by every entry point.
        precondition((try? ParsedQuery(query)) == nil, "find threw but the identifier parses")
        return 0
    }
    let parsed: ParsedQuery
    do { parsed = try ParsedQuery(query) } catch { preconditionFailure("find answered but the identifier does not parse: \(error)") }
    compare(engine, parsed, "\(identifier)")
    for explicitVR in [true, false] {
        let syntax: TransferSyntax = explicitVR ? .explicitVRLittleEndian : .implicitVRLittleEndian
        let answer: EncodedQueryAnswer
        do { answer = try engine.findEncoded(query, explicitVR: explicitVR, auditing: true) } catch {
            continue  // an answer that cannot be encoded fails the same way through DataSetWriter
        }
        precondition(answer.identifiers.count == found.count, "findEncoded gives \(answer.identifiers.count) identifiers, find \(found.count)")
        for (index, dataSet) in found.enumerated() {
            let bytes = Array(answer.identifiers.bytes[answer.identifiers.range(of: index)])
            if let expected = try? DataSetWriter.encode(dataSet, transferSyntax: syntax) {
                precondition(bytes == Array(expected), "encoded response \(index) differs from find's data set encoded (\(identifier))")
            }
        }
    }
    _ = try? engine.instances(matching: query)
    return 0
}

@_cdecl("fuzz_query_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
}
