import Crypto
import Foundation

/// The users an acceptor knows for User Identity Negotiation (PS3.7 §D.3.3.7): who may authenticate, and how.
///
/// A request carrying a User Identity sub-item must name a known user; a user with a passcode digest must send
/// type 2 (username and passcode) with that passcode. Kerberos, SAML and JWT identities are not accepted. When
/// ``isIdentityRequired`` is set, a request without an identity is rejected as well. Rejections are A-ASSOCIATE-RJ
/// rejected-permanent, service-user, no-reason-given, as §D.3.3.7 describes for identities that are not accepted.
///
/// Passcodes are kept as SHA-256 digests (hexadecimal), never in clear:
/// `printf %s 'secret' | sha256sum`.
public struct UserDirectory: Sendable, Equatable {
    /// How one user proves who it is.
    public enum Credential: Sendable, Equatable {
        /// The username alone is enough (type 1 or type 2 with any passcode).
        case usernameOnly
        /// A passcode whose SHA-256 digest is this (32 bytes).
        case passcodeSHA256([UInt8])
    }

    /// What checking a request's identity gave.
    public enum Outcome: Sendable, Equatable {
        /// No identity was sent and none is required.
        case anonymous
        /// The identity names this known user and its passcode (when one is needed) matched.
        case authenticated(username: String)
        /// Not accepted; the text says why (for the log, never sent to the peer).
        case rejected(String)
    }

    public var credentials: [String: Credential]
    /// Reject requests without a User Identity sub-item.
    public var isIdentityRequired: Bool

    public init(credentials: [String: Credential] = [:], isIdentityRequired: Bool = false) {
        self.credentials = credentials
        self.isIdentityRequired = isIdentityRequired
    }

    /// Reads a passcode digest written as 64 hexadecimal digits (the output of `sha256sum`).
    /// - Throws: ``DICOMNetworkError`` naming the user when the text is not such a digest.
    public static func passcodeDigest(hex: String, user: String) throws -> Credential {
        let digits = Array(hex.trimmingCharacters(in: .whitespaces).lowercased().utf8)
        var bytes: [UInt8] = []
        var index = 0
        while digits.count == 64, index < 64, let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) {
            bytes.append(high << 4 | low)
            index += 2
        }
        guard bytes.count == 32 else {
            throw DICOMNetworkError(.invalidValue, "the passcode of user \"\(user)\" must be a SHA-256 digest: 64 hexadecimal digits")
        }
        return .passcodeSHA256(bytes)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// Checks the identity of an A-ASSOCIATE-RQ.
    public func check(_ identity: UserIdentity?) -> Outcome {
        guard let identity else {
            return isIdentityRequired ? .rejected("no user identity was sent and one is required") : .anonymous
        }
        guard identity.kind == .username || identity.kind == .usernameAndPasscode else {
            return .rejected("user identity of type \(identity.kind) is not supported")
        }
        let name = identity.primaryText
        guard let credential = credentials[name] else { return .rejected("unknown user \"\(name)\"") }
        switch credential {
        case .usernameOnly:
            return .authenticated(username: name)
        case .passcodeSHA256(let expected):
            guard identity.kind == .usernameAndPasscode else { return .rejected("user \"\(name)\" sent no passcode") }
            let digest = Array(SHA256.hash(data: identity.secondaryField))
            // Compare every byte so the time taken does not depend on where the digests differ.
            let difference = zip(digest, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) }
            guard digest.count == expected.count, difference == 0 else { return .rejected("wrong passcode for user \"\(name)\"") }
            return .authenticated(username: name)
        }
    }
}
