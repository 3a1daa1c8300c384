// libFuzzer harness for the running server: the upper-layer state machine as the acceptor drives it, the association
// loop of DICOMServer (PDUConnection, IncomingDataSet, QueryRetrieveService, StorageCommitmentService) and the archive
// handlers behind it, fed over a loopback TCP connection. See README.md ("fuzz-server").
// Built as a package against the repository's DICOMArchive and DICOMWorklist products: Tools/fuzz/server/Package.swift.
import CFuzzerDriver
import DICOMArchive
import DICOMCore
import DICOMIO
import DICOMNetwork
import DICOMServices
import DICOMWorklist
import Foundation
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

// MARK: - The server, once per process

/// The server's timers. ARTIM bounds the wait for A-ASSOCIATE-RQ and for the peer's close after a reject, release or
/// abort: short, so an input that leaves the server there costs little. Idle bounds the wait for the next PDU and a
/// C-GET's wait for each C-STORE-RSP: longer than `settleBound`, so that a server that notices the peer's close only
/// when the idle timer fires (instead of at once) fails the settle check.
let artim = TimeAmount.milliseconds(500)
let idle = TimeAmount.seconds(10)
/// How long the server may take, after the harness has closed its side (or, in waiting mode, after the timer that
/// applies has run out), to close the connection and end the association's task.
let settleBound: Duration = .seconds(3)

/// Runs `body` on the cooperative pool and waits for it (the fuzzer's callback is synchronous).
final class ResultBox<T>: @unchecked Sendable { var result: Result<T, Error>? }

func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// FUZZ_SERVER_LOG=1: the server's log at debug level on standard error, with milliseconds since the start.
struct TimedLogHandler: LogHandler {
    static let start = ContinuousClock.now
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let elapsed = ContinuousClock.now - Self.start
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.filter { $0.key != "dicom.peer" }.sorted { $0.key < $1.key }
        let text = fields.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        FileHandle.standardError.write(Data("\(milliseconds) ms \(event.level) \(event.message) \(text)\n".utf8))
    }
}

let logger: Logger = {
    guard ProcessInfo.processInfo.environment["FUZZ_SERVER_LOG"] != nil else {
        return Logger(label: "fuzz.server", factory: { _ in SwiftLogNoOpLogHandler() })
    }
    return Logger(label: "fuzz.server", factory: { _ in TimedLogHandler() })
}()

/// FUZZ_SERVER_LOG=1 also logs the harness's steps.
func trace(_ text: @autoclosure () -> String) {
    guard ProcessInfo.processInfo.environment["FUZZ_SERVER_LOG"] != nil else { return }
    logger.debug("harness: \(text())")
}

/// A small CT instance of a given study, series and SOP instance, encoded as Explicit VR Little Endian.
func seedInstance(patient: String, study: String, series: String, sop: String) throws -> Data {
    var dataSet = DataSet()
    try dataSet.set(.sopClassUID, vr: .UI, string: "1.2.840.10008.5.1.4.1.1.2")
    try dataSet.set(.sopInstanceUID, vr: .UI, string: sop)
    try dataSet.set(.studyInstanceUID, vr: .UI, string: study)
    try dataSet.set(.seriesInstanceUID, vr: .UI, string: series)
    try dataSet.set(.patientID, vr: .LO, string: patient)
    try dataSet.set(.patientName, vr: .PN, string: "FUZZ^\(patient)")
    try dataSet.set(.studyDate, vr: .DA, string: "20240105")
    try dataSet.set(.modality, vr: .CS, string: "CT")
    try dataSet.set(.accessionNumber, vr: .SH, string: "A\(patient)")
    try dataSet.set(.rows, vr: .US, integers: [2])
    try dataSet.set(.columns, vr: .US, integers: [2])
    try dataSet.set(.bitsAllocated, vr: .US, integers: [8])
    try dataSet.set(.bitsStored, vr: .US, integers: [8])
    try dataSet.set(.highBit, vr: .US, integers: [7])
    try dataSet.set(.samplesPerPixel, vr: .US, integers: [1])
    try dataSet.set(.pixelRepresentation, vr: .US, integers: [0])
    try dataSet.set(.photometricInterpretation, vr: .CS, string: "MONOCHROME2")
    dataSet.set(DataElement(tag: .pixelData, vr: .OB, value: .bytes(Data([1, 2, 3, 4]))))
    return try DataSetWriter.encode(dataSet, transferSyntax: .explicitVRLittleEndian)
}

/// The temporary archive folder, removed when the process exits.
nonisolated(unsafe) var archiveRoot: String?

/// The archive and server, wired as `dcmstore serve` wires them (DCMStore.serve): an ArchiveStore over a JSON index in
/// a temporary folder, the archive's storage handler behind the order-linking one, Query/Retrieve (FIND, MOVE, GET;
/// Patient and Study Root) with a C-MOVE peer table whose one entry points at a closed port, Storage Commitment, the
/// default archive policy, the audit trail and the association observer.
let server: DICOMServer = {
    do {
        return try blocking {
            let root = NSTemporaryDirectory() + "fuzz-server-\(getpid())-\(UUID().uuidString)"
            archiveRoot = root
            atexit { if let root = archiveRoot { try? FileManager.default.removeItem(atPath: root) } }
            let layout = ArchiveLayout(root: root)
            try layout.createDirectories()
            let index = try await JSONArchiveIndex.open(directory: layout.indexDirectory, checkingFilesIn: layout, logger: logger)
            let store = try ArchiveStore(layout: layout, index: index, configuration: ArchiveStoreConfiguration(), logger: logger)
            // A few instances, for C-MOVE and C-GET to have something to send and C-FIND something to find.
            for (n, patient) in ["P1", "P1", "P2"].enumerated() {
                let study = "1.2.826.0.1.3680043.10.1.\(patient == "P1" ? 1 : 2)"
                let series = study + ".1"
                let sop = series + ".\(n + 1)"
                let path = layout.temporaryDirectory + "/seed\(n)"
                try seedInstance(patient: patient, study: study, series: series, sop: sop).write(to: URL(fileURLWithPath: path))
                let result = await store.store(dataSetAt: path, transferSyntaxUID: TransferSyntax.explicitVRLittleEndian.uid,
                                               sopClassUID: "1.2.840.10008.5.1.4.1.1.2", sopInstanceUID: sop, callingAETitle: "SEED")
                require(result.status.category == .success, "seeding the archive failed: \(result)")
                try? FileManager.default.removeItem(atPath: path)
            }
            // A port that was free a moment ago: bound, then closed (connection refused).
            let closedPort = try closedLoopbackPort()
            let destinations: [AETitle: MoveDestination] = [
                "NOWHERE": MoveDestination(aeTitle: "NOWHERE", host: "127.0.0.1", port: closedPort),
            ]
            let audit = AuditTrail(path: layout.auditLogPath, logger: logger)
            var queryRetrieve = ArchiveQueryRetrieveHandler(index: index, root: layout.root, destinations: destinations,
                                                            shares: StudyShares(archiveRoot: layout.root))
            queryRetrieve.audit = audit
            let archiveHandler = ArchiveStorageHandler(store: store, audit: audit)
            let aeTitle: AETitle = "DCMSTORE"
            var policy = DICOMServer.defaultArchivePolicy(aeTitle: aeTitle)
            policy.accept(abstractSyntax: StorageCommitment.sopClassUID,
                          transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
            let commitment = ArchiveStorageCommitmentHandler(index: index, root: layout.root, audit: audit,
                                                             peers: destinations, logger: logger)
            let orderLink = OrderLinkingStorageHandler(inner: archiveHandler, index: index,
                                                       worklist: try WorklistStore(archiveRoot: layout.root), logger: logger)
            return try await DICOMServer.start(host: "127.0.0.1", port: 0, policy: policy, storageHandler: orderLink,
                                               queryHandler: queryRetrieve, retrieveHandler: queryRetrieve,
                                               storageCommitmentHandler: commitment,
                                               associationObserver: { event in
                                                   audit.record(AuditEntry(time: Date(), action: event.accepted ? "associate" : "reject",
                                                                           count: 0, user: event.userName ?? "", host: "fuzz",
                                                                           reason: event.rejection, aeTitle: event.callingAETitle.value,
                                                                           peer: event.peer))
                                               },
                                               aeTitle: aeTitle, timeouts: DICOMServerTimeouts(artim: artim, idle: idle),
                                               temporaryDirectory: layout.temporaryDirectory, logger: logger)
        }
    } catch {
        fatalError("cannot start the server: \(error)")
    }
}()

/// A loopback port nobody listens on: bound to port 0, read, closed.
func closedLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw POSIXError(.EIO) }
    return Int(UInt16(bigEndian: address.sin_port))
}

// MARK: - One TCP connection to the server

/// A non-blocking loopback connection to the server.
struct Peer {
    let fd: Int32

    /// Why the last failed connect failed (`strerror`), for the finding's message.
    nonisolated(unsafe) static var lastConnectError = ""

    init?(port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        var connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if !connected && errno == EINTR {
            // A signal (libFuzzer's SIGALRM for -timeout) interrupted the connect, which goes on by itself: wait for
            // its outcome instead of reporting the server down.
            var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var ready: Int32
            repeat { ready = poll(&descriptor, 1, 5_000) } while ready < 0 && errno == EINTR
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if ready > 0, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 {
                connected = error == 0
                errno = error
            } else if ready == 0 {
                errno = ETIMEDOUT
            }
        }
        guard connected else {
            Peer.lastConnectError = String(cString: strerror(errno))
            Glibc.close(fd)
            return nil
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
    }

    /// What reading ended with.
    enum End { case open, closed, reset }

    /// Writes `chunks` in order (each its own write call, so that the server sees them in separate reads where the
    /// kernel does not coalesce them) while reading what the server sends. Stops writing when the server closes or
    /// resets. Returns false when the writes could not finish within `deadline`.
    func write(_ chunks: [ArraySlice<UInt8>], received: inout [UInt8], end: inout End, deadline: ContinuousClock.Instant) -> Bool {
        for chunk in chunks {
            var offset = chunk.startIndex
            while offset < chunk.endIndex {
                if end != .open { return true }
                let written = chunk[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written > 0 { offset += written; continue }
                if written < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                    // EPIPE or ECONNRESET: the server closed; what it sent is still to be read.
                    drain(received: &received, end: &end, until: deadline, stopWhenQuiet: true)
                    if end == .open { end = .reset }
                    return true
                }
                // The send buffer is full: read what the server sent meanwhile (it may be blocked writing to us).
                if !wait(events: Int16(POLLIN | POLLOUT), until: deadline) { return false }
                _ = readAvailable(into: &received, end: &end)
            }
            _ = readAvailable(into: &received, end: &end)
        }
        return true
    }

    /// Reads until the server closes, or until `deadline`.
    func drain(received: inout [UInt8], end: inout End, until deadline: ContinuousClock.Instant, stopWhenQuiet: Bool = false) {
        while end == .open {
            if !readAvailable(into: &received, end: &end) {
                if stopWhenQuiet { return }
                if !wait(events: Int16(POLLIN), until: deadline) { return }
            }
        }
    }

    /// Reads what is there; true when something was read or the connection ended.
    func readAvailable(into received: inout [UInt8], end: inout End) -> Bool {
        var progressed = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.append(contentsOf: buffer[0..<count])
                progressed = true
            } else if count == 0 {
                end = .closed
                return true
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return progressed
            } else {
                end = .reset
                return true
            }
        }
    }

    /// Reads until the server closes, sends a PDU that ends the association (A-ASSOCIATE-RJ, A-RELEASE-RP, A-ABORT),
    /// sends nothing for `quiet` (it waits for more input, or works without answering), or `deadline` passes.
    func readUntilQuiet(received: inout [UInt8], end: inout End, quiet: Duration, deadline: ContinuousClock.Instant) {
        while end == .open, !endsAssociation(received) {
            if readAvailable(into: &received, end: &end) { continue }
            if !wait(events: Int16(POLLIN), until: min(deadline, ContinuousClock.now + quiet)) { return }
        }
    }

    /// Waits for `events`; false when the deadline passed.
    func wait(events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        let left = deadline - ContinuousClock.now
        if left <= .zero { return false }
        let milliseconds = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        return ready > 0 || (ready < 0 && errno == EINTR)
    }

    /// Closes the sending side only (FIN): the server reads the end of the stream and may still answer.
    func halfClose() { shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with a reset (SO_LINGER 0): an abrupt end.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.close(fd)
    }

    func close() { Glibc.close(fd) }
}

// MARK: - Oracles on what the server sent

/// A finding, with its message: `fatalError` keeps it in an optimized build, where `precondition` drops it.
func fail(_ message: @autoclosure () -> String) -> Never { fatalError(message()) }

/// ``fail(_:)`` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) { if !condition { fatalError(message()) } }

/// Whether the complete PDUs in `bytes` include one after which the acceptor sends nothing more (A-ASSOCIATE-RJ,
/// A-RELEASE-RP, A-ABORT); read from the PDU headers only.
func endsAssociation(_ bytes: [UInt8]) -> Bool {
    var at = 0
    while bytes.count - at >= 6 {
        let length = bytes[(at + 2)..<(at + 6)].reduce(0) { $0 << 8 | Int($1) }
        guard bytes.count - at - 6 >= length else { return false }
        if [0x03, 0x06, 0x07].contains(bytes[at]) { return true }
        at += 6 + length
    }
    return false
}

/// The PDUs the server sent must decode, and come in an order an acceptor may send them in (PS3.8 Table 9-10): first
/// an A-ASSOCIATE-AC, -RJ or an A-ABORT; after an A-ASSOCIATE-AC only P-DATA-TF on accepted presentation contexts,
/// then at most one A-RELEASE-RP or A-ABORT; nothing after an A-ASSOCIATE-RJ, A-RELEASE-RP or A-ABORT. An
/// incomplete last PDU is allowed (the harness may close first). Returns whether an A-ASSOCIATE-AC came.
@discardableResult
func checkServerOutput(_ bytes: [UInt8]) -> Bool {
    var buffer = ByteBuffer(bytes: bytes)
    var decoder = PDUDecoder(maximumPDULength: UInt32.max)
    var accepted: Set<UInt8>?
    var finished: PDUType?
    while true {
        let pdu: PDU
        do {
            guard let next = try decoder.decode(buffer: &buffer) else { break }
            pdu = next
        } catch {
            fail("the server sent a PDU that does not decode: \(error)")
        }
        require(finished == nil, "the server sent \(pdu.type) after \(finished.map { "\($0)" } ?? "")")
        switch pdu {
        case .associateAccept(let accept):
            require(accepted == nil, "the server sent a second A-ASSOCIATE-AC")
            accepted = Set(accept.presentationContextResults.filter { $0.result == .acceptance }.map(\.id))
        case .associateReject, .abort:
            finished = pdu.type
        case .releaseResponse:
            require(accepted != nil, "the server sent A-RELEASE-RP before A-ASSOCIATE-AC")
            finished = pdu.type
        case .dataTransfer(let values):
            guard let accepted else { fail("the server sent P-DATA-TF before A-ASSOCIATE-AC") }
            for value in values {
                require(accepted.contains(value.presentationContextID),
                             "the server sent a PDV on presentation context \(value.presentationContextID), not accepted")
            }
        case .associateRequest, .releaseRequest:
            fail("the server sent \(pdu.type)")
        }
    }
    return accepted != nil
}

// MARK: - Liveness: a C-ECHO on a fresh association

func encode(_ pdus: [PDU]) -> [UInt8] {
    var bytes: [UInt8] = []
    for pdu in pdus {
        guard let buffer = try? pdu.encoded() else { fail("cannot encode \(pdu.type)") }
        bytes += buffer.readableBytesView
    }
    return bytes
}

let echoSession: (request: [UInt8], echo: [UInt8], release: [UInt8]) = {
    let request = AssociationRequest(calledAETitle: "DCMSTORE", callingAETitle: "FUZZPROBE",
                                     presentationContexts: [PresentationContext(id: 1, abstractSyntax: verificationSOPClassUID,
                                                                                transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])])
    guard let echo = try? PDataFragmenter(maximumPDULength: 16384).pdus(for: CEchoRequest(messageID: 7), presentationContextID: 1) else {
        fail("cannot encode C-ECHO-RQ")
    }
    return (encode([.associateRequest(request)]), encode(echo), encode([.releaseRequest]))
}()

/// Reads PDUs until one decodes; nil on timeout or close.
func receivePDU(_ peer: Peer, buffer: inout [UInt8], deadline: ContinuousClock.Instant) -> PDU? {
    var end = Peer.End.open
    while true {
        var bytes = ByteBuffer(bytes: buffer)
        var decoder = PDUDecoder(maximumPDULength: UInt32.max)
        if let pdu = try? decoder.decode(buffer: &bytes) {
            buffer.removeFirst(buffer.count - bytes.readableBytes)
            return pdu
        }
        if end != .open { return nil }
        if !peer.readAvailable(into: &buffer, end: &end), !peer.wait(events: Int16(POLLIN), until: deadline) { return nil }
    }
}

/// The server still answers: associate, C-ECHO, release, within 5 s.
func checkAlive(after input: String) {
    let deadline = ContinuousClock.now + .seconds(5)
    guard let peer = Peer(port: server.port) else { fail("server down: cannot connect (\(Peer.lastConnectError)) after \(input)") }
    defer { peer.close() }
    var received: [UInt8] = []
    var end = Peer.End.open
    require(peer.write([echoSession.request[...]], received: &received, end: &end, deadline: deadline), "probe: write timed out")
    guard case .associateAccept? = receivePDU(peer, buffer: &received, deadline: deadline) else {
        fail("server no longer accepts a C-ECHO association after \(input)")
    }
    require(peer.write([echoSession.echo[...]], received: &received, end: &end, deadline: deadline), "probe: write timed out")
    guard case .dataTransfer(let values)? = receivePDU(peer, buffer: &received, deadline: deadline),
          let command = values.last, command.isCommand, command.isLastFragment else {
        fail("server does not answer C-ECHO after \(input)")
    }
    require(peer.write([echoSession.release[...]], received: &received, end: &end, deadline: deadline), "probe: write timed out")
    guard case .releaseResponse? = receivePDU(peer, buffer: &received, deadline: deadline) else {
        fail("server does not answer A-RELEASE-RQ after \(input)")
    }
}

/// Every association ends: the server's count of open connections goes back to zero within `settleBound`.
func checkSettled(_ what: @autoclosure () -> String) {
    let deadline = ContinuousClock.now + settleBound
    while server.openConnectionCount > 0 {
        if ContinuousClock.now >= deadline {
            fail("hang: \(server.openConnectionCount) association(s) still open \(settleBound) after \(what())")
        }
        usleep(500)
    }
}

// MARK: - The input

/// How the harness plays the peer, from the first two bytes of the input:
/// byte 0, bits 0–1: chunking — 0 all at once; 1 chunks of (byte 1 + 1) bytes; 2 one chunk per PDU (by the PDU
///   headers in the stream); 3 the first (byte 1) bytes one at a time, then the rest.
/// byte 0, bits 2–3: the end — 0 half-close (FIN) and read until the server closes; 1 a reset (SO_LINGER 0) after
///   (byte 1 × 16) bytes of the stream; 2 full close after the stream; 3 as 0.
/// byte 0 = 70H: waiting mode — the harness does not close; the server must close by itself within its timer (ARTIM
///   when no association was accepted, else the idle timer) plus `settleBound`. (One value only: such an input costs
///   a second or more, so random mutations should rarely make one.)
/// byte 0, bits 4–7 = 8: after the stream, wait for the server to fall quiet for 100 ms instead of 5 ms before ending
///   (more time for a C-MOVE, C-GET or storage commitment to run before the peer goes away).
/// Except for a reset part-way, the harness reads what the server answers before it ends the connection: until the
/// server closes, sends A-ASSOCIATE-RJ, A-RELEASE-RP or A-ABORT, or sends nothing for the quiet time.
/// The rest: the byte stream, PDUs one after another as a peer sends them.
struct Plan {
    var chunks: [ArraySlice<UInt8>]
    enum Ending { case halfClose, reset, close, wait }
    var ending: Ending
    var quiet: Duration

    init(_ input: [UInt8]) {
        let mode = input.first ?? 0
        let parameter = input.count > 1 ? Int(input[1]) : 0
        var stream = input.count > 2 ? input[2...] : []
        switch (mode >> 2) & 3 {
        case 1:
            ending = .reset
            stream = stream.prefix(parameter * 16)
        case 2: ending = .close
        default: ending = .halfClose
        }
        if mode == 0x70 { ending = .wait }
        quiet = mode >> 4 == 8 ? .milliseconds(100) : .milliseconds(5)
        switch mode & 3 {
        case 1:
            let size = parameter + 1
            chunks = stride(from: stream.startIndex, to: stream.endIndex, by: size).map { stream[$0..<min($0 + size, stream.endIndex)] }
        case 2:
            chunks = []
            var start = stream.startIndex
            while stream.endIndex - start >= 6 {
                let length = stream[(start + 2)..<(start + 6)].reduce(0) { $0 << 8 | Int($1) }
                let end = min(stream.endIndex, start + 6 + length)
                chunks.append(stream[start..<end])
                start = end
            }
            if start < stream.endIndex { chunks.append(stream[start...]) }
        case 3:
            let split = min(stream.endIndex, stream.startIndex + parameter)
            chunks = stream[..<split].indices.map { stream[$0...$0] } + [stream[split...]]
        default:
            chunks = [stream]
        }
        chunks.removeAll { $0.isEmpty }
    }
}

nonisolated(unsafe) var executions = 0

/// One input: one connection, the stream written as planned, the server's answer read and checked, then the server must
/// end the association within its bound and (every 16 inputs) still answer a C-ECHO.
func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    let plan = Plan(input)
    let port = server.port
    checkSettled("the previous input")
    guard let peer = Peer(port: port) else { fail("server down: cannot connect (\(Peer.lastConnectError))") }
    var received: [UInt8] = []
    var end = Peer.End.open
    let written = peer.write(plan.chunks, received: &received, end: &end, deadline: ContinuousClock.now + .seconds(10))
    require(written, "hang: the server stopped reading for 10 s with \(input.count) bytes of input not yet written")
    trace("wrote \(plan.chunks.count) chunks; ending \(plan.ending)")
    if plan.ending != .reset {
        peer.readUntilQuiet(received: &received, end: &end, quiet: plan.quiet, deadline: ContinuousClock.now + settleBound)
        trace("read \(received.count) bytes; \(end)")
    }
    switch plan.ending {
    case .halfClose:
        peer.halfClose()
        peer.drain(received: &received, end: &end, until: ContinuousClock.now + settleBound)
        require(end != .open, "hang: the server neither closed nor reset \(settleBound) after the peer's FIN")
        peer.close()
    case .close:
        peer.close()
    case .reset:
        peer.reset()
    case .wait:
        // The server's own timer must end it: ARTIM before an association is accepted, the idle timer after (the
        // longer of the two bounds both, whichever applies).
        let timer = max(idle, artim)
        let limit = ContinuousClock.now + .nanoseconds(timer.nanoseconds) + settleBound
        peer.drain(received: &received, end: &end, until: limit)
        require(end != .open, "hang: the server neither closed nor reset the connection within its timer plus \(settleBound)")
        peer.close()
    }
    trace("closed; \(received.count) bytes received")
    checkServerOutput(received)
    checkSettled("the input's connection closed")
    trace("settled")
    executions += 1
    if executions % 16 == 0 {
        checkAlive(after: "\(executions) inputs")
        checkSettled("the C-ECHO probe")
    }
    return 0
}

@_cdecl("fuzz_server_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    signal(SIGPIPE, SIG_IGN)
    _ = server
    checkAlive(after: "start")
    checkSettled("the first C-ECHO probe")
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
}
