import DICOMCodecs
import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What to do when an instance arrives whose SOP Instance UID is already stored with different content.
/// (Identical content — the same data set, whichever AE sent it, in the same transfer syntax or in another little
/// endian one — is always answered with success and stored once.)
public enum DuplicatePolicy: String, Sendable, Codable, CaseIterable {
    /// Keep the stored instance, discard the new one, answer with warning B000H.
    case keep
    /// Replace the stored instance atomically with the new one and update the index; answer success.
    case replace
    /// Discard the new one and answer failure 0111H (Duplicate SOP Instance, PS3.7 Annex C).
    case reject
}

/// How an ``ArchiveStore`` accepts instances.
public struct ArchiveStoreConfiguration: Sendable {
    /// What to do with a different instance under an existing SOP Instance UID. Default ``DuplicatePolicy/keep``.
    public var duplicatePolicy: DuplicatePolicy
    /// When set, only these calling AE titles may store; others get 0124H (Refused: Not authorized).
    /// (A server may also reject such associations outright; this is the per-request check.)
    public var allowedCallingAETitles: Set<String>?
    /// Refuse (A900H) a data set whose SOP Class UID (0008,0016) differs from the C-STORE's Affected SOP Class UID.
    public var requireMatchingSOPClass: Bool
    /// When set, images are stored in this (lossless) transfer syntax, e.g. JPEG-LS or JPEG 2000 lossless to save
    /// disk over the retention period: pixel data is re-encoded on arrival with the built-in codecs. An instance
    /// that cannot be converted (no codec, corrupt frames, no pixel data) is stored as received.
    public var storageTransferSyntax: TransferSyntax?
    /// Whether received instances are written straight to the disk (`O_DIRECT`, past the page cache) where the file
    /// system supports it. Default true: about half the CPU per instance, and no page cache filled with data that is
    /// on disk anyway; false writes through the page cache (a little quicker with one association when the machine
    /// has warm free memory, see docs/BENCHMARKS.md, session 11).
    public var writesDirectly = true

    /// Test hook: simulate a failing write (for example ENOSPC after some bytes).
    var writeFault: WriteFault?

    public init(duplicatePolicy: DuplicatePolicy = .keep, allowedCallingAETitles: Set<String>? = nil,
                requireMatchingSOPClass: Bool = true) {
        self.duplicatePolicy = duplicatePolicy
        self.allowedCallingAETitles = allowedCallingAETitles
        self.requireMatchingSOPClass = requireMatchingSOPClass
    }

    /// The configuration with images stored in `syntax`.
    /// - Throws: ``ArchiveError`` for a lossy syntax or one without a built-in encoder.
    public func storing(in syntax: TransferSyntax) throws -> ArchiveStoreConfiguration {
        guard !syntax.isLossy else {
            throw ArchiveError(.invalidArgument, "\(syntax.name) is lossy: the archive stores only in lossless syntaxes")
        }
        guard !syntax.isEncapsulated || CodecRegistry.encoder(for: syntax.uid) != nil else {
            throw ArchiveError(.invalidArgument, "no built-in encoder writes \(syntax.name)")
        }
        var copy = self
        copy.storageTransferSyntax = syntax
        return copy
    }
}

/// The result of storing one instance: the C-STORE status, the Error Comment (0000,0902) explaining it, what
/// happened, and the record indexed.
public struct StoreResult: Sendable {
    /// What the store did.
    public enum Outcome: String, Sendable, Codable {
        /// A new instance was written and indexed.
        case stored
        /// The same bytes were already stored: nothing written.
        case identicalDuplicate
        /// Different content under a stored SOP Instance UID, kept the old one (policy ``DuplicatePolicy/keep``).
        case duplicateKept
        /// Different content replaced the stored one (policy ``DuplicatePolicy/replace``).
        case replaced
        /// Different content refused (policy ``DuplicatePolicy/reject``).
        case duplicateRejected
        /// Refused or failed; nothing stored.
        case failed
    }

    public var status: DIMSEStatus
    public var outcome: Outcome
    /// Why, for the Error Comment (0000,0902) of the C-STORE-RSP and the log. Nil on plain success.
    public var comment: String?
    /// The index record of the instance now stored (nil on failure).
    public var record: InstanceRecord?

    public init(status: DIMSEStatus, outcome: Outcome, comment: String? = nil, record: InstanceRecord? = nil) {
        self.status = status
        self.outcome = outcome
        self.comment = comment
        self.record = record
    }
}

/// The archive's on-disk store: receives instances into `data/<Study>/<Series>/<SOP>.dcm` as Part 10 files and
/// indexes them (PS3.4 Annex B storage SCP semantics).
///
/// Each instance is written to `tmp/` (File Meta Information plus the data set bytes streamed from the received file,
/// SHA-256 computed on the way; a received Part 10 file is taken as it is, hashed while it arrived), parsed (metadata
/// only) to check its identifying attributes; then, while the index writes its journal entry, it is fsynced, renamed
/// into place and its directory fsynced, and success is answered once both are durable (an entry whose file did not
/// make it into place before a crash was never acknowledged, and the index drops it when it opens). Many associations
/// may store at once (their journal entries and fsyncs of a shared directory are grouped); the same SOP Instance UID is
/// handled one at a time.
///
/// Status codes (PS3.4 Table B.2-1, PS3.7 Annex C):
/// - 0000H success (also for an identical duplicate);
/// - B000H warning: a different instance with this SOP Instance UID is already stored and was kept (policy `keep`).
///   The Storage Service Class defines no warning for duplicates; B000H ("coercion of data elements") is the closest:
///   what the archive holds under this UID is not what was sent;
/// - 0111H duplicate SOP instance (policy `reject`);
/// - 0124H refused, not authorized (calling AE title not allowed);
/// - A700H out of resources (disk full, quota exceeded, or another write error; nothing partial is left);
/// - A900H data set does not match: its SOP Instance UID (or SOP Class UID) differs from the command's;
/// - C000H cannot understand: data set unreadable, a UID missing or not usable as a file name;
/// - 0110H processing failure: any other error (for example the index could not be written).
public final class ArchiveStore: Sendable {
    public let layout: ArchiveLayout
    public let index: any ArchiveIndex
    public let configuration: ArchiveStoreConfiguration
    let logger: Logger
    let locks = KeyedLock()
    let directorySync = DirectorySync()

    /// Opens the store, creating the archive's directories as needed.
    /// - Throws: ``ArchiveError`` when the directories cannot be created.
    public init(layout: ArchiveLayout, index: any ArchiveIndex, configuration: ArchiveStoreConfiguration = ArchiveStoreConfiguration(),
                logger: Logger = Logger(label: "dicom.archive.store")) throws {
        try layout.createDirectories()
        self.layout = layout
        self.index = index
        self.configuration = configuration
        self.logger = logger
        Self.removeStaleTemporaryFiles(in: layout.temporaryDirectory)
    }

    /// Stores an instance received by C-STORE. A received Part 10 file on the archive's file system is hashed, checked
    /// and renamed into place (the data is written once); otherwise it is copied into the archive first.
    ///
    /// `whileCommitting` runs with the record of an instance about to be stored or to replace the stored one, while
    /// its file and index entry are made durable (not for duplicates or refusals); the store returns once both are
    /// done. A forwarding node queues the instance there instead of after the store.
    public func store(_ instance: ReceivedInstance, receivedAt: Date = Date(),
                      whileCommitting work: (@Sendable (InstanceRecord) async -> Void)? = nil) async -> StoreResult {
        let source: Source = instance.dataSetOffset > 0
            ? .part10File(instance.filePath, sha256: instance.sha256, leadingBytes: instance.leadingBytes) : .dataSet(instance.filePath)
        return await store(source, transferSyntaxUID: instance.transferSyntaxUID, sopClassUID: instance.sopClassUID,
                           sopInstanceUID: instance.sopInstanceUID, callingAETitle: instance.callingAETitle.value,
                           receivedAt: receivedAt, whileCommitting: work)
    }

    /// Stores a bare data set (no File Meta Information) encoded in `transferSyntaxUID` from the file at `path`,
    /// as announced by a C-STORE with the given affected SOP Class and Instance UIDs. The file is only read.
    public func store(dataSetAt path: String, transferSyntaxUID: String, sopClassUID: String, sopInstanceUID: String,
                      callingAETitle: String, receivedAt: Date = Date()) async -> StoreResult {
        await store(.dataSet(path), transferSyntaxUID: transferSyntaxUID, sopClassUID: sopClassUID,
                    sopInstanceUID: sopInstanceUID, callingAETitle: callingAETitle, receivedAt: receivedAt)
    }

    /// What a store starts from.
    private enum Source {
        /// A bare data set, to be written behind new File Meta Information (the file is only read).
        case dataSet(String)
        /// A complete Part 10 file whose File Meta Information matches the request, its SHA-256 when known, and its
        /// first bytes when kept in memory; moved into the archive when it is on the archive's file system.
        case part10File(String, sha256: String?, leadingBytes: Data?)
    }

    private func store(_ source: Source, transferSyntaxUID: String, sopClassUID: String, sopInstanceUID: String,
                       callingAETitle: String, receivedAt: Date,
                       whileCommitting work: (@Sendable (InstanceRecord) async -> Void)? = nil) async -> StoreResult {
        let result = await storeUnlogged(source, transferSyntaxUID: transferSyntaxUID, sopClassUID: sopClassUID,
                                         sopInstanceUID: sopInstanceUID, callingAETitle: callingAETitle, receivedAt: receivedAt,
                                         whileCommitting: work)
        if result.status.category == .success {
            logger.debug("stored", metadata: ["sop": "\(sopInstanceUID)", "outcome": "\(result.outcome.rawValue)"])
        } else {
            logger.warning("C-STORE \(result.status) for \(sopInstanceUID) from \(callingAETitle): \(result.comment ?? "")")
        }
        return result
    }

    private func storeUnlogged(_ source: Source, transferSyntaxUID: String, sopClassUID: String, sopInstanceUID: String,
                               callingAETitle: String, receivedAt: Date,
                               whileCommitting work: (@Sendable (InstanceRecord) async -> Void)?) async -> StoreResult {
        if let allowed = configuration.allowedCallingAETitles, !allowed.contains(callingAETitle) {
            return StoreResult(status: .notAuthorized, outcome: .failed,
                               comment: "calling AE title \"\(callingAETitle)\" is not allowed to store in this archive")
        }
        // The Part 10 file to check, hash and move into place: the received one when it can be renamed into the
        // archive, else a copy in tmp/ (behind a new header for a bare data set).
        var temporary = ""
        var header = Data()
        var adopt = false
        var knownSHA256: String?
        var knownLeadingBytes: Data?
        switch source {
        case .dataSet:
            // A non-deflated stand-in with the same UID, as the data set bytes that follow are already encoded.
            let known = TransferSyntax(uid: transferSyntaxUID)
            let headerSyntax = TransferSyntax(uid: transferSyntaxUID, name: known?.name ?? transferSyntaxUID)
            let meta = FileMetaInformation.make(sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID,
                                                transferSyntax: headerSyntax, sourceAETitle: callingAETitle)
            do {
                header = try DICOMFile(preamble: Data(count: 128), fileMetaInformation: meta, dataSet: DataSet(),
                                       transferSyntax: headerSyntax).encoded()
            } catch {
                return StoreResult(status: .cannotUnderstand, outcome: .failed, comment: "cannot encode File Meta Information: \(error)")
            }
        case .part10File(let path, let sha256, let leadingBytes):
            if FileSystem.sameFileSystem(path, layout.temporaryDirectory) {
                temporary = path
                adopt = true
                knownSHA256 = sha256
                knownLeadingBytes = leadingBytes
            }
        }
        if !adopt { temporary = layout.temporaryFileName() }
        var temporaryExists = adopt
        defer { if temporaryExists { unlink(temporary) } }

        // 1. Write (or take) the Part 10 file, hashing it; read back its identifying attributes.
        let written: (size: Int, sha256: String, dataSet: DataSet)
        do {
            let fault = configuration.writeFault
            let input: String = switch source { case .dataSet(let path), .part10File(let path, _, _): path }
            if adopt, let knownSHA256, let size = FileSystem.fileSize(temporary),
               let dataSet = Self.metadata(inLeadingBytes: knownLeadingBytes, ofFileOfSize: size) {
                // Everything is known or in memory: no file to read, so no hand-over to a blocking thread (a stat of
                // the file just written does not wait for the device).
                written = (size, knownSHA256, dataSet)
            } else {
                written = try await runBlocking { [temporary, header, adopt, knownSHA256, knownLeadingBytes] in
                    let (size, sha256) = if adopt, let knownSHA256, let size = FileSystem.fileSize(temporary) {
                        (size, knownSHA256)
                    } else if adopt {
                        try FileSystem.sha256(ofFileAt: temporary)
                    } else {
                        try FileSystem.writeConcatenation(header: header, contentsOf: input, to: temporary, fault: fault)
                    }
                    let dataSet: DataSet
                    do {
                        dataSet = try Self.metadata(inLeadingBytes: knownLeadingBytes, ofFileOfSize: size)
                            ?? DICOMFile(contentsOf: temporary, options: .metadataOnly).dataSet
                    } catch {
                        throw UnreadableDataSet(message: "\(error)")
                    }
                    return (size, sha256, dataSet)
                }
            }
            temporaryExists = true
        } catch let error as UnreadableDataSet {
            temporaryExists = FileSystem.fileExists(temporary)
            return StoreResult(status: .cannotUnderstand, outcome: .failed, comment: "cannot read the data set: \(error.message)")
        } catch {
            return failure(error, doing: "write")
        }
        var storedSize = written.size, storedSHA256 = written.sha256, storedSyntaxUID = transferSyntaxUID

        // 1b. Re-encode the pixel data in the configured storage syntax; on failure keep the instance as received.
        if let target = configuration.storageTransferSyntax, target.uid != transferSyntaxUID,
           let received = TransferSyntax(uid: transferSyntaxUID), Transcoder.canTranscode(from: received, to: target) {
            let converted = layout.temporaryFileName()
            do {
                let (size, sha256) = try await runBlocking { [temporary] in
                    try Self.convert(temporary, from: received, to: target, writingTo: converted,
                                     sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID, sourceAETitle: callingAETitle)
                }
                unlink(temporary)
                temporary = converted
                (storedSize, storedSHA256, storedSyntaxUID) = (size, sha256, target.uid)
            } catch is NoPixelData {
                unlink(converted)
            } catch {
                unlink(converted)
                logger.warning("stored as received, not in \(target.name): \(error)", metadata: ["sop": "\(sopInstanceUID)"])
            }
        }

        // 2. Check the identifying attributes.
        let record: InstanceRecord
        do {
            let dataSet = written.dataSet
            let study = try StoreRecords.requiredUID(StoreRecords.studyInstanceUID, in: dataSet)
            let series = try StoreRecords.requiredUID(StoreRecords.seriesInstanceUID, in: dataSet)
            let instance = try StoreRecords.requiredUID(StoreRecords.sopInstanceUID, in: dataSet)
            guard instance == sopInstanceUID else {
                return StoreResult(status: .dataSetDoesNotMatchSOPClass, outcome: .failed,
                                   comment: "SOP Instance UID (0008,0018) \"\(UIDPathComponent.printable(instance))\" in the data set differs from the Affected SOP Instance UID \"\(UIDPathComponent.printable(sopInstanceUID))\" of the C-STORE request")
            }
            if configuration.requireMatchingSOPClass, let dataSetClass = dataSet.string(StoreRecords.sopClassUID),
               dataSetClass != sopClassUID {
                return StoreResult(status: .dataSetDoesNotMatchSOPClass, outcome: .failed,
                                   comment: "SOP Class UID (0008,0016) \"\(UIDPathComponent.printable(dataSetClass))\" in the data set differs from the Affected SOP Class UID \"\(UIDPathComponent.printable(sopClassUID))\" of the C-STORE request")
            }
            let relative = try layout.relativePath(studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: instance)
            record = try InstanceRecord.make(from: dataSet, path: relative, size: storedSize, transferSyntaxUID: storedSyntaxUID,
                                             sha256: storedSHA256, receivedAt: receivedAt, callingAETitle: callingAETitle)
        } catch let error as ArchiveError {
            return StoreResult(status: .cannotUnderstand, outcome: .failed, comment: error.message)
        } catch let error as ArchiveIndexError {
            return StoreResult(status: .cannotUnderstand, outcome: .failed, comment: error.message)
        } catch {
            return StoreResult(status: .cannotUnderstand, outcome: .failed, comment: "\(error)")
        }

        // 3. Duplicates, then move into place and index — one SOP Instance UID at a time.
        return await locks.withLock(sopInstanceUID) {
            await commit(record, temporary: temporary, temporaryExists: &temporaryExists, whileCommitting: work)
        }
    }

    /// Whether two Part 10 files hold the same data set bytes after their File Meta Information (false when either
    /// cannot be read or has no group length to find its data set by).
    static func sameDataSet(_ first: String, _ second: String) -> Bool {
        guard let a = try? Data(contentsOf: URL(fileURLWithPath: first), options: .alwaysMapped),
              let b = try? Data(contentsOf: URL(fileURLWithPath: second), options: .alwaysMapped),
              let aStart = Part10Layout.dataSetOffset(in: a), let bStart = Part10Layout.dataSetOffset(in: b),
              a.count - aStart == b.count - bStart else { return false }
        return a[(a.startIndex + aStart)...] == b[(b.startIndex + bStart)...]
    }

    /// The transfer syntaxes whose data sets ``sameContent(_:_:_:_:)`` compares: the little endian ones without
    /// encapsulated pixel data, which read into the same elements.
    static let comparableSyntaxes: Set<String> = [TransferSyntax.implicitVRLittleEndian.uid, TransferSyntax.explicitVRLittleEndian.uid,
                                                  TransferSyntax.deflatedExplicitVRLittleEndian.uid]
    /// The largest file ``sameContent(_:_:_:_:)`` reads whole to compare (larger ones count as different).
    static let maximumComparedFileSize = 64 << 20

    /// Whether two Part 10 files in different little endian transfer syntaxes hold the same data set
    /// (``sameElements(_:_:)``). False for other syntaxes, for a file larger than ``maximumComparedFileSize``, or when
    /// either does not read.
    static func sameContent(_ first: String, _ firstSyntax: String, _ second: String, _ secondSyntax: String) -> Bool {
        guard comparableSyntaxes.contains(firstSyntax), comparableSyntaxes.contains(secondSyntax),
              let firstSize = FileSystem.fileSize(first), let secondSize = FileSystem.fileSize(second),
              firstSize <= maximumComparedFileSize, secondSize <= maximumComparedFileSize,
              let a = try? DICOMFile(contentsOf: first), let b = try? DICOMFile(contentsOf: second) else { return false }
        return sameElements(a.dataSet, b.dataSet)
    }

    /// The same elements (group lengths aside) with the same value bytes, item by item in sequences. The VRs are not
    /// compared: in little endian the value bytes are the same whatever the VR says (implicit VR reads private
    /// elements as UN, Pixel Data as OW). A sequence on one side and UN bytes on the other count as different.
    static func sameElements(_ a: DataSet, _ b: DataSet) -> Bool {
        let first = a.elements.filter { !$0.tag.isGroupLength }, second = b.elements.filter { !$0.tag.isGroupLength }
        guard first.count == second.count else { return false }
        for (x, y) in zip(first, second) {
            guard x.tag == y.tag else { return false }
            switch (x.value, y.value) {
            case (.bytes(let p), .bytes(let q)):
                guard p == q else { return false }
            case (.sequence(let i), .sequence(let j)):
                guard i.count == j.count, zip(i, j).allSatisfy({ sameElements($0, $1) }) else { return false }
            case (.encapsulated(let p), .encapsulated(let q)):
                guard p == q else { return false }
            default:
                return false
            }
        }
        return true
    }

    private struct UnreadableDataSet: Error { var message: String }
    private struct NoPixelData: Error {}

    /// Writes the Part 10 file at `path` as a new file in `target` (pixel data re-encoded, File Meta Information
    /// renewed); returns its size and SHA-256. Throws ``NoPixelData`` for an instance without images.
    private static func convert(_ path: String, from source: TransferSyntax, to target: TransferSyntax, writingTo output: String,
                                sopClassUID: String, sopInstanceUID: String, sourceAETitle: String) throws -> (size: Int, sha256: String) {
        let file = try DICOMFile(contentsOf: path)
        guard file.dataSet.contains(.pixelData) else { throw NoPixelData() }
        let dataSet = try Transcoder().transcode(file.dataSet, from: source, to: target)
        let meta = FileMetaInformation.make(sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID, transferSyntax: target,
                                            sourceAETitle: sourceAETitle)
        let encoded = try DICOMFile(preamble: Data(count: 128), fileMetaInformation: meta, dataSet: dataSet, transferSyntax: target).encoded()
        guard FileManager.default.createFile(atPath: output, contents: encoded) else {
            throw ArchiveError(.io, "cannot write the converted instance", path: output)
        }
        return try FileSystem.sha256(ofFileAt: output)
    }

    /// The metadata of a received file from its first bytes kept in memory, when they hold all of it (the file was
    /// written past the page cache: reading it back would go to the disk); nil when they do not, or were not kept.
    private static func metadata(inLeadingBytes leadingBytes: Data?, ofFileOfSize size: Int) -> DataSet? {
        guard let leadingBytes,
              let file = (try? DICOMFile.metadata(fromPrefix: leadingBytes, isWholeFile: leadingBytes.count == size)) ?? nil
        else { return nil }
        return file.dataSet
    }

    /// Moves the checked file into place and indexes it, running `work` meanwhile.
    private func commit(_ record: InstanceRecord, temporary: String, temporaryExists: inout Bool,
                        whileCommitting work: (@Sendable (InstanceRecord) async -> Void)?) async -> StoreResult {
        let destination = layout.absolute(record.path)
        let existing = await index.instance(sopInstanceUID: record.sopInstanceUID)
        var outcome = StoreResult.Outcome.stored
        if let existing {
            let existingPath = layout.absolute(existing.path)
            var identical = false
            if FileSystem.fileExists(existingPath) {
                // Another SHA-256 can still be the same data set: from another sender (only the File Meta
                // Information's Source AE Title differs), or in another little endian syntax.
                let existingSyntax = existing.transferSyntaxUID, newSyntax = record.transferSyntaxUID
                identical = existing.sha256 == record.sha256 ? true : (try? await runBlocking {
                    existingSyntax == newSyntax ? Self.sameDataSet(existingPath, temporary)
                        : Self.sameContent(existingPath, existingSyntax, temporary, newSyntax)
                }) == true
            }
            if identical {
                return StoreResult(status: .success, outcome: .identicalDuplicate,
                                   comment: "an identical instance is already stored", record: existing)
            }
            if existing.sha256 != record.sha256 {
                switch configuration.duplicatePolicy {
                case .keep:
                    return StoreResult(status: .coercionOfDataElements, outcome: .duplicateKept,
                                       comment: "a different instance with SOP Instance UID \(record.sopInstanceUID) is already stored; it was kept and this one discarded",
                                       record: existing)
                case .reject:
                    return StoreResult(status: .duplicateSOPInstance, outcome: .duplicateRejected,
                                       comment: "a different instance with SOP Instance UID \(record.sopInstanceUID) is already stored")
                case .replace:
                    outcome = .replaced
                }
            }
        }
        let previousPath = existing.map { layout.absolute($0.path) }
        let trashCopy = layout.absolute((try? layout.relativePath(record.path, movedTo: .trash)) ?? record.path)
        // The file is fsynced, renamed into place and its directory fsynced (shared with concurrent stores into it)
        // while the index writes its journal entry: the answer waits for the longer of the two, not for both in a row.
        // (An instance replacing one the index holds is placed first, then indexed: the index does that itself.)
        let directory = (destination as NSString).deletingLastPathComponent
        let placing: @Sendable () async throws -> Void = { [directorySync] in
            // One thread for the three steps: the directory's fsync is this thread's own when none of that directory
            // is running, else it waits for the next one (shared with concurrent stores into the directory).
            try await runBlocking {
                try FileSystem.syncFile(temporary)
                try FileSystem.move(temporary, to: destination, syncingDirectories: false)
                try directorySync.syncBlocking(directory)
            }
        }
        do {
            if let work {
                async let alongside: Void = work(record)
                do {
                    try await index.add([record], placing: placing)
                } catch {
                    await alongside
                    throw error
                }
                await alongside
            } else {
                // No child task when there is nothing to run alongside.
                try await index.add([record], placing: placing)
            }
            temporaryExists = false
        } catch {
            temporaryExists = FileSystem.fileExists(temporary)
            // Not durable: take a new file back out so that disk and index agree (a replaced file stays replaced;
            // `reindex` picks it up).
            if !temporaryExists && existing == nil { unlink(destination) }
            if let error = error as? ArchiveError { return failure(error, doing: "store") }
            return StoreResult(status: .processingFailure, outcome: .failed, comment: "cannot update the index: \(error)")
        }
        // A replaced instance that moved to another study or series leaves its old file behind; a copy in the trash
        // is superseded by the new one.
        if let previousPath, previousPath != destination { unlink(previousPath) }
        if trashCopy != destination && FileSystem.fileExists(trashCopy) { unlink(trashCopy) }
        return StoreResult(status: .success, outcome: outcome,
                           comment: outcome == .replaced ? "replaced the stored instance with different content" : nil, record: record)
    }

    private func failure(_ error: Error, doing what: String) -> StoreResult {
        if let error = error as? ArchiveError {
            switch error.code {
            case .outOfSpace:
                return StoreResult(status: .outOfResources, outcome: .failed, comment: "out of disk space: \(error.message)")
            default:
                return StoreResult(status: .outOfResources, outcome: .failed, comment: "cannot \(what) the instance: \(error.message)")
            }
        }
        return StoreResult(status: .processingFailure, outcome: .failed, comment: "cannot \(what) the instance: \(error)")
    }

    /// Files left in tmp/ by a crash are incomplete: remove them at start-up.
    static func removeStaleTemporaryFiles(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasSuffix(".part") { unlink(directory + "/" + name) }
    }
}
