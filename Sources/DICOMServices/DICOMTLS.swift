import Foundation
import NIOCore
import NIOSSL
import NIOTLS

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
    ///
    /// - Parameters:
    ///   - clientCAPEM: when given, every client must present a certificate signed by one of these certificates
    ///     (PS3.15 B.1 mutual authentication); connections without one fail the TLS handshake.
    public static func server(certificateChainPEM: String, privateKeyPEM: String, clientCAPEM: String? = nil) throws -> DICOMTLS {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateChainPEM).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: privateKeyPEM, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAPEM {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCAPEM))
            configuration.certificateVerification = .noHostnameVerification
        }
        return DICOMTLS(context: try NIOSSLContext(configuration: configuration))
    }

    /// A client context trusting the certificates of a PEM file (or the system's roots when nil), checking
    /// the server's certificate against `serverHostname`.
    ///
    /// - Parameters:
    ///   - certificateChainPEM, privateKeyPEM: our client certificate and key, for servers that verify clients.
    public static func client(trustRootsPEM: String? = nil, serverHostname: String?, certificateChainPEM: String? = nil,
                              privateKeyPEM: String? = nil) throws -> DICOMTLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let certificateChainPEM, let privateKeyPEM {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateChainPEM).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyPEM, format: .pem))
        }
        if let trustRootsPEM {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustRootsPEM))
        }
        if serverHostname == nil { configuration.certificateVerification = .noHostnameVerification }
        return DICOMTLS(context: try NIOSSLContext(configuration: configuration), serverHostname: serverHostname)
    }

    func clientHandler() throws -> NIOSSLClientHandler {
        // Server Name Indication cannot carry an IP address (RFC 6066 §3). For a server given by address, no name is
        // sent and NIOSSL checks the certificate's IP address entries against the address connected to instead.
        let name = serverHostname.flatMap { Self.isIPAddress($0) ? nil : $0 }
        return try NIOSSLClientHandler(context: context, serverHostname: name)
    }

    /// Whether `text` is an IPv4 or IPv6 address rather than a host name.
    static func isIPAddress(_ text: String) -> Bool {
        (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }

    func serverHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: context)
    }
}

/// The future of a connection's ``TLSHandshakeWaiter``, handed from the channel initializer to the connecting task.
final class HandshakeOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var value: EventLoopFuture<Void>?
    func set(_ future: EventLoopFuture<Void>) { lock.withLock { value = future } }
    var future: EventLoopFuture<Void>? { lock.withLock { value } }
}

/// Completes its promise when the TLS handshake of a client channel ends: success on `handshakeCompleted`, failure on
/// an error or when the peer closes first (which a plain DICOM port does on a TLS ClientHello).
final class TLSHandshakeWaiter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    let promise: EventLoopPromise<Void>
    private var done = false

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    private func finish(_ result: Result<Void, Error>) {
        guard !done else { return }
        done = true
        promise.completeWith(result)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { finish(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(DICOMServiceError(.connectionFailed, "the peer closed the connection during the TLS handshake (a port without TLS?)")))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(DICOMServiceError(.connectionFailed, "the connection ended before the TLS handshake")))
    }
}
