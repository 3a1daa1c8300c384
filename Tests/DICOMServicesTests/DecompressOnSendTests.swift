import DICOMCodecs
import DICOMCore
import DICOMIO
@testable import DICOMServices
import Foundation
import Testing

/// A compressed file sent to a peer that accepts only uncompressed syntaxes is decompressed with the built-in codecs,
/// as DCMTK's storescu does, and arrives with exactly the original pixels (lossless codecs).
@Suite struct DecompressOnSendTests {
    static let syntaxes: [TransferSyntax] = [.rleLossless, .jpegLSLossless, .jpegLosslessSV1, .jpeg2000Lossless]

    /// One 64×48 12-bit CT-like image per compressed syntax, written as Part 10 files; returns (path, native pixels).
    static func compressedFiles(in directory: String) throws -> [(path: String, syntax: TransferSyntax, pixels: Data)] {
        var native = try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.12.0", rows: 48, columns: 64)
        var pixels = Data(count: 48 * 64 * 2)
        for i in 0..<(48 * 64) {
            let value = UInt16((i * 37 + (i / 64) * 11) % 4096)
            pixels[2 * i] = UInt8(value & 0xFF)
            pixels[2 * i + 1] = UInt8(value >> 8)
        }
        native.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OW, bytes: pixels))
        return try syntaxes.enumerated().map { number, syntax in
            var dataSet = try Transcoder().transcode(native, from: .explicitVRLittleEndian, to: syntax)
            dataSet.setASCII(Tag(0x0008, 0x0018), vr: .UI, "1.2.826.0.1.3680043.10.999.12.\(number + 1)")
            let path = try TestSupport.writeInstance(dataSet, transferSyntax: syntax, to: directory, name: "c\(number).dcm")
            return (path, syntax, pixels)
        }
    }

    @Test func decompressesForAnSCPThatAcceptsOnlyUncompressed() async throws {
        let directory = try TestSupport.temporaryDirectory("decompress")
        let files = try Self.compressedFiles(in: directory)
        var policy = DICOMServer.defaultStoragePolicy()
        policy.accept(abstractSyntaxes: [TestSupport.ctImageStorage],
                      transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
        let received = directory + "/received"
        let server = try await DICOMServer.start(port: 0, policy: policy, storageHandler: try DirectoryStorageHandler(directory: received))
        let results = await FileSender(host: "127.0.0.1", port: server.port, callingAE: "SENDER", calledAE: "ANY-SCP")
            .send(paths: files.map(\.path))
        await server.shutdown()
        for (file, result) in zip(files, results) {
            #expect(result.ok, "\(file.syntax.name): \(result.error ?? "")")
            let uid = try #require(result.sopInstanceUID)
            let arrived = try DICOMFile(contentsOf: received + "/\(uid).dcm")
            #expect(!arrived.transferSyntax.isEncapsulated, "\(file.syntax.name) arrived in \(arrived.transferSyntax.name)")
            #expect(arrived.dataSet[Tag(0x7FE0, 0x0010)]?.bytes == file.pixels, "\(file.syntax.name): pixels differ")
            #expect(arrived.dataSet.string(Tag(0x0028, 0x0004)) == "MONOCHROME2")
        }
    }

    @Test func storescpReceivesDecompressedFiles() async throws {
        let directory = try TestSupport.temporaryDirectory("decompress-storescp")
        let files = try Self.compressedFiles(in: directory)
        let received = directory + "/received"
        try FileManager.default.createDirectory(atPath: received, withIntermediateDirectories: true)
        let port = TestSupport.freePort()
        // storescp's default: uncompressed transfer syntaxes only.
        let peer = try PeerProcess(PeerProcess.storescp, ["-od", received, "\(port)"], logPath: directory + "/storescp.log")
        defer { peer.stop() }
        let probe = try await DCMTKInteropTests.connectWithRetry(port: port, contexts: DICOMClient.verificationContexts)
        try await probe.release()
        let results = await FileSender(host: "127.0.0.1", port: port, callingAE: "SENDER", calledAE: "ANY-SCP").send(paths: files.map(\.path))
        for (file, result) in zip(files, results) {
            #expect(result.ok, "\(file.syntax.name): \(result.error ?? "") \(peer.logTail)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: received)
        #expect(names.count == files.count)
        for name in names {
            let arrived = try DICOMFile(contentsOf: received + "/" + name)
            #expect(!arrived.transferSyntax.isEncapsulated)
            #expect(arrived.dataSet[Tag(0x7FE0, 0x0010)]?.bytes == files[0].pixels, "\(name): pixels differ")
        }
    }
}
