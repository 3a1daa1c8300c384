import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An archive operation that failed: what kind of failure, a message a technician can act on, and the UID, path
/// and system error number involved when there is one.
public struct ArchiveError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of failure. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A UID that is not usable as a file name (see ``UIDPathComponent``).
        public static let invalidUID = Code("invalidUID")
        /// A path outside the archive's areas.
        public static let invalidPath = Code("invalidPath")
        /// A required attribute is missing from a data set.
        public static let missingAttribute = Code("missingAttribute")
        /// The disk or quota is full (ENOSPC, EDQUOT), or another resource ran out.
        public static let outOfSpace = Code("outOfSpace")
        /// Any other file system error.
        public static let io = Code("io")
        /// No instance matched.
        public static let notFound = Code("notFound")
        /// An argument out of range.
        public static let invalidArgument = Code("invalidArgument")
    }

    public var code: Code
    public var message: String
    /// The UID concerned, if any.
    public var uid: String?
    /// The file concerned, if any.
    public var path: String?
    /// The `errno` of a failed system call, if any.
    public var systemError: Int32?

    public init(_ code: Code, _ message: String, uid: String? = nil, path: String? = nil, systemError: Int32? = nil) {
        self.code = code
        self.message = message
        self.uid = uid
        self.path = path
        self.systemError = systemError
    }

    public var description: String { message }

    /// An error from a failed system call: `outOfSpace` for ENOSPC/EDQUOT, `io` otherwise.
    static func system(_ what: String, path: String, errno number: Int32) -> ArchiveError {
        let reason = String(cString: strerror(number))
        let code: Code = (number == ENOSPC || number == EDQUOT) ? .outOfSpace : .io
        return ArchiveError(code, "\(what) \(path): \(reason)", path: path, systemError: number)
    }
}
