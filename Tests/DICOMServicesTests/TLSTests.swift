import DICOMCore
import DICOMServices
import Foundation
import Testing

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "/usr/bin/openssl is needed to make a test certificate"))
struct TLSTests {
    /// A self-signed certificate for localhost / 127.0.0.1, made with openssl.
    static func makeCertificate() async throws -> (certificate: String, key: String) {
        let directory = try TestSupport.temporaryDirectory("tls")
        let certificate = directory + "/cert.pem", key = directory + "/key.pem"
        let status = try await TestSupport.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", certificate,
        ])
        #expect(status == 0)
        return (certificate, key)
    }

    @Test func echoAndStoreOverTLS() async throws {
        let (certificate, key) = try await Self.makeCertificate()
        let directory = try TestSupport.temporaryDirectory("tls-store")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory + "/received"),
                                                 tls: try DICOMTLS.server(certificateChainPEM: certificate, privateKeyPEM: key))
        let association = try await DICOMClient.connect(
            host: "127.0.0.1", port: server.port, callingAE: "TLSSCU", calledAE: "ANY-SCP",
            presentationContexts: PresentationContext.numbered([verificationSOPClassUID, TestSupport.ctImageStorage],
                                                               transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid]),
            tls: try DICOMTLS.client(trustRootsPEM: certificate, serverHostname: "localhost"))
        #expect(try await association.echo() == .success)
        let instance = try TestSupport.makeInstance(sopInstanceUID: "1.2.826.0.1.3680043.10.999.6.1", rows: 128, columns: 128)
        let path = try TestSupport.writeInstance(instance, to: directory, name: "x.dcm")
        #expect(try await association.store(fileAt: path).status == .success)
        try await association.release()
        #expect(FileManager.default.fileExists(atPath: directory + "/received/1.2.826.0.1.3680043.10.999.6.1.dcm"))

        // A plain client on the TLS port, and a client that does not trust the certificate, both fail cleanly.
        await #expect(throws: (any Error).self) {
            _ = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "PLAIN", calledAE: "ANY-SCP",
                                              presentationContexts: DICOMClient.verificationContexts,
                                              timeouts: DICOMTimeouts(artim: .seconds(3)))
        }
        await #expect(throws: (any Error).self) {
            _ = try await DICOMClient.connect(host: "127.0.0.1", port: server.port, callingAE: "UNTRUST", calledAE: "ANY-SCP",
                                              presentationContexts: DICOMClient.verificationContexts,
                                              timeouts: DICOMTimeouts(artim: .seconds(3)),
                                              tls: try DICOMTLS.client(serverHostname: "localhost"))
        }
        await server.shutdown()
    }

    @Test func serverVerifiesClientCertificates() async throws {
        let (serverCertificate, serverKey) = try await Self.makeCertificate()
        let (clientCertificate, clientKey) = try await Self.makeCertificate()
        let (otherCertificate, otherKey) = try await Self.makeCertificate()
        let directory = try TestSupport.temporaryDirectory("tls-mutual")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: directory + "/received"),
                                                 tls: try DICOMTLS.server(certificateChainPEM: serverCertificate, privateKeyPEM: serverKey,
                                                                          clientCAPEM: clientCertificate))
        // A client presenting the trusted certificate is served.
        let association = try await DICOMClient.connect(
            host: "127.0.0.1", port: server.port, callingAE: "MUTUAL", calledAE: "ANY-SCP", presentationContexts: DICOMClient.verificationContexts,
            tls: try DICOMTLS.client(trustRootsPEM: serverCertificate, serverHostname: "localhost",
                                     certificateChainPEM: clientCertificate, privateKeyPEM: clientKey))
        #expect(try await association.echo() == .success)
        try await association.release()
        // No client certificate, or one the server does not trust: the handshake fails.
        for credentials in [nil, (otherCertificate, otherKey)] as [(String, String)?] {
            await #expect(throws: (any Error).self) {
                let refused = try await DICOMClient.connect(
                    host: "127.0.0.1", port: server.port, callingAE: "NOCERT", calledAE: "ANY-SCP",
                    presentationContexts: DICOMClient.verificationContexts, timeouts: DICOMTimeouts(artim: .seconds(3)),
                    tls: try DICOMTLS.client(trustRootsPEM: serverCertificate, serverHostname: "localhost",
                                             certificateChainPEM: credentials?.0, privateKeyPEM: credentials?.1))
                // TLS 1.3 may report the refusal only at the first exchange.
                _ = try await refused.echo()
            }
        }
        await server.shutdown()
    }
}
