import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive

/// Organizations: each caller finds and retrieves only its organization's studies and those shared with it.
@Suite struct AccessTests {
    static let organizations = try! Organizations(members: ["A": ["NODEA", "CTA"], "B": ["NODEB"]])

    /// Patient P1 has study 1 (sent by A's CT) and study 2 (sent by B's node); patient P2 has study 3 (sent by an AE
    /// in no organization).
    static func index() async throws -> JSONArchiveIndex {
        let index = JSONArchiveIndex(inMemory: [])
        var records: [InstanceRecord] = []
        for (study, patient, sender) in [("1", "P1", "CTA"), ("2", "P1", "NODEB"), ("3", "P2", "OTHER")] {
            for number in 1...2 {
                var record = makeRecord(patientID: patient, study: "9.\(study)", series: "9.\(study).1", sop: "9.\(study).1.\(number)")
                record.callingAETitle = sender
                records.append(record)
            }
        }
        try await index.add(records)
        return index
    }

    static func find(_ index: JSONArchiveIndex, _ level: String, _ keys: [(UInt16, UInt16, VR, String)],
                     organization: String?, shared: Set<String> = [], patientRoot: Bool = true) async throws -> [DataSet] {
        let identifier = try makeIdentifier(level, keys.map { (Tag($0.0, $0.1), $0.2, $0.3) })
        let access = StudyAccess(organizations: organizations, organization: organization, sharedStudies: shared)
        return try await index.find(IndexQuery(identifier: identifier, patientRoot: patientRoot, access: access))
    }

    static func studies(_ results: [DataSet]) -> Set<String> { Set(results.compactMap { $0.string(Tag(0x0020, 0x000D)) }) }

    /// One patient ID at two organizations, with different names and birth dates: at PATIENT level each sees the
    /// values its own study carries, and cannot match the other's name.
    @Test func patientLevelValuesComeFromTheCallersOwnStudies() async throws {
        let index = JSONArchiveIndex(inMemory: [])
        var first = makeRecord(patientID: "P9", name: "Асанов^Бакыт", birthDate: "19800101", study: "8.1", series: "8.1.1", sop: "8.1.1.1",
                               receivedAt: Date(timeIntervalSince1970: 1_700_000_000))
        first.callingAETitle = "CTA"
        var later = makeRecord(patientID: "P9", name: "Другой^Человек", birthDate: "19991231", study: "8.2", series: "8.2.1", sop: "8.2.1.1",
                               receivedAt: Date(timeIntervalSince1970: 1_700_000_100))
        later.callingAETitle = "NODEB"
        try await index.add([first, later])
        let keys: [(UInt16, UInt16, VR, String)] = [(0x0010, 0x0020, .LO, ""), (0x0010, 0x0010, .PN, ""), (0x0010, 0x0030, .DA, "")]
        let seenByA = try await Self.find(index, "PATIENT", keys, organization: "A")
        #expect(seenByA.map { $0.string(Tag(0x0010, 0x0010)) } == ["Асанов^Бакыт"])
        #expect(seenByA.first?.string(Tag(0x0010, 0x0030)) == "19800101")
        let seenByB = try await Self.find(index, "PATIENT", keys, organization: "B")
        #expect(seenByB.map { $0.string(Tag(0x0010, 0x0010)) } == ["Другой^Человек"])
        let guessed = try await Self.find(index, "PATIENT", [(0x0010, 0x0020, .LO, ""), (0x0010, 0x0010, .PN, "Другой*")], organization: "A")
        #expect(guessed.isEmpty)
        // Without organizations the latest instance's values answer, as before.
        let open = try await index.find(IndexQuery(identifier: try makeIdentifier("PATIENT", keys.map { (Tag($0.0, $0.1), $0.2, $0.3) }),
                                                   patientRoot: true))
        #expect(open.map { $0.string(Tag(0x0010, 0x0010)) } == ["Другой^Человек"])
    }

    @Test func eachOrganizationFindsOnlyItsStudiesAtEveryLevel() async throws {
        let index = try await Self.index()
        let studyKey: (UInt16, UInt16, VR, String) = (0x0020, 0x000D, .UI, "")
        #expect(Self.studies(try await Self.find(index, "STUDY", [studyKey], organization: "A")) == ["9.1"])
        #expect(Self.studies(try await Self.find(index, "STUDY", [studyKey], organization: "B")) == ["9.2"])
        #expect(Self.studies(try await Self.find(index, "STUDY", [studyKey], organization: nil)) == ["9.3"])

        // PATIENT level: B sees P1 (through study 2) but not P2, and counts only its own study.
        let patients = try await Self.find(index, "PATIENT", [(0x0010, 0x0020, .LO, ""), (0x0020, 0x1200, .IS, ""), (0x0020, 0x1204, .IS, "")],
                                           organization: "B")
        #expect(patients.map { $0.string(Tag(0x0010, 0x0020)) } == ["P1"])
        #expect(patients.first?.string(Tag(0x0020, 0x1200)) == "1")
        #expect(patients.first?.string(Tag(0x0020, 0x1204)) == "2")

        // Guessing A's UIDs at SERIES and IMAGE level, or retrieving them, gives B nothing.
        let series = try await Self.find(index, "SERIES", [(0x0020, 0x000D, .UI, "9.1"), (0x0020, 0x000E, .UI, "9.1.1")], organization: "B")
        #expect(series.isEmpty)
        let images = try await Self.find(index, "IMAGE", [(0x0020, 0x000D, .UI, "9.1"), (0x0020, 0x000E, .UI, "9.1.1"),
                                                          (0x0008, 0x0018, .UI, "9.1.1.1")], organization: "B")
        #expect(images.isEmpty)
        let access = StudyAccess(organizations: Self.organizations, organization: "B")
        for (level, keys) in [("STUDY", [(Tag(0x0020, 0x000D), VR.UI, "9.1")]), ("PATIENT", [(Tag(0x0010, 0x0020), VR.LO, "P1")])] {
            let retrieved = try await index.instances(matching: IndexQuery(identifier: try makeIdentifier(level, keys), patientRoot: true,
                                                                            access: access))
            #expect(Set(retrieved.map(\.studyInstanceUID)) == (level == "PATIENT" ? ["9.2"] : []), "\(level)")
        }
    }

    @Test func aSharedStudyBecomesVisibleToTheOtherOrganization() async throws {
        let index = try await Self.index()
        let found = try await Self.find(index, "STUDY", [(0x0020, 0x000D, .UI, "")], organization: "B", shared: ["9.1"])
        #expect(Self.studies(found) == ["9.1", "9.2"])
        let images = try await Self.find(index, "IMAGE", [(0x0020, 0x000D, .UI, "9.1"), (0x0020, 0x000E, .UI, "9.1.1"),
                                                          (0x0008, 0x0018, .UI, "")], organization: "B", shared: ["9.1"])
        #expect(images.count == 2)
    }

    @Test func sharesAreKeptInTheArchiveFolderAndExpire() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let shares = StudyShares(archiveRoot: directory)
        #expect(try shares.all().isEmpty)
        let now = Date()
        try shares.share(StudyShare(studyInstanceUID: "9.1", organization: "B", until: now.addingTimeInterval(3600), sharedAt: now, sharedBy: "admin"))
        try shares.share(StudyShare(studyInstanceUID: "9.3", organization: "B", until: nil, sharedAt: now, sharedBy: "admin"))
        #expect(try shares.sharedStudies(with: "B", at: now) == ["9.1", "9.3"])
        #expect(try shares.sharedStudies(with: "B", at: now.addingTimeInterval(7200)) == ["9.3"])
        #expect(try shares.sharedStudies(with: "A", at: now).isEmpty)
        #expect(try shares.sharedStudies(with: nil, at: now).isEmpty)
        // Another instance (another process) sees the change; unshare ends it.
        #expect(try StudyShares(archiveRoot: directory).unshare(studyInstanceUID: "9.3", organization: "B"))
        #expect(try shares.sharedStudies(with: "B", at: now) == ["9.1"])
        #expect(try !shares.unshare(studyInstanceUID: "9.3", organization: "B"))
        // A damaged file is an error naming it, not an empty list.
        try Data("not json".utf8).write(to: URL(fileURLWithPath: shares.path))
        #expect(throws: ArchiveError.self) { try shares.all() }
    }

    @Test func organizationsRefuseAnAETitleUnderTwoNamesAndBadMembers() throws {
        #expect(throws: ArchiveError.self) { try Organizations(members: ["A": ["X"], "B": ["X"]]) }
        #expect(try Organizations.parseMember("Hospital 1=CT1, MR1") == ("Hospital 1", ["CT1", "MR1"]))
        for bad in ["A", "=CT1", "A=", "A=THIS_TITLE_IS_TOO_LONG"] {
            #expect(throws: ArchiveError.self, "\(bad)") { try Organizations.parseMember(bad) }
        }
    }

    @Test func theQueryRetrieveHandlerAppliesTheCallersOrganization() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let shares = StudyShares(archiveRoot: directory)
        let handler = ArchiveQueryRetrieveHandler(index: try await Self.index(), root: directory, organizations: Self.organizations,
                                                  shares: shares)
        let identifier = try makeIdentifier("STUDY", [(Tag(0x0020, 0x000D), .UI, "")])
        func studies(_ caller: AETitle) async throws -> Set<String> {
            let context = RequestContext(callingAETitle: caller, calledAETitle: "DCMSTORE", sopClassUID: QueryRetrieveModel.studyRootFind)
            return Self.studies(try await handler.find(identifier, context: context))
        }
        #expect(try await studies("NODEA") == ["9.1"])
        #expect(try await studies("NODEB") == ["9.2"])
        #expect(try await studies("STRANGER") == ["9.3"])
        try shares.share(StudyShare(studyInstanceUID: "9.1", organization: "B", until: nil, sharedAt: Date(), sharedBy: "admin"))
        #expect(try await studies("NODEB") == ["9.1", "9.2"])
        try shares.share(StudyShare(studyInstanceUID: "9.1", organization: "B", until: Date().addingTimeInterval(-1), sharedAt: Date(),
                                    sharedBy: "admin"))
        #expect(try await studies("NODEB") == ["9.2"])
        let retrieve = RequestContext(callingAETitle: "NODEB", calledAETitle: "DCMSTORE", sopClassUID: QueryRetrieveModel.studyRootGet)
        #expect(try await handler.instances(for: try makeIdentifier("STUDY", [(Tag(0x0020, 0x000D), .UI, "9.1")]), context: retrieve).isEmpty)
    }
}
