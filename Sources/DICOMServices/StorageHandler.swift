import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation

/// One instance received by C-STORE (PS3.4 Annex B), handed to a ``StorageHandler``.
///
/// The data set was streamed to ``filePath`` as it arrived, so an instance of any size is never held in memory.
/// When ``dataSetOffset`` is not 0 the file is a complete Part 10 file (PS3.10 §7.1): preamble, `DICM`, File Meta
/// Information naming the request's SOP class and instance, ``transferSyntaxUID`` and the sender's AE title as Source
/// AE Title, then the data set exactly as received — a handler can fsync it and rename it into place instead of
/// copying it. When 0 the file holds the data set only. The server deletes the file after the handler returns unless
/// the handler moved it away.
public struct ReceivedInstance: Sendable {
    /// The C-STORE-RQ command.
    public var request: CStoreRequest
    /// The transfer syntax of the presentation context the data set came through.
    public var transferSyntaxUID: String
    /// A temporary file with the data set (after the File Meta Information when ``dataSetOffset`` is not 0).
    public var filePath: String
    /// Where the data set starts in ``filePath``.
    public var dataSetOffset: Int
    /// The number of data set bytes received.
    public var byteCount: Int
    /// The requestor's AE title (calling AE).
    public var callingAETitle: AETitle
    /// The AE title the requestor addressed (called AE).
    public var calledAETitle: AETitle
    /// The SHA-256 of the whole file at ``filePath`` (lowercase hexadecimal), computed while it was written when the
    /// handler asked for it (``StorageHandler/usesSHA256``); nil otherwise.
    public var sha256: String?
    /// The first bytes of the file at ``filePath`` (at most ``leadingByteLimit``), kept in memory as they were written
    /// when the file was written past the page cache (``StorageHandler/writesDirectly``), so that a handler can
    /// read the metadata without reading the file back from disk; nil otherwise.
    public var leadingBytes: Data?
    /// The most bytes ``leadingBytes`` holds.
    public static let leadingByteLimit = 64 * 1024

    public init(request: CStoreRequest, transferSyntaxUID: String, filePath: String, dataSetOffset: Int = 0, byteCount: Int,
                callingAETitle: AETitle, calledAETitle: AETitle, sha256: String? = nil, leadingBytes: Data? = nil) {
        self.sha256 = sha256
        self.leadingBytes = leadingBytes
        self.request = request
        self.transferSyntaxUID = transferSyntaxUID
        self.filePath = filePath
        self.dataSetOffset = dataSetOffset
        self.byteCount = byteCount
        self.callingAETitle = callingAETitle
        self.calledAETitle = calledAETitle
    }

    public var sopClassUID: String { request.affectedSOPClassUID }
    public var sopInstanceUID: String { request.affectedSOPInstanceUID }
}

/// Handles C-STORE requests: decides where a received instance goes and answers with a status
/// (PS3.4 Annex B.2.3: 0000H success, B000H/B007H/B006H warnings, A7xxH out of resources, A9xxH/Cxxx failures).
public protocol StorageHandler: Sendable {
    func store(_ instance: ReceivedInstance) async -> DIMSEStatus
    /// Like ``store(_:)``, with an explanation for the peer, sent as the Error Comment (0000,0902) of the C-STORE-RSP
    /// (at most 64 characters are sent). The default calls ``store(_:)`` and gives no comment.
    func storeExplained(_ instance: ReceivedInstance) async -> (status: DIMSEStatus, comment: String?)
    /// Whether the handler uses ``ReceivedInstance/sha256``: the server then hashes each data set while it arrives
    /// (about a quarter of a millisecond per 0.5 MB). The default is false, and ``ReceivedInstance/sha256`` is nil.
    var usesSHA256: Bool { get }
    /// Whether the handler fsyncs the received file before answering (as the archive and ``DirectoryStorageHandler``
    /// do): the server then writes the file past the page cache (``writesDirectly``), or else starts its writeback
    /// while the data set arrives (`sync_file_range`, every 256 KB), so that the final fsync waits for the last part
    /// only. The default is false: a handler that does not fsync leaves writeback to the kernel.
    var makesFilesDurable: Bool { get }
    /// For a handler that ``makesFilesDurable``: whether the received file is written with `O_DIRECT`, straight from
    /// memory to the disk, where the file system supports it (the handler then gets ``ReceivedInstance/leadingBytes``).
    /// The default is ``makesFilesDurable``; `DICOM_BUFFERED_WRITES=1` in the environment turns it off for every
    /// handler.
    var writesDirectly: Bool { get }
}

extension StorageHandler {
    public var usesSHA256: Bool { false }
    public var makesFilesDurable: Bool { false }
    public var writesDirectly: Bool { makesFilesDurable }

    public func storeExplained(_ instance: ReceivedInstance) async -> (status: DIMSEStatus, comment: String?) {
        (await store(instance), nil)
    }
}

/// Writes each received instance as a Part 10 file (PS3.10 §7.1) named after its SOP Instance UID into a
/// directory: File Meta Information followed by the data set bytes as received, in the negotiated transfer
/// syntax. The file appears atomically (temporary file, fsync, rename).
public struct DirectoryStorageHandler: StorageHandler {
    public let directory: String

    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DICOMError(.io, "cannot create directory \(directory): \(error)")
        }
        self.directory = directory
    }

    /// The path an instance is stored at.
    public func path(forSOPInstanceUID uid: String) -> String {
        let safe = String(uid.unicodeScalars.map { ($0 >= "0" && $0 <= "9") || $0 == "." ? Character($0) : "_" })
        return (directory as NSString).appendingPathComponent(safe.isEmpty ? "unnamed.dcm" : safe + ".dcm")
    }

    public var makesFilesDurable: Bool { true }

    public func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        let destination = path(forSOPInstanceUID: instance.sopInstanceUID)
        // The copy and its fsyncs block; run them off the cooperative pool so other associations keep going.
        do {
            try await runBlocking { try Self.writePart10(instance, to: destination) }
            return .success
        } catch {
            return .outOfResources
        }
    }

    /// Makes the instance a durable Part 10 file at `path`: a received Part 10 file is fsynced and renamed into place
    /// (copied when the temporary directory is on another file system); a bare data set is copied behind new File
    /// Meta Information in 1 MB chunks through a temporary file. Then the directory is fsynced.
    static func writePart10(_ instance: ReceivedInstance, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if instance.dataSetOffset > 0 {
            try syncFile(instance.filePath)
            if rename(instance.filePath, path) == 0 {
                syncDirectory(directory)
                return
            }
            guard errno == EXDEV else {
                throw DICOMError(.io, "cannot rename \(instance.filePath) to \(path): \(String(cString: strerror(errno)))")
            }
        }
        let header = instance.dataSetOffset > 0 ? Data() : try Part10Layout.header(
            sopClassUID: instance.sopClassUID, sopInstanceUID: instance.sopInstanceUID,
            transferSyntaxUID: instance.transferSyntaxUID, sourceAETitle: instance.callingAETitle.value)
        let temporary = directory + "/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: header),
              let output = FileHandle(forWritingAtPath: temporary) else {
            throw DICOMError(.io, "cannot create \(temporary)")
        }
        var done = false
        defer {
            try? output.close()
            if !done { unlink(temporary) }
        }
        guard let input = FileHandle(forReadingAtPath: instance.filePath) else {
            throw DICOMError(.io, "cannot open \(instance.filePath)")
        }
        defer { try? input.close() }
        try output.seekToEnd()
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            try output.write(contentsOf: chunk)
        }
        try output.synchronize()
        guard rename(temporary, path) == 0 else { throw DICOMError(.io, "cannot rename \(temporary) to \(path)") }
        done = true
        syncDirectory(directory)
    }

    private static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DICOMError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw DICOMError(.io, "cannot fsync \(path): \(String(cString: strerror(errno)))") }
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
