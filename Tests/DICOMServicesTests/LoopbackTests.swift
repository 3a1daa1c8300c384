import DICOMCore
import DICOMIO
import DICOMServices
import Foundation
import NIOCore
import Testing

/// Our SCU against our SCP over 127.0.0.1.
@Suite struct LoopbackTests {
    static func storageContexts(_ sopClasses: [String]) -> [PresentationContext] {
        PresentationContext.numbered([verificationSOPClassUID] + sopClasses,
                                     transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
    }

    @Test func echo() async throws {
        let directory = try TestSupport.temporaryDirectory("echo")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory))
        #expect(server.port > 0)
        let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "TESTSCU", calledAE: "ANY-SCP",
                                                        presentationContexts: DICOMClient.verificationContexts)
        #expect(try await association.echo() == .success)
        #expect(try await association.echo() == .success)
        try await association.release()
        await server.shutdown()
    }

    @Test func storeRoundTripElementByElement() async throws {
        let directory = try TestSupport.temporaryDirectory("store")
        let received = directory + "/received"
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: received))
        // A small maximum PDU forces many P-DATA fragments per instance.
        let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "TESTSCU", calledAE: "ANY-SCP",
                                                        presentationContexts: Self.storageContexts([TestSupport.ctImageStorage]),
                                                        maximumPDULength: 4096)
        for (index, syntax) in [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian].enumerated() {
            let uid = "1.2.826.0.1.3680043.10.999.1.1.\(index + 1)"
            let original = try TestSupport.makeInstance(sopInstanceUID: uid, rows: 64, columns: 64)
            let path = try TestSupport.writeInstance(original, transferSyntax: syntax, to: directory, name: "in\(index).dcm")
            let result = try await association.store(fileAt: path)
            #expect(result.status == .success)
            #expect(result.sopInstanceUID == uid)
            let stored = try DICOMFile(contentsOf: received + "/\(uid).dcm")
            // The server prefers Explicit VR Little Endian, so the implicit file was re-encoded by the client.
            #expect(stored.transferSyntax == .explicitVRLittleEndian)
            #expect(stored.fileMetaInformation.string(Tag(0x0002, 0x0003)) == uid)
            #expect(stored.fileMetaInformation.string(Tag(0x0002, 0x0016)) == "TESTSCU")
            #expect(stored.dataSet.count == original.count)
            for element in original {
                #expect(stored.dataSet[element.tag] == element, "element \(element.tag)")
            }
        }
        try await association.release()
        await server.shutdown()
    }

    @Test func storeRejectsUnacceptedTransferSyntax() async throws {
        let directory = try TestSupport.temporaryDirectory("unaccepted")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory))
        let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "TESTSCU", calledAE: "ANY-SCP",
                                                        presentationContexts: Self.storageContexts([TestSupport.ctImageStorage]))
        // Secondary Capture was never proposed: no context, reported without sending, the association stays usable.
        let instance = try TestSupport.makeInstance(sopClassUID: TestSupport.secondaryCaptureStorage, sopInstanceUID: "1.2.3.4")
        let path = try TestSupport.writeInstance(instance, to: directory, name: "sc.dcm")
        await #expect(throws: DICOMServiceError.self) { try await association.store(fileAt: path) }
        #expect(try await association.echo() == .success)
        try await association.release()
        await server.shutdown()
    }

    @Test func rejectedCalledAETitle() async throws {
        let directory = try TestSupport.temporaryDirectory("reject")
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultStoragePolicy(aeTitle: "ONLYME"),
                                                 storageHandler: try DirectoryStorageHandler(directory: directory))
        await #expect(throws: AssociationReject.self) {
            _ = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "TESTSCU", calledAE: "SOMEONE",
                                              presentationContexts: DICOMClient.verificationContexts)
        }
        await server.shutdown()
    }

    @Test(arguments: [
        // A-ASSOCIATE-RQ claiming 4 GB: invalid-PDU-parameter-value (6).
        ([UInt8]([0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF]), UInt8(6)),
        // Not DICOM at all: unrecognized-PDU (1).
        (Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), UInt8(1)),
        // P-DATA before any association: unexpected-PDU (2).
        ([UInt8]([0x04, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x02, 0x01, 0x03]), UInt8(2)),
    ])
    func badInputIsAbortedWhileOthersKeepWorking(garbage: [UInt8], reason: UInt8) async throws {
        let directory = try TestSupport.temporaryDirectory("bad")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory))
        let good = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "GOOD", calledAE: "ANY-SCP",
                                                 presentationContexts: DICOMClient.verificationContexts)
        let fd = TestSupport.rawConnect(port: server.port)
        #expect(fd >= 0)
        defer { close(fd) }
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        let (reply, eof) = await TestSupport.readToEnd(fd)
        #expect(eof, "the server must close the connection")
        #expect(reply.first == 0x07, "an A-ABORT PDU comes first")
        // A-ABORT (PS3.8 Table 9-26): type, reserved, length 4, reserved, reserved, source 2 (provider), reason.
        #expect(reply.count == 10)
        if reply.count == 10 { #expect(reply[8] == 2 && reply[9] == reason) }
        #expect(try await good.echo() == .success)
        try await good.release()
        await server.shutdown()
    }

    @Test func silentPeerIsDisconnectedByARTIM() async throws {
        let directory = try TestSupport.temporaryDirectory("artim")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory),
                                                 timeouts: DICOMServerTimeouts(artim: .milliseconds(300), idle: .seconds(5)))
        let fd = TestSupport.rawConnect(port: server.port, receiveTimeoutSeconds: 60)
        defer { close(fd) }
        let start = Date()
        let (_, eof) = await TestSupport.readToEnd(fd)
        #expect(eof)
        // Closed by the 0.3 s ARTIM timer, not by the 60 s receive timeout (generous: other suites load the machine).
        #expect(Date().timeIntervalSince(start) < 30)
        await server.shutdown()
    }
}
