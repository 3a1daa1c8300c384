import DICOMCore
import Foundation

/// A DICOM Part 10 file (PS3.10 §7.1): preamble, `DICM`, File Meta Information and the data set.
public struct DICOMFile: Sendable {
    /// The 128-byte preamble, or nil when the file had none.
    public var preamble: Data?
    /// The File Meta Information, group 0002 (PS3.10 §7.1).
    public var fileMetaInformation: DataSet
    /// The data set.
    public var dataSet: DataSet
    /// How the data set is encoded: from (0002,0010), or detected when the file had no meta information.
    public var transferSyntax: TransferSyntax
    /// Defects the reader tolerated.
    public var diagnostics: [ReadDiagnostic] = []

    /// A file for a data set, with File Meta Information made from its SOP Class and Instance UIDs.
    public init(dataSet: DataSet, transferSyntax: TransferSyntax, sourceAETitle: String? = nil) {
        self.preamble = Data(count: 128)
        self.dataSet = dataSet
        self.transferSyntax = transferSyntax
        self.fileMetaInformation = FileMetaInformation.make(
            sopClassUID: dataSet.string(Tag(0x0008, 0x0016)) ?? "",
            sopInstanceUID: dataSet.string(Tag(0x0008, 0x0018)) ?? "",
            transferSyntax: transferSyntax, sourceAETitle: sourceAETitle)
    }

    /// A file from its parts, as read.
    public init(preamble: Data?, fileMetaInformation: DataSet, dataSet: DataSet, transferSyntax: TransferSyntax) {
        self.preamble = preamble
        self.fileMetaInformation = fileMetaInformation
        self.dataSet = dataSet
        self.transferSyntax = transferSyntax
    }

    /// Reads a file from disk. Large files are memory-mapped: values not looked at are never read.
    ///
    /// With `options.stopBeforePixelData`, only the first 16 KiB of a larger file are read at first (with `pread`),
    /// then 256 KiB; the file is mapped whole only when the pixel data does not start within them. The result is
    /// the same either way.
    ///
    /// The file must not be truncated by another process while the returned values are in use.
    public init(contentsOf path: String, options: ReadOptions = ReadOptions()) throws {
        do {
            self = try FileLoader.load(path, tryPrefixes: options.stopBeforePixelData ? FileLoader.metadataPrefixes : []) { data, isWhole in
                try DICOMFile(start: data, isWholeFile: isWhole, options: options)
            }
        } catch let error as DICOMError {
            throw error.inFile(path)
        }
    }

    /// Reads the metadata of a file — everything before the pixel data, as ``init(contentsOf:options:)`` with
    /// ``ReadOptions/metadataOnly`` does — from its first bytes, when they are enough: the parse must reach the pixel
    /// data within them (and the data set must not be deflated). The result is then the same as from the whole file.
    /// Nil when they are not enough, including when the bytes end inside an element (read the file then). When
    /// `isWholeFile`, `prefix` is the whole file and errors are thrown as the file reader throws them.
    public static func metadata(fromPrefix prefix: Data, isWholeFile: Bool, options: ReadOptions = .metadataOnly) throws -> DICOMFile? {
        var options = options
        options.stopBeforePixelData = true
        if isWholeFile { return try DICOMFile(start: prefix, isWholeFile: true, options: options) }
        return (try? DICOMFile(start: prefix, isWholeFile: false, options: options)) ?? nil
    }

    /// Reads the start of a file, or the whole file: a start is enough only when the parse reached the pixel data
    /// inside it (everything before the pixel data then lies in it and reads exactly as from the whole file) and
    /// the data set is not deflated; nil otherwise.
    private init?(start data: Data, isWholeFile: Bool, options: ReadOptions) throws {
        var stoppedAtPixelData = false
        let file = try DICOMFile(data: data, options: options, stoppedAtPixelData: &stoppedAtPixelData)
        guard isWholeFile || (stoppedAtPixelData && !file.transferSyntax.isDeflated) else { return nil }
        self = file
    }

    /// Reads a file already in memory.
    public init(data: Data, options: ReadOptions = ReadOptions()) throws {
        var stoppedAtPixelData = false
        try self.init(data: data, options: options, stoppedAtPixelData: &stoppedAtPixelData)
    }

    /// Reads a file in memory and tells whether `options.stopBeforePixelData` stopped the parse at the pixel data.
    init(data: Data, options: ReadOptions, stoppedAtPixelData: inout Bool) throws {
        var diagnostics: [ReadDiagnostic] = []
        var offset = 0
        var preamble: Data? = nil
        let marker = Array("DICM".utf8)
        let count = data.count
        func matches(at position: Int) -> Bool {
            guard count >= position + 4 else { return false }
            let s = data.startIndex + position
            return data[s] == marker[0] && data[s + 1] == marker[1] && data[s + 2] == marker[2] && data[s + 3] == marker[3]
        }
        if matches(at: 128) {
            preamble = data[data.startIndex..<(data.startIndex + 128)]
            offset = 132
        } else if matches(at: 0) {
            offset = 4
            diagnostics.append(ReadDiagnostic(severity: .warning, offset: 0, tagPath: "", message: "no preamble before DICM"))
        } else {
            guard options.tolerated.contains(.missingFileMeta) else {
                throw DICOMError(.notDICOM, "no DICM marker at offset 128: not a DICOM Part 10 file", offset: 128)
            }
            guard count >= 8, DataSetReader.detectEncoding(of: data) != nil else {
                throw DICOMError(.notDICOM, "no DICM marker and the data does not start like a data set", offset: 0)
            }
        }

        // File Meta Information: explicit VR little endian, group 0002 (PS3.10 §7.1).
        var meta = DataSet()
        let startsWithMeta = data.withUnsafeBytes { raw in
            raw.count >= offset + 8 && raw[offset] == 0x02 && raw[offset + 1] == 0x00
        }
        if startsWithMeta {
            (meta, offset) = try FileMetaInformation.read(data, at: offset, options: options, diagnostics: &diagnostics)
        } else if offset > 0 {
            diagnostics.append(ReadDiagnostic(severity: .warning, offset: offset, tagPath: "", message: "no File Meta Information after DICM"))
        }

        var syntax: TransferSyntax
        if let uid = meta.string(Tag(0x0002, 0x0010)), !uid.isEmpty {
            if let known = TransferSyntax(uid: uid) {
                syntax = known
            } else {
                guard options.tolerated.contains(.unknownTransferSyntax) else {
                    throw DICOMError(.unsupportedTransferSyntax, "unknown transfer syntax \(uid)")
                }
                diagnostics.append(ReadDiagnostic(severity: .warning, offset: offset, tagPath: "(0002,0010)",
                                                  message: "unknown transfer syntax \(uid), read as explicit VR little endian"))
                syntax = TransferSyntax(uid: uid, name: uid, encapsulated: true)
            }
        } else {
            syntax = DataSetReader.detectEncoding(of: data, at: offset) ?? .implicitVRLittleEndian
            if !meta.isEmpty || preamble != nil {
                diagnostics.append(ReadDiagnostic(severity: .warning, offset: offset, tagPath: "",
                                                  message: "no Transfer Syntax UID; the data set looks like \(syntax.name)"))
            }
        }

        var body = data
        var bodyOffset = offset
        if syntax.isDeflated {
            let compressed = data[(data.startIndex + offset)...]
            body = try Deflate.inflate(compressed, maximumSize: options.maximumInflatedSize)
            bodyOffset = 0
        }
        // A data set whose VR encoding contradicts the transfer syntax is read as it really is.
        var readSyntax = syntax
        if let detected = DataSetReader.detectEncoding(of: body, at: bodyOffset), !syntax.isBigEndian,
           detected.isExplicitVR != syntax.isExplicitVR, options.tolerated.contains(.vrEncodingMismatch) {
            diagnostics.append(ReadDiagnostic(severity: .warning, offset: offset, tagPath: "",
                                              message: "the transfer syntax says \(syntax.name) but the data set is encoded as \(detected.name)"))
            readSyntax = TransferSyntax(uid: syntax.uid, name: syntax.name, explicitVR: detected.isExplicitVR,
                                        encapsulated: syntax.isEncapsulated, lossy: syntax.isLossy)
        }
        let (dataSet, _, stopped) = try DataSetReader.read(body, from: bodyOffset, transferSyntax: readSyntax, options: options,
                                                           diagnostics: &diagnostics)
        stoppedAtPixelData = stopped
        self.preamble = preamble
        self.fileMetaInformation = meta
        self.dataSet = dataSet
        self.transferSyntax = syntax
        self.diagnostics = diagnostics
    }
}
