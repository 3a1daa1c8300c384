import DICOMCore
import Foundation
@testable import DICOMIO

/// Builds explicit or implicit VR little endian element bytes by hand, for golden tests.
struct ByteBuilder {
    var bytes: [UInt8] = []

    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
    mutating func tag(_ g: UInt16, _ e: UInt16) { u16(g); u16(e) }
    mutating func ascii(_ s: String) { bytes += Array(s.utf8) }

    /// An explicit VR LE element with a short (16-bit) length.
    mutating func explicitShort(_ g: UInt16, _ e: UInt16, _ vr: String, _ value: [UInt8]) {
        tag(g, e); ascii(vr); u16(UInt16(value.count)); bytes += value
    }

    /// An explicit VR LE element with a long (32-bit) length.
    mutating func explicitLong(_ g: UInt16, _ e: UInt16, _ vr: String, length: UInt32, _ value: [UInt8] = []) {
        tag(g, e); ascii(vr); u16(0); u32(length); bytes += value
    }

    /// An implicit VR LE element.
    mutating func implicit(_ g: UInt16, _ e: UInt16, _ value: [UInt8]) {
        tag(g, e); u32(UInt32(value.count)); bytes += value
    }

    var data: Data { Data(bytes) }
}

/// The pydicom test files, when pydicom is installed.
enum PydicomFiles {
    static let directory: String? = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import pydicom, os; print(os.path.dirname(pydicom.__file__))"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let dir = out + "/data/test_files"
        return FileManager.default.fileExists(atPath: dir) ? dir : nil
    }()

    static var available: Bool { directory != nil }

    static func path(_ name: String) -> String { (directory ?? "/nonexistent") + "/" + name }
}

func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "swift-dicom-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
