import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMArchive

@Suite("Store: C-STORE over loopback into the archive")
struct StoreLoopbackTests {
    /// 16 associations at once, each storing 4 instances, through DICOMServer and ArchiveStorageHandler; then a
    /// duplicate with different content and one whose data set names another SOP Instance UID.
    @Test func sixteenAssociationsStoreIntoTheArchive() async throws {
        let archive = try await StoreFixtures.archive("loopback")
        defer { archive.remove() }
        let server = try await DICOMServer.start(port: 0, storageHandler: ArchiveStorageHandler(store: archive.store),
                                                 temporaryDirectory: archive.incoming)
        let port = server.port
        let contexts = PresentationContext.numbered([verificationSOPClassUID, StoreFixtures.ctImage],
                                                    transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])
        var paths: [[String]] = []
        for association in 0..<16 {
            var files: [String] = []
            for n in 0..<4 {
                let dataSet = try StoreFixtures.dataSet(sop: "1.2.5.\(association).\(n)", series: "1.2.5.\(association % 3)",
                                                        pixelBytes: 2048, seed: UInt8(n))
                let path = archive.incoming + "/send-\(association)-\(n).dcm"
                try DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian).encoded().write(to: URL(fileURLWithPath: path))
                files.append(path)
            }
            paths.append(files)
        }
        let toSend = paths
        do {
            let statuses = try await withThrowingTaskGroup(of: [DIMSEStatus].self) { group in
                for files in toSend {
                    group.addTask {
                        let association = try await DICOMClient.connect(host: "127.0.0.1", port: port, callingAE: "LOOPSCU",
                                                                        calledAE: "ARCHIVE", presentationContexts: contexts)
                        var out: [DIMSEStatus] = []
                        for path in files { out.append(try await association.store(fileAt: path).status) }
                        try await association.release()
                        return out
                    }
                }
                var all: [DIMSEStatus] = []
                for try await statuses in group { all += statuses }
                return all
            }
            #expect(statuses.count == 64)
            #expect(statuses.allSatisfy { $0 == .success })
            #expect(await archive.records().count == 64)
            #expect(await archive.records().values.allSatisfy { $0.callingAETitle == "LOOPSCU" })
            #expect(archive.dataFiles().count == 64)
            #expect(await archive.lifecycle().verify().ok)

            // A different instance under a stored SOP Instance UID: kept, warning B000H.
            let changed = try StoreFixtures.dataSet(sop: "1.2.5.0.0", series: "1.2.5.0", pixelBytes: 2048, seed: 99)
            let changedPath = archive.incoming + "/changed.dcm"
            try DICOMFile(dataSet: changed, transferSyntax: .explicitVRLittleEndian).encoded().write(to: URL(fileURLWithPath: changedPath))
            let association = try await DICOMClient.connect(host: "127.0.0.1", port: port, callingAE: "LOOPSCU", calledAE: "ARCHIVE",
                                                            presentationContexts: contexts)
            #expect(try await association.store(fileAt: changedPath).status == DIMSEStatus(0xB000))
            try await association.release()
            #expect(archive.dataFiles().count == 64)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
        #expect(archive.temporaryFiles().isEmpty)
    }
}
