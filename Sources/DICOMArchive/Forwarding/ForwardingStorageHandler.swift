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

/// A C-STORE handler that stores through an ``ArchiveStorageHandler`` and queues each instance stored (new, identical
/// re-send or replacement) durably to the destinations whose ``ForwardRule`` matches before the status is answered.
///
/// A new or replacing instance is queued while the archive makes it durable (its journal fsync alongside the file's and
/// the index's): held until the store is done, then released to the forwarder, or taken back out if the store fails.
/// An identical re-send is queued after the store. If the queue cannot be written, the requestor gets 0110H
/// (processing failure) and will send again; the re-send is an identical duplicate for the store and is queued then.
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
        await storeExplained(instance).status
    }

    public func storeExplained(_ instance: ReceivedInstance) async -> (status: DIMSEStatus, comment: String?) {
        let queuing = Queuing()
        let result = await inner.storeRecorded(instance, whileCommitting: { [queue] record in
            let entries = self.entries(for: record)
            guard !entries.isEmpty else { return }
            do {
                try await queue.enqueue(entries, held: true)
                queuing.set(.queued(entries))
            } catch {
                queuing.set(.failed(error))
            }
        })
        let answer = (result.status, result.status.isSuccess ? nil : result.comment)
        let state = queuing.state
        guard let record = result.record, [.stored, .identicalDuplicate, .replaced].contains(result.outcome) else {
            // Not stored: what was queued alongside goes back out.
            if case .queued(let entries) = state {
                do { try await queue.withdraw(entries) } catch {
                    logger.warning("cannot take \(instance.sopInstanceUID) back out of the forward queue: \(error)")
                }
            }
            return answer
        }
        switch state {
        case .queued(let entries):
            await queue.release(entries)
            return answer
        case .failed(let error):
            return refusal(record, error)
        case .notRun:
            // An identical re-send (or a record no rule selects): queued now.
            let entries = entries(for: record)
            guard !entries.isEmpty else { return answer }
            do {
                try await queue.enqueue(entries)
            } catch {
                return refusal(record, error)
            }
            return answer
        }
    }

    /// The entries of a stored instance, one per destination whose rule selects it.
    func entries(for record: InstanceRecord) -> [ForwardEntry] {
        var destinations: [String] = []
        for rule in rules where rule.matches(record) && !destinations.contains(rule.destination) {
            destinations.append(rule.destination)
        }
        return destinations.map {
            ForwardEntry(destination: $0, sopInstanceUID: record.sopInstanceUID, sopClassUID: record.sopClassUID,
                         studyInstanceUID: record.studyInstanceUID, path: record.path, transferSyntaxUID: record.transferSyntaxUID)
        }
    }

    private func refusal(_ record: InstanceRecord, _ error: Error) -> (status: DIMSEStatus, comment: String?) {
        logger.error("cannot queue \(record.sopInstanceUID) for forwarding: \(error)")
        return (.processingFailure, String("cannot queue the instance for forwarding: \(error)".prefix(64)))
    }
}

/// What the queuing alongside a store did (set from the store's child task, read after the store).
private final class Queuing: @unchecked Sendable {
    enum State {
        case notRun
        case queued([ForwardEntry])
        case failed(Error)
    }

    private let lock = NSLock()
    private var value = State.notRun

    func set(_ state: State) { lock.withLock { value = state } }
    var state: State { lock.withLock { value } }
}
