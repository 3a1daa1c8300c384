import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMWorklist

/// DICOMServer's N-CREATE/N-SET/N-GET dispatch to a ``ManagedObjectHandler``, driven by pynetdicom.
@Suite struct ManagedObjectServerTests {
    struct NoStorage: StorageHandler {
        func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .sopClassNotSupported }
    }

    static func policy() -> AcceptorPolicy {
        var policy = AcceptorPolicy()
        policy.accept(abstractSyntaxes: [verificationSOPClassUID, WorklistSOPClass.modalityPerformedProcedureStep],
                      transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
        return policy
    }

    /// N-CREATE with a bad status, N-CREATE without an attribute list, N-SET and N-GET of an unknown instance, then C-ECHO
    /// on the same association: each answered with its status, none aborting the association.
    static let script = """
        import sys
        from pydicom.dataset import Dataset
        from pydicom.uid import generate_uid
        from pynetdicom import AE, debug_logger
        from pynetdicom.sop_class import ModalityPerformedProcedureStep, Verification
        # The exchange in pynetdicom's words on stderr: shown only if the script fails (a response that never came).
        debug_logger()
        ae = AE(ae_title='CT1')
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        ae.add_requested_context(ModalityPerformedProcedureStep)
        ae.add_requested_context(Verification)
        assoc = ae.associate('127.0.0.1', int(sys.argv[1]))
        if not assoc.is_established:
            print('association failed'); sys.exit(2)
        def show(name, status):
            print(name, hex(status.Status) if status else 'none', flush=True)
        ds = Dataset()
        ds.PerformedProcedureStepStatus = 'COMPLETED'
        show('create-bad-status', assoc.send_n_create(ds, ModalityPerformedProcedureStep, generate_uid())[0])
        show('create-empty', assoc.send_n_create(None, ModalityPerformedProcedureStep, generate_uid())[0])
        mod = Dataset()
        mod.PerformedProcedureStepStatus = 'COMPLETED'
        show('set-unknown', assoc.send_n_set(mod, ModalityPerformedProcedureStep, generate_uid())[0])
        show('get', assoc.send_n_get([0x00400252], ModalityPerformedProcedureStep, generate_uid())[0])
        show('echo', assoc.send_c_echo())
        assoc.release()
        """

    static func run(handler: ManagedObjectHandler?) async throws -> [String: String] {
        let server = try await DICOMServer.start(port: 0, policy: policy(), storageHandler: NoStorage(), managedObjectHandler: handler)
        let result: ProcessResult
        do {
            result = try await Harness.python(script, [String(server.port)], timeout: 60)
        } catch {
            await server.shutdown(gracePeriod: .seconds(1))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(2))
        guard result.status == 0 else { throw HarnessError("pynetdicom script failed: \(result.output) \(result.errors)") }
        var statuses: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { statuses[String(parts[0])] = String(parts[1]) }
        }
        return statuses
    }

    @Test func withoutAHandlerNormalizedRequestsAreAnsweredNoSuchSOPClass() async throws {
        let statuses = try await Self.run(handler: nil)
        #expect(statuses["create-bad-status"] == "0x118")
        #expect(statuses["set-unknown"] == "0x118")
        #expect(statuses["get"] == "0x118")
        #expect(statuses["echo"] == "0x0")
    }

    @Test func performedProcedureStepRefusalsCarryTheirStatuses() async throws {
        let store = try WorklistStore(archiveRoot: try Harness.temporaryDirectory("nservice"))
        defer { try? FileManager.default.removeItem(atPath: (store.directory as NSString).deletingLastPathComponent) }
        let statuses = try await Self.run(handler: PerformedProcedureStepHandler(store: store))
        #expect(statuses["create-bad-status"] == "0x106")
        #expect(statuses["create-empty"] == "0x106")
        #expect(statuses["set-unknown"] == "0x112")
        #expect(statuses["get"] == "0x112")
        #expect(statuses["echo"] == "0x0")
        #expect(try store.read().performedSteps == nil)
    }
}
