import DICOMCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Choices for writing DICOM data.
public struct WriteOptions: Sendable {
    /// How sequence and item lengths are written.
    public enum LengthEncoding: Sendable {
        /// As they were read: undefined where the input had undefined lengths (new sequences get defined lengths).
        case asRead
        /// Always defined lengths.
        case defined
        /// Always undefined lengths with delimitation items.
        case undefined
    }

    public var sequenceLength: LengthEncoding = .asRead
    public var itemLength: LengthEncoding = .asRead
    /// Deflate level for Deflated Explicit VR Little Endian (0–9; -1 for zlib's default).
    public var deflateLevel: Int32 = -1

    public init() {}
}

/// Writes data sets in any transfer syntax whose pixel data is as the data set holds it (PS3.5 §7).
public enum DataSetWriter {
    /// Encodes a data set (no File Meta Information) in the given transfer syntax.
    ///
    /// - Throws: `.unsupportedTransferSyntax` when the pixel data is encapsulated and the target syntax is
    ///   not (or the reverse): that needs a codec.
    public static func encode(_ dataSet: DataSet, transferSyntax: TransferSyntax, options: WriteOptions = WriteOptions()) throws -> Data {
        var out: [UInt8] = []
        try encode(dataSet, transferSyntax: transferSyntax, options: options, into: &out)
        return Data(out)
    }

    /// Appends the encoded data set to `out`.
    public static func encode(_ dataSet: DataSet, transferSyntax: TransferSyntax, options: WriteOptions = WriteOptions(),
                              into out: inout [UInt8]) throws {
        try checkPixelData(dataSet, transferSyntax: transferSyntax)
        if transferSyntax.isDeflated {
            var plain: [UInt8] = []
            var encoder = DataSetEncoder(explicitVR: true, bigEndian: false, options: options)
            try encoder.write(dataSet, into: &plain)
            let deflated = try Deflate.deflate(Data(plain), level: options.deflateLevel)
            out.append(contentsOf: deflated)
            return
        }
        var encoder = DataSetEncoder(explicitVR: transferSyntax.isExplicitVR, bigEndian: transferSyntax.isBigEndian, options: options)
        out.reserveCapacity(out.count + estimatedSize(of: dataSet))
        try encoder.write(dataSet, into: &out)
    }

    static func checkPixelData(_ dataSet: DataSet, transferSyntax: TransferSyntax) throws {
        guard let pixels = dataSet[Tag(0x7FE0, 0x0010)] else { return }
        switch pixels.value {
        case .encapsulated where !transferSyntax.isEncapsulated:
            throw DICOMError(.unsupportedTransferSyntax,
                             "the pixel data is compressed; it must be decompressed before writing it as \(transferSyntax.name)",
                             tagPath: "(7FE0,0010)")
        case .bytes(let data) where transferSyntax.isEncapsulated && !data.isEmpty:
            throw DICOMError(.unsupportedTransferSyntax,
                             "the pixel data is not compressed; it must be compressed before writing it as \(transferSyntax.name)",
                             tagPath: "(7FE0,0010)")
        default: break
        }
    }

    static func estimatedSize(of dataSet: DataSet) -> Int {
        var size = 0
        for element in dataSet {
            switch element.value {
            case .bytes(let data): size += data.count + 12
            case .sequence: size += 256
            case .encapsulated(let pixels): size += pixels.basicOffsetTable.count + pixels.fragments.reduce(0) { $0 + $1.count + 8 } + 32
            }
        }
        return size
    }
}

extension DICOMFile {
    /// The whole file as bytes: preamble, `DICM`, File Meta Information (group length recomputed, transfer
    /// syntax set to `transferSyntax`) and the data set.
    public func encoded(options: WriteOptions = WriteOptions()) throws -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(DataSetWriter.estimatedSize(of: dataSet) + 512)
        out.append(contentsOf: preamble.map { Array($0.prefix(128)) + [UInt8](repeating: 0, count: max(0, 128 - $0.count)) }
                   ?? [UInt8](repeating: 0, count: 128))
        out.append(contentsOf: Array("DICM".utf8))
        var meta = fileMetaInformation
        if meta[Tag(0x0002, 0x0001)] == nil {
            meta.set(DataElement(tag: Tag(0x0002, 0x0001), vr: .OB, bytes: Data([0x00, 0x01])))
        }
        if meta.string(Tag(0x0002, 0x0010)) != transferSyntax.uid {
            meta.setASCII(Tag(0x0002, 0x0010), vr: .UI, transferSyntax.uid)
        }
        try FileMetaInformation.encode(meta, into: &out)
        // Group 0002 belongs to the File Meta Information only (PS3.10 §7.1). Such elements in the data set (read
        // from a damaged file or received in a C-STORE) would follow the meta group directly: a reader takes them
        // as part of it, and a (0002,0010) among them would decide the transfer syntax of the rest of the file.
        var body = dataSet
        if !dataSet.elements(in: Tag(0x0002, 0x0000)...Tag(0x0002, 0xFFFF)).isEmpty {
            body.removeAll { $0.group == 0x0002 }
        }
        try DataSetWriter.encode(body, transferSyntax: transferSyntax, options: options, into: &out)
        return Data(out)
    }

    /// Writes the file atomically and durably: a temporary file in the same directory, fsync, rename, fsync of the directory.
    public func write(to path: String, options: WriteOptions = WriteOptions()) throws {
        try AtomicFile.write(encoded(options: options), to: path)
    }
}

/// Atomic, durable file replacement.
public enum AtomicFile {
    /// Writes `data` to `path` so that after return the file is on disk in full, or not changed at all.
    public static func write(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileLoader.ioError("cannot create", temporary) }
        var ok = false
        defer {
            if !ok { close(fd); unlink(temporary) }
        }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; throw FileLoader.ioError("cannot write", temporary) }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw FileLoader.ioError("cannot fsync", temporary) }
        guard close(fd) == 0 else { ok = true; unlink(temporary); throw FileLoader.ioError("cannot close", temporary) }
        ok = true
        guard rename(temporary, path) == 0 else {
            let error = FileLoader.ioError("cannot rename to \(path)", temporary)
            unlink(temporary)
            throw error
        }
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 { fsync(dirfd); close(dirfd) }
    }
}

/// Writes elements into a byte array; sequences and items with defined length are back-patched.
struct DataSetEncoder {
    let explicitVR: Bool
    let bigEndian: Bool
    let options: WriteOptions

    init(explicitVR: Bool, bigEndian: Bool, options: WriteOptions) {
        self.explicitVR = explicitVR
        self.bigEndian = bigEndian
        self.options = options
    }

    @inline(__always) func put16(_ value: UInt16, _ out: inout [UInt8]) {
        let v = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: v) { out.append(contentsOf: $0) }
    }

    @inline(__always) func put32(_ value: UInt32, _ out: inout [UInt8]) {
        let v = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: v) { out.append(contentsOf: $0) }
    }

    func patch32(_ value: UInt32, at position: Int, _ out: inout [UInt8]) {
        let v = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: v) { raw in for i in 0..<4 { out[position + i] = raw[i] } }
    }

    func putTag(_ tag: Tag, _ out: inout [UInt8]) {
        put16(tag.group, &out)
        put16(tag.element, &out)
    }

    /// Writes a header and returns the position of a 32-bit length field, if the header has one.
    @discardableResult
    func putHeader(_ tag: Tag, _ vr: VR, length: UInt32, _ out: inout [UInt8]) -> Int {
        putTag(tag, &out)
        if explicitVR {
            out.append(UInt8(vr.rawValue >> 8))
            out.append(UInt8(vr.rawValue & 0xFF))
            if vr.hasLongLength {
                out.append(0); out.append(0)
                let position = out.count
                put32(length, &out)
                return position
            }
            put16(UInt16(truncatingIfNeeded: length), &out)
            return -1
        }
        let position = out.count
        put32(length, &out)
        return position
    }

    mutating func write(_ dataSet: DataSet, into out: inout [UInt8]) throws {
        for element in dataSet {
            try write(element, into: &out)
        }
    }

    mutating func write(_ element: DataElement, into out: inout [UInt8]) throws {
        switch element.value {
        case .bytes(let data):
            let padded = data.count & 1
            let length = data.count + padded
            guard length <= 0xFFFF_FFFE else {
                throw DICOMError(.limitExceeded, "\(element.tag) is \(length) bytes, too long for a 32-bit length")
            }
            var vr = element.vr
            if explicitVR && !vr.hasLongLength && length > 0xFFFF {
                // PS3.5 §6.2.2: a value too long for a 16-bit length is written as UN.
                vr = .UN
            }
            putHeader(element.tag, vr, length: UInt32(length), &out)
            if bigEndian && element.vr.wordSize > 1 {
                appendSwapped(data, wordSize: element.vr.wordSize, &out)
            } else {
                data.withUnsafeBytes { out.append(contentsOf: $0) }
            }
            if padded == 1 { out.append(element.vr.paddingByte) }
        case .sequence(let items):
            let undefined = useUndefined(options.sequenceLength, element.hadUndefinedLength)
            let lengthAt = putHeader(element.tag, .SQ, length: undefined ? 0xFFFF_FFFF : 0, &out)
            let start = out.count
            for item in items {
                let itemUndefined = useUndefined(options.itemLength, item.hadUndefinedLength)
                putTag(.item, &out)
                let itemLengthAt = out.count
                put32(itemUndefined ? 0xFFFF_FFFF : 0, &out)
                let itemStart = out.count
                try write(item, into: &out)
                if itemUndefined {
                    putTag(.itemDelimitationItem, &out)
                    put32(0, &out)
                } else {
                    patch32(try length32(out.count - itemStart, element.tag), at: itemLengthAt, &out)
                }
            }
            if undefined {
                putTag(.sequenceDelimitationItem, &out)
                put32(0, &out)
            } else {
                patch32(try length32(out.count - start, element.tag), at: lengthAt, &out)
            }
        case .encapsulated(let pixels):
            guard explicitVR else {
                throw DICOMError(.unsupportedTransferSyntax, "encapsulated pixel data needs an explicit VR transfer syntax",
                                 tagPath: element.tag.description)
            }
            putHeader(element.tag, element.vr == .OW ? .OW : .OB, length: 0xFFFF_FFFF, &out)
            writeItem(pixels.basicOffsetTable, &out)
            for fragment in pixels.fragments { writeItem(fragment, &out) }
            putTag(.sequenceDelimitationItem, &out)
            put32(0, &out)
        }
    }

    func writeItem(_ data: Data, _ out: inout [UInt8]) {
        putTag(.item, &out)
        let padded = data.count & 1
        put32(UInt32(data.count + padded), &out)
        data.withUnsafeBytes { out.append(contentsOf: $0) }
        if padded == 1 { out.append(0) }
    }

    func length32(_ length: Int, _ tag: Tag) throws -> UInt32 {
        guard length < 0xFFFF_FFFF else {
            throw DICOMError(.limitExceeded, "sequence \(tag) is too long for a defined length; write it with undefined length")
        }
        return UInt32(length)
    }

    func useUndefined(_ encoding: WriteOptions.LengthEncoding, _ wasUndefined: Bool) -> Bool {
        switch encoding {
        case .asRead: return wasUndefined
        case .defined: return false
        case .undefined: return true
        }
    }

    func appendSwapped(_ data: Data, wordSize: Int, _ out: inout [UInt8]) {
        data.withUnsafeBytes { raw in
            var i = 0
            while i + wordSize <= raw.count {
                for k in 0..<wordSize { out.append(raw[i + wordSize - 1 - k]) }
                i += wordSize
            }
            while i < raw.count { out.append(raw[i]); i += 1 }
        }
    }
}
