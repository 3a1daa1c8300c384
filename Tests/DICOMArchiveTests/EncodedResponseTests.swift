import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Testing
@testable import DICOMArchive
@testable import DICOMServices

/// C-FIND response identifiers the index writes straight into bytes (``QueryEngine/findEncoded(_:explicitVR:auditing:)``)
/// against encoding the data sets ``QueryEngine/find(_:)`` answers: the same bytes in both native transfer syntaxes,
/// whichever way each identifier was written.
@Suite struct EncodedResponseTests {
    static let retrieveAETitle = DICOMCore.Tag(0x0008, 0x0054)
    static let instanceAvailability = DICOMCore.Tag(0x0008, 0x0056)
    static let referencedStudySequence = DICOMCore.Tag(0x0008, 0x1110)
    static let rows = DICOMCore.Tag(0x0028, 0x0010)

    /// Studies with ASCII and non-ASCII values, odd and even lengths, missing dates and several series.
    static var records: [InstanceRecord] {
        var records: [InstanceRecord] = []
        for study in 0..<12 {
            let name = study == 4 ? "Müller^Jürgen" : study % 3 == 0 ? "DOE^JOHN\(study)" : "ROE^JANE^^\(study)"
            for series in 0..<(1 + study % 3) {
                for instance in 0..<2 {
                    records.append(makeRecord(
                        patientID: "P\(study % 5)", name: name, birthDate: study % 2 == 0 ? "19700101" : nil,
                        study: "1.2.7.\(study)", studyDate: study == 7 ? nil : "2021\(String(format: "%02d", 1 + study))0\(1 + study % 9)",
                        studyTime: study % 4 == 0 ? nil : String(format: "%06d", study * 1_111),
                        accession: study % 2 == 0 ? "ACC\(study)" : "A\(study)", studyDescription: study == 5 ? "Ångström" : "Study \(study)",
                        series: "1.2.7.\(study).\(series)", modality: series == 1 ? "MR" : "CT", seriesNumber: "\(series + 1)",
                        sop: "1.2.7.\(study).\(series).\(instance)", instanceNumber: "\(instance + 1)"))
                }
            }
        }
        return records
    }

    static func engine() -> QueryEngine {
        let state = IndexState()
        for record in records { state.upsert(record) }
        return QueryEngine(state: state)
    }

    /// Text keys only (the direct path applies), in tag order around Query/Retrieve Level (0008,0052): an indexed key
    /// below it, one the index does not keep, Instance Availability, derived counts, a key below the level.
    static let textStudyKeys: [(DICOMCore.Tag, VR, String)] = [
        (Tags.studyDate, .DA, ""), (Tags.studyTime, .TM, ""), (Tags.accession, .SH, ""), (retrieveAETitle, .AE, ""),
        (instanceAvailability, .CS, ""), (Tags.modalitiesInStudy, .CS, ""), (Tags.sopClassesInStudy, .UI, ""),
        (Tags.studyDescription, .LO, ""), (Tags.patientName, .PN, ""), (Tags.patientID, .LO, ""), (Tags.birthDate, .DA, ""),
        (Tags.studyUID, .UI, ""), (Tags.seriesUID, .UI, ""), (Tags.patientStudies, .IS, ""), (Tags.studySeries, .IS, ""),
        (Tags.studyInstances, .IS, ""),
    ]

    /// Queries at every level, with matching keys that use the indexes, and keys that force the general path
    /// (a sequence key, a binary number key).
    static var queries: [IndexQuery] {
        get throws {
            var queries: [IndexQuery] = []
            func add(_ level: String, _ keys: [(DICOMCore.Tag, VR, String)], patientRoot: Bool = false, limit: Int = 0) throws {
                queries.append(IndexQuery(identifier: try makeIdentifier(level, keys), patientRoot: patientRoot, limit: limit))
            }
            try add("STUDY", textStudyKeys)
            try add("STUDY", textStudyKeys + [(Tags.patientID, .LO, "P1")])
            try add("STUDY", textStudyKeys.filter { $0.0 != Tags.patientName } + [(Tags.patientName, .PN, "DOE*")])
            try add("STUDY", textStudyKeys.filter { $0.0 != Tags.studyDate } + [(Tags.studyDate, .DA, "20210301-20210801")])
            try add("STUDY", textStudyKeys, limit: 3)
            try add("STUDY", textStudyKeys + [(referencedStudySequence, .SQ, "")])
            // Only keys before (0008,0052), and only keys after it: the level goes last, or first.
            try add("STUDY", [(Tags.studyDate, .DA, ""), (Tags.accession, .SH, "")])
            try add("STUDY", [(Tags.patientName, .PN, ""), (Tags.studyUID, .UI, "")])
            try add("PATIENT", [(Tags.patientName, .PN, ""), (Tags.patientID, .LO, ""), (Tags.birthDate, .DA, ""),
                                (Tags.patientStudies, .IS, ""), (Tags.patientSeries, .IS, ""), (Tags.patientInstances, .IS, "")],
                    patientRoot: true)
            try add("SERIES", [(Tags.modality, .CS, ""), (Tags.seriesNumber, .IS, ""), (Tags.studyUID, .UI, ""),
                               (Tags.seriesUID, .UI, ""), (Tags.seriesInstances, .IS, ""), (Tags.studyDescription, .LO, "")])
            try add("IMAGE", [(Tags.sopUID, .UI, ""), (Tags.instanceNumber, .IS, ""), (Tags.studyUID, .UI, "1.2.7.4")])
            try add("IMAGE", [(Tags.sopUID, .UI, ""), (Tags.instanceNumber, .IS, ""), (rows, .US, ""), (Tags.studyUID, .UI, "1.2.7.3")])
            return queries
        }
    }

    @Test func encodedIdentifiersEqualEncodingTheDataSets() throws {
        let engine = Self.engine()
        for (number, query) in try Self.queries.enumerated() {
            let dataSets = try engine.find(query)
            #expect(!dataSets.isEmpty, "query \(number) matched nothing")
            for syntax in [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian] {
                let answer = try engine.findEncoded(query, explicitVR: syntax.isExplicitVR)
                #expect(answer.identifiers.count == dataSets.count, "query \(number)")
                guard answer.identifiers.count == dataSets.count else { continue }
                #expect(answer.identifiers.ends.last == answer.identifiers.bytes.count)
                for (index, dataSet) in dataSets.enumerated() {
                    let expected = try DataSetWriter.encode(dataSet, transferSyntax: syntax)
                    let got = Data(answer.identifiers.bytes[answer.identifiers.range(of: index)])
                    #expect(got == expected, "query \(number), match \(index), \(syntax.name)")
                    // And it reads back as the same data set.
                    #expect(try DataSetReader.read(got, transferSyntax: syntax) == DataSetReader.read(expected, transferSyntax: syntax))
                }
            }
        }
    }

    /// The direct path is really taken for ASCII text keys, and declined (out unchanged) for a non-ASCII value.
    @Test func directPathIsTakenForASCIIAndDeclinedOtherwise() throws {
        let engine = Self.engine()
        let parsed = try ParsedQuery(IndexQuery(identifier: try makeIdentifier("STUDY", Self.textStudyKeys)))
        var direct = 0, declined = 0
        for chain in engine.matches(parsed) {
            var out: [UInt8] = [1, 2, 3]
            let unicode = chain.study?.studyInstanceUID == "1.2.7.4" || chain.study?.studyInstanceUID == "1.2.7.5"
            let written = engine.writeASCIIResponse(parsed, chain, explicitVR: true, into: &out)
            #expect(written == !unicode)
            if written { direct += 1 } else { declined += 1; #expect(out == [1, 2, 3]) }
        }
        #expect(direct == 10 && declined == 2)
    }

    @Test func auditStudyUIDsEqualThoseReadFromTheDataSets() throws {
        let engine = Self.engine()
        for query in try Self.queries {
            let expected = try engine.find(query).compactMap { $0.string(Tags.studyUID) }
            #expect(try engine.findEncoded(query, explicitVR: true, auditing: true).studyInstanceUIDs == expected)
            #expect(try engine.findEncoded(query, explicitVR: false, auditing: false).studyInstanceUIDs.isEmpty)
        }
    }

    @Test func firstValue() {
        #expect(QueryEngine.firstValue("1.2.3") == "1.2.3")
        #expect(QueryEngine.firstValue("1.2.3\\4.5") == "1.2.3")
        #expect(QueryEngine.firstValue(" 1.2 \0") == "1.2")
        #expect(QueryEngine.firstValue("") == nil)
        #expect(QueryEngine.firstValue("\\1.2") == "")
        // As DataSet.string(_:) reads the same value back from an element.
        for text in ["1.2.3", "1.2.3\\4.5", " 1.2 \0", "\\1.2", "  ", "\0 1.2", "1.2\0\0", "Ü.1 "] {
            var dataSet = DataSet()
            dataSet[Tags.studyUID] = DataElement(tag: Tags.studyUID, vr: .UI, bytes: Data(text.utf8))
            #expect(QueryEngine.firstValue(text) == dataSet.string(Tags.studyUID), "\(text)")
        }
    }

    static func context() throws -> RequestContext {
        RequestContext(callingAETitle: try AETitle("FINDSCU"), calledAETitle: try AETitle("ARCHIVE"),
                       sopClassUID: QueryRetrieveModel.studyRootFind)
    }

    /// The handler encodes through the index in the two native little-endian syntaxes only, and audits the request
    /// as ``ArchiveQueryRetrieveHandler/find(_:context:)`` does.
    @Test func handlerEncodesNativeSyntaxesAndAuditsLikeFind() async throws {
        let directory = try EndToEnd.temporaryDirectory("encoded-audit")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = JSONArchiveIndex(inMemory: Self.records)
        var handler = ArchiveQueryRetrieveHandler(index: index, root: directory)
        let auditPath = directory + "/audit.jsonl"
        handler.audit = AuditTrail(path: auditPath)
        let identifier = try makeIdentifier("STUDY", Self.textStudyKeys + [(Tags.patientName, .PN, "ROE*")])
        let context = try Self.context()

        let dataSets = try await handler.find(identifier, context: context)
        #expect(dataSets.count == 7)
        for syntax in [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian] {
            let encoded = try #require(try await handler.encodedMatches(identifier, context: context, transferSyntax: syntax))
            var expected = EncodedIdentifiers()
            for dataSet in dataSets {
                try DataSetWriter.encode(dataSet, transferSyntax: syntax, into: &expected.bytes)
                expected.endIdentifier()
            }
            #expect(encoded == expected)
        }
        for syntax in [TransferSyntax.explicitVRBigEndian, .deflatedExplicitVRLittleEndian] {
            #expect(try await handler.encodedMatches(identifier, context: context, transferSyntax: syntax) == nil)
        }
        handler.audit?.flush()
        let entries = try AuditLog(path: auditPath).entries().filter { $0.action == "query" }
        #expect(entries.count == 3)
        #expect(entries.allSatisfy { $0.studies == entries[0].studies && $0.count == 7 && $0.keys == entries[0].keys })
        #expect(entries.first?.studies?.count == 7)

        // A refused identifier is refused the same way, and audited.
        let noLevel = try makeIdentifier(nil, [(Tags.patientID, .LO, "")])
        await #expect(throws: DIMSEFailure.self) {
            _ = try await handler.encodedMatches(noLevel, context: context, transferSyntax: .explicitVRLittleEndian)
        }
    }
}
