import Crypto
import DICOMCore
import DICOMIO
import DICOMNetwork
@testable import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive
#if canImport(Glibc)
import Glibc
#endif

@Suite("Store: UID path components")
struct StoreUIDPathTests {
    @Test func acceptsUIDs() throws {
        #expect(try UIDPathComponent("1.2.840.10008.5.1.4.1.1.2").value == "1.2.840.10008.5.1.4.1.1.2")
        #expect(try UIDPathComponent("0").value == "0")
        #expect(try UIDPathComponent(String(repeating: "1", count: 64)).value.count == 64)
    }

    @Test(arguments: [
        ("", "empty"),
        ("1.2/3", "'/' at position 4"),
        ("..", "starts with a dot"),
        ("1..2", "empty component"),
        (".1.2", "starts with a dot"),
        ("1.2.", "ends with a dot"),
        (String(repeating: "1", count: 65), "65 characters"),
        ("1.2.abc", "'a' at position 5"),
        ("../../etc/passwd", "'/' at position 3"),
        ("1.2\u{0}3", "byte 00H"),
        ("1 2", "' ' at position 2"),
    ])
    func rejects(uid: String, reason: String) {
        do {
            _ = try UIDPathComponent(uid, attribute: "Series Instance UID")
            Issue.record("accepted \(uid)")
        } catch let error as ArchiveError {
            #expect(error.code == .invalidUID)
            #expect(error.uid == uid)
            #expect(error.message.contains("Series Instance UID"))
            #expect(error.message.contains(reason), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func layoutPaths() throws {
        let layout = ArchiveLayout(root: "/srv/archive/")
        #expect(layout.root == "/srv/archive")
        #expect(try layout.relativePath(studyInstanceUID: "1.2", seriesInstanceUID: "1.2.3", sopInstanceUID: "1.2.3.4") == "data/1.2/1.2.3/1.2.3.4.dcm")
        #expect(try layout.relativePath(studyInstanceUID: "1.2", seriesInstanceUID: "1.2.3", sopInstanceUID: "1.2.3.4", in: .trash) == "trash/1.2/1.2.3/1.2.3.4.dcm")
        #expect(try layout.relativePath("data/1/2/3.dcm", movedTo: .trash) == "trash/1/2/3.dcm")
        #expect(throws: ArchiveError.self) { try layout.relativePath(studyInstanceUID: "1.2", seriesInstanceUID: "..", sopInstanceUID: "1") }
        #expect(throws: ArchiveError.self) { try layout.relativePath("index/x", movedTo: .trash) }
        #expect(layout.auditLogPath == "/srv/archive/audit.jsonl")
        #expect(ArchiveLayout().root == "./archive")
    }
}

@Suite("Store: C-STORE into the archive")
struct StoreTests {
    @Test func storesReadablePart10WithMetaAndHash() async throws {
        let archive = try await StoreFixtures.archive("ok")
        defer { archive.remove() }
        let dataSet = try StoreFixtures.dataSet(sop: "1.2.3.4.5.1")
        let received = Date(timeIntervalSince1970: 1_700_000_000)
        let result = try await archive.store(dataSet, callingAETitle: "CT01", receivedAt: received)
        #expect(result.status == .success)
        #expect(result.outcome == .stored)
        let record = try #require(result.record)
        #expect(record.path == "data/1.2.826.0.1.3680043.10.999.1/1.2.826.0.1.3680043.10.999.1.1/1.2.3.4.5.1.dcm")
        let path = archive.layout.absolute(record.path)

        let file = try DICOMFile(contentsOf: path)
        #expect(file.preamble?.count == 128)
        #expect(file.fileMetaInformation.string(Tag(0x0002, 0x0002)) == StoreFixtures.ctImage)
        #expect(file.fileMetaInformation.string(Tag(0x0002, 0x0003)) == "1.2.3.4.5.1")
        #expect(file.fileMetaInformation.string(Tag(0x0002, 0x0010)) == TransferSyntax.explicitVRLittleEndian.uid)
        #expect(file.fileMetaInformation.string(Tag(0x0002, 0x0016)) == "CT01")
        #expect(file.dataSet == dataSet)

        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let expected = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        #expect(record.sha256 == expected)
        #expect(record.size == bytes.count)
        #expect(record.receivedAt == received)
        #expect(record.callingAETitle == "CT01")
        #expect(record.patientID == "PID-1")
        #expect(record.study[Tag(0x0008, 0x0020)] == "20240115")

        let indexed = await archive.index.instance(sopInstanceUID: "1.2.3.4.5.1")
        #expect(indexed == record)
        #expect(archive.temporaryFiles().isEmpty)
        #expect(archive.dataFiles() == [record.path])
    }

    @Test func implicitVRDataSetKeepsItsSyntax() async throws {
        let archive = try await StoreFixtures.archive("implicit")
        defer { archive.remove() }
        let dataSet = try StoreFixtures.dataSet(sop: "1.2.3.4.5.2")
        let result = try await archive.store(dataSet, syntax: .implicitVRLittleEndian)
        #expect(result.status == .success)
        let file = try DICOMFile(contentsOf: archive.layout.absolute(try #require(result.record).path))
        #expect(file.transferSyntax == .implicitVRLittleEndian)
        #expect(file.dataSet.string(Tag(0x0008, 0x0018)) == "1.2.3.4.5.2")
    }

    @Test func identicalDuplicateIsStoredOnce() async throws {
        let archive = try await StoreFixtures.archive("identical")
        defer { archive.remove() }
        let dataSet = try StoreFixtures.dataSet(sop: "1.2.3.4.6")
        let first = try await archive.store(dataSet)
        let second = try await archive.store(dataSet)
        #expect(first.status == .success)
        #expect(second.status == .success)
        #expect(second.outcome == .identicalDuplicate)
        #expect(archive.dataFiles().count == 1)
        #expect(await archive.records().count == 1)
        #expect(await archive.index.journalWriteCount == 1)
        #expect(archive.temporaryFiles().isEmpty)
    }

    /// The same data set from another calling AE title: its file differs only in the File Meta Information's Source
    /// AE Title, so it is the same instance, answered with success and not stored again.
    @Test func identicalDataSetFromAnotherSenderIsStoredOnce() async throws {
        let archive = try await StoreFixtures.archive("identical-other-ae")
        defer { archive.remove() }
        var dataSet = try StoreFixtures.dataSet(sop: "1.2.3.4.6.1")
        // A private block: read back from Implicit VR its element is UN, from Explicit VR it is LO.
        dataSet.setASCII(Tag(0x0009, 0x0010), vr: .LO, "ACME 1.0")
        dataSet.setASCII(Tag(0x0009, 0x1001), vr: .LO, "private value")
        let first = try await archive.store(dataSet, callingAETitle: "CT1")
        let path = archive.layout.absolute(try #require(first.record).path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let second = try await archive.store(dataSet, callingAETitle: "FORWARDER")
        #expect(first.record?.sha256 != nil)
        #expect(second.status == .success, "\(second.comment ?? "")")
        #expect(second.outcome == .identicalDuplicate)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(await archive.records()["1.2.3.4.6.1"]?.callingAETitle == "CT1")
        #expect(archive.dataFiles().count == 1)
        #expect(archive.temporaryFiles().isEmpty)
        // In another little endian syntax the bytes differ but the data set is the same.
        let implicit = try await archive.store(dataSet, callingAETitle: "FORWARDER", syntax: .implicitVRLittleEndian)
        #expect(implicit.status == .success, "\(implicit.comment ?? "")")
        #expect(implicit.outcome == .identicalDuplicate)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // A different data set in another syntax is a different instance (warning under keep), also under reject.
        let other = try StoreFixtures.dataSet(sop: "1.2.3.4.6.1", seed: 9)
        #expect(try await archive.store(other, callingAETitle: "FORWARDER", syntax: .implicitVRLittleEndian).outcome == .duplicateKept)
        #expect(try await archive.store(other, callingAETitle: "FORWARDER").outcome == .duplicateKept)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(archive.temporaryFiles().isEmpty)
    }

    @Test func differentDuplicateKeep() async throws {
        let archive = try await StoreFixtures.archive("keep")
        defer { archive.remove() }
        let first = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.7", seed: 1))
        let path = archive.layout.absolute(try #require(first.record).path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let second = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.7", seed: 2))
        #expect(second.status == DIMSEStatus(0xB000))
        #expect(second.status.category == .warning)
        #expect(second.outcome == .duplicateKept)
        #expect(second.comment?.contains("already stored") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(await archive.records()["1.2.3.4.7"]?.sha256 == first.record?.sha256)
        #expect(archive.temporaryFiles().isEmpty)
    }

    @Test func differentDuplicateReject() async throws {
        let archive = try await StoreFixtures.archive("reject", configuration: ArchiveStoreConfiguration(duplicatePolicy: .reject))
        defer { archive.remove() }
        let first = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.8", seed: 1))
        let second = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.8", seed: 2))
        #expect(second.status == .duplicateSOPInstance)
        #expect(second.status.category == .failure)
        #expect(second.outcome == .duplicateRejected)
        #expect(await archive.records()["1.2.3.4.8"]?.sha256 == first.record?.sha256)
        // The identical one is still fine under reject.
        #expect(try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.8", seed: 1)).status == .success)
    }

    @Test func differentDuplicateReplace() async throws {
        let archive = try await StoreFixtures.archive("replace", configuration: ArchiveStoreConfiguration(duplicatePolicy: .replace))
        defer { archive.remove() }
        let first = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.9", seed: 1))
        let newer = try StoreFixtures.dataSet(sop: "1.2.3.4.9", seed: 2)
        let second = try await archive.store(newer)
        #expect(second.status == .success)
        #expect(second.outcome == .replaced)
        #expect(second.record?.sha256 != first.record?.sha256)
        #expect(await archive.records()["1.2.3.4.9"]?.sha256 == second.record?.sha256)
        let file = try DICOMFile(contentsOf: archive.layout.absolute(try #require(second.record).path))
        #expect(file.dataSet == newer)
        #expect(archive.dataFiles().count == 1)

        // Replaced by a copy in another series: the old file goes.
        let moved = try StoreFixtures.dataSet(sop: "1.2.3.4.9", series: "1.2.826.0.1.3680043.10.999.1.2", seed: 3)
        #expect(try await archive.store(moved).outcome == .replaced)
        #expect(archive.dataFiles() == ["data/1.2.826.0.1.3680043.10.999.1/1.2.826.0.1.3680043.10.999.1.2/1.2.3.4.9.dcm"])
    }

    @Test func mismatchedSOPInstanceUIDIsRefused() async throws {
        let archive = try await StoreFixtures.archive("mismatch")
        defer { archive.remove() }
        let result = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.10"), sopInstanceUID: "1.2.3.4.11")
        #expect(result.status == .dataSetDoesNotMatchSOPClass)
        #expect(result.comment?.contains("1.2.3.4.10") == true)
        #expect(result.comment?.contains("1.2.3.4.11") == true)
        #expect(archive.dataFiles().isEmpty)
        #expect(archive.temporaryFiles().isEmpty)
        #expect(await archive.records().isEmpty)

        let wrongClass = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.12"), sopClassUID: "1.2.840.10008.5.1.4.1.1.7")
        #expect(wrongClass.status == .dataSetDoesNotMatchSOPClass)
        #expect(wrongClass.comment?.contains("SOP Class UID") == true)
    }

    @Test func missingUIDsCannotBeUnderstood() async throws {
        let archive = try await StoreFixtures.archive("missing")
        defer { archive.remove() }
        let noStudy = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.13", study: nil))
        #expect(noStudy.status == .cannotUnderstand)
        #expect(noStudy.comment?.contains("Study Instance UID (0020,000D)") == true)
        let noSeries = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.14", series: nil))
        #expect(noSeries.status == .cannotUnderstand)
        #expect(noSeries.comment?.contains("Series Instance UID (0020,000E)") == true)
        var noSOP = try StoreFixtures.dataSet(sop: "1.2.3.4.15")
        noSOP.remove(Tag(0x0008, 0x0018))
        let result = try await archive.store(noSOP, sopInstanceUID: "1.2.3.4.15")
        #expect(result.status == .cannotUnderstand)
        #expect(result.comment?.contains("SOP Instance UID (0008,0018)") == true)
        #expect(archive.dataFiles().isEmpty)
        #expect(archive.temporaryFiles().isEmpty)
    }

    @Test func unsafeUIDIsNeverAFileName() async throws {
        let archive = try await StoreFixtures.archive("unsafe")
        defer { archive.remove() }
        let result = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.16", series: "../../escape"))
        #expect(result.status == .cannotUnderstand)
        #expect(result.comment?.contains("Series Instance UID \"../../escape\"") == true)
        #expect(archive.dataFiles().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: archive.layout.root + "/escape"))
        #expect(archive.temporaryFiles().isEmpty)
    }

    @Test func garbageDataSetCannotBeUnderstood() async throws {
        let archive = try await StoreFixtures.archive("garbage")
        defer { archive.remove() }
        let path = archive.incoming + "/garbage"
        try Data([0x08, 0x00, 0x18, 0x00, 0x55, 0x49, 0xFF, 0x7F, 0x31]).write(to: URL(fileURLWithPath: path))
        let result = await archive.store.store(dataSetAt: path, transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid,
                                               sopClassUID: StoreFixtures.ctImage, sopInstanceUID: "1.2.3", callingAETitle: "X")
        #expect(result.status == .cannotUnderstand)
        #expect(archive.temporaryFiles().isEmpty)
    }

    @Test func callingAETitleNotAllowed() async throws {
        let archive = try await StoreFixtures.archive("auth", configuration: ArchiveStoreConfiguration(allowedCallingAETitles: ["CT01"]))
        defer { archive.remove() }
        let refused = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.17"), callingAETitle: "INTRUDER")
        #expect(refused.status == .notAuthorized)
        #expect(refused.comment?.contains("INTRUDER") == true)
        #expect(archive.dataFiles().isEmpty)
        #expect(try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.4.17"), callingAETitle: "CT01").status == .success)
    }

    @Test func sixteenConcurrentStores() async throws {
        let archive = try await StoreFixtures.archive("concurrent")
        defer { archive.remove() }
        let statuses = try await withThrowingTaskGroup(of: DIMSEStatus.self) { group in
            for association in 0..<16 {
                group.addTask {
                    var last = DIMSEStatus.success
                    for n in 0..<4 {
                        let dataSet = try StoreFixtures.dataSet(sop: "1.2.3.5.\(association).\(n)",
                                                                series: "1.2.3.5.\(association % 4)", pixelBytes: 4096,
                                                                seed: UInt8(association))
                        let result = try await archive.store(dataSet)
                        if result.status != .success { last = result.status }
                    }
                    return last
                }
            }
            var out: [DIMSEStatus] = []
            for try await status in group { out.append(status) }
            return out
        }
        #expect(statuses.allSatisfy { $0 == .success })
        #expect(archive.dataFiles().count == 64)
        #expect(await archive.records().count == 64)
        #expect(archive.temporaryFiles().isEmpty)
        let report = await archive.lifecycle().verify()
        #expect(report.ok)
        #expect(report.checked == 64)
    }

    @Test func sameUIDConcurrentlyStoresOnce() async throws {
        let archive = try await StoreFixtures.archive("same-uid")
        defer { archive.remove() }
        let dataSet = try StoreFixtures.dataSet(sop: "1.2.3.6")
        let outcomes = try await withThrowingTaskGroup(of: StoreResult.Outcome.self) { group in
            for _ in 0..<8 { group.addTask { try await archive.store(dataSet).outcome } }
            var out: [StoreResult.Outcome] = []
            for try await outcome in group { out.append(outcome) }
            return out
        }
        #expect(outcomes.filter { $0 == .stored }.count == 1)
        #expect(outcomes.filter { $0 == .identicalDuplicate }.count == 7)
        #expect(await archive.index.journalWriteCount == 1)
    }

    @Test func writeFailureIsOutOfResourcesAndLeavesNothing() async throws {
        var configuration = ArchiveStoreConfiguration()
        configuration.writeFault = { _, written in written > 1000 ? ENOSPC : nil }
        let archive = try await StoreFixtures.archive("enospc-injected", configuration: configuration)
        defer { archive.remove() }
        let small = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.7.1", pixelBytes: 64))
        #expect(small.status == .success)
        let path = archive.layout.absolute(try #require(small.record).path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let big = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.7.2", pixelBytes: 100_000))
        #expect(big.status == .outOfResources)
        #expect(big.comment?.contains("out of disk space") == true)
        #expect(archive.temporaryFiles().isEmpty)
        #expect(archive.dataFiles().count == 1)
        #expect(await archive.records().count == 1)
        // Even a replacement of the stored instance that fails leaves it as it was.
        var replace = ArchiveStoreConfiguration(duplicatePolicy: .replace)
        replace.writeFault = configuration.writeFault
        let replacing = try ArchiveStore(layout: archive.layout, index: archive.index, configuration: replace)
        let other = try StoreFixtures.receivedFile(try StoreFixtures.dataSet(sop: "1.2.3.7.1", pixelBytes: 50_000), in: archive.incoming)
        let failed = await replacing.store(dataSetAt: other, transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid,
                                           sopClassUID: StoreFixtures.ctImage, sopInstanceUID: "1.2.3.7.1", callingAETitle: "X")
        #expect(failed.status == .outOfResources)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    /// A real full disk: a 1 MB tmpfs. Needs root (mount); skipped with a message otherwise.
    @Test(.enabled(if: geteuid() == 0, "needs root to mount a small tmpfs for a real ENOSPC"))
    func realDiskFullOnTmpfs() async throws {
        let base = try StoreFixtures.temporaryDirectory("tmpfs")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let mountPoint = base + "/mnt"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]
        try mount.run()
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0, "mount -t tmpfs failed (status \(mount.terminationStatus))")
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [mountPoint]
            try? umount.run()
            umount.waitUntilExit()
        }
        let archive = try await StoreFixtures.archive("tmpfs-archive", root: mountPoint + "/archive")
        defer { archive.remove() }
        let small = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.8.1", pixelBytes: 10_000))
        #expect(small.status == .success)
        let big = try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.8.2", pixelBytes: 2_000_000))
        #expect(big.status == .outOfResources)
        #expect(big.comment?.contains("out of disk space") == true)
        #expect(archive.temporaryFiles().isEmpty)
        #expect(archive.dataFiles().count == 1)
        #expect(await archive.lifecycle().verify().ok)
        // Space is back: storing works again.
        #expect(try await archive.store(try StoreFixtures.dataSet(sop: "1.2.3.8.3", pixelBytes: 10_000)).status == .success)
    }

    @Test func deflatedDataSetIsStoredAndReadable() async throws {
        let archive = try await StoreFixtures.archive("deflated")
        defer { archive.remove() }
        let dataSet = try StoreFixtures.dataSet(sop: "1.2.3.10", pixelBytes: 20_000)
        let result = try await archive.store(dataSet, syntax: .deflatedExplicitVRLittleEndian)
        #expect(result.status == .success)
        let record = try #require(result.record)
        #expect(record.transferSyntaxUID == TransferSyntax.deflatedExplicitVRLittleEndian.uid)
        let file = try DICOMFile(contentsOf: archive.layout.absolute(record.path))
        #expect(file.dataSet == dataSet)
    }

    @Test func indexFailureAnswersProcessingFailureAndRemovesTheFile() async throws {
        let base = try StoreFixtures.temporaryDirectory("index-failure")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let layout = ArchiveLayout(root: base + "/archive")
        let store = try ArchiveStore(layout: layout, index: FailingIndex())
        let path = try StoreFixtures.receivedFile(try StoreFixtures.dataSet(sop: "1.2.3.11"), in: base)
        let result = await store.store(dataSetAt: path, transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid,
                                       sopClassUID: StoreFixtures.ctImage, sopInstanceUID: "1.2.3.11", callingAETitle: "X")
        #expect(result.status == .processingFailure)
        #expect(result.comment?.contains("index") == true)
        #expect(ArchiveLifecycle.files(under: layout.dataDirectory, relativeTo: layout.root).isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: layout.temporaryDirectory)) ?? ["?"]).isEmpty)
    }

    @Test func storingADeletedInstanceAgainSupersedesTheTrashedCopy() async throws {
        let archive = try await StoreFixtures.archive("restore-by-store")
        defer { archive.remove() }
        let dataSet = try StoreFixtures.dataSet(sop: "1.2.3.12")
        #expect(try await archive.store(dataSet).status == .success)
        _ = try await archive.lifecycle().delete(level: .instance, uid: "1.2.3.12")
        #expect(archive.trashFiles().count == 1)
        let again = try await archive.store(dataSet)
        #expect(again.status == .success)
        #expect(again.outcome == .stored)
        #expect(archive.trashFiles().isEmpty)
        #expect(archive.dataFiles().count == 1)
        #expect(await archive.index.instance(sopInstanceUID: "1.2.3.12") != nil)
        #expect(try await archive.lifecycle().purge(olderThan: 0).count == 0)
        #expect(await archive.lifecycle().verify().ok)
    }

    @Test func storageHandlerAnswersTheStoreStatus() async throws {
        let archive = try await StoreFixtures.archive("handler")
        defer { archive.remove() }
        let handler = ArchiveStorageHandler(store: archive.store)
        let dataSet = try StoreFixtures.dataSet(sop: "1.2.3.9")
        let path = try StoreFixtures.receivedFile(dataSet, in: archive.incoming)
        let instance = ReceivedInstance(
            request: CStoreRequest(messageID: 1, affectedSOPClassUID: StoreFixtures.ctImage, affectedSOPInstanceUID: "1.2.3.9"),
            transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid, filePath: path, byteCount: 0,
            callingAETitle: "SCU", calledAETitle: "ARCHIVE")
        #expect(await handler.store(instance) == .success)
        #expect(await archive.records()["1.2.3.9"]?.callingAETitle == "SCU")
        let wrong = ReceivedInstance(
            request: CStoreRequest(messageID: 2, affectedSOPClassUID: StoreFixtures.ctImage, affectedSOPInstanceUID: "1.2.3.99"),
            transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid, filePath: path, byteCount: 0,
            callingAETitle: "SCU", calledAETitle: "ARCHIVE")
        #expect(await handler.store(wrong) == .dataSetDoesNotMatchSOPClass)
    }
}

/// An index whose writes always fail.
struct FailingIndex: ArchiveIndex {
    struct Failure: Error, CustomStringConvertible { var description: String { "journal write failed" } }
    func add(_ records: [InstanceRecord]) async throws { throw Failure() }
    func instance(sopInstanceUID: String) async -> InstanceRecord? { nil }
    func find(_ query: IndexQuery) async throws -> [DataSet] { [] }
    func instances(matching query: IndexQuery) async throws -> [InstanceRecord] { [] }
    func setTrashed(_ sopInstanceUIDs: [String], trashed: Bool, at date: Date) async throws { throw Failure() }
    func remove(_ sopInstanceUIDs: [String]) async throws { throw Failure() }
    func allRecords() async -> [(record: InstanceRecord, trashedAt: Date?)] { [] }
    func compact() async throws {}
}
