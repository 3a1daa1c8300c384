import DICOMCore
import DICOMIO
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built `dcmworklist` (and `dcmstore`) binaries end to end, with DCMTK and pynetdicom as peers.
@Suite(.serialized) struct WorklistToolTests {
    static func worklist(_ arguments: [String], input: Data? = nil) async throws -> ProcessResult {
        try await Harness.run(try Harness.product("dcmworklist"), arguments, input: input)
    }

    /// Runs dcmworklist expecting success; returns standard output.
    @discardableResult
    static func ok(_ arguments: [String], input: Data? = nil) async throws -> String {
        let result = try await worklist(arguments, input: input)
        guard result.status == 0 else { throw HarnessError("dcmworklist \(arguments) exited \(result.status.map(String.init) ?? "by a signal"): \(result.errors)") }
        return result.output
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// Schedules an order and returns its accession number.
    static func schedule(_ archive: String, _ patientID: String, _ name: String, station: String, at scheduled: String,
                         modality: String = "CT") async throws -> String {
        let output = try await ok(["add", "--archive", archive, "--patient-id", patientID, "--patient-name", name, "--birth-date", "19800131",
                             "--sex", "M", "--modality", modality, "--station-aet", station, "--scheduled", scheduled, "--json"])
        let object = try #require(try json(output) as? [String: Any])
        return try #require(object["accessionNumber"] as? String)
    }

    static func status(_ archive: String, _ accession: String) async throws -> String? {
        let object = try json(try await ok(["show", accession, "--archive", archive, "--json"])) as? [String: Any]
        return (object?["order"] as? [String: Any])?["status"] as? String
    }

    @Test func commandLinePatientsOrdersAndRefusals() async throws {
        let archive = try Harness.temporaryDirectory("cli")
        defer { try? FileManager.default.removeItem(atPath: archive) }
        let added = try await Self.ok(["patient", "add", "--archive", archive, "--name", "Асанбеков^Үмүт", "--birth-date", "19900215", "--sex", "M"])
        #expect(added.hasPrefix("LOC000001"))
        try await Self.ok(["patient", "add", "--archive", archive, "--id", "21234567890123", "--issuer", "KG-PIN", "--name", "Иванов^Иван"])
        let found = try await Self.ok(["patient", "find", "иванов", "--archive", archive])
        #expect(found.contains("21234567890123"))
        #expect(found.hasPrefix("PATIENT ID"))
        #expect(try await Self.ok(["patient", "find", "ИВАН", "--archive", archive, "--json"]).contains("Иванов^Иван"))
        #expect(try await Self.ok(["patient", "update", "LOC000001", "--archive", archive, "--birth-date", "19900216"]).contains("19900216"))
        #expect(try await Self.worklist(["patient", "update", "LOC000001", "--archive", archive, "--sex", "Q"]).errors.contains("sex 'Q' is not valid"))
        #expect(try await Self.ok(["patient", "show", "LOC000001", "--archive", archive]).contains("Асанбеков^Үмүт  19900216  M"))

        let output = try await Self.ok(["add", "--archive", archive, "--patient-id", "21234567890123", "--modality", "CT", "--station-aet", "CT1",
                                  "--scheduled", "2026-11-23T10:30", "--body-part", "HEAD", "--procedure", "КТ головного мозга",
                                  "--weight", "82.5", "--complaints", "Головная боль", "--history", "Гипертония", "--referring-org", "ЦСМ №1"])
        let accession = try #require(output.split(separator: " ").first.map { String($0.dropFirst("accession=".count)) })
        #expect(output.contains("study-uid=2.25."))
        let shown = try #require(try Self.json(try await Self.ok(["show", accession, "--archive", archive, "--json"])) as? [String: Any])
        let order = try #require(shown["order"] as? [String: Any])
        #expect(order["complaints"] as? String == "Головная боль")
        #expect(order["weight"] as? Double == 82.5)
        #expect(order["status"] as? String == "SCHEDULED")

        #expect(try await Self.ok(["update", accession, "--archive", archive, "--scheduled", "2026-11-23T11:15", "--station-aet", "CT1"]) == "updated \(accession)\n")
        #expect(try await Self.ok(["list", "--archive", archive, "--station", "CT1"]).contains("2026-11-23 11:15"))
        let badUpdate = try await Self.worklist(["update", accession, "--archive", archive, "--procedure", "a\\b"])
        #expect(badUpdate.status == 1)
        #expect(badUpdate.errors.contains("backslash"))

        let worklistFile = archive + "/worklist/worklist.json"
        let before = try Data(contentsOf: URL(fileURLWithPath: worklistFile))
        let refusals: [([String], String)] = [
            (["status", accession, "reported"], "cannot become REPORTED"),
            (["add", "--patient-id", "NOBODY", "--modality", "CT", "--station-aet", "CT1", "--scheduled", "2026-11-23T10:30"], "unknown patient NOBODY"),
            (["add", "--patient-id", "X1", "--patient-name", "A^B", "--modality", "CT", "--station-aet", "CT1", "--scheduled", "2026-02-30T10:30"], "not a valid date"),
            (["patient", "add", "--name", "A^B", "--birth-date", "1990-02-31"], "not a valid date"),
            (["list", "--status", "done"], "unknown status"),
            (["show", "NOPE"], "unknown accession number NOPE"),
        ]
        for (arguments, message) in refusals {
            let result = try await Self.worklist(arguments + ["--archive", archive])
            #expect(result.status == 1, "\(arguments)")
            #expect(result.errors.contains(message), "\(arguments): \(result.errors)")
        }
        // A duplicate accession number in an import refuses the whole import.
        let duplicate = #"[{"patient-id": "P7", "patient-name": "Doe^John", "modality": "CT", "station-aet": "CT1", "scheduled": "2026-11-23T12:00"}, {"patient-id": "P8", "patient-name": "Doe^Jane", "modality": "CT", "station-aet": "CT1", "scheduled": "2026-11-23T12:00", "accession": "\#(accession)"}]"#
        let refused = try await Self.worklist(["add", "--from", "-", "--archive", archive], input: Data(duplicate.utf8))
        #expect(refused.status == 1)
        #expect(refused.errors.contains("order 2: accession number \(accession) is already used"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: worklistFile)) == before)

        // Bulk import from JSON on standard input and from a DCMTK-style *.wl file.
        let imported = try await Self.ok(["add", "--from", "-", "--archive", archive], input: Data(duplicate.replacingOccurrences(of: accession, with: "EXT42").utf8))
        #expect(imported.split(separator: "\n").count == 2)
        var wl = DataSet()
        wl.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 192")
        try wl.set(.patientName, vr: .PN, string: "احمدی^علی")
        wl.setASCII(.patientID, vr: .LO, "IR-1")
        wl.setASCII(.accessionNumber, vr: .SH, "WL77")
        var step = DataSet()
        step.setASCII(.scheduledStationAETitle, vr: .AE, "MR1")
        step.setASCII(.scheduledProcedureStepStartDate, vr: .DA, "20261124")
        step.setASCII(.scheduledProcedureStepStartTime, vr: .TM, "080000")
        step.setASCII(.modality, vr: .CS, "MR")
        wl.set(DataElement(tag: .scheduledProcedureStepSequence, items: [step]))
        let wlDirectory = archive + "/import"
        try FileManager.default.createDirectory(atPath: wlDirectory, withIntermediateDirectories: true)
        try DICOMFile(dataSet: wl, transferSyntax: .explicitVRLittleEndian).write(to: wlDirectory + "/one.wl")
        #expect(try await Self.ok(["add", "--from", wlDirectory, "--archive", archive]).contains("accession=WL77"))

        // A worklist file as DCMTK keeps them (dump2dcm from a wlmscpfs example, ISO_IR 100, a 17th-century birth date).
        let dump = """
            (0008,0005) CS [ISO_IR 100]
            (0008,0050) SH [00000]
            (0010,0010) PN [VIVALDI^ANTONIO]
            (0010,0020) LO [AV35674]
            (0010,0030) DA [16780304]
            (0010,0040) CS [M]
            (0020,000d) UI [1.2.276.0.7230010.3.2.101]
            (0032,1060) LO [EXAM6]
            (0040,0100) SQ
            (fffe,e000) -
            (0008,0060) CS [MR]
            (0040,0001) AE [AA32\\AA33]
            (0040,0002) DA [19951015]
            (0040,0003) TM [085607]
            (0040,0009) SH [SPD3445]
            (fffe,e00d) -
            (fffe,e0dd) -
            (0040,1001) SH [RP454G234]

            """
        try dump.write(toFile: wlDirectory + "/dcmtk.dump", atomically: true, encoding: .utf8)
        let converted = try await Harness.run(try Harness.dcmtk("dump2dcm"), [wlDirectory + "/dcmtk.dump", wlDirectory + "/dcmtk.wl"])
        #expect(converted.status == 0, "\(converted.errors)")
        #expect(try await Self.ok(["add", "--from", wlDirectory + "/dcmtk.wl", "--archive", archive])
                    == "accession=00000 requested-procedure-id=RP454G234 sps-id=SPD3445 study-uid=1.2.276.0.7230010.3.2.101 patient-id=AV35674\n")
        let vivaldi = try #require(try Self.json(try await Self.ok(["show", "00000", "--archive", archive, "--json"])) as? [String: Any])
        #expect((vivaldi["patient"] as? [String: Any])?["birthDate"] as? String == "16780304")
        #expect((vivaldi["order"] as? [String: Any])?["stationAETitle"] as? String == "AA32")
        // The same file again: its accession number is taken, and the error names the file.
        let again = try await Self.worklist(["add", "--from", wlDirectory + "/dcmtk.wl", "--archive", archive])
        #expect(again.status == 1)
        #expect(again.errors.contains("dcmtk.wl: accession number 00000 is already used"))

        let listed = try await Self.ok(["list", "--archive", archive, "--date", "20261123", "--station", "CT1"])
        let rows = listed.split(separator: "\n").map(String.init)
        // A header, a rule, then the three orders, each cell starting where its header does.
        #expect(rows.count == 5)
        #expect(rows.first?.hasPrefix("ACCESSION") == true)
        #expect(rows.dropFirst().first?.allSatisfy { $0 == "-" || $0 == " " } == true)
        let header = try #require(rows.first)
        let statusColumn = try #require(header.range(of: "STATUS")).lowerBound
        let column = header.distance(from: header.startIndex, to: statusColumn)
        for row in rows.dropFirst(2) {
            #expect(Array(row).count > column && Array(row)[column] != " " && Array(row)[column - 1] == " ", "\(row)")
        }
        #expect(try await Self.ok(["list", "--archive", archive, "--modality", "MR"]).contains("احمدی^علی"))
        try await Self.ok(["cancel", "EXT42", "--archive", archive])
        #expect(try await Self.ok(["list", "--archive", archive, "--status", "cancelled"]).contains("EXT42"))
        #expect(try await Self.status(archive, "EXT42") == "CANCELLED")
    }

    static let mwlQuery = """
        import json, sys
        from pydicom.dataset import Dataset
        from pynetdicom import AE
        from pynetdicom.sop_class import ModalityWorklistInformationFind
        port, calling, station, date = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        ae = AE(ae_title=calling)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        ae.add_requested_context(ModalityWorklistInformationFind)
        ds = Dataset()
        ds.SpecificCharacterSet = 'ISO_IR 192'
        ds.PatientName = ''
        ds.PatientID = ''
        ds.AccessionNumber = ''
        ds.StudyInstanceUID = ''
        ds.PatientBirthDate = ''
        ds.PatientSex = ''
        ds.RequestedProcedureID = ''
        item = Dataset()
        item.ScheduledStationAETitle = station
        item.ScheduledProcedureStepStartDate = date
        item.ScheduledProcedureStepStartTime = ''
        item.Modality = ''
        item.ScheduledProcedureStepID = ''
        ds.ScheduledProcedureStepSequence = [item]
        assoc = ae.associate('127.0.0.1', port, ae_title='WORKLIST')
        if not assoc.is_established:
            print('association failed'); sys.exit(2)
        out = {'matches': [], 'final': None, 'comment': None}
        for status, identifier in assoc.send_c_find(ds, ModalityWorklistInformationFind):
            if status is None:
                print('no response'); sys.exit(3)
            if status.Status in (0xFF00, 0xFF01):
                out['matches'].append({'name': str(identifier.PatientName), 'charset': identifier.get('SpecificCharacterSet'),
                                       'accession': identifier.AccessionNumber,
                                       'station': identifier.ScheduledProcedureStepSequence[0].ScheduledStationAETitle})
            else:
                out['final'] = status.Status
                out['comment'] = status.get('ErrorComment')
        assoc.release()
        print(json.dumps(out, ensure_ascii=False))
        """

    static func pynetdicomQuery(port: Int, calling: String, station: String, date: String) async throws -> [String: Any] {
        let result = try await Harness.python(mwlQuery, [String(port), calling, station, date])
        guard result.status == 0 else { throw HarnessError("pynetdicom MWL query failed (\(result.status.map(String.init) ?? "signal")): \(result.output) \(result.errors)") }
        let line = try #require(result.output.split(separator: "\n").last.map(String.init))
        return try #require(try json(line) as? [String: Any])
    }

    /// An order added without --scheduled starts now (local time), to the minute.
    @Test func addWithoutScheduledStartsNow() async throws {
        let archive = try Harness.temporaryDirectory("cli-now")
        defer { try? FileManager.default.removeItem(atPath: archive) }
        func stamp(_ date: Date) -> (date: String, time: String) {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = .current
            let p = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
            return (String(format: "%04d%02d%02d", p.year!, p.month!, p.day!), String(format: "%02d%02d", p.hour!, p.minute!))
        }
        let before = stamp(Date())
        let output = try await Self.ok(["add", "--archive", archive, "--patient-id", "KG-NOW", "--patient-name", "Үсөнов^Ңурлан",
                                        "--modality", "CT", "--station-aet", "CT1", "--json"])
        let after = stamp(Date())
        let order = try #require(try Self.json(output) as? [String: Any])
        let date = try #require(order["scheduledDate"] as? String)
        let time = try #require(order["scheduledTime"] as? String)
        #expect(date == before.date || date == after.date)
        #expect(time.hasPrefix(before.time) || time.hasPrefix(after.time), "scheduled \(date) \(time), ran \(before) – \(after)")
        #expect(try await Self.ok(["list", "--archive", archive, "--station", "CT1"]).contains("Үсөнов^Ңурлан"))
    }

    @Test func modalityWorklistAnswersFindscuAndPynetdicomWithExactlyTheScheduledEntries() async throws {
        let archive = try Harness.temporaryDirectory("mwl")
        defer { try? FileManager.default.removeItem(atPath: archive) }
        let ivanov = try await Self.schedule(archive, "P1", "Иванов^Иван", station: "CT1", at: "2026-11-23T10:30")
        let asanbekov = try await Self.schedule(archive, "P2", "Асанбеков^Үмүт", station: "CT1", at: "2026-11-23T11:00")
        let ahmadi = try await Self.schedule(archive, "P3", "احمدی^علی", station: "CT1", at: "2026-11-23T12:00")
        _ = try await Self.schedule(archive, "P4", "Doe^Jane", station: "MR1", at: "2026-11-23T10:00", modality: "MR")
        _ = try await Self.schedule(archive, "P5", "Doe^John", station: "CT1", at: "2026-11-24T10:00")
        try FileManager.default.createDirectory(atPath: archive + "/worklist", withIntermediateDirectories: true)
        try Data(#"{"callingAETitles": {"OLDCT": {"characterSet": "ISO_IR 144"}}}"#.utf8).write(to: URL(fileURLWithPath: archive + "/worklist/config.json"))
        let server = try await WorklistServer.start(archive: archive)
        defer { server.stop() }

        // DCMTK findscu -W, responses extracted to files.
        let responses = try Harness.temporaryDirectory("findscu")
        defer { try? FileManager.default.removeItem(atPath: responses) }
        let findscu = try await Harness.run(try Harness.dcmtk("findscu"), [
            "-W", "-aet", "FINDSCU", "-aec", "WORKLIST", "-to", "20", "-X", "-od", responses,
            "-k", "SpecificCharacterSet=ISO_IR 192", "-k", "PatientName", "-k", "PatientID", "-k", "AccessionNumber",
            "-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT1",
            "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20261123",
            "-k", "ScheduledProcedureStepSequence[0].Modality",
            "127.0.0.1", String(server.port)], timeout: 60)
        #expect(findscu.status == 0, "\(findscu.errors)")
        let files = try FileManager.default.contentsOfDirectory(atPath: responses).filter { $0.hasSuffix(".dcm") }.sorted()
        let found = try files.map { try DICOMFile(contentsOf: responses + "/" + $0).dataSet }
        #expect(found.compactMap { $0.string(.accessionNumber) } == [ivanov, asanbekov, ahmadi])
        #expect(found.compactMap { $0.string(.patientName) } == ["Иванов^Иван", "Асанбеков^Үмүт", "احمدی^علی"])
        #expect(found.allSatisfy { $0.items(.scheduledProcedureStepSequence)?.first?.string(.modality) == "CT" })

        // pynetdicom in UTF-8, then as the old scanner configured for ISO_IR 144.
        let utf8 = try await Self.pynetdicomQuery(port: server.port, calling: "PYSCU", station: "CT1", date: "20261123")
        let matches = try #require(utf8["matches"] as? [[String: Any]])
        #expect(matches.compactMap { $0["name"] as? String } == ["Иванов^Иван", "Асанбеков^Үмүт", "احمدی^علی"])
        #expect(utf8["final"] as? Int == 0)
        let cyrillic = try await Self.pynetdicomQuery(port: server.port, calling: "OLDCT", station: "CT1", date: "20261123")
        let old = try #require(cyrillic["matches"] as? [[String: Any]])
        #expect(old.compactMap { $0["name"] as? String } == ["Иванов^Иван", "Asanbekov^Umut", "Ahmdi^Li"])
        #expect(old.allSatisfy { ($0["charset"] as? String) == "ISO_IR 144" })
        #expect(!old.contains { ($0["name"] as? String)?.contains("?") == true })

        // An order added by the CLI while the server runs is answered at once; a cancelled one disappears.
        let late = try await Self.schedule(archive, "P6", "Сыдыков^Нурлан", station: "CT1", at: "2026-11-23T15:00")
        try await Self.ok(["cancel", ahmadi, "--archive", archive])
        let after = try await Self.pynetdicomQuery(port: server.port, calling: "PYSCU", station: "CT1", date: "20261123")
        #expect((after["matches"] as? [[String: Any]])?.compactMap { $0["accession"] as? String } == [ivanov, asanbekov, late])

        // A malformed date range: failure C000 with a comment, no matches.
        let malformed = try await Self.pynetdicomQuery(port: server.port, calling: "PYSCU", station: "CT1", date: "20261123-20261340")
        #expect((malformed["matches"] as? [Any])?.isEmpty == true)
        #expect(malformed["final"] as? Int == 0xC000)
        #expect((malformed["comment"] as? String)?.contains("Start Date") == true)
    }

    static let mpps = """
        import sys
        from pydicom.dataset import Dataset
        from pydicom.uid import generate_uid
        from pynetdicom import AE
        from pynetdicom.sop_class import ModalityPerformedProcedureStep
        port, accession, final = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        ae = AE(ae_title='CT1')
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        ae.add_requested_context(ModalityPerformedProcedureStep)
        assoc = ae.associate('127.0.0.1', port, ae_title='WORKLIST')
        if not assoc.is_established:
            print('association failed'); sys.exit(2)
        uid = generate_uid()
        ds = Dataset()
        step = Dataset()
        step.AccessionNumber = accession
        step.StudyInstanceUID = ''
        step.RequestedProcedureID = ''
        step.ScheduledProcedureStepID = ''
        ds.ScheduledStepAttributesSequence = [step]
        ds.PatientName = ''
        ds.PatientID = ''
        ds.PerformedStationAETitle = 'CT1'
        ds.PerformedProcedureStepStartDate = '20261123'
        ds.PerformedProcedureStepStartTime = '103500'
        ds.PerformedProcedureStepStatus = 'IN PROGRESS'
        ds.Modality = 'CT'
        status, _ = assoc.send_n_create(ds, ModalityPerformedProcedureStep, uid)
        print('create', hex(status.Status) if status else 'none', flush=True)
        input()
        mod = Dataset()
        mod.PerformedProcedureStepStatus = final
        mod.PerformedProcedureStepEndDate = '20261123'
        mod.PerformedProcedureStepEndTime = '104500'
        status, _ = assoc.send_n_set(mod, ModalityPerformedProcedureStep, uid)
        print('set', hex(status.Status) if status else 'none', flush=True)
        status, _ = assoc.send_n_set(mod, ModalityPerformedProcedureStep, uid)
        print('again', hex(status.Status) if status else 'none', flush=True)
        assoc.release()
        """

    @Test func performedProcedureStepFromPynetdicomMovesTheOrder() async throws {
        let archive = try Harness.temporaryDirectory("mpps")
        defer { try? FileManager.default.removeItem(atPath: archive) }
        let accession = try await Self.schedule(archive, "P1", "Иванов^Иван", station: "CT1", at: "2026-11-23T10:30")
        let server = try await WorklistServer.start(archive: archive)
        defer { server.stop() }
        let script = NSTemporaryDirectory() + "dcmworklist-mpps-\(UUID().uuidString.prefix(8)).py"
        try Self.mpps.write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        // The script waits on standard input between N-CREATE and N-SET: a pipe we close once IN PROGRESS was checked.
        let pipe = Pipe()
        let process = Process()
        // A peer that dies early must not kill the test runner when we write to its pipe.
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, String(server.port), accession, "COMPLETED"]
        process.standardInput = pipe
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let deadline = Date().addingTimeInterval(30)
        var status: String?
        while Date() < deadline {
            status = try await Self.status(archive, accession)
            if status == "IN PROGRESS" || !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status == "IN PROGRESS")
        pipe.fileHandleForWriting.write(Data("\n".utf8))
        try pipe.fileHandleForWriting.close()
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(printed.contains("create 0x0"))
        #expect(printed.contains("set 0x0"))
        #expect(printed.contains("again 0x110"))  // a completed step cannot be changed
        #expect(try await Self.status(archive, accession) == "COMPLETED")
    }

    /// A small Secondary Capture image of the order's study, carrying its accession number.
    static func image(accession: String, studyUID: String, patientID: String, name: String) throws -> DataSet {
        var ds = DataSet()
        ds.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 192")
        ds.setASCII(.sopClassUID, vr: .UI, "1.2.840.10008.5.1.4.1.1.7")
        ds.setASCII(.sopInstanceUID, vr: .UI, UID.make())
        try ds.set(.patientName, vr: .PN, string: name)
        ds.setASCII(.patientID, vr: .LO, patientID)
        ds.setASCII(.studyInstanceUID, vr: .UI, studyUID)
        ds.setASCII(.seriesInstanceUID, vr: .UI, UID.make())
        ds.setASCII(.accessionNumber, vr: .SH, accession)
        ds.setASCII(.modality, vr: .CS, "OT")
        ds.setASCII(.studyDate, vr: .DA, "20261123")
        try ds.set(.samplesPerPixel, vr: .US, integers: [1])
        ds.setASCII(.photometricInterpretation, vr: .CS, "MONOCHROME2")
        try ds.set(.rows, vr: .US, integers: [4])
        try ds.set(.columns, vr: .US, integers: [4])
        try ds.set(.bitsAllocated, vr: .US, integers: [8])
        try ds.set(.bitsStored, vr: .US, integers: [8])
        try ds.set(.highBit, vr: .US, integers: [7])
        try ds.set(.pixelRepresentation, vr: .US, integers: [0])
        ds.set(DataElement(tag: .pixelData, vr: .OB, bytes: Data(repeating: 7, count: 16)))
        return ds
    }

    @Test func imagesStoredInDcmstoreMoveTheOrderAndTheReportIsReadByPydicomAndDsrdump() async throws {
        let archive = try Harness.temporaryDirectory("link")
        defer { try? FileManager.default.removeItem(atPath: archive) }
        let accession = try await Self.schedule(archive, "P1", "Асанбеков^Үмүт", station: "CT1", at: "2026-11-23T10:30")
        let shown = try #require(try Self.json(try await Self.ok(["show", accession, "--archive", archive, "--json"])) as? [String: Any])
        let studyUID = try #require((shown["order"] as? [String: Any])?["studyInstanceUID"] as? String)
        // A report before the images is refused.
        let early = try await Self.worklist(["report", accession, "--archive", archive, "--description", "x", "--conclusion", "y", "--author", "A^B"])
        #expect(early.status == 1)
        #expect(early.errors.contains("IMAGES RECEIVED"))

        let files = try Harness.temporaryDirectory("images")
        defer { try? FileManager.default.removeItem(atPath: files) }
        for index in 0..<3 {
            try DICOMFile(dataSet: try Self.image(accession: accession, studyUID: studyUID, patientID: "P1", name: "Асанбеков^Үмүт"),
                          transferSyntax: .explicitVRLittleEndian).write(to: files + "/image\(index).dcm")
        }
        let store = try Child(try Harness.product("dcmstore"), ["serve", "--archive", archive, "--port", "0", "--host", "127.0.0.1", "--aet", "DCMSTORE"])
        defer { store.stop() }
        let line = try await store.waitForOutput("listening on port")
        let port = try #require(line.split(separator: " ").drop(while: { $0 != "port" }).dropFirst().first.flatMap { Int($0) })
        let sent = try await Harness.run(try Harness.dcmtk("storescu"), ["-aec", "DCMSTORE", "-to", "20", "127.0.0.1", String(port),
                                                                   files + "/image0.dcm", files + "/image1.dcm", files + "/image2.dcm"])
        #expect(sent.status == 0, "\(sent.errors)")
        let deadline = Date().addingTimeInterval(30)
        var order: [String: Any]?
        while Date() < deadline {
            order = (try Self.json(try await Self.ok(["show", accession, "--archive", archive, "--json"])) as? [String: Any])?["order"] as? [String: Any]
            if order?["status"] as? String == "IMAGES RECEIVED", order?["instanceCount"] as? Int == 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(order?["status"] as? String == "IMAGES RECEIVED")
        #expect(order?["instanceCount"] as? Int == 3)
        #expect(order?["seriesCount"] as? Int == 3)
        #expect(try await Self.ok(["list", "--archive", archive, "--status", "images-received"]).contains(accession))
        // While dcmstore holds the archive index, a report needs the archive node's address; then it goes by C-STORE.
        let locked = try await Self.worklist(["report", accession, "--archive", archive, "--description", "x", "--conclusion", "y", "--author", "A^B"])
        #expect(locked.status == 1)
        #expect(locked.errors.contains("archiveNode"))
        #expect(try await Self.status(archive, accession) == "IMAGES RECEIVED")
        try Data(#"{"archiveNode": "DCMSTORE@127.0.0.1:\#(port)"}"#.utf8).write(to: URL(fileURLWithPath: archive + "/worklist/config.json"))

        let created = try await Self.ok(["report", accession, "--archive", archive, "--description", "Очаговых изменений не выявлено.",
                                   "--conclusion", "Норма.", "--recommendations", "Контроль через 12 месяцев.", "--author", "Иванов^Иван",
                                   "--json"])
        let record = try #require(try Self.json(created) as? [String: Any])
        let sopUID = try #require(record["sopInstanceUID"] as? String)
        let seriesUID = try #require(record["seriesInstanceUID"] as? String)
        #expect(try await Self.status(archive, accession) == "REPORTED")
        let path = archive + "/data/\(studyUID)/\(seriesUID)/\(sopUID).dcm"
        #expect(FileManager.default.fileExists(atPath: path))
        // The report stored through dcmstore does not count as an image.
        try await Task.sleep(for: .seconds(1))
        let counted = (try Self.json(try await Self.ok(["show", accession, "--archive", archive, "--json"])) as? [String: Any])?["order"] as? [String: Any]
        #expect(counted?["instanceCount"] as? Int == 3)
        #expect(counted?["status"] as? String == "REPORTED")
        store.stop()
        try FileManager.default.removeItem(atPath: archive + "/worklist/config.json")

        let dump = try await Harness.run(try Harness.dcmtk("dsrdump"), [path])
        #expect(dump.status == 0, "\(dump.errors)")
        // DCMTK 3.6.7's VR checker skips UTF-8 text and says so; anything else on stderr is a problem with the document.
        let complaints = dump.errors.split(separator: "\n").filter { !$0.contains("VR checker does not support") }
        #expect(complaints.isEmpty, "\(dump.errors)")
        #expect(dump.output.contains("Basic Text SR"))
        #expect(dump.output.contains("Conclusion"))
        let pydicom = try await Harness.python("""
            import sys, pydicom
            ds = pydicom.dcmread(sys.argv[1])
            texts = {}
            for section in ds.ContentSequence:
                if section.ValueType == 'CONTAINER':
                    texts[section.ConceptNameCodeSequence[0].CodeMeaning] = section.ContentSequence[0].TextValue
            print(ds.SOPClassUID.name)
            print(ds.PatientName)
            print(texts['Findings'])
            print(texts['Conclusions'])
            print(texts['Recommendations'])
            """, [path])
        #expect(pydicom.status == 0, "\(pydicom.errors)")
        #expect(pydicom.output == "Basic Text SR Storage\nАсанбеков^Үмүт\nОчаговых изменений не выявлено.\nНорма.\nКонтроль через 12 месяцев.\n")

        // An amended report, sent by C-STORE to the referring organization's system (DCMTK storescp).
        let received = try Harness.temporaryDirectory("storescp")
        defer { try? FileManager.default.removeItem(atPath: received) }
        let scpPort = try Harness.freePort()
        let storescp = try Child(try Harness.dcmtk("storescp"), ["-aet", "REFPACS", "-od", received, String(scpPort)])
        defer { storescp.stop() }
        try await Harness.waitForListener(port: scpPort)
        let amended = try await Self.ok(["report", accession, "--archive", archive, "--description", "Очаговых изменений не выявлено.",
                                   "--conclusion", "Норма (уточнено).", "--recommendations", "Нет.", "--author", "Иванов^Иван",
                                   "--send", "REFPACS@127.0.0.1:\(scpPort)"])
        #expect(amended.contains("sent to REFPACS@127.0.0.1:\(scpPort)"))
        let delivered = try FileManager.default.contentsOfDirectory(atPath: received)
        #expect(delivered.count == 1)
        if let name = delivered.first {
            let copy = try DICOMFile(contentsOf: received + "/" + name).dataSet
            #expect(copy.string(.sopClassUID) == "1.2.840.10008.5.1.4.1.1.88.11")
            #expect(copy.string(.patientName) == "Асанбеков^Үмүт")
        }
        let unknown = try await Self.worklist(["report", accession, "--archive", archive, "--description", "x", "--conclusion", "y",
                                         "--author", "A^B", "--send", "NOWHERE"])
        #expect(unknown.status == 1)
        #expect(unknown.errors.contains("unknown destination"))
        let unchanged = try #require(try Self.json(try await Self.ok(["show", accession, "--archive", archive, "--json"])) as? [String: Any])
        #expect(((unchanged["order"] as? [String: Any])?["report"] as? [String: Any])?["author"] as? String == "Иванов^Иван")

        let text = try await Self.ok(["report", accession, "--show", "--archive", archive])
        #expect(text.contains("Норма (уточнено)."))
        let reportJSON = try #require(try Self.json(try await Self.ok(["report", accession, "--show", "--archive", archive, "--json"])) as? [String: Any])
        #expect(reportJSON["recommendations"] as? String == "Нет.")
        #expect(reportJSON["author"] as? String == "Иванов^Иван")
    }
}
