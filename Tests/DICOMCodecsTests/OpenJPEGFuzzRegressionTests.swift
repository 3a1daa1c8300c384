import DICOMCore
@testable import DICOMCodecs
import Foundation
import Testing

/// What fuzzing the OpenJPEG wrapper found (Tools/fuzz/README.md, "Findings"), kept as regression tests.
///
/// The memory stream's read callback returned `OPJ_SIZE_T.max` at the end of the data. Swift imports `size_t` as
/// `Int`, so that was 2^63 − 1, not the `(OPJ_SIZE_T)-1` OpenJPEG tests for: OpenJPEG took it as a byte count and
/// read on past its 1 MB stream buffer (a heap over-read under AddressSanitizer, a SIGSEGV without it).
@Suite struct OpenJPEGFuzzRegressionTests {

    /// Tools/fuzz/findings/openjpeg-stream-overread.j2k (538 bytes): SOC, SIZ (96×64, one 12-bit component), COD, QCD,
    /// a COM segment, then bytes that are no known marker, so OpenJPEG scans two bytes at a time to the end of the data.
    static let streamOverreadBase64 = """
        /0//UQApAAAAAABgAAAAQAAAAAAAAAAAAAAAYAAAAEAAAAAAAAAAAAABCwEB/1IADAAAAAEABQQEAAD/XAAjQpcglvCW8JbAjwCP\
        AI7gh1CHUIdocAVwBXBHd9N303di/2QAJQABQ3JlYXRlZP//////////////////////////////////////AAAAAAD///////8H\
        AAAAOP///////////////////////////////////21fq/dhFLZ+9z9Ry06qyiGVpaQ6VOlTed7cissAwvXu7dFD0NzepvGzp6hi\
        qVSd1TxdxIyRgjIvmdarpDAHxp4lOQLxfgXpDxQnHcgdtt0uVf2S+uodBnqmbryofKr1qyb+kqaHQ5rMj5D7lpA17tpjTqnTD+3d\
        92JD4U0zFVWkDKsQmH3pb/SQfy5MKDfel4F/HFRT3HdYhp5ph1NodN2fxUEE+CQAAAAAAAAAOFP3vmzc/Oa4ylEZiwdm9xthXQbK\
        Q/9qWr1T/WpEjZwbhTiksRrAqnGNaLi2AG+sg7hODnts0q+r+4j3ROlK36w6g0cYdXs3b0Mh7mrMcLEGHLIncLT9fOWT7LFBFflw\
        gU1imtfBbDVAC2r7yTMbAdUJcw6y7/9eKrneR4DInXcw0uoSRSllLwxw6a+cD5CiszyeYhdI+zXHzfOly66gVa3mlsaDUBavrXRU\
        /hvRFrXmIb2wr43/2Q==
        """

    @Test func streamOverreadFindingIsACorruptHeader() throws {
        let frame = try #require(Data(base64Encoded: Self.streamOverreadBase64))
        #expect(frame.count == 538)
        let description = FrameDescription(rows: 64, columns: 96, bitsAllocated: 16, bitsStored: 12)
        do {
            _ = try OpenJPEGDecoder().decode(frame, description: description)
            Issue.record("the fuzz finding decoded without an error")
        } catch let error as CodecError {
            #expect(error.kind == .corruptStream)
            #expect(error.message.hasPrefix("JPEG 2000: cannot read the main header"), "\(error)")
        }
    }

    /// The read callback never reports more bytes than asked for or left, and ends with all ones.
    @Test func readCallbackEndsWithAllOnes() throws {
        let data: [UInt8] = [1, 2, 3, 4, 5]
        try data.withUnsafeBytes { raw in
            let reader = OpenJPEGMemoryReader(raw)
            let context = Unmanaged.passUnretained(reader).toOpaque()
            var buffer = [UInt8](repeating: 0, count: 16)
            try buffer.withUnsafeMutableBytes { target in
                let base = try #require(target.baseAddress)
                #expect(OpenJPEGMemoryReader.read(base, 3, context) == 3)
                #expect(Array(target.prefix(3)) == [1, 2, 3])
                // A request larger than what is left (and one whose size_t does not fit in Int) gets the rest.
                #expect(OpenJPEGMemoryReader.read(base, -1, context) == 2)
                #expect(Array(target.prefix(2)) == [4, 5])
                let end = OpenJPEGMemoryReader.read(base, 16, context)
                #expect(UInt(bitPattern: end) == UInt.max, "end of stream must be (OPJ_SIZE_T)-1, got \(end)")
                #expect(UInt(bitPattern: openJPEGEndOfStream) == UInt.max)
            }
            withExtendedLifetime(reader) {}
        }
    }

    @Test func skipAndSeekStayInsideTheData() {
        let data = [UInt8](repeating: 7, count: 10)
        data.withUnsafeBytes { raw in
            let reader = OpenJPEGMemoryReader(raw)
            let context = Unmanaged.passUnretained(reader).toOpaque()
            #expect(OpenJPEGMemoryReader.skip(4, context) == 4)
            #expect(OpenJPEGMemoryReader.skip(-2, context) == -2)
            #expect(reader.offset == 2)
            #expect(OpenJPEGMemoryReader.skip(-3, context) == -1, "before the start")
            #expect(OpenJPEGMemoryReader.skip(100, context) == 8, "clamped to the end")
            #expect(OpenJPEGMemoryReader.skip(1, context) == -1, "nothing left to skip")
            #expect(OpenJPEGMemoryReader.skip(Int64.max, context) == -1, "no overflow trap")
            #expect(reader.offset == 10)
            #expect(OpenJPEGMemoryReader.seek(3, context) == 1)
            #expect(reader.offset == 3)
            #expect(OpenJPEGMemoryReader.seek(11, context) == 0)
            #expect(OpenJPEGMemoryReader.seek(-1, context) == 0)
            #expect(reader.offset == 3)
            withExtendedLifetime(reader) {}
        }
    }

    /// Every truncation of a valid codestream reaches the end of the data somewhere in OpenJPEG: each must be an error
    /// (or, when only the final EOC marker is missing, the complete image), never a read past the data.
    @Test func everyTruncationThrowsOrDecodesWhole() throws {
        let description = FrameDescription(rows: 16, columns: 16, bitsAllocated: 16, bitsStored: 12)
        let original = OpenJPEGTests.samples(description)
        let encoded = try OpenJPEGEncoder(lossless: true).encode(original, description: description, options: EncodingOptions()).bytes
        let decoder = OpenJPEGDecoder()
        var failures = 0
        for length in 0..<encoded.count {
            do {
                let decoded = try decoder.decode(encoded.prefix(length), description: description)
                #expect(length >= encoded.count - 2 && decoded.pixels == original, "prefix of \(length) of \(encoded.count) bytes decoded")
            } catch let error as CodecError {
                #expect(error.message.hasPrefix("JPEG 2000"), "\(length): \(error)")
                failures += 1
            }
        }
        #expect(failures >= encoded.count - 2)
    }
}
