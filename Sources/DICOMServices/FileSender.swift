import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Logging
import NIOCore

/// The outcome of sending one file with ``FileSender``.
public struct SendResult: Sendable, Codable, Equatable {
    public var path: String
    public var sopInstanceUID: String?
    /// The C-STORE-RSP status as four hex digits, nil when the file was not sent.
    public var status: String?
    /// Stored with a success or warning status (PS3.4 Annex B.2.3).
    public var ok: Bool
    /// The file is not DICOM (or lacks the identifying attributes) and was skipped.
    public var skipped: Bool
    /// Why the file was not stored, when it was not.
    public var error: String?

    public init(path: String, sopInstanceUID: String? = nil, status: DIMSEStatus? = nil, skipped: Bool = false, error: String? = nil) {
        self.path = path
        self.sopInstanceUID = sopInstanceUID
        self.status = status.map { String(format: "%04X", $0.rawValue) }
        self.ok = status?.isSuccessOrWarning ?? false
        self.skipped = skipped
        self.error = error
    }
}

/// Sends Part 10 files by C-STORE (PS3.4 Annex B) over one or more associations: what `dcmsend` runs.
///
/// Each file's own transfer syntax is proposed together with Explicit and Implicit VR Little Endian, one
/// presentation context per (SOP class, transfer syntax) pair, at most 128 per association (PS3.8 §9.3.2.2:
/// odd IDs 1–255); more pairs open further associations. A file whose syntax the peer did not accept is sent in
/// an accepted native syntax; a compressed one is decompressed with the built-in codecs when the peer accepted only
/// uncompressed syntaxes, and reported as not sent (with the reason) when no codec decodes it. A converted file is
/// written frame by frame to ``temporaryDirectory`` and sent from there, so memory does not grow with its size.
public struct FileSender: Sendable {
    public var host: String
    public var port: Int
    public var callingAE: AETitle
    public var calledAE: AETitle
    public var timeouts: DICOMTimeouts
    public var maximumPDULength: UInt32
    /// Associations used at the same time.
    public var parallelAssociations: Int
    /// The Asynchronous Operations Window proposed on each association (PS3.7 §D.3.3.3): up to this many C-STOREs
    /// outstanding at once when the peer grants it (fewer when it grants fewer); 1, the default, proposes none.
    public var asynchronousOperations: Int
    public var tls: DICOMTLS?
    /// Sent in every A-ASSOCIATE-RQ (User Identity Negotiation, PS3.7 §D.3.3.7).
    public var userIdentity: UserIdentity?
    /// Where a file converted for the peer (re-encoded or decompressed) is written before it is sent; it is removed
    /// once sent. Default `NSTemporaryDirectory()`.
    public var temporaryDirectory: String
    public var logger: Logger

    public init(host: String, port: Int, callingAE: AETitle, calledAE: AETitle, timeouts: DICOMTimeouts = DICOMTimeouts(),
                maximumPDULength: UInt32 = DICOMClient.defaultMaximumPDULength, parallelAssociations: Int = 1,
                asynchronousOperations: Int = 1, tls: DICOMTLS? = nil, userIdentity: UserIdentity? = nil, temporaryDirectory: String = NSTemporaryDirectory(),
                logger: Logger = Logger(label: "dicom.send")) {
        self.tls = tls
        self.temporaryDirectory = temporaryDirectory
        self.userIdentity = userIdentity
        self.host = host
        self.port = port
        self.callingAE = callingAE
        self.calledAE = calledAE
        self.timeouts = timeouts
        self.maximumPDULength = maximumPDULength
        self.parallelAssociations = max(1, parallelAssociations)
        self.asynchronousOperations = max(1, asynchronousOperations)
        self.logger = logger
    }

    struct Candidate: Sendable {
        var index: Int
        var path: String
        var sopClassUID: String
        var sopInstanceUID: String
        var transferSyntax: TransferSyntax
        var key: String { sopClassUID + "|" + transferSyntax.uid }
    }

    /// Sends the files; one result per path, in the order given. `onResult` is called as each file completes.
    public func send(paths: [String], onResult: @escaping @Sendable (SendResult) -> Void = { _ in }) async -> [SendResult] {
        var results = [SendResult?](repeating: nil, count: paths.count)
        var candidates: [Candidate] = []
        for (index, path) in paths.enumerated() {
            do {
                let file = try DICOMFile(contentsOf: path, options: .metadataOnly)
                guard let sopClass = file.fileMetaInformation.string(Tag(0x0002, 0x0002)) ?? file.dataSet.string(Tag(0x0008, 0x0016)),
                      let sopInstance = file.fileMetaInformation.string(Tag(0x0002, 0x0003)) ?? file.dataSet.string(Tag(0x0008, 0x0018)) else {
                    throw DICOMServiceError(.invalidInput, "no SOP Class UID or SOP Instance UID")
                }
                candidates.append(Candidate(index: index, path: path, sopClassUID: sopClass, sopInstanceUID: sopInstance,
                                            transferSyntax: file.transferSyntax))
            } catch {
                let result = SendResult(path: path, skipped: true, error: "not a DICOM file: \(error)")
                results[index] = result
                onResult(result)
            }
        }
        // Round-robin over the associations, then cut each share into batches of at most 128 contexts.
        var shares = [[Candidate]](repeating: [], count: min(parallelAssociations, max(1, candidates.count)))
        for (n, candidate) in candidates.enumerated() { shares[n % shares.count].append(candidate) }
        let sent = await withTaskGroup(of: [(Int, SendResult)].self) { group in
            for share in shares where !share.isEmpty {
                group.addTask { await self.sendShare(share, onResult: onResult) }
            }
            var all: [(Int, SendResult)] = []
            for await part in group { all += part }
            return all
        }
        for (index, result) in sent { results[index] = result }
        return results.enumerated().map { $0.element ?? SendResult(path: paths[$0.offset], error: "not attempted") }
    }

    static func batches(_ candidates: [Candidate]) -> [[Candidate]] {
        var batches: [[Candidate]] = []
        var current: [Candidate] = []
        var keys: Set<String> = []
        for candidate in candidates {
            if !keys.contains(candidate.key), keys.count == 128 {
                batches.append(current)
                current = []
                keys = []
            }
            keys.insert(candidate.key)
            current.append(candidate)
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    static func contexts(for batch: [Candidate]) -> [PresentationContext] {
        var seen: Set<String> = []
        var contexts: [PresentationContext] = []
        for candidate in batch where seen.insert(candidate.key).inserted {
            var syntaxes = [candidate.transferSyntax.uid]
            for extra in [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid] where !syntaxes.contains(extra) {
                syntaxes.append(extra)
            }
            contexts.append(PresentationContext(id: UInt8(contexts.count * 2 + 1), abstractSyntax: candidate.sopClassUID, transferSyntaxes: syntaxes))
        }
        return contexts
    }

    /// What became of one file sent on an association.
    private enum Outcome: Sendable {
        case done(SendResult)
        /// The association failed under it: recorded as failed, and the files not yet sent go on a new association.
        case associationLost(SendResult)
    }

    /// Sends one file on `association`.
    private func store(_ candidate: Candidate, on association: Association) async -> Outcome {
        do {
            let status = try await association.store(fileAt: candidate.path, sopClassUID: candidate.sopClassUID,
                                                     sopInstanceUID: candidate.sopInstanceUID, transferSyntax: candidate.transferSyntax,
                                                     priority: .medium, temporaryDirectory: temporaryDirectory)
            return .done(SendResult(path: candidate.path, sopInstanceUID: candidate.sopInstanceUID, status: status,
                                    error: status.isSuccessOrWarning ? nil : status.meaning))
        } catch let error as DICOMServiceError where error.code == .noPresentationContext || error.code == .invalidInput {
            return .done(SendResult(path: candidate.path, sopInstanceUID: candidate.sopInstanceUID, error: "not sent: \(error.message)"))
        } catch {
            return .associationLost(SendResult(path: candidate.path, sopInstanceUID: candidate.sopInstanceUID, error: "\(error)"))
        }
    }

    /// Sends a share of the files, batch after batch of at most 128 presentation contexts, each batch on an association
    /// (a new one when the association fails under a file), with up to the granted window of C-STOREs outstanding.
    private func sendShare(_ share: [Candidate], onResult: @Sendable (SendResult) -> Void) async -> [(Int, SendResult)] {
        var out: [(Int, SendResult)] = []
        func record(_ candidate: Candidate, _ result: SendResult) {
            out.append((candidate.index, result))
            onResult(result)
        }
        for batch in Self.batches(share) {
            var pending = batch[...]
            while !pending.isEmpty {
                let association: Association
                do {
                    association = try await DICOMClient.connect(host: host, port: port, callingAE: callingAE, calledAE: calledAE,
                                                                presentationContexts: Self.contexts(for: batch),
                                                                userIdentity: userIdentity, asynchronousOperations: asynchronousOperations,
                                                                maximumPDULength: maximumPDULength, timeouts: timeouts, tls: tls, logger: logger)
                } catch {
                    // The peer cannot be reached or refuses: the rest of the batch fails with the reason.
                    for candidate in pending {
                        record(candidate, SendResult(path: candidate.path, sopInstanceUID: candidate.sopInstanceUID,
                                                     error: "association failed: \(error)"))
                    }
                    break
                }
                let window = max(1, min(asynchronousOperations, association.maximumOutstandingOperations))
                var lost = false
                await withTaskGroup(of: (Candidate, Outcome).self) { group in
                    var running = 0
                    func collect(_ finished: (Candidate, Outcome)) {
                        running -= 1
                        switch finished.1 {
                        case .done(let result): record(finished.0, result)
                        case .associationLost(let result): record(finished.0, result); lost = true
                        }
                    }
                    while !lost, let candidate = pending.first {
                        if running == window {
                            if let finished = await group.next() { collect(finished) }
                            continue
                        }
                        pending.removeFirst()
                        running += 1
                        group.addTask { (candidate, await self.store(candidate, on: association)) }
                    }
                    while let finished = await group.next() { collect(finished) }
                }
                if lost {
                    await association.abort()
                } else {
                    try? await association.release()
                }
            }
        }
        return out
    }
}
