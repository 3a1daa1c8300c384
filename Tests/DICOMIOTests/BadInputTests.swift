import DICOMCore
import Foundation
import Testing
@testable import DICOMIO

/// Malformed input gives a thrown `DICOMError` naming the offset: never a crash, hang or oversized allocation.
@Suite struct BadInputTests {
    func part10(_ body: ByteBuilder, syntax: String = "1.2.840.10008.1.2.1") -> Data {
        var b = ByteBuilder()
        b.bytes = [UInt8](repeating: 0, count: 128)
        b.ascii("DICM")
        var meta = ByteBuilder()
        var uid = Array(syntax.utf8); if uid.count % 2 == 1 { uid.append(0) }
        meta.explicitShort(0x0002, 0x0010, "UI", uid)
        b.explicitShort(0x0002, 0x0000, "UL", [UInt8(meta.bytes.count), 0, 0, 0])
        b.bytes += meta.bytes
        b.bytes += body.bytes
        return b.data
    }

    func strictOptions() -> ReadOptions {
        var options = ReadOptions()
        options.tolerated = .none
        return options
    }

    @Test func truncatedFileAtEveryLength() throws {
        var body = ByteBuilder()
        body.explicitShort(0x0008, 0x0060, "CS", Array("CT".utf8))                   // 10 bytes
        body.explicitLong(0x0008, 0x1115, "SQ", length: 0xFFFF_FFFF)                  // 12
        body.tag(0xFFFE, 0xE000); body.u32(0xFFFF_FFFF)                               // 8
        body.explicitShort(0x0008, 0x1155, "UI", Array("1.2.3\0".utf8))              // 14
        body.tag(0xFFFE, 0xE00D); body.u32(0)                                         // 8
        body.tag(0xFFFE, 0xE0DD); body.u32(0)                                         // 8
        body.explicitShort(0x0010, 0x0010, "PN", Array("Doe^John".utf8))              // 16
        body.explicitLong(0x7FE0, 0x0010, "OW", length: 8, [1, 2, 3, 4, 5, 6, 7, 8])  // 20
        let full = part10(body)
        _ = try DICOMFile(data: full, options: strictOptions())
        let metaEnd = full.count - body.bytes.count
        // Every cut inside the data set must throw (cuts exactly between top-level elements are complete data sets).
        let boundaries: Set<Int> = [metaEnd, metaEnd + 10, metaEnd + 60, metaEnd + 76]
        var thrown = 0
        for cut in metaEnd..<full.count where !boundaries.contains(cut) {
            do {
                _ = try DICOMFile(data: full.prefix(cut), options: strictOptions())
            } catch let error as DICOMError {
                #expect(error.offset != nil, "cut at \(cut): \(error)")
                thrown += 1
            }
        }
        #expect(thrown >= full.count - metaEnd - boundaries.count)
    }

    @Test func lengthPastTheEnd() {
        var body = ByteBuilder()
        body.explicitLong(0x7FE0, 0x0010, "OB", length: 0xFFFF_FFF0, [1, 2, 3, 4])
        #expect {
            _ = try DICOMFile(data: part10(body))
        } throws: { error in
            let e = error as! DICOMError
            return e.code == .invalidLength && e.offset != nil && e.message.contains("4294967280")
        }
    }

    @Test func oddLengthIsAnErrorWhenStrictAndADiagnosticOtherwise() throws {
        var body = ByteBuilder()
        body.explicitShort(0x0010, 0x0010, "PN", Array("Doe".utf8))
        #expect(throws: DICOMError.self) { _ = try DICOMFile(data: part10(body), options: strictOptions()) }
        let file = try DICOMFile(data: part10(body))
        #expect(file.dataSet.string(Tag(0x0010, 0x0010)) == "Doe")
        #expect(file.diagnostics.contains { $0.message.contains("odd length") })
    }

    @Test func bogusVR() {
        var body = ByteBuilder()
        body.explicitShort(0x0010, 0x0010, "PN", Array("Doe ".utf8))
        body.tag(0x0010, 0x0020); body.bytes += [0x01, 0x02]; body.u16(4); body.ascii("1234")
        #expect {
            _ = try DICOMFile(data: part10(body), options: strictOptions())
        } throws: { error in
            let e = error as! DICOMError
            return e.code == .invalidVR && e.offset == 132 + 12 + 28 + 12 + 4
        }
    }

    @Test func deeplyNestedSequencesAreRejected() {
        var body = ByteBuilder()
        for _ in 0..<10_000 {
            body.explicitLong(0x0040, 0xA730, "SQ", length: 0xFFFF_FFFF)
            body.tag(0xFFFE, 0xE000); body.u32(0xFFFF_FFFF)
        }
        #expect {
            _ = try DICOMFile(data: part10(body))
        } throws: { error in
            (error as? DICOMError)?.code == .tooDeep
        }
    }

    @Test func garbageAfterTheLastElement() {
        var body = ByteBuilder()
        body.explicitShort(0x0010, 0x0010, "PN", Array("Doe ".utf8))
        body.bytes += [0x13, 0x37, 0xAB]
        #expect {
            _ = try DICOMFile(data: part10(body))
        } throws: { error in
            let e = error as! DICOMError
            return e.code == .truncated && e.offset == 132 + 12 + 28 + 12
        }
    }

    @Test func notDICOM() {
        #expect(throws: DICOMError.self) { _ = try DICOMFile(data: Data("hello, world: not a DICOM file at all".utf8)) }
        #expect(throws: DICOMError.self) { _ = try DICOMFile(data: Data()) }
    }

    @Test func itemLengthOverrunsSequence() {
        var body = ByteBuilder()
        body.explicitLong(0x0008, 0x1115, "SQ", length: 16)
        body.tag(0xFFFE, 0xE000); body.u32(1000)
        body.explicitShort(0x0008, 0x1155, "UI", Array("1.2\0".utf8))
        #expect {
            _ = try DICOMFile(data: part10(body))
        } throws: { error in
            (error as? DICOMError)?.code == .invalidLength
        }
    }

    @Test func corruptDeflateStream() {
        var b = ByteBuilder()
        b.bytes += [0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x11, 0x22]
        #expect(throws: DICOMError.self) {
            _ = try DICOMFile(data: part10(b, syntax: "1.2.840.10008.1.2.1.99"))
        }
    }

    @Test func randomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        var body = ByteBuilder()
        body.explicitShort(0x0008, 0x0060, "CS", Array("CT".utf8))
        body.explicitLong(0x0008, 0x1115, "SQ", length: 0xFFFF_FFFF)
        body.tag(0xFFFE, 0xE000); body.u32(0xFFFF_FFFF)
        body.explicitShort(0x0008, 0x1155, "UI", Array("1.2.3\0".utf8))
        body.tag(0xFFFE, 0xE00D); body.u32(0)
        body.tag(0xFFFE, 0xE0DD); body.u32(0)
        let base = part10(body)
        var parsed = 0
        for _ in 0..<3000 {
            var bytes = [UInt8](base)
            for _ in 0..<3 {
                let i = Int.random(in: 132..<bytes.count, using: &generator)
                bytes[i] = UInt8.random(in: 0...255, using: &generator)
            }
            if (try? DICOMFile(data: Data(bytes))) != nil { parsed += 1 }
        }
        #expect(parsed < 3000, "some mutations must be rejected")
    }
}
