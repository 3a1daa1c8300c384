import Foundation
import NIOCore
import NIOSSL

/// TLS for DICOM associations (PS3.15 Annex B.1, the Basic TLS Secure Transport Connection Profile; port 2762
/// by convention): a prepared context for ``DICOMClient`` or ``DICOMServer``.
public struct DICOMTLS: Sendable {
    let context: NIOSSLContext
    /// The name the server's certificate is checked against (client side); nil for none.
    public var serverHostname: String?

    /// Wraps a ready NIOSSL context.
    public init(context: NIOSSLContext, serverHostname: String? = nil) {
        self.context = context
        self.serverHostname = serverHostname
    }

    /// A server context from PEM files: the certificate chain and its private key (TLS 1.2 or later).
    public static func server(certificateChainPEM: String, privateKeyPEM: String) throws -> DICOMTLS {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateChainPEM).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: privateKeyPEM, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return DICOMTLS(context: try NIOSSLContext(configuration: configuration))
    }

    /// A client context trusting the certificates of a PEM file (or the system's roots when nil), checking
    /// the server's certificate against `serverHostname`.
    public static func client(trustRootsPEM: String? = nil, serverHostname: String?) throws -> DICOMTLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let trustRootsPEM {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustRootsPEM))
        }
        if serverHostname == nil { configuration.certificateVerification = .noHostnameVerification }
        return DICOMTLS(context: try NIOSSLContext(configuration: configuration), serverHostname: serverHostname)
    }

    func clientHandler() throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
    }

    func serverHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: context)
    }
}
