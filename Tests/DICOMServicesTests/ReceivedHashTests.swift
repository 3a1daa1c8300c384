import Crypto
import DICOMCore
import DICOMIO
import DICOMNetwork
@testable import DICOMServices
import Foundation
import Testing

/// The server hashes a received instance only for a handler that uses the hash (``StorageHandler/usesSHA256``), and
/// the hash is that of the file the handler gets.
@Suite struct ReceivedHashTests {
    /// Records the hash it was given and the SHA-256 of the file it was given.
    final class Recorder: StorageHandler, @unchecked Sendable {
        let usesSHA256: Bool
        let makesFilesDurable: Bool
        let writesDirectly: Bool
        private let lock = NSLock()
        private var seen: [(given: String?, actual: String)] = []
        /// Per instance: whether the leading bytes it was given are the start of its file (nil: none given).
        private var leading: [Bool?] = []

        init(usesSHA256: Bool, makesFilesDurable: Bool = false, writesDirectly: Bool? = nil) {
            self.usesSHA256 = usesSHA256
            self.makesFilesDurable = makesFilesDurable
            self.writesDirectly = writesDirectly ?? makesFilesDurable
        }

        func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
            guard let bytes = FileManager.default.contents(atPath: instance.filePath) else { return .outOfResources }
            let actual = lowercaseHex(SHA256.hash(data: bytes))
            let prefix = instance.leadingBytes.map { !$0.isEmpty && bytes.prefix($0.count) == $0 }
            lock.withLock {
                seen.append((instance.sha256, actual))
                leading.append(prefix)
            }
            return .success
        }

        var leadingBytesMatched: [Bool?] { lock.withLock { leading } }

        var records: [(given: String?, actual: String)] { lock.withLock { seen } }
    }

    func send(to handler: Recorder, name: String) async throws {
        let directory = try TestSupport.temporaryDirectory(name)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await DICOMServer.start(port: 0, storageHandler: handler, temporaryDirectory: directory)
        let contexts = PresentationContext.numbered([TestSupport.ctImageStorage], transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])
        do {
            let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SCU", calledAE: "ANY-SCP",
                                                            presentationContexts: contexts)
            for n in 1...3 {
                let path = try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: "1.2.3.77.\(n)", rows: 64, columns: 64),
                                                         to: directory, name: "hash-\(n).dcm")
                #expect(try await association.store(fileAt: path).status == .success)
            }
            try await association.release()
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test func aHandlerThatUsesTheHashGetsTheFilesSHA256() async throws {
        let handler = Recorder(usesSHA256: true)
        try await send(to: handler, name: "hash-on")
        #expect(handler.records.count == 3)
        for record in handler.records { #expect(record.given == record.actual) }
    }

    /// A handler that fsyncs its files gets them written past the page cache, with their first bytes in memory.
    @Test func aDurableHandlerGetsTheSameHashAndTheLeadingBytesOfItsFile() async throws {
        try #require(IncomingDataSet.writesDirectly, "direct writes are switched off (DICOM_BUFFERED_WRITES) or unknown here")
        let handler = Recorder(usesSHA256: true, makesFilesDurable: true)
        try await send(to: handler, name: "hash-durable")
        #expect(handler.records.count == 3)
        for record in handler.records { #expect(record.given == record.actual) }
        #expect(handler.leadingBytesMatched == [true, true, true])
    }

    /// A durable handler that asks for buffered writes gets no leading bytes (its file went through the page cache).
    @Test func aDurableHandlerThatWantsBufferedWritesGetsThem() async throws {
        let handler = Recorder(usesSHA256: true, makesFilesDurable: true, writesDirectly: false)
        try await send(to: handler, name: "hash-buffered")
        #expect(handler.records.count == 3)
        for record in handler.records { #expect(record.given == record.actual) }
        #expect(handler.leadingBytesMatched == [nil, nil, nil])
    }

    @Test func otherHandlersGetNoHash() async throws {
        let handler = Recorder(usesSHA256: false)
        try await send(to: handler, name: "hash-off")
        #expect(handler.records.count == 3)
        #expect(handler.records.allSatisfy { $0.given == nil })
    }
}
