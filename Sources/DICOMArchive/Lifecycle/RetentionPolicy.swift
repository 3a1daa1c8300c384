import DICOMCore
import Foundation

/// How long instances are kept, by kind, counted from the Study Date (0008,0020) or, when that is missing or
/// unreadable, from the time the archive received the instance.
public struct RetentionPolicy: Sendable, Codable, Equatable {
    /// The kinds of instance retention distinguishes.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Everything that is not a report.
        case image
        /// Structured reports, Key Object Selection documents and Encapsulated PDF.
        case report
    }

    /// Years images are kept (default 5).
    public var imageYears: Int
    /// Years reports are kept (default 10).
    public var reportYears: Int
    /// SOP Class UIDs that are reports, with a trailing `*` matching any suffix.
    /// Default: all SR storage classes (`1.2.840.10008.5.1.4.1.1.88.*`, which includes Key Object Selection
    /// `1.2.840.10008.5.1.4.1.1.88.59`) and Encapsulated PDF (`1.2.840.10008.5.1.4.1.1.104.1`).
    public var reportSOPClasses: [String]

    public static let defaultReportSOPClasses = ["1.2.840.10008.5.1.4.1.1.88.*", "1.2.840.10008.5.1.4.1.1.104.1"]

    public init(imageYears: Int = 5, reportYears: Int = 10, reportSOPClasses: [String] = RetentionPolicy.defaultReportSOPClasses) {
        self.imageYears = imageYears
        self.reportYears = reportYears
        self.reportSOPClasses = reportSOPClasses
    }

    /// The kind of an instance of `sopClassUID`.
    public func kind(ofSOPClass sopClassUID: String) -> Kind {
        for pattern in reportSOPClasses {
            if pattern.hasSuffix("*") {
                if sopClassUID.hasPrefix(pattern.dropLast()) { return .report }
            } else if sopClassUID == pattern {
                return .report
            }
        }
        return .image
    }

    /// Years an instance of this kind is kept.
    public func years(for kind: Kind) -> Int {
        kind == .report ? reportYears : imageYears
    }

    /// The date retention counts from: Study Date when it is a valid DA (YYYYMMDD, or the old YYYY.MM.DD),
    /// else `receivedAt`.
    public static func referenceDate(studyDate: String?, receivedAt: Date) -> (date: Date, fromStudyDate: Bool) {
        if let studyDate, let date = parseDA(studyDate) { return (date, true) }
        return (receivedAt, false)
    }

    /// When an instance passes its retention period.
    public func expiry(of record: InstanceRecord) -> (kind: Kind, reference: Date, fromStudyDate: Bool, expiresAt: Date) {
        let kind = kind(ofSOPClass: record.sopClassUID)
        let reference = Self.referenceDate(studyDate: record.study[Tag(0x0008, 0x0020)], receivedAt: record.receivedAt)
        let expires = Self.utcCalendar.date(byAdding: .year, value: years(for: kind), to: reference.date) ?? .distantFuture
        return (kind, reference.date, reference.fromStudyDate, expires)
    }

    static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!
        return calendar
    }()

    /// A DA value (PS3.5 Table 6.2-1) as midnight UTC.
    static func parseDA(_ text: String) -> Date? {
        let digits = text.trimmingCharacters(in: .whitespaces).filter { $0 != "." }
        guard digits.count == 8, digits.allSatisfy(\.isASCII), let value = Int(digits) else { return nil }
        let year = value / 10000, month = value / 100 % 100, day = value % 100
        guard year >= 1800, (1...12).contains(month), (1...31).contains(day) else { return nil }
        let components = DateComponents(calendar: utcCalendar, timeZone: utcCalendar.timeZone, year: year, month: month, day: day)
        guard let date = utcCalendar.date(from: components),
              utcCalendar.component(.day, from: date) == day else { return nil }
        return date
    }
}
