import DICOMCore
import DICOMIO
import DICOMNetwork
@testable import DICOMServices
import Foundation
import NIOCore
import Testing

/// For a handler that fsyncs what it receives (``StorageHandler/makesFilesDurable``) the server starts the file's
/// writeback while the data set arrives; the file is the same either way.
@Suite struct EarlyWritebackTests {
    @Test func syncFileRangeIsAvailableOnLinux() {
        #if os(Linux)
        #expect(syncFileRange != nil, "sync_file_range not found in the C library: early writeback would silently stop")
        #endif
    }

    @Test func durableHandlersAskForIt() throws {
        #expect(try DirectoryStorageHandler(directory: NSTemporaryDirectory() + "early-writeback-\(UUID().uuidString)").makesFilesDurable)
        struct Plain: StorageHandler { func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .success } }
        #expect(!Plain().makesFilesDurable)
    }

    /// 1 MB arriving in fragments of 64 KB and odd sizes, with and without writeback: identical files.
    @Test func writtenBytesAreTheSameWithWriteback() async throws {
        let directory = try TestSupport.temporaryDirectory("early-writeback")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let request = CStoreRequest(messageID: 1, affectedSOPClassUID: TestSupport.ctImageStorage, affectedSOPInstanceUID: "1.2.3.4")
        let payload = (0..<1_000_003).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        var files: [Data] = []
        for writeback in [false, true] {
            let incoming = IncomingDataSet(request: request, contextID: 1, directory: directory,
                                           transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid, sourceAETitle: "SCU",
                                           startingWriteback: writeback)
            var offset = 0, step = 0
            while offset < payload.count {
                let size = min([65_536, 1, 333_333, 7][step % 4], payload.count - offset)
                await incoming.append(ByteBuffer(bytes: payload[offset..<offset + size]))
                offset += size
                step += 1
            }
            try await incoming.close()
            #expect(incoming.byteCount == payload.count)
            let data = try Data(contentsOf: URL(fileURLWithPath: incoming.path))
            #expect(data.suffix(payload.count) == Data(payload))
            files.append(data)
            incoming.discard()
        }
        #expect(files[0] == files[1])
    }
}
