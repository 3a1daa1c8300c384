import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive


/// Query/Retrieve levels, hierarchy, derived counts and response identifiers (PS3.4 C.4.1, C.6).
@Suite struct QueryLevelTests {
    /// Patient P1: study 1 (CT series of 3 + MR series of 2 instances), study 2 (one US instance). Patient P2: study 3 (one CT).
    static func index() -> JSONArchiveIndex {
        var records: [InstanceRecord] = []
        for i in 1...3 { records.append(makeRecord(study: "1", studyDate: "20230101", series: "1.1", modality: "CT", seriesNumber: "2", sop: "1.1.\(i)", instanceNumber: String(4 - i))) }
        for i in 1...2 { records.append(makeRecord(study: "1", studyDate: "20230101", series: "1.2", modality: "MR", seriesNumber: "1", sop: "1.2.\(i)", sopClass: "1.2.840.10008.5.1.4.1.1.4", instanceNumber: String(i))) }
        records.append(makeRecord(study: "2", studyDate: "20240101", series: "2.1", modality: "US", sop: "2.1.1", sopClass: "1.2.840.10008.5.1.4.1.1.6.1"))
        records.append(makeRecord(patientID: "P2", name: "Иванов^Иван", study: "3", studyDate: "20220101", series: "3.1", modality: "CT", sop: "3.1.1"))
        return JSONArchiveIndex(inMemory: records)
    }

    static func find(_ level: String?, _ keys: [(DICOMCore.Tag, VR, String)], patientRoot: Bool = false, limit: Int = 0) async throws -> [DataSet] {
        try await index().find(IndexQuery(identifier: try makeIdentifier(level, keys), patientRoot: patientRoot, limit: limit))
    }

    @Test func missingOrUnknownLevelIsRefused() async throws {
        let missing = await #expect(throws: DIMSEFailure.self) { _ = try await Self.find(nil, [(Tags.patientID, .LO, "")]) }
        #expect(missing?.status == .dataSetDoesNotMatchSOPClass)
        #expect(missing?.comment?.contains("(0008,0052)") == true)
        let unknown = await #expect(throws: DIMSEFailure.self) { _ = try await Self.find("FRAME", []) }
        #expect(unknown?.status.rawValue == 0xA900)
        #expect(unknown?.comment?.contains("FRAME") == true)
    }

    @Test func patientLevelOnlyUnderPatientRoot() async throws {
        let refused = await #expect(throws: DIMSEFailure.self) { _ = try await Self.find("PATIENT", [(Tags.patientID, .LO, "")]) }
        #expect(refused?.comment?.contains("Study Root") == true)

        let patients = try await Self.find("PATIENT", [(Tags.patientID, .LO, ""), (Tags.patientName, .PN, ""),
                                                       (Tags.patientStudies, .IS, ""), (Tags.patientSeries, .IS, ""),
                                                       (Tags.patientInstances, .IS, ""), (Tags.studyDate, .DA, "")],
                                           patientRoot: true)
        #expect(patients.map { $0.string(Tags.patientID) } == ["P1", "P2"])
        #expect(patients[0].string(Tags.patientStudies) == "2")
        #expect(patients[0].string(Tags.patientSeries) == "3")
        #expect(patients[0].string(Tags.patientInstances) == "6")
        #expect(patients[1].string(Tags.patientName) == "Иванов^Иван")
        #expect(patients[1].string(Tags.patientInstances) == "1")
        // A study-level key in a patient-level query is not matched and comes back empty.
        #expect(patients[0][Tags.studyDate]?.valueLength == 0)
        #expect(patients.allSatisfy { $0.string(.queryRetrieveLevel) == "PATIENT" })
    }

    @Test func studyLevelDerivedAttributes() async throws {
        let studies = try await Self.find("STUDY", [(Tags.studyUID, .UI, ""), (Tags.modalitiesInStudy, .CS, ""),
                                                    (Tags.sopClassesInStudy, .UI, ""), (Tags.studySeries, .IS, ""),
                                                    (Tags.studyInstances, .IS, ""), (Tags.patientStudies, .IS, "")])
        // Sorted by Study Date.
        #expect(studies.map { $0.string(Tags.studyUID) } == ["3", "1", "2"])
        let first = studies[1]
        #expect(first.strings(Tags.modalitiesInStudy) == ["CT", "MR"])
        #expect(first.strings(Tags.sopClassesInStudy) == ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"])
        #expect(first.string(Tags.studySeries) == "2")
        #expect(first.string(Tags.studyInstances) == "5")
        #expect(first.string(Tags.patientStudies) == "2")

        let availability = DICOMCore.Tag(0x0008, 0x0056)
        let online = try await Self.find("STUDY", [(Tags.studyUID, .UI, "2"), (availability, .CS, "")])
        #expect(online.first?.string(availability) == "ONLINE")
    }

    @Test func seriesAndImageLevelsUseUpperLevelKeysAsFilters() async throws {
        let series = try await Self.find("SERIES", [(Tags.studyUID, .UI, "1"), (Tags.seriesUID, .UI, ""),
                                                    (Tags.modality, .CS, ""), (Tags.seriesInstances, .IS, "")])
        // Sorted by Series Number.
        #expect(series.map { $0.string(Tags.seriesUID) } == ["1.2", "1.1"])
        #expect(series.map { $0.string(Tags.seriesInstances) } == ["2", "3"])
        #expect(series.first?.string(Tags.studyUID) == "1")

        let byPatient = try await Self.find("SERIES", [(Tags.patientName, .PN, "Иван*"), (Tags.seriesUID, .UI, "")])
        #expect(byPatient.map { $0.string(Tags.seriesUID) } == ["3.1"])
        let byModality = try await Self.find("SERIES", [(Tags.modality, .CS, "CT"), (Tags.seriesUID, .UI, "")])
        #expect(byModality.compactMap { $0.string(Tags.seriesUID) }.sorted() == ["1.1", "3.1"])

        let images = try await Self.find("IMAGE", [(Tags.seriesUID, .UI, "1.1"), (Tags.sopUID, .UI, ""), (Tags.instanceNumber, .IS, "")])
        // Sorted by Instance Number.
        #expect(images.map { $0.string(Tags.sopUID) } == ["1.1.3", "1.1.2", "1.1.1"])
        let one = try await Self.find("IMAGE", [(Tags.sopUID, .UI, "1.2.2"), (Tags.studyDate, .DA, ""), (Tags.modality, .CS, "")])
        #expect(one.count == 1)
        #expect(one.first?.string(Tags.studyDate) == "20230101")
        #expect(one.first?.string(Tags.modality) == "MR")
        // A contradicting upper-level key filters the instance out.
        #expect(try await Self.find("IMAGE", [(Tags.sopUID, .UI, "1.2.2"), (Tags.patientID, .LO, "P2")]).isEmpty)
        #expect(try await Self.find("IMAGE", [(Tags.instanceNumber, .IS, "2"), (Tags.modality, .CS, "MR"), (Tags.sopUID, .UI, "")])
            .map { $0.string(Tags.sopUID) } == ["1.2.2"])
    }

    @Test func unknownKeysAreReturnedEmptyAndNonASCIIAnswersDeclareUTF8() async throws {
        let otherTag = DICOMCore.Tag(0x0032, 0x1060) // Requested Procedure Description: not indexed.
        let responses = try await Self.find("STUDY", [(Tags.patientID, .LO, "P2"), (Tags.patientName, .PN, ""), (otherTag, .LO, "ANY")])
        let response = try #require(responses.first)
        #expect(responses.count == 1)
        #expect(response[otherTag]?.valueLength == 0)
        #expect(response.string(.specificCharacterSet) == "ISO_IR 192")
        #expect(response.string(Tags.patientName) == "Иванов^Иван")
        #expect(response[Tags.patientName]?.bytes.map { Array($0.prefix(2)) } == [0xD0, 0x98])
        // ASCII answers carry no Specific Character Set.
        let ascii = try await Self.find("STUDY", [(Tags.patientID, .LO, "P1"), (Tags.patientName, .PN, "")])
        #expect(ascii.first?[.specificCharacterSet] == nil)
        #expect(ascii.first.map { Array($0.elements.map(\.tag)) } == [.queryRetrieveLevel, Tags.patientName, Tags.patientID])
    }

    @Test func limitStopsAfterThatManyMatches() async throws {
        #expect(try await Self.find("IMAGE", [(Tags.sopUID, .UI, "")], limit: 4).count == 4)
        #expect(try await Self.find("IMAGE", [(Tags.sopUID, .UI, "")]).count == 7)
    }

    @Test func instancesMatchingSelectEverythingBelowTheLevel() async throws {
        let index = Self.index()
        func uids(_ level: String, _ keys: [(DICOMCore.Tag, VR, String)], patientRoot: Bool = false) async throws -> [String] {
            try await index.instances(matching: IndexQuery(identifier: try makeIdentifier(level, keys), patientRoot: patientRoot))
                .map(\.sopInstanceUID).sorted()
        }
        #expect(try await uids("PATIENT", [(Tags.patientID, .LO, "P1")], patientRoot: true).count == 6)
        #expect(try await uids("STUDY", [(Tags.studyUID, .UI, "1\\3")]) == ["1.1.1", "1.1.2", "1.1.3", "1.2.1", "1.2.2", "3.1.1"])
        #expect(try await uids("SERIES", [(Tags.seriesUID, .UI, "1.2")]) == ["1.2.1", "1.2.2"])
        #expect(try await uids("IMAGE", [(Tags.sopUID, .UI, "2.1.1")]) == ["2.1.1"])
        #expect(try await uids("STUDY", [(Tags.studyUID, .UI, "9")]).isEmpty)
    }

    /// The name and date indexes follow trash, restore, removal and a changed name.
    @Test func secondaryIndexesFollowChanges() async throws {
        let index = JSONArchiveIndex(inMemory: [
            makeRecord(name: "Иванов^Иван", study: "1", studyDate: "20200101", series: "1.1", sop: "1.1.1"),
            makeRecord(name: "Иванов^Иван", study: "1", studyDate: "20200101", series: "1.1", sop: "1.1.2"),
        ])
        func studies(_ key: (DICOMCore.Tag, VR, String), caseInsensitive: Bool = false) async throws -> [String] {
            try await index.find(IndexQuery(identifier: try makeIdentifier("STUDY", [key, (Tags.studyUID, .UI, "")]),
                                            caseInsensitiveNames: caseInsensitive)).compactMap { $0.string(Tags.studyUID) }
        }
        #expect(try await studies((Tags.patientName, .PN, "Иван*")) == ["1"])
        #expect(try await studies((Tags.patientName, .PN, "иванов^иван"), caseInsensitive: true) == ["1"])
        try await index.setTrashed(["1.1.1", "1.1.2"], trashed: true, at: Date())
        #expect(try await studies((Tags.patientName, .PN, "Иван*")).isEmpty)
        #expect(try await studies((Tags.studyDate, .DA, "2020-")).isEmpty)
        try await index.setTrashed(["1.1.1"], trashed: false, at: Date())
        #expect(try await studies((Tags.patientName, .PN, "Иван*")) == ["1"])
        #expect(try await studies((Tags.studyDate, .DA, "2020-")) == ["1"])
        // A re-sent instance with a corrected name and date replaces the old values.
        try await index.add([makeRecord(name: "Петров^Пётр", study: "1", studyDate: "20210505", series: "1.1", sop: "1.1.1")])
        #expect(try await studies((Tags.patientName, .PN, "Иван*")).isEmpty)
        #expect(try await studies((Tags.patientName, .PN, "Петров^Пётр")) == ["1"])
        #expect(try await studies((Tags.studyDate, .DA, "2020")).isEmpty)
        #expect(try await studies((Tags.studyDate, .DA, "202105")) == ["1"])
        try await index.remove(["1.1.1", "1.1.2"])
        #expect(try await studies((Tags.patientName, .PN, "П*")).isEmpty)
        #expect(await index.statistics().studies == 0)
    }

    /// Bulk loading (one sort) and one-by-one adds (sorted insertions) build the same secondary indexes.
    @Test func bulkLoadAndIncrementalAddsAgree() async throws {
        var generator = SystemRandomNumberGenerator()
        var records: [InstanceRecord] = []
        for i in 0..<300 {
            let day = String(format: "%02d", 1 + (i * 7) % 28)
            records.append(makeRecord(patientID: "P\(i % 37)", name: ["Иванов", "Petrov", "محمد", "Үсөн"][i % 4] + "^\(i % 5)",
                                      study: "5.\(i % 120)", studyDate: "2020\(i % 2 == 0 ? "03" : "11")\(day)",
                                      series: "5.\(i % 120).1", sop: "5.\(i)"))
        }
        records.shuffle(using: &generator)
        let bulk = JSONArchiveIndex(inMemory: records)
        let incremental = JSONArchiveIndex(inMemory: [])
        for record in records { try await incremental.add([record]) }
        let queries: [(DICOMCore.Tag, VR, String)] = [
            (Tags.patientName, .PN, "Иванов*"), (Tags.patientName, .PN, "P*"), (Tags.patientName, .PN, "محمد^2"),
            (Tags.studyDate, .DA, "20200301-20200315"), (Tags.studyDate, .DA, "202011"), (Tags.studyDate, .DA, "-20200310"),
        ]
        for key in queries {
            let identifier = try makeIdentifier("STUDY", [key, (Tags.studyUID, .UI, "")])
            let a = try await bulk.find(IndexQuery(identifier: identifier)).compactMap { $0.string(Tags.studyUID) }
            let b = try await incremental.find(IndexQuery(identifier: identifier)).compactMap { $0.string(Tags.studyUID) }
            #expect(a == b, "\(key.2)")
            #expect(!a.isEmpty, "\(key.2)")
        }
    }

    /// 100,000 instances in 10,000 studies (1,000 patients, 10 series per study), loaded in memory; study-level
    /// queries by Patient ID, name wild card and date range give the right studies and counts.
    @Test func largeIndexStudyQueries() async throws {
        let index = LargeIndex.make()
        let byID = try await index.find(IndexQuery(identifier: try makeIdentifier("STUDY", [
            (Tags.patientID, .LO, "PID0042"), (Tags.studyUID, .UI, ""), (Tags.studyInstances, .IS, ""), (Tags.studySeries, .IS, ""),
            (Tags.patientStudies, .IS, ""), (Tags.modalitiesInStudy, .CS, "")])))
        #expect(byID.count == 10)
        #expect(byID.allSatisfy { $0.string(Tags.studyInstances) == "10" && $0.string(Tags.studySeries) == "10" })
        #expect(byID.allSatisfy { $0.string(Tags.patientStudies) == "10" })
        #expect(byID.first?.strings(Tags.modalitiesInStudy) == ["CT", "MR"])

        let byName = try await index.find(IndexQuery(identifier: try makeIdentifier("STUDY", [
            (Tags.patientName, .PN, "Иванов0042*"), (Tags.studyUID, .UI, "")])))
        #expect(byName.count == 10)

        // Study dates run day by day from 2000-01-01, one per study: a 31-day range holds 31 studies.
        let byDate = try await index.find(IndexQuery(identifier: try makeIdentifier("STUDY", [
            (Tags.studyDate, .DA, "20000101-20000131"), (Tags.studyUID, .UI, "")])))
        #expect(byDate.count == 31)
        let stats = await index.statistics()
        #expect(stats.patients == 1000 && stats.studies == 10_000 && stats.series == 100_000 && stats.instances == 100_000)
    }
}

enum LargeIndex {
    /// 1,000 patients × 10 studies × 10 series × 1 instance = 100,000 instances in 10,000 studies.
    static func make() -> JSONArchiveIndex {
        var records: [InstanceRecord] = []
        records.reserveCapacity(100_000)
        let start = Date(timeIntervalSince1970: 946_684_800) // 2000-01-01
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        var studyNumber = 0
        for p in 0..<1000 {
            let pid = "PID" + String(format: "%04d", p)
            for _ in 0..<10 {
                let date = formatter.string(from: start.addingTimeInterval(Double(studyNumber) * 86400))
                let study = "2.25.\(studyNumber)"
                for s in 0..<10 {
                    records.append(makeRecord(patientID: pid, name: "Иванов\(String(format: "%04d", p))^Иван", study: study,
                                              studyDate: date, series: "\(study).\(s)", modality: s % 2 == 0 ? "CT" : "MR",
                                              seriesNumber: String(s), sop: "\(study).\(s).1"))
                }
                studyNumber += 1
            }
        }
        return JSONArchiveIndex(inMemory: records)
    }
}
