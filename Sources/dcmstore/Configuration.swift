import DICOMArchive
import DICOMNetwork
import DICOMServices
import Foundation

/// The `--config` file of `dcmstore` (JSON or YAML, read by `load` in ConfigurationLoading.swift). Every key is
/// optional; command-line flags override the file.
///
/// ```json
/// {
///   "aeTitle": "DCMSTORE", "host": "0.0.0.0", "port": 11112, "archive": "/var/lib/dcmstore",
///   "allowedCallingAETitles": ["CT1", "MR1"],
///   "peers": { "VIEWER": { "host": "10.0.0.5", "port": 104, "tls": false } },
///   "duplicates": "keep",
///   "caseInsensitiveNames": true,
///   "bufferedWrites": false,
///   "tls": { "certificate": "server.pem", "key": "server.key", "ca": "ca.pem", "clientCA": "clients.pem" },
///   "retention": { "imageYears": 5, "reportYears": 10 },
///   "organizations": { "HOSP_A": ["A_NODE", "A_CT"], "HOSP_B": { "aeTitles": ["B_NODE"], "users": ["dr.bekova"] } },
///   "users": { "dr.bekova": { "passcodeSHA256": "<64 hexadecimal digits>" } },
///   "forward": {
///     "associations": 1, "callingAETitle": "NODE1", "ca": "centre-ca.pem", "certificate": "node.pem", "key": "node.key",
///     "destinations": {
///       "CENTRAL": { "host": "pacs.region.example", "port": 11112, "tls": true,
///                    "callingAETitles": ["CT1"], "modalities": ["CT", "MR"], "sopClasses": ["1.2.840.10008.5.1.4.1.1.2"],
///                    "commit": true }
///     }
///   }
/// }
/// ```
struct StoreConfiguration: Codable, Equatable {
    struct Peer: Codable, Equatable {
        var host: String
        var port: Int
        var tls: Bool?
    }

    struct TLS: Codable, Equatable {
        var certificate: String
        var key: String
        /// Certificates trusted when connecting to C-MOVE destinations over TLS.
        var ca: String?
        /// When set, clients must present a certificate signed by one of these (mutual TLS).
        var clientCA: String?
    }

    struct User: Codable, Equatable {
        /// SHA-256 of the passcode, hexadecimal (`printf %s 'passcode' | sha256sum`).
        var passcodeSHA256: String?
    }

    struct Retention: Codable, Equatable {
        var imageYears: Int?
        var reportYears: Int?
    }

    /// Forwarding of stored instances to other archives through the durable queue in `ARCHIVE/queue`.
    struct Forward: Codable, Equatable {
        struct Destination: Codable, Equatable {
            var host: String
            var port: Int
            /// TLS on the link; such a destination is never tried in plain text.
            var tls: Bool?
            /// Only instances stored by these calling AE titles (default: all).
            var callingAETitles: [String]?
            /// Only instances of these modalities (default: all).
            var modalities: [String]?
            /// Only instances of these SOP Class UIDs (default: all).
            var sopClasses: [String]?
            /// Associations at once to this destination (default: the section's `associations`, else 1).
            var associations: Int?
            /// Ask the destination for Storage Commitment after each study's instances are sent; an instance leaves
            /// the queue only when committed (default false; `--forward-commit` sets it for every destination).
            var commit: Bool?
            /// User Identity sent to this destination: a username, with `passcode` or `passcodeFile` (the file's first
            /// line; keeps the passcode out of the configuration file).
            var user: String?
            var passcode: String?
            var passcodeFile: String?
        }

        var destinations: [String: Destination]?
        /// Associations at once per destination (default 1).
        var associations: Int?
        /// Our calling AE title on forwarding associations (default: our AE title).
        var callingAETitle: String?
        /// Certificates trusted for TLS destinations (default: the system's roots).
        var ca: String?
        /// Our client certificate and key, for destinations that verify clients.
        var certificate: String?
        var key: String?
    }

    var aeTitle: String?
    var host: String?
    var port: Int?
    var archive: String?
    var allowedCallingAETitles: [String]?
    var peers: [String: Peer]?
    var duplicates: String?
    var caseInsensitiveNames: Bool?
    /// Write received instances through the page cache rather than with `O_DIRECT` (`--buffered-writes`).
    var bufferedWrites: Bool?
    var tls: TLS?
    var retention: Retention?
    var forward: Forward?
    /// Organizations by name, each with its AE titles (`["A_NODE", "A_CT"]`) or with AE titles and users
    /// (`{"aeTitles": ["A_NODE"], "users": ["dr.asanova"]}`): callers see only their organization's studies and shared ones.
    var organizations: Organizations?
    /// Users who may authenticate with User Identity Negotiation: `{"dr.asanova": {"passcodeSHA256": "<64 hex digits>"}}`;
    /// a user without `passcodeSHA256` is identified by name alone. Unknown users and wrong passcodes are rejected.
    var users: [String: User]?
    /// Reject associations that carry no user identity (needs `users`).
    var requireUser: Bool?
    /// Reject associations from AE titles in no organization.
    var closed: Bool?
    /// Store images in this lossless transfer syntax (a name as for `--store-as`, or a UID).
    var storeAs: String?

    /// The users of `users` as the acceptor checks them; nil when there are none.
    func userDirectory() throws -> UserDirectory? {
        guard let users, !users.isEmpty else {
            if requireUser == true { throw ConfigurationError("\"requireUser\" needs \"users\"") }
            return nil
        }
        var credentials: [String: UserDirectory.Credential] = [:]
        for (name, user) in users {
            guard !name.isEmpty, name.utf8.count <= 0xFFFF else { throw ConfigurationError("users: a username is empty or too long") }
            do {
                credentials[name] = try user.passcodeSHA256.map { try UserDirectory.passcodeDigest(hex: $0, user: name) } ?? .usernameOnly
            } catch {
                throw ConfigurationError("users: \(error)")
            }
        }
        if let organizations {
            for (organization, names) in organizations.users {
                for name in names where credentials[name] == nil {
                    throw ConfigurationError("organizations: \(organization) lists user \"\(name)\", who is not in \"users\"")
                }
            }
        }
        return UserDirectory(credentials: credentials, isIdentityRequired: requireUser == true)
    }

    /// Parses `AE=HOST:PORT` (the `--peer` or `--forward` flag).
    static func parsePeer(_ text: String, flag: String = "--peer") throws -> (String, Peer) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let colon = parts[1].lastIndex(of: ":"),
              let port = Int(parts[1][parts[1].index(after: colon)...]), (1...65535).contains(port) else {
            throw ConfigurationError("\(flag) \(text): expected AE=HOST:PORT, for example VIEWER=10.0.0.5:104")
        }
        let host = String(parts[1][..<colon])
        guard !host.isEmpty else { throw ConfigurationError("\(flag) \(text): the host is empty") }
        _ = try aeTitle(parts[0], what: "\(flag) \(text)")
        return (parts[0], Peer(host: host, port: port, tls: nil))
    }

    static func aeTitle(_ text: String, what: String) throws -> AETitle {
        do {
            return try AETitle(text)
        } catch {
            throw ConfigurationError("\(what): \"\(text)\" is not a valid AE title (1 to 16 characters, no backslash or control characters)")
        }
    }
}

struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
