import DICOMCore
import Foundation
import Testing
@testable import DICOMIO

/// `FileLoader` and the metadata-only read of large files, which tries a 16 KiB and a 256 KiB prefix first: the
/// result must be exactly what a read of the whole file gives.
@Suite struct FileLoaderTests {
    /// A CT-like data set with `privateBytes` of private OB data before the pixel data and `pixelBytes` of pixel data.
    static func instance(privateBytes: Int = 0, pixelBytes: Int = 200_000, afterPixels: Bool = false) throws -> DataSet {
        var dataSet = DataSet()
        dataSet.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 192")
        dataSet.setASCII(.sopClassUID, vr: .UI, "1.2.840.10008.5.1.4.1.1.2")
        dataSet.setASCII(.sopInstanceUID, vr: .UI, "1.2.826.0.1.3680043.10.999.55")
        try dataSet.set(.patientName, vr: .PN, string: "Өмүрбеков^Үсөн")
        var item = DataSet()
        item.setASCII(.codeValue, vr: .SH, "C1")
        dataSet[.procedureCodeSequence] = DataElement(tag: .procedureCodeSequence, items: [item], undefinedLength: true)
        if privateBytes > 0 {
            dataSet.setASCII(Tag(0x0029, 0x0010), vr: .LO, "SWIFT DICOM TEST")
            dataSet[Tag(0x0029, 0x1010)] = DataElement(tag: Tag(0x0029, 0x1010), vr: .OB,
                                                       bytes: Data((0..<privateBytes).map { UInt8(truncatingIfNeeded: $0 * 7) }))
        }
        try dataSet.set(.rows, vr: .US, integers: [100])
        if pixelBytes > 0 {
            dataSet[.pixelData] = DataElement(tag: .pixelData, vr: .OW, bytes: Data(repeating: 0x5A, count: pixelBytes))
        }
        if afterPixels {
            dataSet[Tag(0xFFFA, 0xFFFA)] = DataElement(tag: Tag(0xFFFA, 0xFFFA), vr: .OB, bytes: Data([1, 2]))
        }
        return dataSet
    }

    static func write(_ dataSet: DataSet, syntax: TransferSyntax = .explicitVRLittleEndian, name: String) throws -> (path: String, data: Data) {
        let data = try DICOMFile(dataSet: dataSet, transferSyntax: syntax).encoded()
        let path = temporaryDirectory() + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        return (path, data)
    }

    /// Reading the file metadata-only equals reading its whole bytes metadata-only, diagnostics included.
    static func expectSameAsWholeRead(_ path: String, _ data: Data, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fromDisk = try DICOMFile(contentsOf: path, options: .metadataOnly)
        let inMemory = try DICOMFile(data: data, options: .metadataOnly)
        #expect(fromDisk.dataSet == inMemory.dataSet, sourceLocation: sourceLocation)
        #expect(fromDisk.fileMetaInformation == inMemory.fileMetaInformation, sourceLocation: sourceLocation)
        #expect(fromDisk.diagnostics == inMemory.diagnostics, sourceLocation: sourceLocation)
        #expect(fromDisk.transferSyntax == inMemory.transferSyntax, sourceLocation: sourceLocation)
        #expect(fromDisk.preamble == inMemory.preamble, sourceLocation: sourceLocation)
        #expect(fromDisk.dataSet.string(.patientName) == "Өмүрбеков^Үсөн", sourceLocation: sourceLocation)
        #expect(!fromDisk.dataSet.contains(.pixelData), sourceLocation: sourceLocation)
    }

    @Test func headerWithinThePrefix() throws {
        let (path, data) = try Self.write(Self.instance(pixelBytes: 300_000, afterPixels: true), name: "small-header.dcm")
        #expect(data.count > FileLoader.metadataPrefixes[1])
        try Self.expectSameAsWholeRead(path, data)
        let file = try DICOMFile(contentsOf: path, options: .metadataOnly)
        #expect(file.dataSet.items(.procedureCodeSequence)?.first?.string(.codeValue) == "C1")
        #expect(!file.dataSet.contains(Tag(0xFFFA, 0xFFFA)))
        // Without stopBeforePixelData the whole file is read (mapped), pixel data and what follows included.
        let whole = try DICOMFile(contentsOf: path)
        #expect(whole.dataSet[.pixelData]?.bytes?.count == 300_000)
        #expect(whole.dataSet.contains(Tag(0xFFFA, 0xFFFA)))
    }

    /// The pixel data starts near or after the end of a prefix: the next prefix or the whole file is read.
    @Test(arguments: [16 * 1024 - 300, 16 * 1024 - 20, 16 * 1024, 100_000, 256 * 1024 - 300, 256 * 1024, 300_000])
    func headerLongerThanThePrefix(_ privateBytes: Int) throws {
        let (path, data) = try Self.write(Self.instance(privateBytes: privateBytes), name: "long-header-\(privateBytes).dcm")
        try Self.expectSameAsWholeRead(path, data)
        let file = try DICOMFile(contentsOf: path, options: .metadataOnly)
        #expect(file.dataSet[Tag(0x0029, 0x1010)]?.bytes?.count == privateBytes)
        #expect(file.dataSet.integer(.rows) == 100)
    }

    /// No pixel data at all (a structured report, say) in a file larger than the prefix.
    @Test func largeFileWithoutPixelData() throws {
        let (path, data) = try Self.write(Self.instance(privateBytes: 100_000, pixelBytes: 0), name: "no-pixels.dcm")
        try Self.expectSameAsWholeRead(path, data)
        #expect(try DICOMFile(contentsOf: path, options: .metadataOnly).dataSet.integer(.rows) == 100)
    }

    /// Implicit VR, big endian and deflated files read the same from a prefix or whole.
    @Test(arguments: [TransferSyntax.implicitVRLittleEndian, .explicitVRBigEndian, .deflatedExplicitVRLittleEndian])
    func otherTransferSyntaxes(_ syntax: TransferSyntax) throws {
        let name = "syntax-\(syntax.uid).dcm"
        let (path, data) = try Self.write(Self.instance(privateBytes: 1_000, pixelBytes: 300_000), syntax: syntax, name: name)
        try Self.expectSameAsWholeRead(path, data)
    }

    /// A file cut inside its pixel data: the metadata still reads (as from memory); a full read fails naming the file.
    @Test func truncatedInsideThePixelData() throws {
        let (path, data) = try Self.write(Self.instance(), name: "cut-pixels.dcm")
        let cut = data.prefix(data.count - 1_000)
        try cut.write(to: URL(fileURLWithPath: path))
        try Self.expectSameAsWholeRead(path, cut)
        do {
            _ = try DICOMFile(contentsOf: path)
            Issue.record("a full read of a truncated file must fail")
        } catch let error as DICOMError {
            #expect(error.file == path)
            #expect(error.code == .invalidLength)
            #expect(error.tagPath == "(7FE0,0010)")
        }
    }

    /// A header broken after 16 KiB gives the same error as a read from memory, with the file's name.
    @Test func brokenHeaderAfterThePrefix() throws {
        let (path, data) = try Self.write(Self.instance(privateBytes: 100_000, pixelBytes: 0), name: "broken.dcm")
        let cut = data.prefix(data.count - 1)                          // inside the last element, the 100,000-byte (0029,1010)
        try cut.write(to: URL(fileURLWithPath: path))
        var expected: DICOMError? = nil
        do { _ = try DICOMFile(data: cut, options: .metadataOnly) } catch let error as DICOMError { expected = error }
        let inMemory = try #require(expected)
        #expect(inMemory.tagPath == "(0029,1010)")
        do {
            _ = try DICOMFile(contentsOf: path, options: .metadataOnly)
            Issue.record("a truncated header must be an error")
        } catch let error as DICOMError {
            #expect(error == inMemory.inFile(path))
        }
    }

    @Test func smallAndEmptyFiles() throws {
        let (path, data) = try Self.write(Self.instance(pixelBytes: 16), name: "tiny.dcm")
        #expect(data.count < FileLoader.mapThreshold)
        try Self.expectSameAsWholeRead(path, data)
        let empty = temporaryDirectory() + "/empty.dcm"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        for options in [ReadOptions(), .metadataOnly] {
            #expect(throws: DICOMError.self) { try DICOMFile(contentsOf: empty, options: options) }
        }
    }

    @Test func missingFileAndDirectory() throws {
        let directory = temporaryDirectory()
        for options in [ReadOptions(), .metadataOnly] {
            do {
                _ = try DICOMFile(contentsOf: directory + "/absent.dcm", options: options)
                Issue.record("a missing file must be an error")
            } catch let error as DICOMError {
                #expect(error.code == .io)
                #expect(error.file == directory + "/absent.dcm")
                #expect(error.message.contains("cannot open"))
            }
            do {
                _ = try DICOMFile(contentsOf: directory, options: options)
                Issue.record("a directory must be an error")
            } catch let error as DICOMError {
                #expect(error.code == .io)
                #expect(error.message == "not a regular file")
            }
        }
    }

    @Test func prefixParseIsCalledFirstThenTheWholeFile() throws {
        let (path, data) = try Self.write(Self.instance(), name: "calls.dcm")
        var calls: [(count: Int, isWhole: Bool)] = []
        let size = try FileLoader.load(path, tryPrefixes: [1_000, 20_000, data.count + 1]) { data, isWhole -> Int? in
            calls.append((data.count, isWhole))
            return isWhole ? data.count : nil
        }
        #expect(size == data.count)
        #expect(calls.map(\.count) == [1_000, 20_000, data.count])
        #expect(calls.map(\.isWhole) == [false, false, true])
        // The second prefix is enough.
        let second = try FileLoader.load(path, tryPrefixes: [1_000, 20_000]) { data, _ -> Int? in data.count >= 20_000 ? data.count : nil }
        #expect(second == 20_000)
        // A parse that throws on the prefix gets the whole file too.
        var attempts = 0
        let whole = try FileLoader.load(path, tryPrefixes: [1_000]) { data, isWhole -> Data? in
            attempts += 1
            if !isWhole { throw DICOMError(.truncated, "prefix") }
            return data
        }
        #expect(attempts == 2)
        #expect(whole == data)
        // Files no larger than the prefix are read once, whole.
        var once = 0
        _ = try FileLoader.load(path, tryPrefixes: [data.count]) { _, isWhole -> Bool? in
            once += 1
            return isWhole
        }
        #expect(once == 1)
    }

    /// Every file of pydicom's collection reads the same metadata-only from disk (prefix first) as from memory:
    /// the same data set, meta information and diagnostics, or the same error.
    @Test(.enabled(if: PydicomFiles.available, "pydicom is not installed (pip install pydicom)"))
    func pydicomCollectionReadsTheSameFromAPrefix() throws {
        let files = PydicomConformanceTests.collectionFiles()
        #expect(files.count > 100)
        var larger = 0
        var stoppedInPrefix = 0
        for path in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            if data.count > FileLoader.metadataPrefixes[0] { larger += 1 }
            var stopped = false
            let expected: Result<DICOMFile, DICOMError>
            do {
                expected = .success(try DICOMFile(data: data, options: .metadataOnly, stoppedAtPixelData: &stopped))
            } catch let error as DICOMError {
                expected = .failure(error)
            }
            if stopped && data.count > FileLoader.metadataPrefixes[0] { stoppedInPrefix += 1 }
            switch expected {
            case .success(let inMemory):
                let fromDisk = try DICOMFile(contentsOf: path, options: .metadataOnly)
                #expect(fromDisk.dataSet == inMemory.dataSet, "\(path)")
                #expect(fromDisk.fileMetaInformation == inMemory.fileMetaInformation, "\(path)")
                #expect(fromDisk.diagnostics == inMemory.diagnostics, "\(path)")
                #expect(fromDisk.transferSyntax == inMemory.transferSyntax, "\(path)")
                #expect(fromDisk.dataSet.characterSet == inMemory.dataSet.characterSet, "\(path)")
            case .failure(let error):
                #expect(throws: error.inFile(path)) { try DICOMFile(contentsOf: path, options: .metadataOnly) }
            }
        }
        // The collection has large files, and the prefix is enough for some of them.
        #expect(larger >= 5)
        #expect(stoppedInPrefix > 5)
    }
}
