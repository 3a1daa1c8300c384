import DICOMCore
import Foundation

/// A coded concept (Code Value, Coding Scheme Designator, Code Meaning; PS3.3 §8.8).
public struct CodedConcept: Sendable, Equatable {
    public var value: String
    public var scheme: String
    public var meaning: String

    public init(_ value: String, _ scheme: String, _ meaning: String) {
        self.value = value
        self.scheme = scheme
        self.meaning = meaning
    }

    /// (18748-4, LN, "Diagnostic Imaging Report"): the document title (CID 7000).
    public static let diagnosticImagingReport = CodedConcept("18748-4", "LN", "Diagnostic Imaging Report")
    /// Section headings (CID 7001) and their report elements (CID 7002).
    public static let findings = CodedConcept("121070", "DCM", "Findings")
    public static let finding = CodedConcept("121071", "DCM", "Finding")
    public static let conclusions = CodedConcept("121076", "DCM", "Conclusions")
    public static let conclusion = CodedConcept("121077", "DCM", "Conclusion")
    public static let recommendations = CodedConcept("121074", "DCM", "Recommendations")
    public static let recommendation = CodedConcept("121075", "DCM", "Recommendation")
    /// Observation context (TID 1002): Observer Type = Person, Person Observer Name.
    public static let observerType = CodedConcept("121005", "DCM", "Observer Type")
    public static let person = CodedConcept("121006", "DCM", "Person")
    public static let personObserverName = CodedConcept("121008", "DCM", "Person Observer Name")

    func item(in characterSet: SpecificCharacterSet) -> DataSet {
        var item = DataSet()
        item.inheritedCharacterSet = characterSet
        item.setASCII(.codeValue, vr: .SH, value)
        item.setASCII(.codingSchemeDesignator, vr: .SH, scheme)
        try? item.set(.codeMeaning, vr: .LO, string: meaning)
        return item
    }
}

/// The radiologist's report as a Basic Text SR document (PS3.3 A.35.1; SR Document General and Content modules,
/// C.17.2 and C.17.3): a root CONTAINER titled Diagnostic Imaging Report, the author as observation context
/// (Observer Type Person, Person Observer Name), and CONTAINERs Findings, Conclusions and Recommendations, each
/// holding one TEXT item (Finding, Conclusion, Recommendation). Text is written in UTF-8 (ISO_IR 192).
public struct BasicTextReport: Sendable {
    public var entry: OrderEntry
    public var description: String
    public var conclusion: String
    public var recommendations: String
    /// The radiologist, `FAMILY^GIVEN`.
    public var author: String
    /// The verifying organization (the radiology department).
    public var institution: String
    public var sopInstanceUID: String
    public var seriesInstanceUID: String
    public var date: Date

    public init(entry: OrderEntry, description: String, conclusion: String, recommendations: String, author: String,
                institution: String, sopInstanceUID: String = UID.make(), seriesInstanceUID: String = UID.make(), date: Date = Date()) {
        self.entry = entry
        self.description = description
        self.conclusion = conclusion
        self.recommendations = recommendations
        self.author = author
        self.institution = institution
        self.sopInstanceUID = sopInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.date = date
    }

    static func dicomDateTime(_ date: Date) -> (date: String, time: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return (String(format: "%04d%02d%02d", c.year ?? 2000, c.month ?? 1, c.day ?? 1),
                String(format: "%02d%02d%02d", c.hour ?? 0, c.minute ?? 0, c.second ?? 0))
    }

    /// The SR data set.
    public func dataSet() throws -> DataSet {
        let set = SpecificCharacterSet.utf8
        let order = entry.order, patient = entry.patient
        let (contentDate, contentTime) = Self.dicomDateTime(date)
        func text(_ tag: Tag, _ vr: VR, _ value: String?, _ dataSet: inout DataSet) throws {
            guard let value, !value.isEmpty else { dataSet.set(DataElement(tag: tag, vr: vr, bytes: Data())); return }
            try dataSet.set(tag, vr: vr, string: value)
        }
        func item() -> DataSet { var d = DataSet(); d.inheritedCharacterSet = set; return d }
        func textItem(_ concept: CodedConcept, _ value: String) throws -> DataSet {
            var d = item()
            d.setASCII(.relationshipType, vr: .CS, "CONTAINS")
            d.setASCII(.valueType, vr: .CS, "TEXT")
            d.set(DataElement(tag: .conceptNameCodeSequence, items: [concept.item(in: set)]))
            try d.set(.textValue, vr: .UT, string: value)
            return d
        }
        func section(_ heading: CodedConcept, _ element: CodedConcept, _ value: String) throws -> DataSet {
            var d = item()
            d.setASCII(.relationshipType, vr: .CS, "CONTAINS")
            d.setASCII(.valueType, vr: .CS, "CONTAINER")
            d.set(DataElement(tag: .conceptNameCodeSequence, items: [heading.item(in: set)]))
            d.setASCII(.continuityOfContent, vr: .CS, "SEPARATE")
            d.set(DataElement(tag: .contentSequence, items: [try textItem(element, value)]))
            return d
        }

        var ds = DataSet()
        ds.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 192")
        ds.setASCII(.sopClassUID, vr: .UI, WorklistSOPClass.basicTextSR)
        ds.setASCII(.sopInstanceUID, vr: .UI, sopInstanceUID)
        // Patient module.
        try text(.patientName, .PN, patient.name, &ds)
        try text(.patientID, .LO, patient.patientID, &ds)
        if let issuer = patient.issuer { try text(.issuerOfPatientID, .LO, issuer, &ds) }
        ds.setASCII(.patientBirthDate, vr: .DA, patient.birthDate ?? "")
        ds.setASCII(.patientSex, vr: .CS, patient.sex ?? "")
        // General Study module.
        ds.setASCII(.studyInstanceUID, vr: .UI, order.studyInstanceUID)
        ds.setASCII(.studyDate, vr: .DA, order.scheduledDate)
        ds.setASCII(.studyTime, vr: .TM, order.scheduledTime)
        try text(.referringPhysicianName, .PN, order.referringPhysician, &ds)
        try text(.studyID, .SH, order.requestedProcedureID, &ds)
        try text(.accessionNumber, .SH, order.accessionNumber, &ds)
        // SR Document Series module.
        ds.setASCII(.modality, vr: .CS, "SR")
        ds.setASCII(.seriesInstanceUID, vr: .UI, seriesInstanceUID)
        ds.setASCII(.seriesNumber, vr: .IS, "999")
        ds.set(DataElement(tag: .referencedPerformedProcedureStepSequence, items: []))
        // General Equipment module.
        try text(.manufacturer, .LO, "swift-dicom", &ds)
        // SR Document General module.
        ds.setASCII(.instanceNumber, vr: .IS, "1")
        ds.setASCII(.completionFlag, vr: .CS, "COMPLETE")
        ds.setASCII(.verificationFlag, vr: .CS, "VERIFIED")
        ds.setASCII(.contentDate, vr: .DA, contentDate)
        ds.setASCII(.contentTime, vr: .TM, contentTime)
        var verifier = item()
        try text(.verifyingObserverName, .PN, author, &verifier)
        verifier.set(DataElement(tag: .verifyingObserverIdentificationCodeSequence, items: []))
        try text(.verifyingOrganization, .LO, institution, &verifier)
        verifier.setASCII(.verificationDateTime, vr: .DT, contentDate + contentTime)
        ds.set(DataElement(tag: .verifyingObserverSequence, items: [verifier]))
        var request = item()
        request.setASCII(.studyInstanceUID, vr: .UI, order.studyInstanceUID)
        request.set(DataElement(tag: .referencedStudySequence, items: []))
        try text(.accessionNumber, .SH, order.accessionNumber, &request)
        try text(.requestedProcedureID, .SH, order.requestedProcedureID, &request)
        try text(.requestedProcedureDescription, .LO, order.procedure, &request)
        request.set(DataElement(tag: .requestedProcedureCodeSequence, items: []))
        try text(.placerOrderNumberImagingServiceRequest, .LO, nil, &request)
        try text(.fillerOrderNumberImagingServiceRequest, .LO, nil, &request)
        ds.set(DataElement(tag: .referencedRequestSequence, items: [request]))
        ds.set(DataElement(tag: .performedProcedureCodeSequence, items: []))
        // SR Document Content module: the root container.
        ds.setASCII(.valueType, vr: .CS, "CONTAINER")
        ds.set(DataElement(tag: .conceptNameCodeSequence, items: [CodedConcept.diagnosticImagingReport.item(in: set)]))
        ds.setASCII(.continuityOfContent, vr: .CS, "SEPARATE")
        var observerType = item()
        observerType.setASCII(.relationshipType, vr: .CS, "HAS OBS CONTEXT")
        observerType.setASCII(.valueType, vr: .CS, "CODE")
        observerType.set(DataElement(tag: .conceptNameCodeSequence, items: [CodedConcept.observerType.item(in: set)]))
        observerType.set(DataElement(tag: .conceptCodeSequence, items: [CodedConcept.person.item(in: set)]))
        var observerName = item()
        observerName.setASCII(.relationshipType, vr: .CS, "HAS OBS CONTEXT")
        observerName.setASCII(.valueType, vr: .CS, "PNAME")
        observerName.set(DataElement(tag: .conceptNameCodeSequence, items: [CodedConcept.personObserverName.item(in: set)]))
        try observerName.set(.personName, vr: .PN, string: author)
        ds.set(DataElement(tag: .contentSequence, items: [
            observerType, observerName,
            try section(.findings, .finding, description),
            try section(.conclusions, .conclusion, conclusion),
            try section(.recommendations, .recommendation, recommendations),
        ]))
        return ds
    }
}

/// A report read back from an SR document: the text of its sections.
public struct ReportText: Codable, Sendable, Equatable {
    public var accessionNumber: String?
    public var patientName: String?
    public var patientID: String?
    public var author: String?
    public var date: String?
    public var description: String?
    public var conclusion: String?
    public var recommendations: String?

    /// Reads the sections written by ``BasicTextReport`` (any CONTAINER whose heading is Findings, Conclusions or
    /// Recommendations; every TEXT item below it joined by blank lines).
    public init(dataSet: DataSet) {
        accessionNumber = dataSet.string(.accessionNumber)
        patientName = dataSet.string(.patientName)
        patientID = dataSet.string(.patientID)
        date = dataSet.string(.contentDate)
        var sections: [String: [String]] = [:]
        for item in dataSet.items(.contentSequence) ?? [] {
            let code = item.items(.conceptNameCodeSequence)?.first?.string(.codeValue)
            if item.string(.valueType) == "PNAME", code == CodedConcept.personObserverName.value { author = item.string(.personName) }
            guard item.string(.valueType) == "CONTAINER", let code else { continue }
            sections[code] = (item.items(.contentSequence) ?? []).compactMap { $0.string(.valueType) == "TEXT" ? $0.text(.textValue) : nil }
        }
        description = sections[CodedConcept.findings.value]?.joined(separator: "\n\n")
        conclusion = sections[CodedConcept.conclusions.value]?.joined(separator: "\n\n")
        recommendations = sections[CodedConcept.recommendations.value]?.joined(separator: "\n\n")
    }
}
