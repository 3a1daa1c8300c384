import DICOMCore
import DICOMIO
import Foundation
import Testing

/// DCMTK `findscu` against the built `dcmstore`: names stored in ISO 8859-5 (ISO_IR 144) come back in ISO_IR 144,
/// names stored in UTF-8 in ISO_IR 192.
@Suite("C-FIND answers in the stored character set", .serialized)
struct StoredCharacterSetEndToEndTests {
    @Test(.timeLimit(.minutes(3)))
    func findscuGetsTheStoredCharacterSet() async throws {
        let base = try EndToEnd.temporaryDirectory("charset")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }

        let root = TestInstances.root()
        let cyrillic = "Иванов^Пётр", kyrgyz = "Үсөнов^Ңурлан"
        var russian = try TestInstances.make(study: root + ".1", series: root + ".1.1", sop: root + ".1.1.1",
                                             patientID: "CS-RU", patientName: cyrillic)
        russian.dataSet.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 144")
        try russian.dataSet.set(Tag(0x0010, 0x0010), vr: .PN, string: cyrillic)
        #expect(russian.dataSet[Tag(0x0010, 0x0010)]?.bytes?.first == 0xB8, "the test file is not in ISO 8859-5")
        let kyrgyzInstance = try TestInstances.make(study: root + ".2", series: root + ".2.1", sop: root + ".2.1.1",
                                                    patientID: "CS-KG", patientName: kyrgyz)
        let input = base + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        let paths = try [russian, kyrgyzInstance].map { try TestInstances.write($0, in: input) }

        let server = try await processes.startServer(archive: base + "/archive")
        let port = "\(server.port)"
        let stored = try await processes.run(try EndToEnd.dcmtk("storescu"), ["-aec", "DCMSTORE", "127.0.0.1", port] + paths)
        #expect(stored.status == 0, "storescu: \(stored.errors)")

        var queries = 0
        func findscu(_ model: String, _ keys: [String]) async throws -> [DataSet] {
            queries += 1
            return try await processes.findscu([model], keys: keys, port: port, into: base + "/find\(queries)")
        }
        let name = Tag(0x0010, 0x0010)
        for (model, level) in [("-P", "PATIENT"), ("-S", "STUDY")] {
            let russianAnswers = try await findscu(model, ["QueryRetrieveLevel=\(level)", "PatientID=CS-RU", "PatientName"])
            let answer = try #require(russianAnswers.first, "no \(level) answer for CS-RU")
            #expect(russianAnswers.count == 1)
            #expect(answer.string(.specificCharacterSet) == "ISO_IR 144", "\(level)")
            #expect(answer[name]?.bytes.map { Array($0.prefix(2)) } == [0xB8, 0xD2], "\(level): not ISO 8859-5")
            #expect(answer.string(name) == cyrillic, "\(level)")

            let kyrgyzAnswers = try await findscu(model, ["QueryRetrieveLevel=\(level)", "PatientID=CS-KG", "PatientName"])
            let other = try #require(kyrgyzAnswers.first, "no \(level) answer for CS-KG")
            #expect(other.string(.specificCharacterSet) == "ISO_IR 192", "\(level)")
            #expect(other.string(name) == kyrgyz, "\(level)")
        }
    }
}
