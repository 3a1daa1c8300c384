import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMWorklist

@Suite struct WorklistStoreTests {
    static func store() throws -> WorklistStore {
        try WorklistStore(archiveRoot: try Harness.temporaryDirectory("store"))
    }

    static func order(_ patientID: String, _ name: String?, station: String = "CT1", scheduled: String = "2026-11-23T10:30",
                      modality: String = "CT") -> OrderInput {
        var input = OrderInput()
        input.patientID = patientID
        input.patientName = name
        input.birthDate = "19800131"
        input.sex = "M"
        input.modality = modality
        input.stationAETitle = station
        input.scheduled = scheduled
        return input
    }

    static func fileBytes(_ store: WorklistStore) -> Data? {
        FileManager.default.contents(atPath: store.directory + "/worklist.json")
    }

    @Test func patientsAreFoundByIDAndByNamePrefixInAnyScript() throws {
        let store = try Self.store()
        try store.addPatient(PatientInput(patientID: "21234567890123", issuer: "KG-PIN", name: "Иванов^Иван", birthDate: "19800131", sex: "M"))
        try store.addPatient(PatientInput(patientID: "22345678901234", name: "Асанбеков^Үмүт", birthDate: "19900215", sex: "M"))
        let foreigner = try store.addPatient(PatientInput(name: "احمدی^علی", sex: "M"))
        #expect(foreigner.patientID == "LOC000001")
        #expect(foreigner.isLocalID)
        #expect(try store.findPatients("иван").map(\.patientID) == ["21234567890123"])
        #expect(try store.findPatients("ИВАНОВ").map(\.patientID) == ["21234567890123"])
        #expect(try store.findPatients("асанб").map(\.patientID) == ["22345678901234"])
        #expect(try store.findPatients("үмүт").map(\.patientID) == ["22345678901234"])
        #expect(try store.findPatients("احمد").map(\.patientID) == ["LOC000001"])
        #expect(try store.findPatients("22345678901234").map(\.name) == ["Асанбеков^Үмүт"])
        #expect(try store.findPatients("Петров").isEmpty)
        let second = try store.addPatient(PatientInput(name: "Smith^John"))
        #expect(second.patientID == "LOC000002")
    }

    @Test func invalidPatientInputIsRefusedAndNothingIsWritten() throws {
        let store = try Self.store()
        try store.addPatient(PatientInput(patientID: "P1", name: "Doe^Jane"))
        let before = Self.fileBytes(store)
        #expect(throws: WorklistError.self) { try store.addPatient(PatientInput(patientID: "P1", name: "Other^Name")) }
        #expect(throws: WorklistError.self) { try store.addPatient(PatientInput(patientID: "P2", name: "Doe^John", birthDate: "19801332")) }
        #expect(throws: WorklistError.self) { try store.addPatient(PatientInput(patientID: "P3", name: "Doe^John", birthDate: "20230229")) }
        #expect(throws: WorklistError.self) { try store.addPatient(PatientInput(patientID: "P4", name: "Doe^John", sex: "X")) }
        #expect(throws: WorklistError.self) { try store.updatePatient(id: "NOPE", PatientInput(name: "A^B")) }
        #expect(Self.fileBytes(store) == before)
    }

    @Test func ordersGetIdentifiersAndFollowTheStatusMachine() throws {
        let store = try Self.store()
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let first = try store.addOrder(Self.order("P1", "Иванов^Иван"), now: now)
        let second = try store.addOrder(Self.order("P1", nil), now: now)
        #expect(first.order.accessionNumber.count == 9)
        #expect(first.order.accessionNumber.hasSuffix("001"))
        #expect(second.order.accessionNumber.hasSuffix("002"))
        #expect(first.order.requestedProcedureID == first.order.accessionNumber)
        #expect(first.order.scheduledProcedureStepID == first.order.accessionNumber + "-1")
        #expect(UID.isValid(first.order.studyInstanceUID))
        #expect(first.order.studyInstanceUID != second.order.studyInstanceUID)
        #expect(first.order.scheduledDate == "20261123")
        #expect(first.order.scheduledTime == "103000")
        #expect(try store.patient(id: "P1")?.name == "Иванов^Иван")

        let accession = first.order.accessionNumber
        let before = Self.fileBytes(store)
        #expect(throws: WorklistError.self) { try store.setStatus(accession: accession, to: .reported, by: "test") }
        #expect(throws: WorklistError.self) { try store.setStatus(accession: accession, to: .completed, by: "test") }
        #expect(throws: WorklistError.self) { try store.setStatus(accession: "NOPE", to: .inProgress, by: "test") }
        #expect(Self.fileBytes(store) == before)
        try store.setStatus(accession: accession, to: .inProgress, by: "test")
        try store.setStatus(accession: accession, to: .completed, by: "test")
        #expect(throws: WorklistError.self) { try store.cancel(accession: accession) }
        try store.setStatus(accession: accession, to: .imagesReceived, by: "test")
        try store.setStatus(accession: accession, to: .reported, by: "test")
        #expect(try store.order(accession: accession)?.order.history_.map(\.status) == [.scheduled, .inProgress, .completed, .imagesReceived, .reported])
        let cancelled = try store.cancel(accession: second.order.accessionNumber)
        #expect(cancelled.status == .cancelled)
        #expect(throws: WorklistError.self) { try store.setStatus(accession: second.order.accessionNumber, to: .inProgress, by: "test") }
    }

    @Test func badOrdersAreRefusedWithAClearMessageAndNothingChanges() throws {
        let store = try Self.store()
        try store.addOrder(Self.order("P1", "Doe^Jane"))
        let before = Self.fileBytes(store)
        func message(_ input: OrderInput) -> String? {
            do { try store.addOrder(input); return nil } catch let error as WorklistError { return error.message } catch { return "\(error)" }
        }
        #expect(message(Self.order("P2", "Doe^John", scheduled: "2026-13-01T10:00"))?.contains("scheduled") == true)
        #expect(message(Self.order("P2", "Doe^John", scheduled: "2026-11-23T25:00"))?.contains("not a valid date and time") == true)
        #expect(message(Self.order("UNKNOWN", nil))?.contains("unknown patient UNKNOWN") == true)
        #expect(message(Self.order("P1", "Other^Name"))?.contains("registered as Doe^Jane") == true)
        #expect(message(Self.order("P2", "Doe^John", modality: "C-T"))?.contains("modality") == true)
        #expect(message(Self.order("P2", "Doe^John", station: "A_VERY_LONG_AE_TITLE"))?.contains("AE title") == true)
        var birth = Self.order("P2", "Doe^John")
        birth.birthDate = "19800230"
        #expect(message(birth)?.contains("birth date") == true)
        var duplicate = Self.order("P2", "Doe^John")
        duplicate.accessionNumber = try store.orders().first?.order.accessionNumber
        #expect(message(duplicate)?.contains("already used") == true)
        // A bulk import is all or none: the bad third order keeps the first two out.
        #expect(throws: WorklistError.self) {
            try store.addOrders([Self.order("P3", "A^B"), Self.order("P4", "C^D"), Self.order("P5", "E^F", scheduled: "tomorrow")])
        }
        #expect(Self.fileBytes(store) == before)
        #expect(try store.orders().count == 1)
    }

    @Test func concurrentWritersFromManyThreadsLoseNothing() async throws {
        let store = try Self.store()
        try store.addPatient(PatientInput(patientID: "P1", name: "Doe^Jane"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask { try store.addOrder(Self.order("P1", nil)) }
            }
            try await group.waitForAll()
        }
        let orders = try store.orders()
        #expect(orders.count == 40)
        #expect(Set(orders.map(\.order.accessionNumber)).count == 40)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.directory).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func aDamagedWorklistFileIsReportedNotReadAsEmpty() throws {
        let store = try Self.store()
        try store.addOrder(Self.order("P1", "Doe^Jane"))
        let path = store.directory + "/worklist.json"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        #expect { try store.orders() } throws: { ($0 as? WorklistError)?.code == .corrupt }
        #expect { try store.addOrder(Self.order("P1", nil)) } throws: { ($0 as? WorklistError)?.code == .corrupt }
    }

    @Test func aWriteKilledBeforeItsRenameLeavesThePreviousVersionAndItsTemporaryFileIsRemoved() throws {
        let store = try Self.store()
        try store.addOrder(Self.order("P1", "Doe^Jane"))
        // What a process killed between writing its temporary file and renaming it leaves behind.
        let orphan = store.directory + "/.worklist.json.12345.678.tmp"
        try Data("{\"schemaVersion\": 1, \"patients\": [".utf8).write(to: URL(fileURLWithPath: orphan))
        #expect(try store.orders().count == 1)
        try store.addOrder(Self.order("P1", nil))
        #expect(!FileManager.default.fileExists(atPath: orphan))
        #expect(try store.orders().count == 2)
    }

    @Test func transliterationCoversRussianKyrgyzAndPersian() {
        #expect(Transliteration.latin("Иванов^Иван") == "Ivanov^Ivan")
        #expect(Transliteration.latin("ЩУКИН^Юрий") == "SHCHUKIN^Iurii")
        #expect(Transliteration.latin("Асанбеков^Үмүт") == "Asanbekov^Umut")
        #expect(Transliteration.latin("Өмүрбеков^Бакыт") == "Omurbekov^Bakyt")
        #expect(Transliteration.latin("Жаңыл") == "Zhangyl")
        #expect(Transliteration.latin("احمدی^علی") == "Ahmdi^Li")
        #expect(Transliteration.latin("Müller^José") == "Muller^Jose")
        #expect(!Transliteration.latin("Асанбеков^Үмүт احمدی").contains("?"))
    }

    @Test func perAETitleCharacterSetsTransliterateWhatTheSetCannotHold() throws {
        let configuration = WorklistConfiguration(callingAETitles: ["OLDCT": .init(characterSet: "ISO_IR 144"),
                                                                    "LATIN": .init(characterSet: "ISO_IR 100")])
        let russian = try configuration.characterSet(for: "OLDCT")
        let encoder = TextEncoder(characterSet: russian)
        #expect(encoder.representable("Иванов^Иван", vr: .PN) == "Иванов^Иван")
        #expect(encoder.representable("Асанбеков^Үмүт", vr: .PN) == "Asanbekov^Umut")
        let latin = TextEncoder(characterSet: try configuration.characterSet(for: "LATIN"))
        #expect(latin.representable("Müller^José", vr: .PN) == "Müller^José")
        #expect(latin.representable("Иванов^Иван", vr: .PN) == "Ivanov^Ivan")
        #expect(try configuration.characterSet(for: "OTHER") == .utf8)
        #expect(throws: WorklistError.self) {
            try WorklistConfiguration(callingAETitles: ["X": .init(characterSet: "ISO_IR 999")]).characterSet(for: "X")
        }
    }

    static func mwlIdentifier(station: String? = nil, date: String? = nil, name: String? = nil) -> DataSet {
        var step = DataSet()
        step.setASCII(.scheduledStationAETitle, vr: .AE, station ?? "")
        step.setASCII(.scheduledProcedureStepStartDate, vr: .DA, date ?? "")
        step.setASCII(.scheduledProcedureStepStartTime, vr: .TM, "")
        step.setASCII(.modality, vr: .CS, "")
        step.setASCII(.scheduledProcedureStepID, vr: .SH, "")
        var identifier = DataSet()
        identifier.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 192")
        try? identifier.set(.patientName, vr: .PN, string: name ?? "")
        identifier.setASCII(.patientID, vr: .LO, "")
        identifier.setASCII(.accessionNumber, vr: .SH, "")
        identifier.setASCII(.studyInstanceUID, vr: .UI, "")
        identifier.set(DataElement(tag: .scheduledProcedureStepSequence, items: [step]))
        return identifier
    }

    @Test func modalityWorklistMatchesStationDateAndNameAndAnswersInTheCallersCharacterSet() async throws {
        let store = try Self.store()
        let ivanov = try store.addOrder(Self.order("P1", "Иванов^Иван", station: "CT1", scheduled: "2026-11-23T10:30"))
        try store.addOrder(Self.order("P2", "Асанбеков^Үмүт", station: "CT1", scheduled: "2026-11-23T11:00"))
        try store.addOrder(Self.order("P3", "احمدی^علی", station: "MR1", scheduled: "2026-11-23T09:00", modality: "MR"))
        try store.addOrder(Self.order("P1", nil, station: "CT1", scheduled: "2026-11-24T09:00"))
        let configuration = WorklistConfiguration(callingAETitles: ["OLDCT": .init(characterSet: "ISO_IR 144")])
        let handler = ModalityWorklistHandler(store: store, configuration: configuration)
        func find(_ identifier: DataSet, caller: String = "ANY") async throws -> [DataSet] {
            try await handler.find(identifier, context: RequestContext(callingAETitle: try AETitle(caller), calledAETitle: "WORKLIST",
                                                                       sopClassUID: WorklistSOPClass.modalityWorklistFind))
        }
        let ct = try await find(Self.mwlIdentifier(station: "CT1", date: "20261123"))
        #expect(ct.compactMap { $0.string(.patientName) } == ["Иванов^Иван", "Асанбеков^Үмүт"])
        #expect(ct.first?.string(.accessionNumber) == ivanov.order.accessionNumber)
        #expect(ct.first?.items(.scheduledProcedureStepSequence)?.first?.string(.scheduledProcedureStepStartTime) == "103000")
        #expect(try await find(Self.mwlIdentifier(date: "20261123-20261124")).count == 4)
        #expect(try await find(Self.mwlIdentifier(date: "-20261123")).count == 3)
        #expect(try await find(Self.mwlIdentifier(name: "иван*")).count == 2)
        #expect(try await find(Self.mwlIdentifier(name: "احمد*")).count == 1)
        #expect(try await find(Self.mwlIdentifier(name: "Асанбеков?Үмүт")).count == 1)
        // An old Russian scanner: ISO_IR 144; Russian stays Cyrillic, Kyrgyz is transliterated.
        let old = try await find(Self.mwlIdentifier(station: "CT1", date: "20261123"), caller: "OLDCT")
        #expect(old.first?.string(.specificCharacterSet) == "ISO_IR 144")
        #expect(old.compactMap { $0.string(.patientName) } == ["Иванов^Иван", "Asanbekov^Umut"])
        let bytes = try #require(old.first?[.patientName]?.bytes)
        #expect(Array(bytes.prefix(2)) == [0xB8, 0xD2])  // "Ив" in ISO 8859-5
        // A malformed date range is refused (0xC000) naming the attribute.
        await #expect(throws: DIMSEFailure.self) { try await find(Self.mwlIdentifier(date: "2026-11-23--")) }
        await #expect(throws: DIMSEFailure.self) { try await find(Self.mwlIdentifier(date: "20261199")) }
        await #expect(throws: DIMSEFailure.self) { try await find(Self.mwlIdentifier(date: "20261124-20261123")) }
        // Cancelled orders leave the worklist.
        try store.cancel(accession: ivanov.order.accessionNumber)
        #expect(try await find(Self.mwlIdentifier(station: "CT1", date: "20261123")).count == 1)
    }

    @Test func performedProcedureStepMovesTheOrder() async throws {
        let store = try Self.store()
        let entry = try store.addOrder(Self.order("P1", "Doe^Jane"))
        let handler = PerformedProcedureStepHandler(store: store)
        let context = RequestContext(callingAETitle: "CT1", calledAETitle: "WORKLIST", sopClassUID: WorklistSOPClass.modalityPerformedProcedureStep)
        var step = DataSet()
        step.setASCII(.accessionNumber, vr: .SH, entry.order.accessionNumber)
        step.setASCII(.studyInstanceUID, vr: .UI, entry.order.studyInstanceUID)
        var attributes = DataSet()
        attributes.set(DataElement(tag: .scheduledStepAttributesSequence, items: [step]))
        attributes.setASCII(.performedProcedureStepStatus, vr: .CS, "IN PROGRESS")
        let uid = UID.make()
        _ = try await handler.create(sopClassUID: WorklistSOPClass.modalityPerformedProcedureStep, sopInstanceUID: uid, attributes: attributes, context: context)
        #expect(try store.order(accession: entry.order.accessionNumber)?.order.status == .inProgress)
        await #expect(throws: DIMSEFailure.self) {
            try await handler.create(sopClassUID: WorklistSOPClass.modalityPerformedProcedureStep, sopInstanceUID: uid, attributes: attributes, context: context)
        }
        var done = DataSet()
        done.setASCII(.performedProcedureStepStatus, vr: .CS, "COMPLETED")
        _ = try await handler.set(sopClassUID: WorklistSOPClass.modalityPerformedProcedureStep, sopInstanceUID: uid, modifications: done, context: context)
        #expect(try store.order(accession: entry.order.accessionNumber)?.order.status == .completed)
        await #expect(throws: DIMSEFailure.self) {
            try await handler.set(sopClassUID: WorklistSOPClass.modalityPerformedProcedureStep, sopInstanceUID: uid, modifications: done, context: context)
        }
        await #expect(throws: DIMSEFailure.self) {
            try await handler.set(sopClassUID: WorklistSOPClass.modalityPerformedProcedureStep, sopInstanceUID: UID.make(), modifications: done, context: context)
        }
    }

    @Test func basicTextReportReadsBack() throws {
        let store = try Self.store()
        let entry = try store.addOrder(Self.order("P1", "Иванов^Иван"))
        let report = BasicTextReport(entry: entry, description: "Очаговых изменений нет.", conclusion: "Норма.",
                                     recommendations: "Контроль через год.", author: "Асанбеков^Үмүт", institution: "Radiology")
        let encoded = try DICOMFile(dataSet: try report.dataSet(), transferSyntax: .explicitVRLittleEndian).encoded()
        let decoded = try DICOMFile(data: encoded).dataSet
        #expect(decoded.string(.sopClassUID) == WorklistSOPClass.basicTextSR)
        #expect(decoded.string(.specificCharacterSet) == "ISO_IR 192")
        let text = ReportText(dataSet: decoded)
        #expect(text.description == "Очаговых изменений нет.")
        #expect(text.conclusion == "Норма.")
        #expect(text.recommendations == "Контроль через год.")
        #expect(text.author == "Асанбеков^Үмүт")
        #expect(text.patientName == "Иванов^Иван")
        #expect(text.accessionNumber == entry.order.accessionNumber)
    }

    @Test func worklistFilesAndJSONImport() throws {
        var ds = DataSet()
        ds.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 192")
        try ds.set(.patientName, vr: .PN, string: "Иванов^Иван")
        ds.setASCII(.patientID, vr: .LO, "P9")
        ds.setASCII(.accessionNumber, vr: .SH, "WL0001")
        var step = DataSet()
        step.setASCII(.scheduledStationAETitle, vr: .AE, "CT1")
        step.setASCII(.scheduledProcedureStepStartDate, vr: .DA, "20261123")
        step.setASCII(.scheduledProcedureStepStartTime, vr: .TM, "0930")
        step.setASCII(.modality, vr: .CS, "CT")
        ds.set(DataElement(tag: .scheduledProcedureStepSequence, items: [step]))
        let input = OrderImport.order(worklistDataSet: ds)
        #expect(input.patientName == "Иванов^Иван")
        #expect(input.scheduled == "202611230930")
        let store = try Self.store()
        let entry = try store.addOrder(input)
        #expect(entry.order.accessionNumber == "WL0001")
        #expect(entry.order.scheduledTime == "093000")
        let json = Data(#"[{"patient-id": "P8", "patient-name": "احمدی^علی", "modality": "MR", "station-aet": "MR1", "scheduled": "2026-11-23T12:00", "weight": 70}]"#.utf8)
        let orders = try OrderImport.orders(json: json)
        #expect(orders.first?.weight == 70)
        #expect(throws: WorklistError.self) { try OrderImport.orders(json: Data(#"[{"weight": "heavy"}]"#.utf8)) }
    }
}
