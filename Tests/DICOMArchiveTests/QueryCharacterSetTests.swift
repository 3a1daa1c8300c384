import DICOMCore
import DICOMIO
import Foundation
import Testing
@testable import DICOMArchive

/// The character set of C-FIND answers: a non-ASCII answer is written in the Specific Character Set its values were
/// stored in, and in ISO_IR 192 (UTF-8) where the stored data mixes sets or a value does not fit the stored set.
@Suite struct QueryCharacterSetTests {
    static let cyrillic = "Иванов^Пётр"

    /// `makeRecord` with a Specific Character Set of its own.
    static func record(_ characterSet: String, patientID: String, name: String, study: String, series: String, sop: String,
                       receivedAt: TimeInterval = 1_700_000_000) -> InstanceRecord {
        var record = makeRecord(patientID: patientID, name: name, study: study, series: series, sop: sop,
                                receivedAt: Date(timeIntervalSince1970: receivedAt))
        record.specificCharacterSet = characterSet
        return record
    }

    /// What both C-FIND paths answer (``ArchiveIndex/find(_:)`` and the encoded answer the server sends), checking
    /// that the encoded bytes are those of the data sets.
    static func answers(_ records: [InstanceRecord], _ level: String, _ keys: [(DICOMCore.Tag, VR, String)],
                        patientRoot: Bool = false) async throws -> [DataSet] {
        let index = JSONArchiveIndex(inMemory: records)
        let query = IndexQuery(identifier: try makeIdentifier(level, keys), patientRoot: patientRoot)
        let found = try await index.find(query)
        let encoded = try await index.findEncoded(query, explicitVR: true, auditing: false)
        var expected = Data()
        for dataSet in found { expected.append(try DataSetWriter.encode(dataSet, transferSyntax: .explicitVRLittleEndian)) }
        #expect(Data(encoded.identifiers.bytes) == expected, "the encoded answer differs from the data sets encoded")
        return found
    }

    @Test func answersInTheStoredSingleByteSetAtEveryLevel() async throws {
        let records = [Self.record("ISO_IR 144", patientID: "RU1", name: Self.cyrillic, study: "1.5.1", series: "1.5.1.1", sop: "1.5.1.1.1")]
        let keys: [(DICOMCore.Tag, VR, String)] = [(Tags.patientName, .PN, "Иван*"), (Tags.patientID, .LO, "")]
        for (level, extra) in [("PATIENT", [(DICOMCore.Tag, VR, String)]()), ("STUDY", [(Tags.studyUID, .UI, "")]),
                               ("SERIES", [(Tags.seriesUID, .UI, "")]), ("IMAGE", [(Tags.sopUID, .UI, "")])] {
            let answers = try await Self.answers(records, level, keys + extra, patientRoot: level == "PATIENT")
            let answer = try #require(answers.first, "no answer at \(level)")
            #expect(answers.count == 1)
            #expect(answer.string(.specificCharacterSet) == "ISO_IR 144", "level \(level)")
            // ISO 8859-5: И is B8H, в is D2H; one byte per letter (UTF-8 would start D0H 98H).
            #expect(answer[Tags.patientName]?.bytes.map { Array($0.prefix(2)) } == [0xB8, 0xD2], "level \(level)")
            #expect(answer.string(Tags.patientName) == Self.cyrillic, "level \(level)")
        }
    }

    @Test func mixedStoredSetsAnswerInUTF8() async throws {
        // One study, two series: the first instance in ISO 8859-5, the second (received later, so the study's
        // attributes come from it) in UTF-8. A SERIES answer for the first series carries values of both.
        let records = [
            Self.record("ISO_IR 144", patientID: "RU2", name: Self.cyrillic, study: "1.6.1", series: "1.6.1.1", sop: "1.6.1.1.1"),
            Self.record("ISO_IR 192", patientID: "RU2", name: Self.cyrillic, study: "1.6.1", series: "1.6.1.2", sop: "1.6.1.2.1",
                        receivedAt: 1_700_000_100),
        ]
        let answers = try await Self.answers(records, "SERIES", [(Tags.studyUID, .UI, "1.6.1"), (Tags.seriesUID, .UI, "1.6.1.1"),
                                                                 (Tags.patientName, .PN, "")])
        let answer = try #require(answers.first)
        #expect(answer.string(.specificCharacterSet) == "ISO_IR 192")
        #expect(answer[Tags.patientName]?.bytes.map { Array($0.prefix(2)) } == [0xD0, 0x98])
        #expect(answer.string(Tags.patientName) == Self.cyrillic)
    }

    @Test func instancesInTheDefaultRepertoireAgreeWithTheStoredSet() async throws {
        // The study's instance (the name's source) is in ISO 8859-5, the second series' instance declares no set.
        let records = [
            Self.record("", patientID: "RU3", name: "IVANOV^PETR", study: "1.7.1", series: "1.7.1.2", sop: "1.7.1.2.1"),
            Self.record("ISO_IR 144", patientID: "RU3", name: Self.cyrillic, study: "1.7.1", series: "1.7.1.1", sop: "1.7.1.1.1",
                        receivedAt: 1_700_000_100),
        ]
        let answers = try await Self.answers(records, "IMAGE", [(Tags.seriesUID, .UI, "1.7.1.2"), (Tags.sopUID, .UI, ""),
                                                                (Tags.patientName, .PN, "")])
        let answer = try #require(answers.first)
        #expect(answer.string(Tags.sopUID) == "1.7.1.2.1")
        #expect(answer.string(.specificCharacterSet) == "ISO_IR 144")
        #expect(answer.string(Tags.patientName) == Self.cyrillic)
    }

    @Test func aValueOutsideTheStoredSetOrAnUnknownSetAnswersInUTF8() async throws {
        // Kyrgyz Ү and Ң are in no ISO 8859 set; a record claiming ISO_IR 144 for them (bad data) and one with a
        // Specific Character Set the library does not know are answered in UTF-8, never with the letters lost.
        let kyrgyz = "Үсөнов^Ңурлан"
        for set in ["ISO_IR 144", "ISO_IR 999"] {
            let records = [Self.record(set, patientID: "KG1", name: kyrgyz, study: "1.8.1", series: "1.8.1.1", sop: "1.8.1.1.1")]
            let answers = try await Self.answers(records, "STUDY", [(Tags.patientID, .LO, "KG1"), (Tags.patientName, .PN, "")])
            let answer = try #require(answers.first)
            #expect(answer.string(.specificCharacterSet) == "ISO_IR 192", "stored as \(set)")
            #expect(answer.string(Tags.patientName) == kyrgyz, "stored as \(set)")
        }
    }

    @Test func answersInTheStoredISO2022Set() async throws {
        let japanese = "Yamada^Tarou=山田^太郎=やまだ^たろう"
        let records = [Self.record("\\ISO 2022 IR 87", patientID: "JP1", name: japanese, study: "1.9.1", series: "1.9.1.1",
                                   sop: "1.9.1.1.1")]
        let answers = try await Self.answers(records, "STUDY", [(Tags.patientID, .LO, "JP1"), (Tags.patientName, .PN, "")])
        let answer = try #require(answers.first)
        #expect(answer.strings(.specificCharacterSet) == ["", "ISO 2022 IR 87"])
        #expect(answer.string(Tags.patientName) == japanese)
        // JIS X 0208 is designated by ESC $ B.
        let bytes = [UInt8](answer[Tags.patientName]?.bytes ?? Data())
        #expect(bytes.starts(with: Array("Yamada^Tarou=".utf8) + [0x1B, 0x24, 0x42]))
    }

    @Test func asciiAnswersDeclareNoSet() async throws {
        let records = [Self.record("ISO_IR 144", patientID: "RU4", name: "IVANOV^PETR", study: "1.10.1", series: "1.10.1.1",
                                   sop: "1.10.1.1.1")]
        let answers = try await Self.answers(records, "STUDY", [(Tags.patientID, .LO, "RU4"), (Tags.patientName, .PN, "")])
        let answer = try #require(answers.first)
        #expect(answer[.specificCharacterSet] == nil)
        #expect(answer.string(Tags.patientName) == "IVANOV^PETR")
    }
}
