import Crypto
import DICOMCore
import DICOMIO
import DICOMNetwork
@testable import DICOMServices
import Foundation
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Received data sets for handlers that make files durable are written with `O_DIRECT` (``DirectFileWriter``): the
/// file must hold exactly the bytes received, and the handler gets the first bytes in memory to read the metadata from.
@Suite struct DirectWriteTests {
    /// A new file opened with `O_DIRECT` in `directory`.
    static func openDirect(_ path: String) throws -> Int32 {
        let flag = try #require(directIOFlag, "no O_DIRECT value for this platform")
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | flag, 0o644)
        try #require(descriptor >= 0, "open with O_DIRECT failed: \(String(cString: strerror(errno)))")
        return descriptor
    }

    @Test func theFileHoldsExactlyTheBytesGivenWhateverTheirLengthAndFragmentsAndItsHashIsTheirs() async throws {
        let directory = try TestSupport.temporaryDirectory("direct-writer")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let chunk = DirectFileWriter.chunkSize, block = DirectFileWriter.alignment
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, block - 1, block, block + 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 123, 9 * chunk + block] {
            // Random bytes eight at a time (one call per byte made this test hold a cooperative thread for seconds in
            // a debug build, starving the suite's network tests of their timers' margins).
            var bytes = [UInt8](repeating: 0, count: length)
            bytes.withUnsafeMutableBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let word = generator.next()
                    withUnsafeBytes(of: word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: min(8, raw.count - offset)) }
                    offset += 8
                }
            }
            let path = directory + "/file-\(length)"
            let descriptor = try Self.openDirect(path)
            // The writer hashes what it writes, a chunk at a time and the tail last.
            let hasher = ConcurrentHasher()
            let writer = DirectFileWriter(descriptor: descriptor, hashing: hasher)
            var offset = 0
            while offset < length {
                // Fragments of every size, as PDVs come: from 1 byte to more than a chunk.
                let n = min(length - offset, Int.random(in: 1...(chunk + 7000), using: &generator))
                #expect(bytes[offset..<(offset + n)].withUnsafeBytes { writer.append($0) } == 0)
                await writer.waitForRoom()
                #expect(writer.chunksInFlight <= DirectFileWriter.maximumChunksInFlight)
                offset += n
            }
            #expect(await writer.finish() == 0)
            #expect(writer.chunksInFlight == 0)
            #expect(writer.length == length)
            close(descriptor)
            let written = try #require(FileManager.default.contents(atPath: path))
            #expect(written.count == length, "length \(length)")
            #expect(written == Data(bytes), "length \(length)")
            #expect(await hasher.finalize() == lowercaseHex(SHA256.hash(data: bytes)), "length \(length)")
        }
    }

    @Test func anIdleDeviceGetsTheWholeBlocksGatheredOnceEnoughWait() async throws {
        let directory = try TestSupport.temporaryDirectory("direct-writer-early")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/file"
        let descriptor = try Self.openDirect(path)
        defer { close(descriptor) }
        let writer = DirectFileWriter(descriptor: descriptor)
        let block = DirectFileWriter.alignment
        // Less than the minimum: nothing is written yet.
        let first = [UInt8](repeating: 1, count: DirectFileWriter.minimumWrite - 1)
        #expect(first.withUnsafeBytes { writer.append($0) } == 0)
        #expect(writer.chunksInFlight == 0)
        #expect(FileSystemSize.of(path) == 0)
        // Past it, with no write in flight: every whole block goes, long before a full chunk; the rest waits.
        let second = [UInt8](repeating: 2, count: 2 * block + 10)
        #expect(second.withUnsafeBytes { writer.append($0) } == 0)
        let gathered = first.count + second.count
        var size = 0
        for _ in 0..<500 where size == 0 {
            size = FileSystemSize.of(path)
            if size == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        }
        #expect(size == gathered / block * block, "the blocks gathered are written before the chunk is full")
        #expect(await writer.finish() == 0)
        let written = try #require(FileManager.default.contents(atPath: path))
        #expect(written == Data(first + second))
    }

    @Test func aFailedWriteIsReportedNotLost() async throws {
        let directory = try TestSupport.temporaryDirectory("direct-writer-fail")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A read-only descriptor: every write fails with EBADF, which the writer must report from finish().
        let path = directory + "/read-only"
        close(try Self.openDirect(path))
        let flag = try #require(directIOFlag)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | flag)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let writer = DirectFileWriter(descriptor: descriptor)
        let bytes = [UInt8](repeating: 7, count: 2 * DirectFileWriter.chunkSize + 10)
        _ = bytes.withUnsafeBytes { writer.append($0) }
        #expect(await writer.finish() == EBADF)
        // Later bytes are refused with the same error.
        #expect([UInt8(1)].withUnsafeBytes { writer.append($0) } == EBADF)
    }

    @Test func anIncomingDataSetForADurableHandlerKeepsItsLeadingBytesAndHashesWhatItWrote() async throws {
        let directory = try TestSupport.temporaryDirectory("direct-incoming")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #require(IncomingDataSet.writesDirectly, "direct writes are switched off (DICOM_BUFFERED_WRITES) or unknown here")
        let dataSet = try TestSupport.makeInstance(sopInstanceUID: "1.2.3.99.1", rows: 300, columns: 300)
        let encoded = try DataSetWriter.encode(dataSet, transferSyntax: .explicitVRLittleEndian)
        let request = CStoreRequest(messageID: 1, affectedSOPClassUID: TestSupport.ctImageStorage, affectedSOPInstanceUID: "1.2.3.99.1")
        let incoming = IncomingDataSet(request: request, contextID: 1, directory: directory,
                                       transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid, sourceAETitle: "SCU",
                                       hashing: true, startingWriteback: true, writingDirectly: true)
        var offset = 0
        while offset < encoded.count {
            let n = min(encoded.count - offset, 16_372)
            await incoming.append(ByteBuffer(bytes: encoded[offset..<(offset + n)]))
            offset += n
        }
        try await incoming.close()
        defer { incoming.discard() }
        let file = try #require(FileManager.default.contents(atPath: incoming.path))
        #expect(file.count == incoming.dataSetOffset + encoded.count)
        #expect(file.suffix(encoded.count) == Data(encoded))
        #expect(await incoming.sha256() == lowercaseHex(SHA256.hash(data: file)))
        let leading = try #require(incoming.leadingBytes)
        #expect(leading.count == ReceivedInstance.leadingByteLimit)
        #expect(leading == file.prefix(ReceivedInstance.leadingByteLimit))
        // The metadata read from the leading bytes is the metadata read from the file.
        let fromPrefix = try #require(try DICOMFile.metadata(fromPrefix: leading, isWholeFile: false))
        let fromFile = try DICOMFile(contentsOf: incoming.path, options: .metadataOnly)
        #expect(fromPrefix.dataSet == fromFile.dataSet)
        #expect(fromPrefix.dataSet.string(.sopInstanceUID) == "1.2.3.99.1")
    }

    @Test func aPrefixThatEndsBeforeThePixelDataIsNotEnough() throws {
        let dataSet = try TestSupport.makeInstance(sopInstanceUID: "1.2.3.99.2", rows: 64, columns: 64)
        let file = try DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian).encoded()
        let pixelDataTag = Data([0xE0, 0x7F, 0x10, 0x00])
        let pixelData = try #require(file.range(of: pixelDataTag)).lowerBound - file.startIndex
        // Cut inside the File Meta Information, inside the data set, just before the pixel data: not enough.
        for length in [100, 400, pixelData - 1] {
            #expect(try DICOMFile.metadata(fromPrefix: file.prefix(length), isWholeFile: false) == nil, "prefix of \(length) bytes")
        }
        // Past the pixel data's header: everything before it is there, and reads as from the whole file.
        let enough = try #require(try DICOMFile.metadata(fromPrefix: file.prefix(pixelData + 100), isWholeFile: false))
        #expect(enough.dataSet == (try DICOMFile(data: file, options: .metadataOnly)).dataSet)
        // The whole file always reads; garbage as a whole file throws.
        #expect(try DICOMFile.metadata(fromPrefix: file, isWholeFile: true)?.dataSet.string(.sopInstanceUID) == "1.2.3.99.2")
        #expect(throws: (any Error).self) { try DICOMFile.metadata(fromPrefix: Data(repeating: 0xFF, count: 300), isWholeFile: true) }
    }

    /// A data set given up while its chunks are still being written (the association aborted): discarding it waits for
    /// nothing, and the file is deleted and its descriptor closed once those writes are done.
    @Test func aDiscardedIncomingDataSetClosesItsFileAfterItsWrites() async throws {
        let directory = try TestSupport.temporaryDirectory("direct-discard")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #require(IncomingDataSet.writesDirectly, "direct writes are switched off (DICOM_BUFFERED_WRITES) or unknown here")
        let request = CStoreRequest(messageID: 1, affectedSOPClassUID: TestSupport.ctImageStorage, affectedSOPInstanceUID: "1.2.3.99.3")
        let incoming = IncomingDataSet(request: request, contextID: 1, directory: directory,
                                       transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid, sourceAETitle: "SCU",
                                       writingDirectly: true)
        let path = incoming.path
        try #require(incoming.leadingBytes != nil, "the file system refused O_DIRECT")
        await incoming.append(ByteBuffer(repeating: 0x5A, count: 3 * DirectFileWriter.chunkSize + 100))
        incoming.discard()
        #expect(!FileManager.default.fileExists(atPath: path))
        // No descriptor of this process is left on the deleted file once the writer's queue is done (bounded wait).
        func openOnIt() -> Bool {
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return descriptors.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0))?.hasPrefix(path) == true }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while openOnIt() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!openOnIt(), "a descriptor of the discarded file is still open")
    }
}

/// The size of a file (0 when it is missing).
enum FileSystemSize {
    static func of(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}
