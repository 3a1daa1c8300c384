import DICOMCore
import DICOMIO
import DICOMServices
import Foundation
import NIOCore
import Testing

@Suite struct TimeoutAndShutdownTests {
    /// Answers only after `delay`.
    struct SlowHandler: StorageHandler {
        var delay: Duration
        func store(_ instance: ReceivedInstance) async -> DIMSEStatus {
            try? await Task.sleep(for: delay)
            return .success
        }
    }

    static func storeContexts() -> [PresentationContext] {
        PresentationContext.numbered([verificationSOPClassUID, TestSupport.ctImageStorage],
                                     transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])
    }

    @Test func dimseTimeoutBoundsTheWaitForAResponse() async throws {
        let directory = try TestSupport.temporaryDirectory("dimse-timeout")
        let server = try await DICOMServer.start(port: 0, storageHandler: SlowHandler(delay: .seconds(60)))
        let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SCU", calledAE: "ANY-SCP",
                                                        presentationContexts: Self.storeContexts(),
                                                        timeouts: DICOMTimeouts(dimse: .milliseconds(300)))
        let path = try TestSupport.writeInstance(try TestSupport.makeInstance(sopInstanceUID: "1.2.3.11"), to: directory, name: "x.dcm")
        let start = ContinuousClock.now
        do {
            _ = try await association.store(fileAt: path)
            Issue.record("store should time out")
        } catch let error as DICOMServiceError {
            #expect(error.code == .timeout)
        }
        #expect(ContinuousClock.now - start < .seconds(30), "bounded by the 0.3 s DIMSE timeout, not the 60 s handler")
        // The association is unusable afterwards, and says so.
        await #expect(throws: DICOMServiceError.self) { try await association.echo() }
        await server.shutdown(gracePeriod: .milliseconds(100))
    }

    @Test func idleAssociationIsClosedByTheServer() async throws {
        let directory = try TestSupport.temporaryDirectory("idle")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory),
                                                 timeouts: DICOMServerTimeouts(artim: .seconds(5), idle: .seconds(10)))
        // The client side runs on an event loop of its own, not on the cooperative pool: in the parallel test run,
        // tests that wait synchronously for a subprocess (pydicom, DCMTK) can hold both cooperative threads of the
        // 2-core CI machine (once about 40 tests finished together at 10.7–11.6 s), and twice the first C-ECHO went out
        // only after the server had closed the idle association.
        let loop = DICOMServer.associationEventLoops.next()
        try await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SCU",
                                                            calledAE: "ANY-SCP",
                                                            presentationContexts: DICOMClient.verificationContexts,
                                                            eventLoopGroup: loop)
            #expect(try await association.echo() == .success)
            let deadline = ContinuousClock.now + .seconds(40)
            while server.openConnectionCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(server.openConnectionCount == 0)
            await #expect(throws: (any Error).self) { try await association.echo() }
        }
        await server.shutdown()
    }

    @Test func abortByUserLeavesServerWorking() async throws {
        let directory = try TestSupport.temporaryDirectory("abort")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory))
        let first = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SCU", calledAE: "ANY-SCP",
                                                  presentationContexts: DICOMClient.verificationContexts)
        await first.abort()
        await #expect(throws: DICOMServiceError.self) { try await first.echo() }
        let second = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SCU", calledAE: "ANY-SCP",
                                                   presentationContexts: DICOMClient.verificationContexts)
        #expect(try await second.echo() == .success)
        try await second.release()
        await server.shutdown()
    }

    @Test func shutdownClosesOpenAssociationsAfterTheGracePeriod() async throws {
        let directory = try TestSupport.temporaryDirectory("shutdown")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory))
        let association = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SCU", calledAE: "ANY-SCP",
                                                        presentationContexts: DICOMClient.verificationContexts)
        #expect(try await association.echo() == .success)
        #expect(server.openConnectionCount == 1)
        let start = ContinuousClock.now
        await server.shutdown(gracePeriod: .milliseconds(200))
        // Far below what the association would otherwise stay open (the 120 s idle time), with room for a loaded machine.
        #expect(ContinuousClock.now - start < .seconds(20))
        await #expect(throws: (any Error).self) { try await association.echo() }
        // No longer listening.
        await #expect(throws: DICOMServiceError.self) {
            _ = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "SCU", calledAE: "ANY-SCP",
                                              presentationContexts: DICOMClient.verificationContexts)
        }
    }

    @Test func connectTimeoutAndARTIMOnASilentPeer() async throws {
        // A listener that accepts but never answers A-ASSOCIATE-RQ: the client's ARTIM gives up.
        let (fd, port) = try TestSupport.listenOnLoopback()
        defer { close(fd) }
        let start = ContinuousClock.now
        do {
            _ = try await DICOMClient.connect(host: "127.0.0.1", port: port, callingAE: "SCU", calledAE: "SILENT",
                                              presentationContexts: DICOMClient.verificationContexts,
                                              timeouts: DICOMTimeouts(connect: .seconds(2), artim: .milliseconds(300)))
            Issue.record("connect should time out")
        } catch let error as DICOMServiceError {
            #expect(error.code == .timeout)
        }
        // Generous bound for a loaded machine (a full run on two busy cores once took 11.9 s; alone it takes 0.3 s): the point
        // is that ARTIM ends the wait for an A-ASSOCIATE-AC that never comes, which would otherwise last forever.
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}
