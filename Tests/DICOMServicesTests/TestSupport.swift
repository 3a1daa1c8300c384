import DICOMCore
import DICOMIO
import DICOMServices
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum TestSupport {
    static let ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"
    static let secondaryCaptureStorage = "1.2.840.10008.5.1.4.1.1.7"

    /// A fresh temporary directory.
    static func temporaryDirectory(_ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "svc-tests-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A small but varied instance: strings, numbers, a sequence, native pixel data.
    static func makeInstance(sopClassUID: String = ctImageStorage, sopInstanceUID: String, rows: Int = 16, columns: Int = 16) throws -> DataSet {
        var dataSet = DataSet()
        dataSet.setASCII(Tag(0x0008, 0x0016), vr: .UI, sopClassUID)
        dataSet.setASCII(Tag(0x0008, 0x0018), vr: .UI, sopInstanceUID)
        dataSet.setASCII(Tag(0x0008, 0x0060), vr: .CS, "CT")
        try dataSet.set(Tag(0x0010, 0x0010), vr: .PN, string: "Doe^Jane")
        dataSet.setASCII(Tag(0x0010, 0x0020), vr: .LO, "PID-42")
        dataSet.setASCII(Tag(0x0020, 0x000D), vr: .UI, "1.2.826.0.1.3680043.10.999.1")
        dataSet.setASCII(Tag(0x0020, 0x000E), vr: .UI, "1.2.826.0.1.3680043.10.999.1.1")
        var item = DataSet()
        item.setASCII(Tag(0x0008, 0x0100), vr: .SH, "T-D1100")
        item.setASCII(Tag(0x0008, 0x0102), vr: .SH, "SRT")
        dataSet.set(DataElement(tag: Tag(0x0008, 0x2218), items: [item]))
        dataSet.setASCII(Tag(0x0028, 0x0004), vr: .CS, "MONOCHROME2")
        try dataSet.set(Tag(0x0028, 0x0002), vr: .US, integers: [1])
        try dataSet.set(Tag(0x0028, 0x0010), vr: .US, integers: [rows])
        try dataSet.set(Tag(0x0028, 0x0011), vr: .US, integers: [columns])
        try dataSet.set(Tag(0x0028, 0x0100), vr: .US, integers: [16])
        try dataSet.set(Tag(0x0028, 0x0101), vr: .US, integers: [12])
        try dataSet.set(Tag(0x0028, 0x0102), vr: .US, integers: [11])
        try dataSet.set(Tag(0x0028, 0x0103), vr: .US, integers: [0])
        var pixels = Data(count: rows * columns * 2)
        for i in 0..<pixels.count { pixels[i] = UInt8(truncatingIfNeeded: i &* 7) }
        dataSet.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OW, bytes: pixels))
        return dataSet
    }

    /// Writes the instance as a Part 10 file and returns its path.
    static func writeInstance(_ dataSet: DataSet, transferSyntax: TransferSyntax = .explicitVRLittleEndian, to directory: String,
                              name: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        // A plain write: the atomic, fsynced one would block the cooperative pool the servers run on.
        try DICOMFile(dataSet: dataSet, transferSyntax: transferSyntax).encoded().write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A TCP port that was free a moment ago on 127.0.0.1.
    static func freePort() -> Int {
        // Below the kernel's ephemeral range (32768-60999): a server binding port 0 in a concurrent test never gets it.
        for _ in 0..<500 {
            let port = Int.random(in: 20000..<32768)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }
        }
        return 0
    }

    /// A listening TCP socket on 127.0.0.1 at a port the system chose: its descriptor and port.
    static func listenOnLoopback() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard fd >= 0, bound == 0, named == 0, listen(fd, 4) == 0 else {
            if fd >= 0 { close(fd) }
            throw DICOMServiceError(.connectionFailed, "cannot listen on 127.0.0.1: errno \(errno)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Connects a plain TCP socket to 127.0.0.1:port with a receive timeout; returns the descriptor.
    static func rawConnect(port: Int, receiveTimeoutSeconds: Int = 10) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard result == 0 else { close(fd); return -1 }
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Reads until EOF (or the receive timeout) on a dispatch thread, so the blocking reads never starve the
    /// cooperative pool the server's tasks run on; returns the bytes and whether EOF was seen.
    /// Reads on a thread of its own: a blocking read on `DispatchQueue.global()` would hold one of the few threads it
    /// shares with the cooperative pool (swift-corelibs-libdispatch) for as long as the peer stays silent.
    static func readToEnd(_ fd: Int32) async -> (bytes: [UInt8], eof: Bool) {
        await onOwnThread { blockingReadToEnd(fd) }
    }

    static func blockingReadToEnd(_ fd: Int32) -> (bytes: [UInt8], eof: Bool) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n == 0 { return (out, true) }
            if n < 0 { return (out, false) }
            out.append(contentsOf: buffer[0..<n])
        }
    }

    /// Runs a process with TCP_NODELAY=1; returns it running.
    static func launch(_ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TCP_NODELAY"] = "1"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        let errorPipe = Pipe()
        process.standardError = errorPipe
        try process.run()
        return process
    }

    /// Runs a process to completion within `timeout` seconds (killed after); returns its exit status.
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 30) async throws -> Int32 {
        let process = try launch(executable, arguments)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return -1 }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}
