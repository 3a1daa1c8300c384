import DICOMCore
import DICOMIO
import Foundation

/// Encoding to memory (no disk): a CT image as a Part 10 file, and its attributes alone.
struct WriteBenchmark {
    var repeats: Int
    var report: BenchReport

    func run() throws {
        log("write ...")
        var table = Table("Encoding to memory, best of \(repeats) (for information)", ["input", "bytes out", "per encode", "MB/s"])
        let ct = try Fixtures.ctImage(index: 3)
        let file = DICOMFile(dataSet: ct, transferSyntax: .explicitVRLittleEndian)
        let attributes = try Fixtures.ctAttributes(index: 3)
        let cases: [(String, () throws -> Data)] = [
            ("CT 512×512×16-bit, `DICOMFile.encoded()` explicit VR LE", { try file.encoded() }),
            ("CT attributes only, `DataSetWriter.encode` explicit VR LE", {
                try DataSetWriter.encode(attributes, transferSyntax: .explicitVRLittleEndian)
            }),
            ("CT attributes only, `DataSetWriter.encode` implicit VR LE", {
                try DataSetWriter.encode(attributes, transferSyntax: .implicitVRLittleEndian)
            }),
        ]
        for (name, encode) in cases {
            var bytes = 0
            let seconds = try secondsPerCall(repeats: repeats) { bytes = try encode().count }
            table.add([name, grouped(Double(bytes)), ParseBenchmark.duration(seconds), grouped(Double(bytes) / seconds / 1e6)])
        }
        report.print(table)
    }
}
