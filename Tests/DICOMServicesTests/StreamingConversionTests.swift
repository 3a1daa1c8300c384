import DICOMCodecs
import DICOMCore
import DICOMIO
@testable import DICOMServices
import Foundation
import Testing

/// The streamed conversion (``StreamingConversion``) writes, frame by frame, exactly what the in-memory conversion
/// (``OutgoingDataSet/encoded(fileAt:in:)``) builds, and a store through it arrives as the in-memory path would send it.
@Suite struct StreamingConversionTests {
    static let nativeTargets: [TransferSyntax] = [.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian]

    /// A multi-frame instance with an undefined-length sequence before Pixel Data and Data Set Trailing Padding
    /// (FFFC,FFFC) after it; `bits` 8 (RGB when `samples` is 3) or 16 (12 stored), frames differing from each other.
    static func nativeInstance(uid: String, rows: Int = 24, columns: Int = 20, frames: Int = 3, bits: Int = 16,
                               samples: Int = 1) throws -> DataSet {
        var dataSet = try TestSupport.makeInstance(sopInstanceUID: uid, rows: rows, columns: columns)
        var item = DataSet()
        item.setASCII(Tag(0x0008, 0x0100), vr: .SH, "121311")
        item.hadUndefinedLength = true
        var nested = DataSet()
        nested.setASCII(Tag(0x0008, 0x0104), vr: .LO, "Localizer")
        item.set(DataElement(tag: Tag(0x0040, 0xA043), items: [nested], undefinedLength: true))
        dataSet.set(DataElement(tag: Tag(0x0040, 0x0260), items: [item], undefinedLength: true))
        try dataSet.set(Tag(0x0028, 0x0008), vr: .IS, integers: [frames])
        try dataSet.set(Tag(0x0028, 0x0002), vr: .US, integers: [samples])
        try dataSet.set(Tag(0x0028, 0x0100), vr: .US, integers: [bits])
        try dataSet.set(Tag(0x0028, 0x0101), vr: .US, integers: [bits == 16 ? 12 : 8])
        try dataSet.set(Tag(0x0028, 0x0102), vr: .US, integers: [bits == 16 ? 11 : 7])
        if samples == 3 {
            dataSet.setASCII(Tag(0x0028, 0x0004), vr: .CS, "RGB")
            try dataSet.set(Tag(0x0028, 0x0006), vr: .US, integers: [0])
        }
        let samplesPerFrame = rows * columns * samples
        var pixels = Data(count: samplesPerFrame * frames * bits / 8)
        pixels.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            for frame in 0..<frames {
                for i in 0..<samplesPerFrame {
                    let value = (i * 37 + (i / columns) * 11 + frame * 501) % (bits == 16 ? 4096 : 256)
                    let at = frame * samplesPerFrame + i
                    if bits == 16 {
                        raw[2 * at] = UInt8(value & 0xFF)
                        raw[2 * at + 1] = UInt8(value >> 8)
                    } else {
                        raw[at] = UInt8(value)
                    }
                }
            }
        }
        dataSet.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: bits == 16 ? .OW : .OB, bytes: pixels))
        dataSet.set(DataElement(tag: Tag(0xFFFC, 0xFFFC), vr: .OB, bytes: Data(count: 6)))
        return dataSet
    }

    /// The instance compressed in `syntax` with our encoders, written as a Part 10 file.
    static func compressedFile(_ syntax: TransferSyntax, in directory: String, name: String, frames: Int = 3) throws -> String {
        let lossy = syntax.isLossy
        let native = try nativeInstance(uid: "1.2.826.0.1.3680043.10.999.31.\(name.count)", frames: frames,
                                        bits: lossy ? 8 : 16, samples: lossy ? 3 : 1)
        let transcoder = Transcoder(options: Transcoder.Options(allowLossy: lossy))
        let dataSet = try transcoder.transcode(native, from: .explicitVRLittleEndian, to: syntax)
        return try TestSupport.writeInstance(dataSet, transferSyntax: syntax, to: directory, name: name)
    }

    /// Converts with both paths and checks the streamed file is element by element (and byte by byte) the in-memory one.
    static func expectSame(_ path: String, to target: TransferSyntax, temporary: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try OutgoingDataSet.encoded(fileAt: path, in: target)
        let streamed = try #require(try StreamingConversion.convert(fileAt: path, to: target, temporaryDirectory: temporary),
                                    "\(path) → \(target.name) did not stream", sourceLocation: sourceLocation)
        defer { try? FileManager.default.removeItem(atPath: streamed) }
        #expect(streamed.hasPrefix(temporary), sourceLocation: sourceLocation)
        let actual = try Data(contentsOf: URL(fileURLWithPath: streamed))
        let expectedSet = try DataSetReader.read(expected, transferSyntax: target)
        let actualSet = try DataSetReader.read(actual, transferSyntax: target)
        #expect(actualSet.elements.map(\.tag) == expectedSet.elements.map(\.tag), sourceLocation: sourceLocation)
        for (a, e) in zip(actualSet.elements, expectedSet.elements) where a != e {
            Issue.record("\((path as NSString).lastPathComponent) → \(target.name): \(a.tag) differs", sourceLocation: sourceLocation)
        }
        #expect(actual == expected, "\((path as NSString).lastPathComponent) → \(target.name): bytes differ", sourceLocation: sourceLocation)
        #expect(expectedSet[Tag(0x7FE0, 0x0010)]?.bytes?.isEmpty == false, sourceLocation: sourceLocation)
    }

    @Test(arguments: [TransferSyntax.rleLossless, .jpegBaseline, .jpegLSLossless, .jpeg2000Lossless])
    func decompressedFileEqualsTheInMemoryConversion(_ syntax: TransferSyntax) throws {
        let directory = try TestSupport.temporaryDirectory("stream-\(syntax.uid)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for frames in [1, 3] {
            let path = try Self.compressedFile(syntax, in: directory, name: "in-\(frames).dcm", frames: frames)
            for target in Self.nativeTargets {
                try Self.expectSame(path, to: target, temporary: directory)
            }
        }
    }

    @Test(arguments: [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian])
    func nativeFileReencodedEqualsTheInMemoryConversion(_ source: TransferSyntax) throws {
        let directory = try TestSupport.temporaryDirectory("stream-native")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 16-bit OW; 8-bit OB with an odd value length (5×3 pixels × 3 frames = 45 bytes).
        let instances = [try Self.nativeInstance(uid: "1.2.826.0.1.3680043.10.999.32.1"),
                         try Self.nativeInstance(uid: "1.2.826.0.1.3680043.10.999.32.2", rows: 5, columns: 3, bits: 8)]
        for (n, instance) in instances.enumerated() {
            let path = try TestSupport.writeInstance(instance, transferSyntax: source, to: directory, name: "n\(n).dcm")
            for target in Self.nativeTargets where target.uid != source.uid {
                try Self.expectSame(path, to: target, temporary: directory)
            }
        }
    }

    @Test func bigEndianPixelDataIsSwappedToLittleEndian() throws {
        let directory = try TestSupport.temporaryDirectory("stream-swap")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let instance = try Self.nativeInstance(uid: "1.2.826.0.1.3680043.10.999.33.1", frames: 2)
        let path = try TestSupport.writeInstance(instance, transferSyntax: .explicitVRBigEndian, to: directory, name: "be.dcm")
        let streamed = try #require(try StreamingConversion.convert(fileAt: path, to: .explicitVRLittleEndian, temporaryDirectory: directory))
        let dataSet = try DataSetReader.read(try Data(contentsOf: URL(fileURLWithPath: streamed)), transferSyntax: .explicitVRLittleEndian)
        #expect(dataSet[Tag(0x7FE0, 0x0010)]?.bytes == instance[Tag(0x7FE0, 0x0010)]?.bytes)
        #expect(dataSet.items(Tag(0x0040, 0x0260))?.first?.string(Tag(0x0008, 0x0100)) == "121311")
    }

    @Test func whatDoesNotStreamReturnsNilAndLeavesNothing() throws {
        let directory = try TestSupport.temporaryDirectory("stream-nil")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let temporary = directory + "/tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let rle = try Self.compressedFile(.rleLossless, in: directory, name: "rle.dcm")
        #expect(try StreamingConversion.convert(fileAt: rle, to: .deflatedExplicitVRLittleEndian, temporaryDirectory: temporary) == nil)
        var noPixels = try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.34.1")
        noPixels.remove(Tag(0x7FE0, 0x0010))
        let plain = try TestSupport.writeInstance(noPixels, to: directory, name: "plain.dcm")
        #expect(try StreamingConversion.convert(fileAt: plain, to: .implicitVRLittleEndian, temporaryDirectory: temporary) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
        // The caller then converts in memory.
        let (source, file) = try OutgoingDataSet.converted(fileAt: plain, in: .implicitVRLittleEndian, temporaryDirectory: temporary)
        #expect(file == nil)
        guard case .buffer(let buffer) = source else {
            Issue.record("expected an in-memory buffer")
            return
        }
        #expect(Data(buffer.readableBytesView) == (try OutgoingDataSet.encoded(fileAt: plain, in: .implicitVRLittleEndian)))
    }

    @Test func aCorruptFrameIsNamedAndTheTemporaryFileRemoved() throws {
        let directory = try TestSupport.temporaryDirectory("stream-corrupt")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let temporary = directory + "/tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let path = try Self.compressedFile(.rleLossless, in: directory, name: "rle.dcm", frames: 3)
        // Break the RLE header of frame 2 (PS3.5 §G.5: the first 4 bytes give the number of segments, at most 15).
        let file = try DICOMFile(contentsOf: path)
        guard case .encapsulated(let pixels)? = file.dataSet[Tag(0x7FE0, 0x0010)]?.value else {
            Issue.record("not encapsulated")
            return
        }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let second = pixels.fragments[1]
        let at = try #require(bytes.range(of: second)).lowerBound
        bytes.replaceSubrange(at..<(at + 4), with: [0xFF, 0x00, 0x00, 0x00])
        try bytes.write(to: URL(fileURLWithPath: path))
        do {
            _ = try StreamingConversion.convert(fileAt: path, to: .explicitVRLittleEndian, temporaryDirectory: temporary)
            Issue.record("a corrupt frame converted without an error")
        } catch let error as DICOMServiceError {
            #expect(error.code == .invalidInput)
            #expect(error.message.contains(path), "\(error.message)")
            #expect(error.message.contains("frame 2 of 3"), "\(error.message)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
    }

    @Test func aCancelledConversionStopsAndRemovesItsFile() async throws {
        let directory = try TestSupport.temporaryDirectory("stream-cancel")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let temporary = directory + "/tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let path = try Self.compressedFile(.rleLossless, in: directory, name: "rle.dcm", frames: 3)
        let task = Task {
            while !Task.isCancelled { await Task.yield() }
            return try StreamingConversion.convert(fileAt: path, to: .explicitVRLittleEndian, temporaryDirectory: temporary)
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
    }

    /// The element walker skips an undefined-length UN (a sequence in implicit VR little endian, PS3.5 §6.2.2) and
    /// nested undefined-length items to reach Pixel Data, and throws (never traps) on every truncation of the input.
    @Test func walkerSkipsUndefinedLengthUNAndRejectsTruncatedInput() throws {
        var bytes: [UInt8] = []
        func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(k))) & 0xFF)) } }
        // (0009,0010) LO "PRIV"
        u16(0x0009); u16(0x0010); bytes += Array("LO".utf8); u16(4); bytes += Array("PRIV".utf8)
        // (0009,1001) UN, undefined length: one undefined-length item holding (0008,0100) "ABCD" in implicit VR.
        u16(0x0009); u16(0x1001); bytes += Array("UN".utf8); u16(0); u32(0xFFFF_FFFF)
        u16(0xFFFE); u16(0xE000); u32(0xFFFF_FFFF)
        u16(0x0008); u16(0x0100); u32(4); bytes += Array("ABCD".utf8)
        u16(0xFFFE); u16(0xE00D); u32(0)
        u16(0xFFFE); u16(0xE0DD); u32(0)
        // (0028,0010) US 2
        u16(0x0028); u16(0x0010); bytes += Array("US".utf8); u16(2); u16(2)
        let pixelAt = bytes.count
        // (7FE0,0010) OW, 4 bytes; then (FFFC,FFFC) OB, 2 bytes.
        u16(0x7FE0); u16(0x0010); bytes += Array("OW".utf8); u16(0); u32(4); bytes += [1, 2, 3, 4]
        u16(0xFFFC); u16(0xFFFC); bytes += Array("OB".utf8); u16(0); u32(2); bytes += [0, 0]
        let location = try bytes.withUnsafeBytes { raw in
            try ElementWalker(raw: raw, bigEndian: false).locatePixelData(from: 0, explicitVR: true, pixelRepresentation: nil)
        }
        #expect(location == PixelDataLocation(headerOffset: pixelAt, vr: .OW, valueOffset: pixelAt + 12, length: 4, items: [],
                                              end: pixelAt + 16))
        for cut in 1..<(pixelAt + 16) {
            let prefix = Array(bytes.prefix(cut))
            let found = try? prefix.withUnsafeBytes { raw in
                try ElementWalker(raw: raw, bigEndian: false).locatePixelData(from: 0, explicitVR: true, pixelRepresentation: nil)
            }
            #expect(found == nil, "cut at \(cut) found Pixel Data")
        }
    }

    @Test func unreadableTemporaryDirectoryIsAClearError() throws {
        let directory = try TestSupport.temporaryDirectory("stream-nodir")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try Self.compressedFile(.rleLossless, in: directory, name: "rle.dcm")
        #expect {
            _ = try StreamingConversion.convert(fileAt: path, to: .explicitVRLittleEndian, temporaryDirectory: directory + "/missing")
        } throws: { error in
            (error as? DICOMServiceError)?.message.contains("temporary file") == true
        }
    }

    /// An SCP that accepts only Explicit VR Little Endian receives multi-frame compressed files decompressed by the
    /// streamed path exactly as the in-memory conversion encodes them; the temporary files are gone afterwards.
    @Test func storeToAnExplicitLittleEndianOnlySCPArrivesAsTheInMemoryPath() async throws {
        let directory = try TestSupport.temporaryDirectory("stream-e2e")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let temporary = directory + "/tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        var paths: [String] = []
        for (n, syntax) in [TransferSyntax.rleLossless, .jpegLSLossless, .jpeg2000Lossless, .jpegBaseline].enumerated() {
            var dataSet = try DICOMFile(contentsOf: try Self.compressedFile(syntax, in: directory, name: "src\(n).dcm", frames: 4)).dataSet
            dataSet.setASCII(Tag(0x0008, 0x0018), vr: .UI, "1.2.826.0.1.3680043.10.999.35.\(n + 1)")
            paths.append(try TestSupport.writeInstance(dataSet, transferSyntax: syntax, to: directory, name: "c\(n).dcm"))
        }
        let bigEndian = try Self.nativeInstance(uid: "1.2.826.0.1.3680043.10.999.35.9")
        paths.append(try TestSupport.writeInstance(bigEndian, transferSyntax: .explicitVRBigEndian, to: directory, name: "be.dcm"))
        for path in paths {
            // These take the streamed path (not the in-memory fallback).
            let (_, file) = try OutgoingDataSet.converted(fileAt: path, in: .explicitVRLittleEndian, temporaryDirectory: directory)
            let converted = try #require(file, "\(path) did not stream")
            try FileManager.default.removeItem(atPath: converted)
        }
        var policy = DICOMServer.defaultStoragePolicy()
        policy.accept(abstractSyntaxes: [TestSupport.ctImageStorage], transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])
        let received = directory + "/received"
        let server = try await DICOMServer.start(port: 0, policy: policy, storageHandler: try DirectoryStorageHandler(directory: received))
        let results = await FileSender(host: "127.0.0.1", port: server.port, callingAE: "SENDER", calledAE: "ANY-SCP",
                                       temporaryDirectory: temporary).send(paths: paths)
        await server.shutdown()
        for (path, result) in zip(paths, results) {
            #expect(result.ok, "\(path): \(result.error ?? "")")
            let uid = try #require(result.sopInstanceUID)
            let arrived = try DICOMFile(contentsOf: received + "/\(uid).dcm")
            #expect(arrived.transferSyntax.uid == TransferSyntax.explicitVRLittleEndian.uid)
            let expected = try DataSetReader.read(try OutgoingDataSet.encoded(fileAt: path, in: .explicitVRLittleEndian),
                                                  transferSyntax: .explicitVRLittleEndian)
            #expect(arrived.dataSet.elements.map(\.tag) == expected.elements.map(\.tag), "\(path)")
            #expect(arrived.dataSet == expected, "\(path): the received data set differs from the in-memory conversion")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty, "temporary files left behind")
    }
}
