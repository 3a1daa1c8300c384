import DICOMCore
import DICOMIO
import Foundation

/// Seconds per call of `body`, the best of `repeats` timings of a batch that lasts at least `minimum` seconds.
func secondsPerCall(repeats: Int, minimum: Double = 0.3, _ body: () throws -> Void) rethrows -> Double {
    var iterations = 1
    while true {
        let t = try timed { for _ in 0..<iterations { try body() } }
        if t >= minimum / 4 || iterations >= 1 << 24 {
            iterations = max(1, Int(Double(iterations) * minimum / max(t, 1e-9)))
            break
        }
        iterations *= 4
    }
    let n = iterations
    return try bestOf(repeats) { try timed { for _ in 0..<n { try body() } } } / Double(n)
}

/// Full parses of uncompressed data sets already in memory: every element is read and checked; values
/// (pixel data included) are slices of the input, not copies.
struct ParseBenchmark {
    var repeats: Int
    var workdir: String
    var report: BenchReport

    func run() throws {
        var table = Table("Full parse of in-memory data sets (explicit VR LE), best of \(repeats)",
                          ["input", "bytes", "per parse", "GB/s of input", "elements/s"])

        // A single CT image, with and without its 512 KiB of pixel data.
        let ct = try Fixtures.ctImage(index: 7)
        let ctFile = try DICOMFile(dataSet: ct, transferSyntax: .explicitVRLittleEndian).encoded()
        let ctDataSet = try DataSetWriter.encode(ct, transferSyntax: .explicitVRLittleEndian)
        let attributes = try Fixtures.ctAttributes(index: 7)
        let attributesBytes = try DataSetWriter.encode(attributes, transferSyntax: .explicitVRLittleEndian)
        let implicitBytes = try DataSetWriter.encode(attributes, transferSyntax: .implicitVRLittleEndian)
        let elementCount = Self.countElements(attributes) + 1
        let parsedFile = try DICOMFile(data: ctFile)
        let fileElements = parsedFile.fileMetaInformation.count + Self.countElements(parsedFile.dataSet)

        log("parse: CT image ...")
        var ctRate = 0.0
        func measure(_ name: String, _ bytes: Data, elements: Int, check: Bool = false, _ body: () throws -> Int) throws {
            var sink = 0
            let seconds = try secondsPerCall(repeats: repeats) { sink &+= try body() }
            precondition(sink != 0)
            let gbps = Double(bytes.count) / seconds / 1e9
            if check { ctRate = gbps }
            table.add([name, grouped(Double(bytes.count)), Self.duration(seconds), fixed(gbps, 2), grouped(Double(elements) / seconds)])
        }
        try measure("CT 512×512×16-bit Part 10 file, `DICOMFile(data:)`", ctFile, elements: fileElements, check: true) {
            try DICOMFile(data: ctFile).dataSet.count
        }
        try measure("CT 512×512×16-bit data set, `DataSetReader.read`", ctDataSet, elements: elementCount) {
            try DataSetReader.read(ctDataSet, transferSyntax: .explicitVRLittleEndian).count
        }
        try measure("CT attributes only (no pixel data), explicit VR", attributesBytes, elements: elementCount - 1) {
            try DataSetReader.read(attributesBytes, transferSyntax: .explicitVRLittleEndian).count
        }
        try measure("CT attributes only (no pixel data), implicit VR", implicitBytes, elements: elementCount - 1) {
            try DataSetReader.read(implicitBytes, transferSyntax: .implicitVRLittleEndian).count
        }
        report.check("parse: CT image ≥ 1 GB/s", measured: fixed(ctRate) + " GB/s", target: "≥ 1 GB/s", met: ctRate >= 1)

        // A 100 MiB multi-frame image: 200 frames of 512 × 512 × 16-bit.
        log("parse: 100 MiB multi-frame ...")
        let frames = 200
        let multiFrame = try Fixtures.ctFile(index: 9, frames: frames)
        var multiRate = 0.0
        do {
            var sink = 0
            let seconds = try secondsPerCall(repeats: repeats) { sink &+= try DICOMFile(data: multiFrame).dataSet.count }
            precondition(sink != 0)
            multiRate = Double(multiFrame.count) / seconds / 1e9
            table.add(["Multi-frame \(frames) × 512×512×16-bit (100 MiB) Part 10 file, `DICOMFile(data:)`", grouped(Double(multiFrame.count)),
                       Self.duration(seconds), fixed(multiRate, 1), grouped(Double(fileElements + 1) / seconds)])
        }
        report.check("parse: 100 MiB multi-frame ≥ 1 GB/s", measured: fixed(multiRate, 1) + " GB/s", target: "≥ 1 GB/s", met: multiRate >= 1)

        table.notes.append("GB/s counts every input byte, pixel data included; since pixel data is sliced, not copied, the figure for " +
                           "large images mostly says that. The attributes-only rows show the cost of parsing the elements themselves.")
        report.print(table)
    }

    static func countElements(_ dataSet: DataSet) -> Int {
        dataSet.elements.reduce(0) { total, element in
            total + 1 + (element.items?.reduce(0) { $0 + countElements($1) } ?? 0)
        }
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1e-3 { return String(format: "%.2f µs", seconds * 1e6) }
        if seconds < 1 { return String(format: "%.2f ms", seconds * 1e3) }
        return String(format: "%.2f s", seconds)
    }
}
