import DICOMCore
import DICOMIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Synthetic but realistic test data: CT images as a scanner's PACS export would hold them.
enum Fixtures {
    /// CT Image Storage (PS3.4 Annex B).
    static let ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"
    /// Enhanced CT Image Storage, for the multi-frame fixtures.
    static let enhancedCTImageStorage = "1.2.840.10008.5.1.4.1.1.2.1"

    /// A UID under the 2.25 root (PS3.5 §B.2) that is distinct for each (kind, number) pair and the same on every run.
    static func uid(_ kind: UInt64, _ number: UInt64) -> String {
        "2.25.\(UInt64(0x1D1C_0B00_0000_0000) &+ kind << 40 &+ number)"
    }

    /// The attributes of a CT image without its pixel data: about 55 elements including a sequence,
    /// the values a real CT series carries (patient, study, series, equipment, acquisition, image plane, pixel module).
    ///
    /// `index` makes the SOP Instance UID, instance number and slice position unique; 100 images make a series,
    /// 10 series a study.
    static func ctAttributes(index: Int, rows: Int = 512, columns: Int = 512, frames: Int? = nil) throws -> DataSet {
        let i = UInt64(index)
        let series = i / 100, study = i / 1000
        var ds = DataSet()
        ds.setASCII(.specificCharacterSet, vr: .CS, "ISO_IR 100")
        ds.setASCII(.imageType, vr: .CS, "ORIGINAL\\PRIMARY\\AXIAL")
        ds.setASCII(.sopClassUID, vr: .UI, frames == nil ? ctImageStorage : enhancedCTImageStorage)
        ds.setASCII(.sopInstanceUID, vr: .UI, uid(3, i))
        for tag in [Tag.studyDate, .seriesDate, .acquisitionDate, .contentDate] { ds.setASCII(tag, vr: .DA, "20240311") }
        ds.setASCII(.studyTime, vr: .TM, "101512.000000")
        ds.setASCII(.seriesTime, vr: .TM, "101733.250000")
        ds.setASCII(.acquisitionTime, vr: .TM, "101733.\(String(format: "%06d", index % 1_000_000))")
        ds.setASCII(.contentTime, vr: .TM, "101734")
        ds.setASCII(.accessionNumber, vr: .SH, "ACC\(String(format: "%07d", study))")
        ds.setASCII(.modality, vr: .CS, "CT")
        try ds.set(.manufacturer, vr: .LO, string: "ACME Medical Systems")
        try ds.set(.institutionName, vr: .LO, string: "Universitätsklinikum Nord")
        try ds.set(.referringPhysicianName, vr: .PN, string: "Müller^Anna^^Dr.")
        try ds.set(.stationName, vr: .SH, string: "CTSCAN01")
        try ds.set(.studyDescription, vr: .LO, string: "CT THORAX MIT KM")
        try ds.set(.seriesDescription, vr: .LO, string: "Thorax 1.0 B31f")
        try ds.set(.manufacturerModelName, vr: .LO, string: "Somatom Example 128")
        var code = DataSet()
        try code.set(.codeValue, vr: .SH, string: "CTTHOR")
        try code.set(.codingSchemeDesignator, vr: .SH, string: "99LOCAL")
        try code.set(.codeMeaning, vr: .LO, string: "CT Thorax with contrast")
        var code2 = DataSet()
        try code2.set(.codeValue, vr: .SH, string: "24627-2")
        try code2.set(.codingSchemeDesignator, vr: .SH, string: "LN")
        try code2.set(.codeMeaning, vr: .LO, string: "CT Chest")
        ds.set(DataElement(tag: .procedureCodeSequence, items: [code, code2]))
        try ds.set(.patientName, vr: .PN, string: "Doe^John^Q^^")
        ds.setASCII(.patientID, vr: .LO, "PID\(String(format: "%08d", study))")
        ds.setASCII(.patientBirthDate, vr: .DA, "19610422")
        ds.setASCII(.patientSex, vr: .CS, "M")
        ds.setASCII(.patientAge, vr: .AS, "062Y")
        try ds.set(.sliceThickness, vr: .DS, doubles: [1.0])
        try ds.set(.kvp, vr: .DS, doubles: [120])
        try ds.set(.dataCollectionDiameter, vr: .DS, doubles: [500])
        try ds.set(.reconstructionDiameter, vr: .DS, doubles: [380.5])
        try ds.set(.gantryDetectorTilt, vr: .DS, doubles: [0])
        try ds.set(.tableHeight, vr: .DS, doubles: [154.5])
        ds.setASCII(.rotationDirection, vr: .CS, "CW")
        try ds.set(.exposureTime, vr: .IS, integers: [500])
        try ds.set(.xRayTubeCurrent, vr: .IS, integers: [210])
        try ds.set(.exposure, vr: .IS, integers: [105])
        try ds.set(.convolutionKernel, vr: .SH, string: "B31f")
        ds.setASCII(.patientPosition, vr: .CS, "HFS")
        ds.setASCII(.studyInstanceUID, vr: .UI, uid(1, study))
        ds.setASCII(.seriesInstanceUID, vr: .UI, uid(2, series))
        try ds.set(.studyID, vr: .SH, string: "\(study + 1)")
        try ds.set(.seriesNumber, vr: .IS, integers: [Int(series % 10) + 1])
        try ds.set(.acquisitionNumber, vr: .IS, integers: [1])
        try ds.set(.instanceNumber, vr: .IS, integers: [Int(i % 100) + 1])
        let z = -120.0 - Double(i % 100) * 1.25
        try ds.set(.imagePositionPatient, vr: .DS, doubles: [-190.2, -180.7, z])
        try ds.set(.imageOrientationPatient, vr: .DS, doubles: [1, 0, 0, 0, 1, 0])
        ds.setASCII(.frameOfReferenceUID, vr: .UI, uid(4, series))
        ds.setASCII(.positionReferenceIndicator, vr: .LO, "")
        try ds.set(.sliceLocation, vr: .DS, doubles: [z])
        try ds.set(.samplesPerPixel, vr: .US, integers: [1])
        ds.setASCII(.photometricInterpretation, vr: .CS, "MONOCHROME2")
        if let frames { try ds.set(.numberOfFrames, vr: .IS, integers: [frames]) }
        try ds.set(.rows, vr: .US, integers: [rows])
        try ds.set(.columns, vr: .US, integers: [columns])
        try ds.set(.pixelSpacing, vr: .DS, doubles: [0.742188, 0.742188])
        try ds.set(.bitsAllocated, vr: .US, integers: [16])
        try ds.set(.bitsStored, vr: .US, integers: [12])
        try ds.set(.highBit, vr: .US, integers: [11])
        try ds.set(.pixelRepresentation, vr: .US, integers: [0])
        try ds.set(.windowCenter, vr: .DS, doubles: [40])
        try ds.set(.windowWidth, vr: .DS, doubles: [400])
        try ds.set(.rescaleIntercept, vr: .DS, doubles: [-1024])
        try ds.set(.rescaleSlope, vr: .DS, doubles: [1])
        ds.setASCII(.rescaleType, vr: .LO, "HU")
        return ds
    }

    /// Pixel bytes for `frames` frames of rows × columns 16-bit samples: a cheap, non-constant pattern.
    static func pixelBytes(rows: Int, columns: Int, frames: Int = 1) -> Data {
        let samples = rows * columns * frames
        var data = Data(count: samples * 2)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt16.self)
            for k in 0..<samples { words[k] = UInt16(truncatingIfNeeded: (k &* 2_654_435_761) >> 20) & 0x0FFF }
        }
        return data
    }

    /// A complete CT image (512 × 512 × 16-bit unless told otherwise) as a data set.
    static func ctImage(index: Int, rows: Int = 512, columns: Int = 512, frames: Int? = nil, pixels: Data? = nil) throws -> DataSet {
        var ds = try ctAttributes(index: index, rows: rows, columns: columns, frames: frames)
        let bytes = pixels ?? pixelBytes(rows: rows, columns: columns, frames: frames ?? 1)
        ds.set(DataElement(tag: .pixelData, vr: .OW, bytes: bytes))
        return ds
    }

    /// The Part 10 encoding (explicit VR little endian) of a CT image.
    static func ctFile(index: Int, rows: Int = 512, columns: Int = 512, frames: Int? = nil, pixels: Data? = nil) throws -> Data {
        let ds = try ctImage(index: index, rows: rows, columns: columns, frames: frames, pixels: pixels)
        return try DICOMFile(dataSet: ds, transferSyntax: .explicitVRLittleEndian).encoded()
    }

    // MARK: Files on disk

    /// Writes bytes to a path without fsync (benchmark data is disposable and rebuilt when incomplete).
    static func writePlain(_ data: Data, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw BenchError("cannot write \(path)")
        }
    }

    /// `count` CT files in `directory`, generated with our writer unless a previous run left a complete set.
    /// Returns the paths in order.
    static func ctSeries(count: Int, in workdir: String, log: (String) -> Void) throws -> [String] {
        let directory = "\(workdir)/ct-\(count)"
        let marker = "\(directory)/.complete"
        let paths = (0..<count).map { "\(directory)/CT\(String(format: "%06d", $0)).dcm" }
        if FileManager.default.fileExists(atPath: marker) { return paths }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        log("generating \(count) CT files (512×512×16-bit, explicit VR LE) in \(directory) ...")
        let pixels = pixelBytes(rows: 512, columns: 512)
        let start = monotonicSeconds()
        for (index, path) in paths.enumerated() {
            try writePlain(try ctFile(index: index, pixels: pixels), to: path)
        }
        try writePlain(Data("\(count)\n".utf8), to: marker)
        log(String(format: "  done in %.1f s", monotonicSeconds() - start))
        return paths
    }

    /// A large multi-frame CT file: `frames` frames of `rows` × `columns` × 16-bit, written once.
    ///
    /// The attributes are encoded by our writer; the pixel data element is then streamed frame by frame
    /// (an explicit VR LE header for (7FE0,0010) OW, PS3.5 §7.1.2) so that generating 1 GB does not need 3 GB of memory.
    /// The result is checked by reading it back.
    static func multiFrameFile(frames: Int, rows: Int, columns: Int, in workdir: String, log: (String) -> Void) throws -> String {
        let path = "\(workdir)/multiframe-\(frames)x\(rows)x\(columns).dcm"
        let pixelLength = frames * rows * columns * 2
        let attributes = try ctAttributes(index: 0, rows: rows, columns: columns, frames: frames)
        var header = try DICOMFile(dataSet: attributes, transferSyntax: .explicitVRLittleEndian).encoded()
        let expected = header.count + 12 + pixelLength
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == expected {
            return path
        }
        precondition(pixelLength < Int(UInt32.max), "pixel data too long for one element")
        log("generating \(path) (\(pixelLength >> 20) MiB of pixel data) ...")
        // (7FE0,0010) OW: tag, VR, 2 reserved bytes, 32-bit length.
        header.append(contentsOf: [0xE0, 0x7F, 0x10, 0x00, 0x4F, 0x57, 0x00, 0x00])
        withUnsafeBytes(of: UInt32(pixelLength).littleEndian) { header.append(contentsOf: $0) }
        let temporary = path + ".part"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary) else { throw BenchError("cannot create \(temporary)") }
        try handle.write(contentsOf: header)
        let frame = pixelBytes(rows: rows, columns: columns)
        for _ in 0..<frames { try handle.write(contentsOf: frame) }
        try handle.close()
        let check = try DICOMFile(contentsOf: temporary)
        guard check.dataSet[.pixelData]?.valueLength == pixelLength, check.dataSet.integer(.numberOfFrames) == frames else {
            throw BenchError("the generated multi-frame file does not read back correctly")
        }
        guard rename(temporary, path) == 0 else { throw BenchError("cannot rename \(temporary)") }
        return path
    }
}
