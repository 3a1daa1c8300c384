import Foundation
import Testing
@testable import dcmstore

/// `dcmstore --config`: YAML and JSON give the same configuration; errors name the file, the line and the key.
@Suite("dcmstore configuration file (YAML or JSON)")
struct ConfigurationFileTests {
    static let json = """
        {
          "aeTitle": "DCMSTORE", "host": "127.0.0.1", "port": 11112, "archive": "/var/lib/dcmstore",
          "allowedCallingAETitles": ["CT1", "MR1"],
          "peers": { "VIEWER": { "host": "10.0.0.5", "port": 104, "tls": false }, "WS": { "host": "ws.example", "port": 11113 } },
          "duplicates": "replace",
          "caseInsensitiveNames": true,
          "bufferedWrites": true,
          "tls": { "certificate": "server.pem", "key": "server.key", "ca": "ca.pem", "clientCA": "clients.pem" },
          "retention": { "imageYears": 7, "reportYears": 12 },
          "forward": {
            "associations": 2, "callingAETitle": "NODE1", "ca": "centre-ca.pem", "certificate": "node.pem", "key": "node.key",
            "destinations": {
              "CENTRAL": { "host": "pacs.region.example", "port": 11112, "tls": true, "associations": 3,
                           "callingAETitles": ["CT1"], "modalities": ["CT", "MR"], "sopClasses": ["1.2.840.10008.5.1.4.1.1.2"] }
            }
          },
          "organizations": { "NORTH": ["CT1", "MR1"], "SOUTH": ["CT9"] },
          "closed": true,
          "storeAs": "jpeg-ls"
        }
        """

    static let yaml = """
        # dcmstore configuration
        aeTitle: DCMSTORE
        host: 127.0.0.1
        port: 11112
        archive: /var/lib/dcmstore
        allowedCallingAETitles: [CT1, MR1]
        peers:
          VIEWER: { host: 10.0.0.5, port: 104, tls: false }
          WS:
            host: ws.example
            port: 11113
        duplicates: replace
        caseInsensitiveNames: true
        bufferedWrites: true
        tls:
          certificate: server.pem
          key: server.key
          ca: ca.pem
          clientCA: clients.pem
        retention: { imageYears: 7, reportYears: 12 }
        forward:
          associations: 2
          callingAETitle: NODE1
          ca: centre-ca.pem
          certificate: node.pem
          key: node.key
          destinations:
            CENTRAL:
              host: pacs.region.example
              port: 11112
              tls: true
              associations: 3
              callingAETitles: [CT1]
              modalities: [CT, MR]
              sopClasses: ["1.2.840.10008.5.1.4.1.1.2"]
        organizations:
          NORTH: [CT1, MR1]
          SOUTH: [CT9]
        closed: true
        storeAs: jpeg-ls
        """

    /// A scratch folder, removed by the caller.
    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "dcmstore-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func write(_ text: String, _ path: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The error message `StoreConfiguration.load` throws for `text` in a file named `name`.
    func loadError(_ text: String, name: String = "dcmstore.yaml") throws -> String {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try write(text, directory + "/" + name)
        do {
            let configuration = try StoreConfiguration.load(path)
            Issue.record("expected an error, got \(configuration)")
            return ""
        } catch let error as ConfigurationError {
            #expect(error.description.hasPrefix(path + ": "), "the message does not start with the file: \(error)")
            return error.description
        }
    }

    @Test func yamlWithEverySectionEqualsTheJSON() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fromJSON = try StoreConfiguration.load(try write(Self.json, directory + "/dcmstore.json"))
        let fromYAML = try StoreConfiguration.load(try write(Self.yaml, directory + "/dcmstore.yaml"))
        let fromYML = try StoreConfiguration.load(try write(Self.yaml, directory + "/dcmstore.yml"))
        #expect(fromYAML == fromJSON)
        #expect(fromYML == fromJSON)
        // Not vacuous: every section is there.
        #expect(fromYAML.aeTitle == "DCMSTORE" && fromYAML.port == 11112 && fromYAML.host == "127.0.0.1")
        #expect(fromYAML.allowedCallingAETitles == ["CT1", "MR1"])
        #expect(fromYAML.bufferedWrites == true)
        #expect(fromYAML.peers?["VIEWER"] == StoreConfiguration.Peer(host: "10.0.0.5", port: 104, tls: false))
        #expect(fromYAML.peers?["WS"]?.port == 11113)
        #expect(fromYAML.tls?.clientCA == "clients.pem")
        #expect(fromYAML.retention?.imageYears == 7)
        #expect(fromYAML.forward?.destinations?["CENTRAL"]?.sopClasses == ["1.2.840.10008.5.1.4.1.1.2"])
        #expect(fromYAML.forward?.destinations?["CENTRAL"]?.associations == 3)
        #expect(fromYAML.organizations != nil)
        #expect(fromYAML.closed == true && fromYAML.caseInsensitiveNames == true && fromYAML.storeAs == "jpeg-ls")
    }

    @Test func anyOtherNameIsJSONWhenItStartsWithABraceAndYAMLOtherwise() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let expected = try StoreConfiguration.load(try write(Self.json, directory + "/a.json"))
        #expect(try StoreConfiguration.load(try write("\n  " + Self.json, directory + "/a.conf")) == expected)
        #expect(try StoreConfiguration.load(try write(Self.yaml, directory + "/b.conf")) == expected)
        #expect(try StoreConfiguration.load(try write(Self.yaml, directory + "/noextension")) == expected)
        // An empty YAML file, or one of comments only, configures nothing.
        #expect(try StoreConfiguration.load(try write("# nothing yet\n", directory + "/empty.yaml")) == StoreConfiguration())
        #expect(try StoreConfiguration.load(try write("", directory + "/empty.yml")) == StoreConfiguration())
    }

    @Test func aYAMLSyntaxErrorNamesTheLine() throws {
        let message = try loadError("aeTitle: DCMSTORE\nport: 11112\npeers:\n  VIEWER: { host: 10.0.0.5, port: 104\narchive: /x\n")
        #expect(message.contains("not valid YAML"), "\(message)")
        #expect(message.contains("line 5"), "\(message)")

        let tabs = try loadError("aeTitle: DCMSTORE\nforward:\n\tassociations: 2\n")
        #expect(tabs.contains("line 3") && tabs.contains("tabs"), "\(tabs)")
    }

    @Test func aWrongTypeNamesTheLineAndTheKey() throws {
        let port = try loadError("aeTitle: DCMSTORE\npeers:\n  VIEWER:\n    host: 10.0.0.5\n    port: one hundred and four\n")
        #expect(port.contains("line 5"), "\(port)")
        #expect(port.contains("\"peers.VIEWER.port\""), "\(port)")
        #expect(port.contains("one hundred and four"), "\(port)")

        let list = try loadError("aeTitle: DCMSTORE\nallowedCallingAETitles: CT1\n")
        #expect(list.contains("line 2") && list.contains("\"allowedCallingAETitles\"") && list.contains("a list"), "\(list)")

        let nested = try loadError("forward:\n  destinations:\n    CENTRAL:\n      host: pacs\n      port: 104\n      modalities: [CT, [MR]]\n")
        #expect(nested.contains("line 6") && nested.contains("forward.destinations.CENTRAL.modalities[1]"), "\(nested)")
    }

    @Test func aMissingKeyNamesTheSection() throws {
        let message = try loadError("port: 11112\n\npeers:\n  VIEWER:\n    port: 104\n")
        #expect(message.contains("line 5"), "\(message)")
        #expect(message.contains("\"peers.VIEWER\" lacks the key \"host\""), "\(message)")
    }

    @Test func aListOrAValueInsteadOfAMappingIsRefused() throws {
        let list = try loadError("- aeTitle: DCMSTORE\n- port: 11112\n")
        #expect(list.contains("line 1") && list.contains("not a list"), "\(list)")
        let scalar = try loadError("just some words\n", name: "dcmstore.conf")
        #expect(scalar.contains("not a single value"), "\(scalar)")
    }

    @Test func jsonErrorsStillNameTheFileAndKey() throws {
        let message = try loadError("{ \"port\": \"eleven\" }", name: "dcmstore.json")
        #expect(message.contains("\"port\""), "\(message)")
        let broken = try loadError("{ \"port\": 11112, }x", name: "dcmstore.json")
        #expect(broken.contains("not valid JSON"), "\(broken)")
    }

    /// The built binary reads a YAML `--config`: `stats` finds the archive it names, and a bad file exits 64 naming the line.
    @Test(.timeLimit(.minutes(2)))
    func theBinaryReadsYAML() async throws {
        let base = try EndToEnd.temporaryDirectory("yaml")
        let processes = ProcessGroup(logDirectory: base)
        defer { processes.stopAll(); try? FileManager.default.removeItem(atPath: base) }
        let archive = base + "/from-yaml"
        let good = try write("# the archive\narchive: \(archive)\nretention:\n  imageYears: 3\n", base + "/dcmstore.yml")
        let stats = try await processes.dcmstore(["stats", "--config", good, "--json"])
        #expect(stats.status == 0, "\(stats.output) \(stats.errors)")
        #expect(try CLIJSON.object(stats.output)["instances"] as? Int == 0)
        #expect(FileManager.default.fileExists(atPath: archive + "/index"), "stats did not open the archive named in the YAML file")

        let bad = try write("archive: \(archive)\nport: [11112\n", base + "/bad.yaml")
        let serve = try await processes.dcmstore(["serve", "--config", bad, "--port", "0"])
        #expect(serve.status == 64, "\(serve.output) \(serve.errors)")
        #expect(serve.errors.contains(bad) && serve.errors.contains("line 3"), "\(serve.errors)")
    }
}
