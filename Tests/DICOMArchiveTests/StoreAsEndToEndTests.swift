import DICOMCore
import DICOMIO
import Foundation
import Testing

/// `dcmstore --store-as jpeg-ls`: DCMTK storescu sends uncompressed images, the archive keeps them in JPEG-LS
/// lossless, and DCMTK getscu (which proposes only uncompressed syntaxes) gets them back decompressed, pixel for pixel.
@Suite("dcmstore --store-as end to end", .serialized)
struct StoreAsEndToEndTests {
    @Test(.timeLimit(.minutes(3)))
    func storedCompressedRetrievedUncompressed() async throws {
        let base = try EndToEnd.temporaryDirectory("store-as")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let input = base + "/in", got = base + "/got", archive = base + "/archive"
        for directory in [input, got] { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let study = TestInstances.root() + ".1"
        var originals: [String: Data] = [:]
        var paths: [String] = []
        for number in 1...2 {
            let sop = study + ".1.\(number)"
            let (image, pixels) = try StoreCompressionTests.image(sop: sop)
            var dataSet = image
            dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, study)
            dataSet.setASCII(Tag(0x0020, 0x000E), vr: .UI, study + ".1")
            let path = input + "/\(number).dcm"
            try DICOMFile(dataSet: dataSet, transferSyntax: .explicitVRLittleEndian).encoded().write(to: URL(fileURLWithPath: path))
            paths.append(path)
            originals[sop] = pixels
        }
        let server = try await processes.startServer(archive: archive, arguments: ["--store-as", "jpeg-ls"])
        let port = "\(server.port)"
        let stored = try await processes.run(try EndToEnd.dcmtk("storescu"), ["-aec", "DCMSTORE", "127.0.0.1", port] + paths)
        #expect(stored.status == 0, "storescu: \(stored.errors)")
        let kept = EndToEnd.files(under: archive + "/data").filter { $0.hasSuffix(".dcm") }
        #expect(kept.count == 2)
        for name in kept {
            #expect(try DICOMFile(contentsOf: archive + "/data/" + name).transferSyntax == .jpegLSLossless, "\(name)")
        }
        let get = try await processes.run(try EndToEnd.dcmtk("getscu"), ["-S", "-aec", "DCMSTORE", "-k", "QueryRetrieveLevel=STUDY",
                                                                         "-k", "StudyInstanceUID=\(study)", "-od", got, "127.0.0.1", port])
        #expect(get.status == 0, "getscu: \(get.errors)")
        let received = EndToEnd.files(under: got)
        #expect(received.count == 2)
        for name in received {
            let file = try DICOMFile(contentsOf: got + "/" + name)
            #expect(!file.transferSyntax.isEncapsulated, "\(name) arrived in \(file.transferSyntax.name)")
            let sop = try #require(file.dataSet.string(Tag(0x0008, 0x0018)))
            #expect(file.dataSet[Tag(0x7FE0, 0x0010)]?.bytes == originals[sop], "\(name): pixels differ")
        }
        #expect(await server.terminate() == 0)
    }
}
