import DICOMCore
import DICOMIO
@testable import DICOMServices
import Foundation
import Testing

@Suite struct FileSenderTests {
    /// A storage handler that always answers A700 (out of resources).
    struct FailingHandler: StorageHandler {
        func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .outOfResources }
    }

    @Test func sendsDirectorySkippingNonDICOMAndReportingUnacceptedSyntax() async throws {
        let directory = try TestSupport.temporaryDirectory("sender")
        let input = directory + "/in"
        try FileManager.default.createDirectory(atPath: input + "/nested", withIntermediateDirectories: true)
        // Native files in two SOP classes, one of them nested, plus a non-DICOM file and a file declared RLE whose
        // fragment is not RLE.
        var paths: [String] = []
        for index in 0..<5 {
            let sopClass = index % 2 == 0 ? TestSupport.ctImageStorage : TestSupport.secondaryCaptureStorage
            let instance = try TestSupport.makeInstance(sopClassUID: sopClass, sopInstanceUID: "1.2.826.0.1.3680043.10.999.4.\(index)")
            paths.append(try TestSupport.writeInstance(instance, transferSyntax: index == 3 ? .implicitVRLittleEndian : .explicitVRLittleEndian,
                                                       to: index == 4 ? input + "/nested" : input, name: "f\(index).dcm"))
        }
        try Data("not dicom".utf8).write(to: URL(fileURLWithPath: input + "/readme.txt"))
        var compressed = try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.4.99")
        compressed.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OB, value: .encapsulated(EncapsulatedPixelData(fragments: [Data([1, 2, 3, 4])]))))
        let compressedPath = try TestSupport.writeInstance(compressed, transferSyntax: .rleLossless, to: input, name: "rle.dcm")

        // An SCP accepting only native syntaxes.
        var policy = DICOMServer.defaultStoragePolicy()
        policy.accept(abstractSyntaxes: [TestSupport.ctImageStorage, TestSupport.secondaryCaptureStorage],
                      transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
        let received = directory + "/received"
        let server = try await DICOMServer.start(port: 0, policy: policy, storageHandler: try DirectoryStorageHandler(directory: received))
        let sender = FileSender(host: "127.0.0.1", port: server.port, callingAE: "SENDER", calledAE: "ANY-SCP", parallelAssociations: 2)
        let all = paths + [input + "/readme.txt", compressedPath]
        let results = await sender.send(paths: all)
        await server.shutdown()

        #expect(results.map(\.path) == all)
        for (path, result) in zip(paths, results) {
            #expect(result.ok, "\(path): \(result.error ?? "")")
            #expect(result.status == "0000")
            let uid = try #require(result.sopInstanceUID)
            #expect(FileManager.default.fileExists(atPath: received + "/\(uid).dcm"))
        }
        #expect(results[5].skipped && !results[5].ok)
        #expect(!results[6].skipped && !results[6].ok && results[6].status == nil)
        // Its pixel data is not a valid RLE stream: it cannot be decompressed for this peer, and the reason says so.
        #expect(results[6].error?.contains("cannot decompress") == true, "\(results[6].error ?? "")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: received).filter { $0.hasSuffix(".dcm") }.count == 5)
    }

    @Test func failureStatusIsReportedNotOK() async throws {
        let directory = try TestSupport.temporaryDirectory("failing")
        let server = try await DICOMServer.start(port: 0, storageHandler: FailingHandler())
        let path = try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: "1.2.3.9"), to: directory, name: "x.dcm")
        let results = await FileSender(host: "127.0.0.1", port: server.port, callingAE: "SENDER", calledAE: "ANY-SCP").send(paths: [path])
        await server.shutdown()
        #expect(results.count == 1)
        #expect(results[0].status == "A700")
        #expect(!results[0].ok)
    }

    @Test func connectionRefusedIsReportedPerFile() async throws {
        let directory = try TestSupport.temporaryDirectory("refused")
        let path = try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: "1.2.3.10"), to: directory, name: "x.dcm")
        let results = await FileSender(host: "127.0.0.1", port: TestSupport.freePort(), callingAE: "SENDER", calledAE: "ANY-SCP").send(paths: [path, path])
        #expect(results.count == 2)
        #expect(results.allSatisfy { !$0.ok && $0.error?.contains("association failed") == true })
    }

    @Test func moreThan128PairsAreSplitIntoAssociations() {
        let candidates = (0..<300).map {
            FileSender.Candidate(index: $0, path: "p\($0)", sopClassUID: "1.2.3.\($0 % 200)", sopInstanceUID: "9.\($0)",
                                 transferSyntax: .explicitVRLittleEndian)
        }
        let batches = FileSender.batches(candidates)
        #expect(batches.flatMap { $0 }.map(\.index) == Array(0..<300))
        for batch in batches {
            let contexts = FileSender.contexts(for: batch)
            #expect(contexts.count <= 128)
            #expect(contexts.allSatisfy { PresentationContext.isValidID($0.id) })
        }
        #expect(batches.count >= 2)
    }

    @Test func largeInstanceIsStreamedThroughSmallPDUs() async throws {
        let directory = try TestSupport.temporaryDirectory("large")
        let received = directory + "/received"
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: received))
        // 1024 x 1024 x 2 bytes = 2 MB of pixel data, about 500 P-DATA PDUs of 4 KB.
        let instance = try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.5.1", rows: 1024, columns: 1024)
        let path = try TestSupport.writeInstance(instance, to: directory, name: "large.dcm")
        let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SENDER", calledAE: "ANY-SCP",
                                                        presentationContexts: PresentationContext.numbered([TestSupport.ctImageStorage],
                                                                                                           transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid]),
                                                        maximumPDULength: 4096)
        #expect(try await association.store(fileAt: path).status == .success)
        try await association.release()
        await server.shutdown()
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let stored = try Data(contentsOf: URL(fileURLWithPath: received + "/1.2.826.0.1.3680043.10.999.5.1.dcm"))
        // Same data set bytes after the (different) meta header.
        let a = try #require(Part10Layout.dataSetOffset(in: original))
        let b = try #require(Part10Layout.dataSetOffset(in: stored))
        #expect(original[a...] == stored[b...])
    }
}
