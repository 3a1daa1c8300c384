import DICOMCore
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive


// MARK: Fixtures shared by the index, matching and query tests

/// A record with the attributes queries use; the defaults make one CT instance of one study.
func makeRecord(patientID: String = "P1", name: String = "DOE^JOHN", birthDate: String? = nil, sex: String? = nil,
                study: String = "1.2.3.1", studyDate: String? = "20200115", studyTime: String? = "101500",
                accession: String? = nil, studyDescription: String? = nil,
                series: String = "1.2.3.1.1", modality: String = "CT", seriesNumber: String? = "1",
                sop: String = "1.2.3.1.1.1", sopClass: String = "1.2.840.10008.5.1.4.1.1.2", instanceNumber: String? = "1",
                receivedAt: Date = Date(timeIntervalSince1970: 1_700_000_000)) -> InstanceRecord {
    var patient: [DICOMCore.Tag: String] = [DICOMCore.Tag(0x0010, 0x0010): name]
    if let birthDate { patient[DICOMCore.Tag(0x0010, 0x0030)] = birthDate }
    if let sex { patient[DICOMCore.Tag(0x0010, 0x0040)] = sex }
    var studyAttributes: [DICOMCore.Tag: String] = [:]
    if let studyDate { studyAttributes[DICOMCore.Tag(0x0008, 0x0020)] = studyDate }
    if let studyTime { studyAttributes[DICOMCore.Tag(0x0008, 0x0030)] = studyTime }
    if let accession { studyAttributes[DICOMCore.Tag(0x0008, 0x0050)] = accession }
    if let studyDescription { studyAttributes[DICOMCore.Tag(0x0008, 0x1030)] = studyDescription }
    var seriesAttributes: [DICOMCore.Tag: String] = [DICOMCore.Tag(0x0008, 0x0060): modality]
    if let seriesNumber { seriesAttributes[DICOMCore.Tag(0x0020, 0x0011)] = seriesNumber }
    var instance: [DICOMCore.Tag: String] = [:]
    if let instanceNumber { instance[DICOMCore.Tag(0x0020, 0x0013)] = instanceNumber }
    return InstanceRecord(patientID: patientID, studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop,
                          sopClassUID: sopClass, patient: patient, study: studyAttributes, series: seriesAttributes,
                          instance: instance, path: "objects/\(sop).dcm", size: 1000, transferSyntaxUID: "1.2.840.10008.1.2.1",
                          sha256: String(repeating: "0", count: 64), receivedAt: receivedAt, callingAETitle: "SCU",
                          specificCharacterSet: "ISO_IR 192")
}

/// A query identifier in UTF-8 with the given level and keys (tag, VR, value; "" for a return key).
func makeIdentifier(_ level: String?, _ keys: [(DICOMCore.Tag, VR, String)]) throws -> DataSet {
    var identifier = DataSet()
    identifier.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 192")
    if let level { identifier.setASCII(.queryRetrieveLevel, vr: .CS, level) }
    for (tag, vr, value) in keys {
        if value.isEmpty { identifier[tag] = DataElement(tag: tag, vr: vr, bytes: Data()) } else { try identifier.set(tag, vr: vr, string: value) }
    }
    return identifier
}

/// A fresh empty directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "/dicom-index-tests-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

enum Tags {
    static let patientName = DICOMCore.Tag(0x0010, 0x0010)
    static let patientID = DICOMCore.Tag(0x0010, 0x0020)
    static let birthDate = DICOMCore.Tag(0x0010, 0x0030)
    static let sex = DICOMCore.Tag(0x0010, 0x0040)
    static let studyDate = DICOMCore.Tag(0x0008, 0x0020)
    static let studyTime = DICOMCore.Tag(0x0008, 0x0030)
    static let accession = DICOMCore.Tag(0x0008, 0x0050)
    static let modalitiesInStudy = DICOMCore.Tag(0x0008, 0x0061)
    static let sopClassesInStudy = DICOMCore.Tag(0x0008, 0x0062)
    static let studyDescription = DICOMCore.Tag(0x0008, 0x1030)
    static let studyUID = DICOMCore.Tag(0x0020, 0x000D)
    static let seriesUID = DICOMCore.Tag(0x0020, 0x000E)
    static let sopUID = DICOMCore.Tag(0x0008, 0x0018)
    static let modality = DICOMCore.Tag(0x0008, 0x0060)
    static let seriesNumber = DICOMCore.Tag(0x0020, 0x0011)
    static let instanceNumber = DICOMCore.Tag(0x0020, 0x0013)
    static let patientStudies = DICOMCore.Tag(0x0020, 0x1200)
    static let patientSeries = DICOMCore.Tag(0x0020, 0x1202)
    static let patientInstances = DICOMCore.Tag(0x0020, 0x1204)
    static let studySeries = DICOMCore.Tag(0x0020, 0x1206)
    static let studyInstances = DICOMCore.Tag(0x0020, 0x1208)
    static let seriesInstances = DICOMCore.Tag(0x0020, 0x1209)
}

@Suite struct IndexRecordTests {
    /// A data set in ISO_IR 144 (ISO 8859-5) whose Cyrillic name must come out as Unicode text.
    @Test func makeDecodesTextByTheDataSetsCharacterSet() throws {
        var dataSet = DataSet()
        dataSet.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 144")
        try dataSet.set(Tags.patientName, vr: .PN, string: "Иванов^Иван")
        try dataSet.set(Tags.patientID, vr: .LO, string: "ID-7")
        dataSet.setASCII(Tags.studyUID, vr: .UI, "1.2.3")
        dataSet.setASCII(Tags.seriesUID, vr: .UI, "1.2.3.4")
        dataSet.setASCII(Tags.sopUID, vr: .UI, "1.2.3.4.5")
        dataSet.setASCII(DICOMCore.Tag(0x0008, 0x0016), vr: .UI, "1.2.840.10008.5.1.4.1.1.7")
        dataSet.setASCII(Tags.studyDate, vr: .DA, "20240229")
        dataSet.setASCII(Tags.modality, vr: .CS, "OT")
        try dataSet.set(Tags.studyDescription, vr: .LO, string: "Грудная клетка")
        try dataSet.set(DICOMCore.Tag(0x0008, 0x0008), vr: .CS, strings: ["ORIGINAL", "PRIMARY"])
        try dataSet.set(DICOMCore.Tag(0x0028, 0x0010), vr: .US, integers: [512])
        try dataSet.set(Tags.instanceNumber, vr: .IS, integers: [7])
        // The raw bytes are ISO 8859-5, not UTF-8.
        #expect(dataSet[Tags.patientName]?.bytes?.first == 0xB8)

        let record = try InstanceRecord.make(from: dataSet, path: "a/b.dcm", size: 10, transferSyntaxUID: "1.2.840.10008.1.2.1",
                                             sha256: "ab", receivedAt: Date(timeIntervalSince1970: 5), callingAETitle: "MOD")
        #expect(record.patientID == "ID-7")
        #expect(record.patient[Tags.patientName] == "Иванов^Иван")
        #expect(record.study[Tags.studyDescription] == "Грудная клетка")
        #expect(record.study[Tags.studyDate] == "20240229")
        #expect(record.series[Tags.modality] == "OT")
        #expect(record.instance[DICOMCore.Tag(0x0008, 0x0008)] == "ORIGINAL\\PRIMARY")
        #expect(record.instance[DICOMCore.Tag(0x0028, 0x0010)] == "512")
        #expect(record.instance[Tags.instanceNumber] == "7")
        #expect(record.sopClassUID == "1.2.840.10008.5.1.4.1.1.7")
        #expect(record.specificCharacterSet == "ISO_IR 144")
        #expect(record.callingAETitle == "MOD")
        // UIDs live in the record's properties, not in its dictionaries.
        #expect(record.study[Tags.studyUID] == nil)
    }

    @Test func missingPatientIDIsEmptyAndMissingUIDsThrow() throws {
        var dataSet = DataSet()
        dataSet.setASCII(Tags.studyUID, vr: .UI, "1.2.3")
        dataSet.setASCII(Tags.seriesUID, vr: .UI, "1.2.3.4")
        dataSet.setASCII(Tags.sopUID, vr: .UI, "1.2.3.4.5")
        let record = try InstanceRecord.make(from: dataSet, path: "x", size: 0, transferSyntaxUID: "", sha256: "",
                                             receivedAt: Date(), callingAETitle: "")
        #expect(record.patientID == "")
        #expect(record.specificCharacterSet == "")

        dataSet.remove(Tags.seriesUID)
        let error = #expect(throws: ArchiveIndexError.self) {
            _ = try InstanceRecord.make(from: dataSet, path: "x", size: 0, transferSyntaxUID: "", sha256: "",
                                        receivedAt: Date(), callingAETitle: "")
        }
        #expect(error?.code == .missingAttribute)
        #expect(error?.message.contains("Series Instance UID") == true)
    }

    @Test func everyRequiredAndUniqueKeyIsIndexed() {
        // PS3.4 Tables C.6-1 to C.6-8: required (R) and unique (U) keys of both models.
        let required: [(UInt16, UInt16, QueryLevel)] = [
            (0x0010, 0x0010, .patient), (0x0010, 0x0020, .patient),
            (0x0008, 0x0020, .study), (0x0008, 0x0030, .study), (0x0008, 0x0050, .study), (0x0020, 0x0010, .study), (0x0020, 0x000D, .study),
            (0x0008, 0x0060, .series), (0x0020, 0x0011, .series), (0x0020, 0x000E, .series),
            (0x0020, 0x0013, .image), (0x0008, 0x0018, .image),
        ]
        for (group, element, level) in required {
            #expect(IndexedAttribute.named(DICOMCore.Tag(group, element))?.level == level, "\(DICOMCore.Tag(group, element))")
        }
    }

    @Test func recordsRoundTripThroughJSON() throws {
        let record = makeRecord(name: "محمد^علی", receivedAt: Date(timeIntervalSince1970: 1_700_000_000.123456))
        let data = try IndexCoding.encoder().encode(record)
        let decoded = try IndexCoding.decoder().decode(InstanceRecord.self, from: data)
        #expect(decoded == record)
        #expect(String(decoding: data, as: UTF8.self).contains("\"00100010\""))
    }
}
