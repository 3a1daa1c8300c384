import DICOMCore
import DICOMIO
import DICOMServices
import Foundation
import Testing

/// The built `dcmquery` binary, end to end against dcmqrscp and Orthanc.
@Suite(.serialized)
struct DCMQueryToolTests {
    typealias F = QueryRetrieveFixtures

    static var binary: String? {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("dcmquery").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs dcmquery (bounded at 60 s); returns exit status, standard output and standard error.
    static func dcmquery(_ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
        let path = try #require(binary, "the dcmquery binary is not built next to the tests")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("dcmquery-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL) }
            try await Task.sleep(for: .milliseconds(20))
        }
        try out.close()
        try err.close()
        defer { unlink(base + ".out"); unlink(base + ".err") }
        return (process.terminationStatus, try String(contentsOfFile: base + ".out", encoding: .utf8),
                try String(contentsOfFile: base + ".err", encoding: .utf8))
    }

    @Test func findFormatsRetrievesAndErrorsAgainstDCMQRSCP() async throws {
        let received = try TestSupport.temporaryDirectory("dcmquery-move")
        let server = try await DICOMServer.start(port: 0, storageHandler: try DirectoryStorageHandler(directory: received))
        let peer: QueryRetrievePeers.Peer
        do {
            peer = try await QueryRetrieveClientTests.loadedDCMQRSCP(moveDestinations: [("MOVEDEST", server.port)])
        } catch {
            await server.shutdown()
            throw error
        }
        defer { peer.stop() }
        let target = ["127.0.0.1", "\(peer.port)", "--called-aet", "QRSCP"]

        // Default: find at STUDY level with the usual return keys, as a table.
        let table = try await Self.dcmquery(target)
        #expect(table.status == 0, "\(table.error)")
        let lines = table.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines.first?.hasPrefix("PatientName") == true)
        #expect(lines.first?.contains("StudyInstanceUID") == true)
        #expect(table.output.contains("Doe^Jane") && table.output.contains("Smith^John"))
        #expect(table.output.contains(F.studyA) && table.output.contains(F.studyB))
        // Aligned: the PatientID column starts at the same place on every line.
        if let header = lines.first, let column = header.range(of: "PatientID") {
            let offset = header.distance(from: header.startIndex, to: column.lowerBound)
            for line in lines.dropFirst(2) {
                let cell = line.dropFirst(offset).prefix(6)
                #expect(cell == "PID-A " || cell == "PID-B ", "misaligned: \(line)")
            }
        }

        // DICOM JSON with a wildcard.
        let json = try await Self.dcmquery(["find"] + target + ["--json", "-k", "PatientName=Doe*", "-k", "StudyInstanceUID="])
        #expect(json.status == 0, "\(json.error)")
        let array = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]])
        #expect(array.count == 1)
        let studyUID = (array.first?["0020000D"] as? [String: Any])?["Value"] as? [String]
        #expect(studyUID == [F.studyA])

        // CSV at SERIES level, keys by tag.
        let csv = try await Self.dcmquery(target + ["--csv", "--level", "series", "-k", "0020,000D=\(F.studyA)", "-k", "SeriesInstanceUID=",
                                                    "-k", "(0008,0060)="])
        #expect(csv.status == 0, "\(csv.error)")
        let records = csv.output.split(separator: "\r\n").map(String.init)
        #expect(records.first == "StudyInstanceUID,SeriesInstanceUID,Modality")
        #expect(Set(records.dropFirst()) == ["\(F.studyA),\(F.studyA).1,CT", "\(F.studyA),\(F.studyA).2,SR"])

        // --limit: C-CANCEL after the first match, one row, still a success.
        let limited = try await Self.dcmquery(target + ["--csv", "--limit", "1", "-k", "StudyInstanceUID="])
        #expect(limited.status == 0, "\(limited.error)")
        #expect(limited.output.split(separator: "\r\n").count == 2)

        // Bad keys and options: exit 64 with a message naming the problem.
        let unknown = try await Self.dcmquery(target + ["-k", "NoSuchKeyword=1"])
        #expect(unknown.status == 64)
        #expect(unknown.error.contains("unknown attribute 'NoSuchKeyword'"))
        let noName = try await Self.dcmquery(target + ["-k", "=x"])
        #expect(noName.status == 64)
        let badLevel = try await Self.dcmquery(target + ["--level", "WARD"])
        #expect(badLevel.status == 64)

        // C-MOVE what matches PatientID PID-B (a C-FIND first) to our server.
        let move = try await Self.dcmquery(["move"] + target + ["--dest", "MOVEDEST", "-k", "PatientID=PID-B"])
        #expect(move.status == 0, "\(move.error)")
        #expect(FileManager.default.fileExists(atPath: received + "/\(F.studyB).1.1.dcm"))
        // A destination the peer does not know: exit 1.
        let unknownDestination = try await Self.dcmquery(["move"] + target + ["--dest", "NOBODY", "-k", "StudyInstanceUID=\(F.studyB)"])
        #expect(unknownDestination.status == 1)

        // C-GET of study A into a directory, JSON summary.
        let output = try TestSupport.temporaryDirectory("dcmquery-get")
        let get = try await Self.dcmquery(["get"] + target + ["--output", output, "--json", "-k", "StudyInstanceUID=\(F.studyA)"])
        #expect(get.status == 0, "\(get.error)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(get.output.utf8)) as? [String: Any])
        #expect(summary["completed"] as? Int == 3)
        #expect(summary["ok"] as? Bool == true)
        let files = try FileManager.default.contentsOfDirectory(atPath: output).filter { $0.hasSuffix(".dcm") }
        #expect(Set(files) == Set(F.latin.prefix(3).map { $0.sopUID + ".dcm" }))

        peer.stop()
        await server.shutdown()
        // Nobody listening: exit 1.
        let refused = try await Self.dcmquery(target + ["--timeout", "5"])
        #expect(refused.status == 1)
        #expect(refused.error.contains("cannot open an association"))
    }

    @Test func unicodeTableAgainstOrthanc() async throws {
        let peer = try await QueryRetrievePeers.startOrthanc()
        defer { peer.stop() }
        let input = peer.directory + "/input"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try await QueryRetrievePeers.load(try F.write(F.latin + F.unicode, to: input), into: peer)
        let target = ["127.0.0.1", "\(peer.port)", "--called-aet", "ORTHANC"]

        let table = try await Self.dcmquery(target + ["--model", "patient", "--level", "PATIENT", "-k", "PatientName=", "-k", "PatientID="])
        #expect(table.status == 0, "\(table.error)")
        let lines = table.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 + 4)
        #expect(table.output.contains(F.cyrillicName) && table.output.contains(F.persianName))
        // Aligned by characters, not bytes: the PatientID column starts at the same scalar offset on every row.
        let header = try #require(lines.first)
        let offset = header.unicodeScalars.count - (header.components(separatedBy: "PatientID").last?.unicodeScalars.count ?? 0) - "PatientID".count
        for line in lines.dropFirst(2) {
            let scalars = Array(line.unicodeScalars)
            #expect(scalars.count > offset + 4 && String(String.UnicodeScalarView(scalars[offset..<(offset + 4)])) == "PID-", "misaligned: \(line)")
        }

        // A Cyrillic value: sent with ISO_IR 192.
        let cyrillic = try await Self.dcmquery(target + ["--json", "-k", "PatientName=Иванов*", "-k", "StudyInstanceUID="])
        #expect(cyrillic.status == 0, "\(cyrillic.error)")
        let matches = try #require(try JSONSerialization.jsonObject(with: Data(cyrillic.output.utf8)) as? [[String: Any]])
        #expect(matches.count == 1)
        let name = ((matches.first?["00100010"] as? [String: Any])?["Value"] as? [[String: Any]])?.first?["Alphabetic"] as? String
        #expect(name == F.cyrillicName)

        // C-GET by a Persian name (C-FIND first), progress and files.
        let output = try TestSupport.temporaryDirectory("dcmquery-orthanc-get")
        let get = try await Self.dcmquery(["get"] + target + ["--output", output, "-k", "PatientName=\(F.persianName)"])
        #expect(get.status == 0, "\(get.error)")
        #expect(FileManager.default.fileExists(atPath: output + "/\(F.root).4.1.1.dcm"))
    }
}
