import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Asks the kernel to read the next files of a sequence into the page cache while the current one is sent
/// (`posix_fadvise(POSIX_FADV_WILLNEED)`, on a queue of its own), so that sending file after file over one association
/// does not wait for the disk at every file.
///
/// Received files are written past the page cache (``StorageHandler/writesDirectly``), so a file forwarded or
/// retrieved soon after it arrived is read from the device; read one after the other, each read was a wait between
/// two C-STOREs. Only the first ``bytesPerFile`` of a file are asked for: the kernel's own read-ahead follows a large
/// file being read from start to end.
public struct ReadAhead: Sendable {
    /// How many files after the current one are asked for.
    public static let filesAhead = 16
    /// The most asked for per file.
    public static let bytesPerFile = 4 * 1024 * 1024

    private let paths: [String]
    private var advisedThrough = -1
    private let advise: @Sendable (String) -> Void
    static let queue = DispatchQueue(label: "dicom.read-ahead", qos: .utility)

    /// A read-ahead over `paths`, in the order they will be sent.
    public init(paths: [String]) {
        self.init(paths: paths, advise: Self.advise)
    }

    /// With another way to ask for a file (tests).
    init(paths: [String], advise: @escaping @Sendable (String) -> Void) {
        self.paths = paths
        self.advise = advise
    }

    /// Call before sending `paths[index]`: asks for it and the ``filesAhead`` after it, those not asked for yet.
    public mutating func willSend(_ index: Int) {
        guard index >= 0, index < paths.count else { return }
        let last = min(paths.count - 1, index + Self.filesAhead)
        let first = max(index, advisedThrough + 1)
        guard first <= last else { return }
        let batch = Array(paths[first...last])
        advisedThrough = last
        let advise = self.advise
        Self.queue.async { for path in batch { advise(path) } }
    }

    /// `posix_fadvise(WILLNEED)` on the start of one file; best effort (a missing file is reported when it is sent).
    static func advise(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = posix_fadvise(descriptor, 0, off_t(bytesPerFile), Int32(POSIX_FADV_WILLNEED))
        close(descriptor)
    }
}
