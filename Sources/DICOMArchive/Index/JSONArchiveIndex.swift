import DICOMCore
import DICOMIO
import Dispatch
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The archive index kept as JSON files in one directory:
///
/// - `index.json`: a snapshot of every record (``compact()`` writes it atomically: temporary file, fsync, rename,
///   fsync of the directory), with a schema version;
/// - `journal.jsonl`: one JSON line per change since the snapshot (add, trash, untrash, remove), appended and
///   fsync'ed before the change is applied and before the call returns. Opening replays it over the snapshot;
///   a torn last line left by a crash is dropped and reported in ``diagnostics``.
///
/// Writers that arrive while a journal write is in flight are committed together in the next write and fsync
/// (group commit), so many concurrent `add` calls cost few fsyncs.
///
/// Everything is also held in memory, with per-level maps (patients by ID, studies, series and instances by UID)
/// and a study date index, so study-level queries never scan instances. Patients are keyed by Patient ID alone.
public actor JSONArchiveIndex: ArchiveIndex {
    /// The directory holding the files, or nil for an index kept only in memory.
    public nonisolated let directory: String?
    /// What opening the index had to tolerate (for example a dropped torn journal line).
    public private(set) var diagnostics: [String]

    let state: IndexState
    private let journal: JournalFile?
    private let logger: Logger
    private let ioQueue = DispatchQueue(label: "dicom.archive.index.journal")

    /// Work waiting for the writer in flight: journal entries (applied to the state once written, unless the caller
    /// applies it itself), or a compaction.
    private enum Work {
        case entry(JournalEntry, Data, applyWhenWritten: Bool)
        case compact
    }
    private var writing = false
    private var pending: [(work: Work, continuation: CheckedContinuation<Void, Error>)] = []
    /// Journal writes performed (each one fsync), for tests and benchmarks of group commit.
    public private(set) var journalWriteCount = 0

    static let snapshotName = "index.json"
    static let journalName = "journal.jsonl"

    private init(directory: String?, state: IndexState, journal: JournalFile?, diagnostics: [String], logger: Logger) {
        self.directory = directory
        self.state = state
        self.journal = journal
        self.diagnostics = diagnostics
        self.logger = logger
    }

    /// Opens (creating if needed) the index in `directory`: loads the snapshot, replays the journal.
    ///
    /// `layout` is the archive whose files the records name: journal entries written by ``add(_:placing:)`` while
    /// their files were being placed are checked against it, and a record with no file of its size in `data/` or
    /// `trash/` (a store cut short by a crash, never acknowledged) is skipped and reported in ``diagnostics``.
    /// Without a layout such records are kept.
    /// Throws ``ArchiveIndexError`` when a file cannot be read, the snapshot is corrupt or from a newer schema,
    /// or another process holds the index.
    public static func open(directory: String, checkingFilesIn layout: ArchiveLayout? = nil,
                            logger: Logger = Logger(label: "dicom.archive.index")) async throws -> JSONArchiveIndex {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ArchiveIndexError(.io, "cannot create the index directory: \(error.localizedDescription)", path: directory)
        }
        let state = IndexState()
        var diagnostics: [String] = []
        let snapshotPath = directory + "/" + snapshotName
        if FileManager.default.fileExists(atPath: snapshotPath) {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: snapshotPath)) } catch {
                throw ArchiveIndexError(.io, "cannot read the snapshot: \(error.localizedDescription)", path: snapshotPath)
            }
            let snapshot: IndexSnapshot
            do { snapshot = try IndexSnapshot.decode(data) } catch {
                throw ArchiveIndexError(.corrupt, "the snapshot is not a valid index: \(error)", path: snapshotPath)
            }
            guard snapshot.schemaVersion <= IndexSnapshot.currentSchemaVersion else {
                throw ArchiveIndexError(.corrupt, "the snapshot has schema version \(snapshot.schemaVersion); this version reads up to \(IndexSnapshot.currentSchemaVersion)", path: snapshotPath)
            }
            state.beginBulkLoad()
            for stored in snapshot.records { state.restore(stored) }
        }
        let journalPath = directory + "/" + journalName
        let (entries, validLength) = try JournalFile.read(path: journalPath, diagnostics: &diagnostics)
        state.beginBulkLoad()
        for var entry in entries {
            if entry.checkFiles == true, let layout {
                var placed: [InstanceRecord] = []
                for record in entry.records ?? [] {
                    if isPlaced(record, in: layout) {
                        placed.append(record)
                    } else {
                        diagnostics.append("\(journalPath): skipped instance \(record.sopInstanceUID): \(record.path) is missing or not of its size (a store interrupted before its file was in place, never acknowledged; or replaced or purged since)")
                    }
                }
                entry.records = placed
            }
            apply(entry, to: state)
        }
        state.endBulkLoad()
        for message in diagnostics { logger.warning("\(message)") }
        let created = !FileManager.default.fileExists(atPath: journalPath)
        let journal = try JournalFile(path: journalPath, length: validLength)
        // Make the new journal's directory entry durable too.
        if created { FileSystem.syncDirectory(directory) }
        return JSONArchiveIndex(directory: directory, state: state, journal: journal, diagnostics: diagnostics, logger: logger)
    }

    /// Whether a record's file is in the archive, in `data/` or (trashed since) in `trash/`, with the record's size (a
    /// file of another size at that path is not this record's: one left by an earlier store of the UID that the index
    /// never took, and that `reindex` picks up).
    private static func isPlaced(_ record: InstanceRecord, in layout: ArchiveLayout) -> Bool {
        if FileSystem.fileSize(layout.absolute(record.path)) == record.size { return true }
        guard let trashed = try? layout.relativePath(record.path, movedTo: .trash) else { return false }
        return FileSystem.fileSize(layout.absolute(trashed)) == record.size
    }

    /// An index kept only in memory, loaded with `records` (tests, benchmarks, tools that do not persist).
    public init(inMemory records: [InstanceRecord] = []) {
        directory = nil
        state = IndexState()
        journal = nil
        diagnostics = []
        logger = Logger(label: "dicom.archive.index")
        state.beginBulkLoad()
        for record in records { state.upsert(record) }
        state.endBulkLoad()
    }

    /// Releases the journal's file and lock; later writes throw. Reopening in the same process needs this first.
    public func close() {
        journal?.close()
    }

    private static func apply(_ entry: JournalEntry, to state: IndexState) {
        switch entry.op {
        case .add: for record in entry.records ?? [] { state.upsert(record) }
        case .trash: state.setTrashed(entry.uids ?? [], at: entry.at ?? Date(timeIntervalSince1970: 0))
        case .untrash: state.setTrashed(entry.uids ?? [], at: nil)
        case .remove: state.remove(entry.uids ?? [])
        }
    }

    // MARK: ArchiveIndex

    public func add(_ records: [InstanceRecord]) async throws {
        guard !records.isEmpty else { return }
        try await commit(.add(records))
    }

    /// Writes the journal entry while `placement` makes the files durable, so a store waits for one of the two
    /// fsyncs instead of both; the records are applied once both are done. The entry is marked so that opening the
    /// index checks its files (see ``open(directory:checkingFilesIn:logger:)``). Records of SOP Instance UIDs the
    /// index already holds (visible or trashed) are added the plain way, after `placement`.
    public func add(_ records: [InstanceRecord], placing placement: @escaping @Sendable () async throws -> Void) async throws {
        guard journal != nil, !records.isEmpty, records.allSatisfy({ state.records[$0.sopInstanceUID] == nil }) else {
            try await placement()
            try await add(records)
            return
        }
        var entry = JournalEntry.add(records)
        entry.checkFiles = true
        let line = Self.encodedLine(entry)
        async let placed: Void = placement()
        var journalError: Error?
        do { try await submit(.entry(entry, line, applyWhenWritten: false)) } catch { journalError = error }
        try await placed
        if let journalError { throw journalError }
        JSONArchiveIndex.apply(entry, to: state)
    }

    public func instance(sopInstanceUID: String) async -> InstanceRecord? {
        state.visibleRecord(sopInstanceUID)
    }

    public func find(_ query: IndexQuery) async throws -> [DataSet] {
        try QueryEngine(state: state, access: query.access).find(query)
    }

    public func instances(matching query: IndexQuery) async throws -> [InstanceRecord] {
        try QueryEngine(state: state, access: query.access).instances(matching: query)
    }

    public func setTrashed(_ sopInstanceUIDs: [String], trashed: Bool, at date: Date) async throws {
        guard !sopInstanceUIDs.isEmpty else { return }
        try await commit(JournalEntry(op: trashed ? .trash : .untrash, uids: sopInstanceUIDs, at: trashed ? date : nil))
    }

    public func remove(_ sopInstanceUIDs: [String]) async throws {
        guard !sopInstanceUIDs.isEmpty else { return }
        try await commit(JournalEntry(op: .remove, uids: sopInstanceUIDs))
    }

    public func allRecords() async -> [(record: InstanceRecord, trashedAt: Date?)] {
        state.records.values.sorted { $0.record.sopInstanceUID < $1.record.sopInstanceUID }.map { ($0.record, $0.trashedAt) }
    }

    public func compact() async throws {
        guard journal != nil else { return }
        try await submit(.compact)
    }

    /// Counts of what the index holds (visible patients, studies, series, instances; trashed instances).
    public func statistics() -> (patients: Int, studies: Int, series: Int, instances: Int, trashed: Int) {
        let trashed = state.records.values.filter { $0.trashedAt != nil }.count
        return (state.patients.count, state.studies.count, state.series.count, state.visibleInstanceCount, trashed)
    }

    // MARK: Group commit

    private func commit(_ entry: JournalEntry) async throws {
        guard journal != nil else {
            JSONArchiveIndex.apply(entry, to: state)
            return
        }
        try await submit(.entry(entry, Self.encodedLine(entry), applyWhenWritten: true))
    }

    /// A journal entry as one JSON line.
    private static func encodedLine(_ entry: JournalEntry) -> Data { IndexEncoding.line(entry) }

    /// Runs `work` after everything before it. The first caller to find no write in flight becomes the writer: it
    /// writes its own work, then everything that queued meanwhile, each batch of journal entries in one write and
    /// one fsync, and resumes the callers it wrote for.
    private func submit(_ work: Work) async throws {
        if writing {
            try await withCheckedThrowingContinuation { continuation in
                pending.append((work, continuation))
            }
            return
        }
        writing = true
        defer { writing = false }
        var ownResult: Result<Void, Error> = .success(())
        var batch: [(work: Work, continuation: CheckedContinuation<Void, Error>?)] = [(work, nil)]
        while !batch.isEmpty {
            var index = 0
            while index < batch.count {
                if case .compact = batch[index].work {
                    let data = snapshotData()
                    let journal = self.journal, path = (directory ?? ".") + "/" + JSONArchiveIndex.snapshotName
                    let result = await perform {
                        try JSONArchiveIndex.writeAtomically(data, to: path)
                        try journal?.truncate()
                    }
                    finish([batch[index]], result, &ownResult)
                    index += 1
                    continue
                }
                var group: [(work: Work, continuation: CheckedContinuation<Void, Error>?)] = []
                var bytes = Data()
                while index < batch.count, case .entry(_, let line, _) = batch[index].work {
                    group.append(batch[index])
                    bytes.append(line)
                    index += 1
                }
                let journal = self.journal, written = bytes
                let result = await perform { try journal?.append(written) }
                journalWriteCount += 1
                if case .success = result {
                    for item in group {
                        if case .entry(let entry, _, true) = item.work { JSONArchiveIndex.apply(entry, to: state) }
                    }
                }
                finish(group, result, &ownResult)
            }
            batch = pending.map { ($0.work, $0.continuation) }
            pending.removeAll()
        }
        try ownResult.get()
    }

    private func finish(_ items: [(work: Work, continuation: CheckedContinuation<Void, Error>?)], _ result: Result<Void, Error>,
                        _ ownResult: inout Result<Void, Error>) {
        if case .failure(let error) = result { logger.error("index write failed: \(error)") }
        for item in items {
            if let continuation = item.continuation { continuation.resume(with: result) } else { ownResult = result }
        }
    }

    /// Runs blocking file work on the index's I/O queue, off the cooperative thread pool.
    private func perform(_ body: @escaping @Sendable () throws -> Void) async -> Result<Void, Error> {
        await withCheckedContinuation { continuation in
            ioQueue.async { continuation.resume(returning: Result { try body() }) }
        }
    }

    /// The snapshot of every record, encoded.
    private func snapshotData() -> Data {
        let records = state.records.values.sorted { $0.record.sopInstanceUID < $1.record.sopInstanceUID }
        return IndexEncoding.snapshot(records, schemaVersion: IndexSnapshot.currentSchemaVersion)
    }

    /// Temporary file, fsync, rename, fsync of the directory (``DICOMIO/AtomicFile``).
    private static func writeAtomically(_ data: Data, to path: String) throws {
        do { try AtomicFile.write(data, to: path) } catch {
            throw ArchiveIndexError(.io, "cannot write the snapshot: \(error)", path: path)
        }
    }
}
