import ArgumentParser
import DICOMArchive
import DICOMCore
import DICOMNetwork
import DICOMServices
import DICOMToolSupport
import DICOMWorklist
import Foundation
import Logging

/// `dcmworklist serve`: the Modality Worklist and MPPS SCP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Modality Worklist (C-FIND) and Modality Performed Procedure Step (N-CREATE/N-SET) SCP.",
        discussion: """
            Answers Verification, Modality Worklist Information Model – FIND (1.2.840.10008.5.1.4.31) and Modality Performed \
            Procedure Step (1.2.840.10008.3.1.2.3.3). Answers are written in the character set the configuration gives the \
            calling AE (default ISO_IR 192); names that set cannot hold are sent transliterated to Latin.
            """)
    @OptionGroup var options: WorklistOptions

    @Option(help: "Port to listen on (0 picks a free one, printed on standard output).")
    var port: Int = 11113

    @Option(help: "Address to listen on.")
    var host: String = "0.0.0.0"

    @Option(help: "Our AE title. Associations calling another title are rejected.")
    var aet: String = "DCMWORKLIST"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning or error.")
    var logLevel: String = "info"

    @Option(name: .customLong("org"), help: ArgumentHelp(
        "An organization and its AE titles, NAME=AE[,AE...] (repeatable): a caller then sees only the orders scheduled on its organization's stations.",
        valueName: "NAME=AE,..."))
    var organizationMembers: [String] = []

    @Flag(help: "Reject associations from AE titles in no organization (needs --org).")
    var closed = false

    /// A storage handler for an SCP that accepts no storage: every C-STORE is refused.
    struct NoStorage: StorageHandler {
        func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .sopClassNotSupported }
    }

    func run() async throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): expected 0 to 65535") }
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level \(logLevel): expected trace, debug, info, notice, warning or error") }
        let aeTitle: AETitle
        do { aeTitle = try AETitle(aet) } catch { throw ValidationError("--aet \(aet): \(error)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "dcmworklist")
        let store: WorklistStore
        let configuration: WorklistConfiguration
        do {
            store = try options.store()
            configuration = try options.configuration(store)
            _ = try store.orders()
        } catch let error as WorklistError {
            printError("dcmworklist: \(error.message)")
            throw ExitCode(1)
        }
        let organizations: Organizations?
        do { organizations = try Organizations.merging(options: organizationMembers, into: nil) } catch {
            throw ValidationError("\(error)")
        }
        var policy = AcceptorPolicy(calledAETitles: .only([aeTitle]), maximumPDULength: 64 * 1024)
        if closed {
            guard let organizations else { throw ValidationError("--closed needs --org NAME=AE,...") }
            do { policy.callingAETitles = .only(Set(try organizations.allAETitles.map { try AETitle($0) })) } catch {
                throw ValidationError("--org: \(error)")
            }
        }
        let native = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        policy.accept(abstractSyntaxes: [verificationSOPClassUID, WorklistSOPClass.modalityWorklistFind,
                                         WorklistSOPClass.modalityPerformedProcedureStep], transferSyntaxes: native)
        let server = try await DICOMServer.start(host: host, port: port, policy: policy, storageHandler: NoStorage(),
                                                 queryHandler: ModalityWorklistHandler(store: store, configuration: configuration,
                                                                                       organizations: organizations, logger: logger),
                                                 managedObjectHandler: PerformedProcedureStepHandler(store: store, logger: logger),
                                                 aeTitle: aeTitle, logger: logger)
        FileHandle.standardOutput.write(Data("dcmworklist listening on port \(server.port) as \(aeTitle), worklist \(store.directory)\n".utf8))
        await waitForTermination()
        logger.notice("stopping")
        await server.shutdown(gracePeriod: .seconds(10))
    }

    /// Returns on SIGTERM or SIGINT.
    func waitForTermination() async {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let stream = AsyncStream<Void> { continuation in
            for number in [SIGTERM, SIGINT] {
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { continuation.yield() }
                source.resume()
                SignalSources.keep(source)
            }
        }
        for await _ in stream { return }
    }
}

/// Keeps signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    static let lock = NSLock()
    static func keep(_ source: DispatchSourceSignal) { lock.lock(); sources.append(source); lock.unlock() }
}
