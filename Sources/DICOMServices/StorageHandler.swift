import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation

/// One instance received by C-STORE (PS3.4 Annex B), handed to a ``StorageHandler``.
///
/// The data set was streamed to ``dataSetPath`` as it arrived, so an instance of any size is never held in
/// memory. The file holds the data set exactly as received (no File Meta Information) in ``transferSyntaxUID``;
/// the server deletes it after the handler returns unless the handler moved it away.
public struct ReceivedInstance: Sendable {
    /// The C-STORE-RQ command.
    public var request: CStoreRequest
    /// The transfer syntax of the presentation context the data set came through.
    public var transferSyntaxUID: String
    /// A temporary file with the data set bytes.
    public var dataSetPath: String
    /// The number of data set bytes received.
    public var byteCount: Int
    /// The requestor's AE title (calling AE).
    public var callingAETitle: AETitle
    /// The AE title the requestor addressed (called AE).
    public var calledAETitle: AETitle

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
}

extension StorageHandler {
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

    public func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
        let destination = path(forSOPInstanceUID: instance.sopInstanceUID)
        // The copy and its fsyncs block; run them off the cooperative pool so other associations keep going.
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    try Self.writePart10(instance, to: destination)
                    continuation.resume(returning: .success)
                } catch {
                    continuation.resume(returning: .outOfResources)
                }
            }
        }
    }

    /// Writes preamble, `DICM`, File Meta Information and then copies the received data set in 1 MB chunks.
    static func writePart10(_ instance: ReceivedInstance, to path: String) throws {
        let known = TransferSyntax(uid: instance.transferSyntaxUID)
        // The header is encoded with a non-deflated stand-in carrying the same UID: the data set bytes that follow
        // are already in the negotiated (possibly deflated) encoding.
        let headerSyntax = TransferSyntax(uid: instance.transferSyntaxUID, name: known?.name ?? instance.transferSyntaxUID)
        let meta = FileMetaInformation.make(sopClassUID: instance.sopClassUID, sopInstanceUID: instance.sopInstanceUID,
                                            transferSyntax: headerSyntax, sourceAETitle: instance.callingAETitle.value)
        let header = try DICOMFile(preamble: nil, fileMetaInformation: meta, dataSet: DataSet(), transferSyntax: headerSyntax).encoded()

        let directory = (path as NSString).deletingLastPathComponent
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
        guard let input = FileHandle(forReadingAtPath: instance.dataSetPath) else {
            throw DICOMError(.io, "cannot open \(instance.dataSetPath)")
        }
        defer { try? input.close() }
        try output.seekToEnd()
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            try output.write(contentsOf: chunk)
        }
        try output.synchronize()
        guard rename(temporary, path) == 0 else { throw DICOMError(.io, "cannot rename \(temporary) to \(path)") }
        done = true
        let fd = open(directory, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
