import DICOMCore
import DICOMIO
import Foundation

extension ArchiveLifecycle {
    /// Rebuilds the index from the files alone: walks `data/` and `trash/`, reads each `.dcm` file's metadata
    /// (up to the pixel data), hashes it, and writes one record per file; records whose file is gone are removed.
    ///
    /// Receive time and calling AE title are kept from the old record when there is one; otherwise they come from the
    /// file's modification time and its Source Application Entity Title (0002,0016). A trashed file's trash time is its
    /// modification time (set when it was trashed). When an instance is both in `data/` and `trash/`, `data/` wins.
    public func reindex(now: Date = Date()) async throws -> ReindexReport {
        let old = await index.allRecords()
        var oldBySOP: [String: (record: InstanceRecord, trashedAt: Date?)] = [:]
        for entry in old { oldBySOP[entry.record.sopInstanceUID] = entry }
        let previous = oldBySOP
        let layout = self.layout

        struct Found: Sendable { var record: InstanceRecord; var trashedAt: Date? }
        let (found, scanned, problems) = try await runBlocking { () -> ([Found], Int, [LifecycleProblem]) in
            var found: [String: Found] = [:]
            var problems: [LifecycleProblem] = []
            var scanned = 0
            for area in [ArchiveLayout.Area.data, .trash] {
                let directory = area == .data ? layout.dataDirectory : layout.trashDirectory
                for relative in Self.files(under: directory, relativeTo: layout.root) {
                    scanned += 1
                    let path = layout.absolute(relative)
                    guard relative.hasSuffix(".dcm") else {
                        problems.append(LifecycleProblem(sopInstanceUID: "", path: relative, message: "not a .dcm file; skipped"))
                        continue
                    }
                    do {
                        let file = try DICOMFile(contentsOf: path, options: .metadataOnly)
                        let (size, sha256) = try FileSystem.sha256(ofFileAt: path)
                        let dataPath = try layout.relativePath(relative, movedTo: .data)
                        let sop = try StoreRecords.requiredUID(StoreRecords.sopInstanceUID, in: file.dataSet)
                        let mtime = FileSystem.modificationTime(path) ?? now
                        let before = previous[sop]?.record
                        let record = try InstanceRecord.make(
                            from: file.dataSet, path: dataPath, size: size,
                            transferSyntaxUID: file.fileMetaInformation.string(Tag(0x0002, 0x0010)) ?? file.transferSyntax.uid,
                            sha256: sha256, receivedAt: before?.receivedAt ?? mtime,
                            callingAETitle: before?.callingAETitle ?? file.fileMetaInformation.string(Tag(0x0002, 0x0016)) ?? "")
                        if let existing = found[sop] {
                            problems.append(LifecycleProblem(sopInstanceUID: sop, path: relative,
                                                             message: "SOP Instance UID already found at \(existing.trashedAt == nil ? existing.record.path : (try? layout.relativePath(existing.record.path, movedTo: .trash)) ?? existing.record.path); this copy is not indexed"))
                            continue
                        }
                        found[sop] = Found(record: record, trashedAt: area == .trash ? mtime : nil)
                    } catch {
                        problems.append(LifecycleProblem(sopInstanceUID: "", path: relative, message: "\(error)"))
                    }
                }
            }
            return (found.values.sorted { $0.record.path < $1.record.path }, scanned, problems)
        }

        let foundSOPs = Set(found.map(\.record.sopInstanceUID))
        let gone = old.map(\.record.sopInstanceUID).filter { !foundSOPs.contains($0) }
        if !gone.isEmpty { try await index.remove(gone) }
        var start = 0
        while start < found.count {
            let end = min(start + 1000, found.count)
            try await index.add(found[start..<end].map(\.record))
            start = end
        }
        // Trash state: group by trash time; clear it for files found under data/.
        var byTime: [Date: [String]] = [:]
        var untrash: [String] = []
        for item in found {
            if let trashedAt = item.trashedAt {
                byTime[trashedAt, default: []].append(item.record.sopInstanceUID)
            } else if previous[item.record.sopInstanceUID]?.trashedAt != nil {
                untrash.append(item.record.sopInstanceUID)
            }
        }
        for (time, uids) in byTime.sorted(by: { $0.key < $1.key }) { try await index.setTrashed(uids, trashed: true, at: time) }
        if !untrash.isEmpty { try await index.setTrashed(untrash, trashed: false, at: now) }
        try await index.compact()

        let trashed = found.filter { $0.trashedAt != nil }.count
        let report = ReindexReport(filesScanned: scanned, indexed: found.count, trashed: trashed,
                                   bytes: found.reduce(0) { $0 + $1.record.size }, removedFromIndex: gone.count, unreadable: problems)
        try audit.append(AuditEntry(time: now, action: "reindex", count: found.count, bytes: report.bytes, user: user, host: host,
                                    reason: "index rebuilt from \(scanned) files"))
        return report
    }
}
