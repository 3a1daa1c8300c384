import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import Foundation
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A file's data set is read and sent in slices. A file cut short by another process while it is being sent must end
/// the send with an error naming the file (the C-STORE is then incomplete and the association is closed), not a hang.
@Suite(.serialized) struct FileCutShortTests {
    @Test func fileCutShortWhileSendingFailsInsteadOfHanging() async throws {
        let directory = try TestSupport.temporaryDirectory("cut-short")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 4096 × 4096 × 2 bytes = 32 MiB of pixel data: several slices, more than the socket buffers hold while the peer does not read.
        let instance = try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.77.1", rows: 4096, columns: 4096)
        let path = try TestSupport.writeInstance(instance, to: directory, name: "big.dcm")
        let acceptor = try FakeAcceptorSocket()
        defer { acceptor.close() }
        let port = acceptor.port

        let started = ContinuousClock.now
        async let storing: (any Error)? = {
            do {
                let association = try await DICOMClient.connect(
                    host: "127.0.0.1", port: port, callingAE: "SENDER", calledAE: "FAKE",
                    presentationContexts: PresentationContext.numbered([TestSupport.ctImageStorage],
                                                                       transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid]),
                    timeouts: DICOMTimeouts(connect: .seconds(30), artim: .seconds(30)))
                _ = try await association.store(fileAt: path)
                return nil
            } catch {
                return error
            }
        }()

        let peer = try await acceptor.accept()
        defer { peer.close() }
        // A-ASSOCIATE-RQ in, A-ASSOCIATE-AC out.
        let (type, body) = try #require(await peer.readPDU())
        var decoder = PDUDecoder()
        var buffer = ByteBuffer(bytes: [type, 0] + withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + body)
        guard case .associateRequest(let request)? = try decoder.decode(buffer: &buffer),
              case .success(let accept) = DICOMServer.defaultStoragePolicy().negotiate(request) else {
            Issue.record("the client's A-ASSOCIATE-RQ was not accepted by the default policy")
            return
        }
        var acceptBytes = try PDU.associateAccept(accept).encoded()
        try peer.write(acceptBytes.readBytes(length: acceptBytes.readableBytes)!)
        // Read the start of the C-STORE, then cut the file short while most of it is still to be sent.
        var received = 0
        while received < 256 * 1024, let pdu = await peer.readPDU() { received += 6 + pdu.body.count }
        #expect(truncate(path, 1_000) == 0)
        let drained = await peer.readToEnd().bytes.count
        #expect(drained < 32 * 1024 * 1024, "the sender stopped short of the whole file")

        let error = await storing
        let serviceError = try #require(error as? DICOMServiceError, "store must fail, got \(String(describing: error))")
        #expect(serviceError.code == .invalidInput, "\(serviceError)")
        #expect(serviceError.message.contains(path) && serviceError.message.contains("ended early"), "\(serviceError)")
        #expect(ContinuousClock.now - started < .seconds(25))
    }
}
