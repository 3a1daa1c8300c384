import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Logging

/// Which stored instances go to a destination. Every filter left nil matches everything.
public struct ForwardRule: Sendable, Codable, Equatable {
    /// The destination's AE title.
    public var destination: String
    /// Only instances stored by these calling AE titles.
    public var callingAETitles: Set<String>?
    /// Only instances of these modalities (Modality (0008,0060) of the series, e.g. "CT").
    public var modalities: Set<String>?
    /// Only instances of these SOP classes.
    public var sopClassUIDs: Set<String>?

    public init(destination: String, callingAETitles: Set<String>? = nil, modalities: Set<String>? = nil, sopClassUIDs: Set<String>? = nil) {
        self.destination = destination
        self.callingAETitles = callingAETitles
        self.modalities = modalities
        self.sopClassUIDs = sopClassUIDs
    }

    /// Whether the rule selects this stored instance.
    public func matches(_ record: InstanceRecord) -> Bool {
        if let callingAETitles, !callingAETitles.contains(record.callingAETitle) { return false }
        if let sopClassUIDs, !sopClassUIDs.contains(record.sopClassUID) { return false }
        if let modalities {
            let modality = record.series[Tag(0x0008, 0x0060)] ?? record.instance[Tag(0x0008, 0x0060)] ?? ""
            if !modalities.contains(modality) { return false }
        }
        return true
    }
}

/// A C-STORE handler that stores through an ``ArchiveStorageHandler`` and, when the instance was stored (new,
/// identical re-send or replacement), queues it durably to the destinations whose ``ForwardRule`` matches before
/// the status is answered. If the queue cannot be written, the requestor gets 0110H (processing failure) and will
/// send again; the re-send is an identical duplicate for the store and is queued then.
public struct ForwardingStorageHandler: StorageHandler {
    public let inner: ArchiveStorageHandler
    public let queue: ForwardQueue
    public let rules: [ForwardRule]
    let logger: Logger

    public init(inner: ArchiveStorageHandler, queue: ForwardQueue, rules: [ForwardRule],
                logger: Logger = Logger(label: "dicom.archive.forward")) {
        self.inner = inner
        self.queue = queue
        self.rules = rules
        self.logger = logger
    }

    public var usesSHA256: Bool { inner.usesSHA256 }
    public var makesFilesDurable: Bool { inner.makesFilesDurable }
    public var writesDirectly: Bool { inner.writesDirectly }

    public func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        let result = await inner.store.store(instance)
        guard let record = result.record, [.stored, .identicalDuplicate, .replaced].contains(result.outcome) else {
            return result.status
        }
        var destinations: [String] = []
        for rule in rules where rule.matches(record) && !destinations.contains(rule.destination) {
            destinations.append(rule.destination)
        }
        guard !destinations.isEmpty else { return result.status }
        let entries = destinations.map {
            ForwardEntry(destination: $0, sopInstanceUID: record.sopInstanceUID, sopClassUID: record.sopClassUID,
                         studyInstanceUID: record.studyInstanceUID, path: record.path, transferSyntaxUID: record.transferSyntaxUID)
        }
        do {
            try await queue.enqueue(entries)
        } catch {
            logger.error("cannot queue \(record.sopInstanceUID) for forwarding: \(error)")
            return .processingFailure
        }
        return result.status
    }
}
