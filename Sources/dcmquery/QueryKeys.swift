import ArgumentParser
import DICOMCore
import DICOMServices
import Foundation

/// One `-k` argument: an attribute named by keyword or tag, with a value to match (empty asks for it back).
struct QueryKey: Equatable {
    var tag: Tag
    var keyword: String
    var vr: VR
    var value: String

    /// Parses `Keyword=Value`, `gggg,eeee=Value`, `(gggg,eeee)=Value` or a bare `Keyword` (no value).
    init(parsing text: String) throws {
        let name: Substring
        if let equals = text.firstIndex(of: "=") {
            name = text[..<equals]
            value = String(text[text.index(after: equals)...])
        } else {
            name = Substring(text)
            value = ""
        }
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw ValidationError("-k '\(text)': no attribute named before '='; write Keyword=Value or gggg,eeee=Value")
        }
        if let parsed = Tag(parsing: trimmed) {
            tag = parsed
            let entry = DataDictionary.entry(for: parsed)
            keyword = entry?.keyword ?? parsed.description
            vr = entry?.vr ?? .LO
        } else if let entry = DataDictionary.entry(forKeyword: trimmed) {
            tag = entry.tag
            keyword = entry.keyword
            vr = entry.vr
        } else {
            throw ValidationError("-k '\(text)': unknown attribute '\(trimmed)'; give a DICOM keyword such as PatientName or a tag such as 0010,0010")
        }
        guard !tag.isCommand, !tag.isFileMeta, !tag.isDelimiter else {
            throw ValidationError("-k '\(text)': \(tag) is not an attribute of a query identifier")
        }
        if vr == .SQ && !value.isEmpty {
            throw ValidationError("-k '\(text)': \(keyword) is a sequence; only an empty value (return the sequence) is supported")
        }
    }

    init(keyword: String) {
        let entry = DataDictionary.entry(forKeyword: keyword)
        tag = entry?.tag ?? Tag(0, 0)
        self.keyword = keyword
        vr = entry?.vr ?? .LO
        value = ""
    }
}

/// The Query/Retrieve Level (0008,0052).
enum QueryLevel: String, ExpressibleByArgument, CaseIterable {
    case patient = "PATIENT", study = "STUDY", series = "SERIES", image = "IMAGE"

    init?(argument: String) { self.init(rawValue: argument.uppercased()) }

    /// Return keys asked for when the user gives none, the usual columns at each level.
    var defaultReturnKeys: [String] {
        switch self {
        case .patient: ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "NumberOfPatientRelatedStudies"]
        case .study: ["PatientName", "PatientID", "StudyDate", "StudyDescription", "AccessionNumber", "ModalitiesInStudy",
                      "StudyInstanceUID", "NumberOfStudyRelatedInstances"]
        case .series: ["StudyInstanceUID", "SeriesInstanceUID", "SeriesNumber", "Modality", "SeriesDescription",
                       "NumberOfSeriesRelatedInstances"]
        case .image: ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "InstanceNumber"]
        }
    }

    /// The unique key of the level (PS3.4 C.6).
    var uniqueKey: Tag {
        switch self {
        case .patient: Tag(0x0010, 0x0020)
        case .study: Tag(0x0020, 0x000D)
        case .series: Tag(0x0020, 0x000E)
        case .image: Tag(0x0008, 0x0018)
        }
    }
}

/// The information model (`--model`).
enum InformationModel: String, ExpressibleByArgument, CaseIterable {
    case patient, study

    init?(argument: String) { self.init(rawValue: argument.lowercased()) }

    var find: String { self == .patient ? QueryRetrieveModel.patientRootFind : QueryRetrieveModel.studyRootFind }
    var move: String { self == .patient ? QueryRetrieveModel.patientRootMove : QueryRetrieveModel.studyRootMove }
    var get: String { self == .patient ? QueryRetrieveModel.patientRootGet : QueryRetrieveModel.studyRootGet }
}

/// Builds the identifier of a request from the level and the keys.
enum IdentifierBuilder {
    static let queryRetrieveLevel = Tag(0x0008, 0x0052)
    static let specificCharacterSet = Tag(0x0008, 0x0005)

    /// The keys to send: the user's, plus the level's default return keys when the user asked for none back.
    static func keys(_ given: [QueryKey], level: QueryLevel, addDefaults: Bool) -> [QueryKey] {
        var keys = given.filter { $0.tag != queryRetrieveLevel && $0.tag != specificCharacterSet }
        if addDefaults && !keys.contains(where: { $0.value.isEmpty }) {
            for keyword in level.defaultReturnKeys {
                let key = QueryKey(keyword: keyword)
                if !keys.contains(where: { $0.tag == key.tag }) { keys.append(key) }
            }
        }
        return keys
    }

    /// The identifier: Query/Retrieve Level, Specific Character Set ISO_IR 192 when any value is not ASCII, the keys.
    static func identifier(level: QueryLevel, keys: [QueryKey]) throws -> DataSet {
        var dataSet = DataSet()
        if keys.contains(where: { $0.value.unicodeScalars.contains { $0.value > 0x7E } }) {
            dataSet.setASCII(specificCharacterSet, vr: .CS, "ISO_IR 192")
        }
        dataSet.setASCII(queryRetrieveLevel, vr: .CS, level.rawValue)
        for key in keys {
            do {
                try set(key, in: &dataSet)
            } catch {
                throw ValidationError("-k \(key.keyword)=\(key.value): \(error)")
            }
        }
        return dataSet
    }

    static func set(_ key: QueryKey, in dataSet: inout DataSet) throws {
        if key.vr == .SQ {
            dataSet.set(DataElement(tag: key.tag, items: []))
        } else if key.value.isEmpty {
            dataSet.set(DataElement(tag: key.tag, vr: key.vr, bytes: Data()))
        } else if key.vr.isString {
            try dataSet.set(key.tag, vr: key.vr, strings: key.value.split(separator: "\\", omittingEmptySubsequences: false).map(String.init))
        } else if [.US, .SS, .UL, .SL, .SV, .UV].contains(key.vr) {
            let values = key.value.split(separator: "\\").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw ValidationError("not an integer for VR \(key.vr)") }
            try dataSet.set(key.tag, vr: key.vr, integers: values.compactMap { $0 })
        } else if key.vr == .FL || key.vr == .FD {
            let values = key.value.split(separator: "\\").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw ValidationError("not a number for VR \(key.vr)") }
            try dataSet.set(key.tag, vr: key.vr, doubles: values.compactMap { $0 })
        } else {
            throw ValidationError("matching on a \(key.vr) value is not supported; leave the value empty to ask for it back")
        }
    }
}
