import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Testing
@testable import DICOMArchive
#if canImport(Glibc)
import Glibc
#endif

enum StoreFixtures {
    static let ctImage = "1.2.840.10008.5.1.4.1.1.2"
    static let basicTextSR = "1.2.840.10008.5.1.4.1.1.88.11"
    static let encapsulatedPDF = "1.2.840.10008.5.1.4.1.1.104.1"

    static func temporaryDirectory(_ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "archive-tests-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func dataSet(sop: String, study: String? = "1.2.826.0.1.3680043.10.999.1", series: String? = "1.2.826.0.1.3680043.10.999.1.1",
                        sopClass: String = ctImage, patientID: String = "PID-1", studyDate: String? = "20240115",
                        pixelBytes: Int = 512, seed: UInt8 = 0) throws -> DataSet {
        var dataSet = DataSet()
        dataSet.setASCII(Tag(0x0008, 0x0016), vr: .UI, sopClass)
        dataSet.setASCII(Tag(0x0008, 0x0018), vr: .UI, sop)
        if let studyDate { dataSet.setASCII(Tag(0x0008, 0x0020), vr: .DA, studyDate) }
        dataSet.setASCII(Tag(0x0008, 0x0060), vr: .CS, sopClass == ctImage ? "CT" : "SR")
        try dataSet.set(Tag(0x0010, 0x0010), vr: .PN, string: "Doe^Jane")
        dataSet.setASCII(Tag(0x0010, 0x0020), vr: .LO, patientID)
        if let study { dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, study) }
        if let series { dataSet.setASCII(Tag(0x0020, 0x000E), vr: .UI, series) }
        try dataSet.set(Tag(0x0020, 0x0013), vr: .IS, integers: [1])
        if pixelBytes > 0 {
            var pixels = Data(count: pixelBytes)
            for i in 0..<pixelBytes { pixels[i] = UInt8(truncatingIfNeeded: i &* 7 &+ Int(seed)) }
            dataSet.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OW, bytes: pixels))
        }
        return dataSet
    }

    /// Writes the bare data set (no File Meta), as the server leaves a received one, and returns the path.
    static func receivedFile(_ dataSet: DataSet, in directory: String, syntax: TransferSyntax = .explicitVRLittleEndian) throws -> String {
        let path = directory + "/\(UUID().uuidString).received"
        try DataSetWriter.encode(dataSet, transferSyntax: syntax).write(to: URL(fileURLWithPath: path))
        return path
    }

    struct Archive {
        let root: String
        let layout: ArchiveLayout
        let index: JSONArchiveIndex
        let store: ArchiveStore
        let incoming: String

        /// Stores `dataSet` as received by C-STORE with the given affected UIDs (defaults: the data set's own).
        func store(_ dataSet: DataSet, sopInstanceUID: String? = nil, sopClassUID: String? = nil, callingAETitle: String = "MODALITY",
                   receivedAt: Date = Date(), syntax: TransferSyntax = .explicitVRLittleEndian) async throws -> StoreResult {
            let path = try StoreFixtures.receivedFile(dataSet, in: incoming, syntax: syntax)
            defer { unlink(path) }
            return await store.store(dataSetAt: path, transferSyntaxUID: syntax.uid,
                                     sopClassUID: sopClassUID ?? dataSet.string(Tag(0x0008, 0x0016)) ?? "",
                                     sopInstanceUID: sopInstanceUID ?? dataSet.string(Tag(0x0008, 0x0018)) ?? "",
                                     callingAETitle: callingAETitle, receivedAt: receivedAt)
        }

        func lifecycle(_ policy: RetentionPolicy = RetentionPolicy()) -> ArchiveLifecycle {
            ArchiveLifecycle(layout: layout, index: index, retentionPolicy: policy, user: "tester", host: "testhost")
        }

        func dataFiles() -> [String] { ArchiveLifecycle.files(under: layout.dataDirectory, relativeTo: layout.root) }
        func trashFiles() -> [String] { ArchiveLifecycle.files(under: layout.trashDirectory, relativeTo: layout.root) }
        func temporaryFiles() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: layout.temporaryDirectory)) ?? [] }

        func remove() { try? FileManager.default.removeItem(atPath: root) }

        /// Every record in the index, visible or trashed, by SOP Instance UID.
        func records() async -> [String: InstanceRecord] {
            var out: [String: InstanceRecord] = [:]
            for entry in await index.allRecords() { out[entry.record.sopInstanceUID] = entry.record }
            return out
        }

        func trashedAt(_ sopInstanceUID: String) async -> Date? {
            await index.allRecords().first { $0.record.sopInstanceUID == sopInstanceUID }?.trashedAt
        }
    }

    static func archive(_ name: String, root: String? = nil, configuration: ArchiveStoreConfiguration = ArchiveStoreConfiguration()) async throws -> Archive {
        let base = try temporaryDirectory(name)
        let layout = ArchiveLayout(root: root ?? base + "/archive")
        let incoming = base + "/incoming"
        try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
        try layout.createDirectories()
        let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory)
        let store = try ArchiveStore(layout: layout, index: index, configuration: configuration)
        return Archive(root: base, layout: layout, index: index, store: store, incoming: incoming)
    }
}
