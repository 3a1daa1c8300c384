import DICOMNetwork
import Foundation
import NIOCore

/// A data set being streamed to a temporary file.
final class IncomingDataSet {
    let request: CStoreRequest
    let contextID: UInt8
    let path: String
    let handle: FileHandle
    var byteCount = 0
    private var closed = false

    init(request: CStoreRequest, contextID: UInt8, directory: String) throws {
        self.request = request
        self.contextID = contextID
        path = (directory as NSString).appendingPathComponent("dicom-incoming-\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DICOMError(.io, "cannot create temporary file \(path)")
        }
        self.handle = handle
    }

    /// Why the data set could not be written (disk full, I/O error); the rest of it is then read and dropped, and the
    /// C-STORE is answered Out of Resources instead of aborting the association.
    private(set) var writeError: Error?

    func append(_ bytes: ByteBuffer) {
        guard writeError == nil else { return }
        do {
            try bytes.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
            byteCount += bytes.readableBytes
        } catch {
            writeError = error
        }
    }

    /// Ends writing. No fsync here: the handler makes the final copy durable (``DirectoryStorageHandler`` does).
    func close() throws {
        guard !closed else { return }
        closed = true
        try handle.close()
    }

    func discard() {
        try? close()
        unlink(path)
    }
}
