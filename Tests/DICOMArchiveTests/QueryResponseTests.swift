import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import NIOCore
import Testing
@testable import DICOMArchive
@testable import DICOMServices

/// C-FIND response identifiers built directly from the index (the ASCII fast path) against the same identifiers built
/// through ``DataSet``'s encoders, and pending C-FIND-RSPs packed one message per P-DATA-TF PDU (PS3.8 §9.3.5).
@Suite struct QueryResponseTests {
    static let referencedStudySequence = DICOMCore.Tag(0x0008, 0x1110)
    static let instanceAvailability = DICOMCore.Tag(0x0008, 0x0056)
    static let rows = DICOMCore.Tag(0x0028, 0x0010)
    static let retrieveAETitle = DICOMCore.Tag(0x0008, 0x0054)

    static func index() -> JSONArchiveIndex { JSONArchiveIndex(inMemory: records) }

    static var records: [InstanceRecord] {
        [
            makeRecord(patientID: "P1", name: "DOE^JOHN", study: "1.2.3.1", studyDate: "20200115", accession: "A1",
                       studyDescription: "CT THORAX", series: "1.2.3.1.1", sop: "1.2.3.1.1.1"),
            makeRecord(patientID: "P1", name: "DOE^JOHN", study: "1.2.3.1", studyDate: "20200115", accession: "A1",
                       studyDescription: "CT THORAX", series: "1.2.3.1.2", modality: "MR", seriesNumber: "2", sop: "1.2.3.1.2.1"),
            makeRecord(patientID: "P2", name: "Müller^Jürgen", study: "1.2.3.2", studyDate: "20210301", accession: "Ä2",
                       series: "1.2.3.2.1", sop: "1.2.3.2.1.1"),
            makeRecord(patientID: "P3", name: "ROE^JANE", study: "1.2.3.3", studyDate: nil, studyTime: nil,
                       series: "1.2.3.3.1", sop: "1.2.3.3.1.1", instanceNumber: "7"),
        ]
    }

    /// Every key kind a response carries: indexed text keys, derived counts, a key the index does not keep, a
    /// sequence key, Instance Availability and a key below the query level.
    static let studyKeys: [(DICOMCore.Tag, VR, String)] = [
        (Tags.studyDate, .DA, ""), (Tags.studyTime, .TM, ""), (Tags.accession, .SH, ""),
        (instanceAvailability, .CS, ""), (retrieveAETitle, .AE, ""), (Tags.modalitiesInStudy, .CS, ""),
        (Tags.studyDescription, .LO, ""), (referencedStudySequence, .SQ, ""), (Tags.patientName, .PN, ""),
        (Tags.patientID, .LO, ""), (Tags.studyUID, .UI, ""), (Tags.seriesUID, .UI, ""),
        (DICOMCore.Tag(0x0020, 0x1206), .IS, ""), (DICOMCore.Tag(0x0020, 0x1208), .IS, ""),
    ]

    /// The identifiers the engine answers, and the same values sent through ``QueryEngine/encodedResponse(_:level:unicode:)``
    /// (the general path, which encodes each value with the response's character set).
    static func responsesBothWays(_ level: String, _ keys: [(DICOMCore.Tag, VR, String)]) async throws -> (fast: [DataSet], general: [DataSet]) {
        let query = IndexQuery(identifier: try makeIdentifier(level, keys))
        let fast = try await index().find(query)
        let state = IndexState()
        for record in records { state.upsert(record) }
        let general: [DataSet]
        do {
            let engine = QueryEngine(state: state)
            let parsed = try ParsedQuery(query)
            let chains: [QueryEngine.Chain]
            switch parsed.level {
            case .study: chains = engine.matchingStudies(parsed).map { QueryEngine.Chain(study: $0) }
            case .image:
                chains = engine.matchingInstances(parsed).map { record in
                    let series = state.series[record.seriesInstanceUID]
                    return QueryEngine.Chain(study: series.flatMap { state.studies[$0.studyInstanceUID] }, series: series, record: record)
                }
            default: chains = []
            }
            general = chains.map { chain in
                var values: [(tag: DICOMCore.Tag, vr: VR, value: String?)] = []
                var unicode = false
                for key in parsed.returnKeys {
                    var text = key.attribute.flatMap { engine.value($0, chain) }
                    if key.tag == QueryEngine.instanceAvailability { text = "ONLINE" }
                    if let text, text.utf8.contains(where: { $0 >= 0x80 }) { unicode = true }
                    values.append((key.tag, key.vr, text))
                }
                return QueryEngine.encodedResponse(values, level: parsed.level, unicode: unicode)
            }
        }
        return (fast, general)
    }

    @Test func asciiResponsesEqualTheGeneralEncoding() async throws {
        let (fast, general) = try await Self.responsesBothWays("STUDY", Self.studyKeys)
        #expect(fast.count == 3)
        // The general path answers in match order; compare by Study Instance UID.
        for response in fast {
            let uid = response.string(Tags.studyUID)
            let other = general.first { $0.string(Tags.studyUID) == uid }
            #expect(other != nil)
            #expect(response == other, "response of study \(uid ?? "?") differs")
            // Same bytes on the wire, in both transfer syntaxes.
            if let other {
                for syntax in [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian] {
                    #expect(try DataSetWriter.encode(response, transferSyntax: syntax) == DataSetWriter.encode(other, transferSyntax: syntax))
                }
            }
            // Tags strictly ascending (the fast path builds the element list itself).
            let tags = response.elements.map(\.tag.rawValue)
            #expect(tags == tags.sorted() && Set(tags).count == tags.count)
        }
    }

    @Test func asciiResponseValues() async throws {
        let responses = try await Self.index().find(IndexQuery(identifier: try makeIdentifier("STUDY", Self.studyKeys + [
            (Tags.patientID, .LO, "P1"),
        ])))
        #expect(responses.count == 1)
        let study = try #require(responses.first)
        #expect(study.string(.queryRetrieveLevel) == "STUDY")
        #expect(study[.queryRetrieveLevel]?.valueLength == 6)
        #expect(study[.specificCharacterSet] == nil)
        #expect(study.string(Tags.accession) == "A1")
        #expect(study[Tags.accession]?.valueLength == 2)
        #expect(study.string(Tags.studyDescription) == "CT THORAX")
        #expect(study[Tags.studyDescription]?.valueLength == 10)   // padded with a space to even length
        #expect(study.string(Tags.studyUID) == "1.2.3.1")
        #expect(study[Tags.studyUID]?.valueLength == 8)            // UI padded with 00H
        if case .bytes(let uid) = study[Tags.studyUID]?.value { #expect(uid.last == 0x00) } else { Issue.record("no Study Instance UID bytes") }
        #expect(study.strings(Tags.modalitiesInStudy) == ["CT", "MR"])
        #expect(study.string(DICOMCore.Tag(0x0020, 0x1206)) == "2")
        #expect(study.string(DICOMCore.Tag(0x0020, 0x1208)) == "2")
        #expect(study.string(Self.instanceAvailability) == "ONLINE")
        // Not kept by the index, a sequence, and a key below the level: present and empty.
        #expect(study[Self.retrieveAETitle]?.valueLength == 0)
        #expect(study[Tags.seriesUID]?.valueLength == 0)
        if case .sequence(let items) = study[Self.referencedStudySequence]?.value { #expect(items.isEmpty) } else {
            Issue.record("the sequence key is not answered as an empty sequence")
        }
    }

    @Test func nonASCIIResponseDeclaresUTF8() async throws {
        let responses = try await Self.index().find(IndexQuery(identifier: try makeIdentifier("STUDY", Self.studyKeys + [
            (Tags.patientID, .LO, "P2"),
        ])))
        let study = try #require(responses.first)
        #expect(study.string(.specificCharacterSet) == "ISO_IR 192")
        #expect(study.string(Tags.patientName) == "Müller^Jürgen")
        #expect(study.string(Tags.accession) == "Ä2")
        #expect(study.string(.queryRetrieveLevel) == "STUDY")
        let (fast, general) = try await Self.responsesBothWays("STUDY", Self.studyKeys + [(Tags.patientID, .LO, "P2")])
        #expect(fast == general)
    }

    @Test func binaryNumbersAndImageLevel() async throws {
        // Rows (US) is answered as a binary number even though the index keeps text; an absent one is empty.
        let keys: [(DICOMCore.Tag, VR, String)] = [(Tags.sopUID, .UI, ""), (DICOMCore.Tag(0x0020, 0x0013), .IS, ""),
                                                   (Self.rows, .US, ""), (Tags.studyUID, .UI, "1.2.3.3")]
        let (fast, general) = try await Self.responsesBothWays("IMAGE", keys)
        #expect(fast.count == 1)
        #expect(fast == general)
        #expect(fast.first?.string(DICOMCore.Tag(0x0020, 0x0013)) == "7")
        #expect(fast.first?[Self.rows]?.valueLength == 0)
    }

    // MARK: One PDU per pending response

    static func pendingCommand() throws -> ByteBuffer {
        try CommandSet.encode(CFindResponse(messageIDBeingRespondedTo: 7, affectedSOPClassUID: QueryRetrieveModel.studyRootFind,
                                            status: .pending, hasDataSet: true).commandSet)
    }

    @Test func commandAndIdentifierShareOnePDUWhenTheyFit() throws {
        let command = try Self.pendingCommand()
        let identifier = ByteBuffer(bytes: [UInt8](repeating: 0x41, count: 300))
        let fragmenter = PDataFragmenter(maximumPDULength: 16_384)
        let pdus = QueryRetrieveService.messagePDUs(command: command, dataSet: identifier, contextID: 3, fragmenter: fragmenter)
        #expect(pdus.count == 1)
        guard case .dataTransfer(let values) = pdus.first else { Issue.record("not a P-DATA-TF"); return }
        #expect(values.count == 2)
        #expect(values.map(\.isCommand) == [true, false])
        #expect(values.allSatisfy { $0.isLastFragment && $0.presentationContextID == 3 })
        #expect(values[0].fragment == command)
        #expect(values[1].fragment == identifier)
        // The encoded PDU respects the peer's maximum: header 6 bytes, body = two PDV items.
        let encoded = try #require(try pdus.first?.encoded())
        #expect(encoded.readableBytes == 6 + 12 + command.readableBytes + identifier.readableBytes)
    }

    @Test func exactlyAtTheMaximumStillFitsOneByteMoreDoesNot() throws {
        let command = try Self.pendingCommand()
        let maximum = UInt32(12 + command.readableBytes + 200)
        let fragmenter = PDataFragmenter(maximumPDULength: maximum)
        let fits = QueryRetrieveService.messagePDUs(command: command, dataSet: ByteBuffer(bytes: [UInt8](repeating: 1, count: 200)),
                                                    contextID: 1, fragmenter: fragmenter)
        #expect(fits.count == 1)
        let over = QueryRetrieveService.messagePDUs(command: command, dataSet: ByteBuffer(bytes: [UInt8](repeating: 1, count: 201)),
                                                    contextID: 1, fragmenter: fragmenter)
        // Too long together: the command set and the data set are sent as the fragmenter splits them.
        #expect(over.count == 2)
        for pdu in over {
            guard case .dataTransfer(let values) = pdu else { Issue.record("not a P-DATA-TF"); continue }
            #expect(values.count == 1)
            #expect(try pdu.encoded().readableBytes - 6 <= Int(maximum))
        }
    }

    @Test func smallMaximumFragmentsTheIdentifier() throws {
        let command = try Self.pendingCommand()
        let identifier = ByteBuffer(bytes: (0..<1_000).map { UInt8(truncatingIfNeeded: $0) })
        let fragmenter = PDataFragmenter(maximumPDULength: 256)
        let pdus = QueryRetrieveService.messagePDUs(command: command, dataSet: identifier, contextID: 5, fragmenter: fragmenter)
        var commandBytes = ByteBuffer(), dataBytes = ByteBuffer()
        var lastFlags: [Bool] = []
        for pdu in pdus {
            #expect(try pdu.encoded().readableBytes - 6 <= 256)
            guard case .dataTransfer(let values) = pdu else { Issue.record("not a P-DATA-TF"); continue }
            for var value in values {
                if value.isCommand { commandBytes.writeBuffer(&value.fragment) } else { dataBytes.writeBuffer(&value.fragment) }
                if !value.isCommand { lastFlags.append(value.isLastFragment) }
            }
        }
        #expect(commandBytes == command)
        #expect(dataBytes == identifier)
        #expect(lastFlags.last == true && lastFlags.dropLast().allSatisfy { !$0 })
    }

    // MARK: Over the network

    struct NoStorage: StorageHandler {
        func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .outOfResources }
    }

    /// Many matches over a real association, with a maximum PDU length that fits a whole response and with one that
    /// forces fragmentation: the requestor receives exactly what the index answers, in order.
    @Test(arguments: [UInt32(16_384), UInt32(128)])
    func loopbackFindReturnsTheIndexAnswers(maximumPDULength: UInt32) async throws {
        var records: [InstanceRecord] = []
        for study in 0..<40 {
            let name = study % 3 == 0 ? "Søren^Kierkegaard\(study)" : "SMITH^JOHN\(study)"
            records.append(makeRecord(patientID: "P\(study % 7)", name: name, study: "1.2.9.\(study)",
                                      studyDate: "2020\(String(format: "%02d", 1 + study % 12))15", studyTime: String(format: "%06d", study * 100),
                                      accession: "ACC\(study)", studyDescription: "Study \(study)", series: "1.2.9.\(study).1",
                                      sop: "1.2.9.\(study).1.1"))
        }
        let index = JSONArchiveIndex(inMemory: records)
        let identifier = try makeIdentifier("STUDY", Self.studyKeys)
        let expected = try await index.find(IndexQuery(identifier: identifier))
        #expect(expected.count == 40)
        let handler = ArchiveQueryRetrieveHandler(index: index, root: NSTemporaryDirectory())
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(), storageHandler: NoStorage(),
                                                 queryHandler: handler)
        do {
            let association = try await DICOMClient.connect(
                host: "127.0.0.1", port: server.port, callingAE: try AETitle("FINDSCU"), calledAE: try AETitle("ARCHIVE"),
                presentationContexts: DICOMClient.queryRetrieveContexts([QueryRetrieveModel.studyRootFind]),
                maximumPDULength: maximumPDULength, timeouts: DICOMTimeouts(connect: .seconds(10), dimse: .seconds(20)))
            do {
                for _ in 0..<2 {   // twice on one association: the pending command set is per request
                    let result = try await association.find(identifier)
                    #expect(result.status.isSuccess)
                    #expect(result.matches.count == expected.count)
                    for (received, answer) in zip(result.matches, expected) {
                        // The received data set carries what was sent, byte for byte.
                        #expect(try DataSetWriter.encode(received, transferSyntax: .explicitVRLittleEndian)
                                == DataSetWriter.encode(answer, transferSyntax: .explicitVRLittleEndian))
                    }
                }
                try await association.release()
            } catch {
                await association.abort()
                throw error
            }
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    /// pynetdicom as the C-FIND SCU: it reads pending responses whose command and identifier share one PDU.
    @Test func pynetdicomReadsPackedResponses() async throws {
        var records: [InstanceRecord] = []
        for study in 0..<25 {
            records.append(makeRecord(patientID: "P\(study)", name: study % 2 == 0 ? "Søren^K\(study)" : "DOE^J\(study)",
                                      study: "1.2.8.\(study)", studyDate: "20230101", studyTime: String(format: "%06d", study),
                                      accession: "ACC\(study)", series: "1.2.8.\(study).1", sop: "1.2.8.\(study).1.1"))
        }
        let index = JSONArchiveIndex(inMemory: records)
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(), storageHandler: NoStorage(),
                                                 queryHandler: ArchiveQueryRetrieveHandler(index: index, root: NSTemporaryDirectory()))
        let processes = ProcessGroup(logDirectory: try EndToEnd.temporaryDirectory("pynetdicom-find"))
        defer { processes.stopAll() }
        let script = """
            import sys
            sys.stdout.reconfigure(encoding="utf-8")
            from pydicom.dataset import Dataset
            from pynetdicom import AE
            from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND
            ae = AE(ae_title="PYFIND")
            ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
            ae.add_requested_context(FIND)
            assoc = ae.associate("127.0.0.1", int(sys.argv[1]), ae_title="ARCHIVE")
            if not assoc.is_established:
                sys.exit(2)
            query = Dataset()
            query.QueryRetrieveLevel = "STUDY"
            query.StudyInstanceUID = ""
            query.AccessionNumber = ""
            query.PatientName = ""
            for status, identifier in assoc.send_c_find(query, FIND):
                if status is None or "Status" not in status:
                    sys.exit(3)
                if status.Status in (0xFF00, 0xFF01):
                    print(identifier.StudyInstanceUID, identifier.AccessionNumber, str(identifier.PatientName), sep="|")
                elif status.Status != 0:
                    sys.exit(4)
            assoc.release()
            """
        let result = try await processes.run("/usr/bin/env", ["python3", "-c", script, "\(server.port)"], timeout: .seconds(60))
        await server.shutdown()
        #expect(result.status == 0, "pynetdicom: \(result.errors)")
        let expected = try await index.find(IndexQuery(identifier: try makeIdentifier("STUDY", [
            (Tags.studyUID, .UI, ""), (Tags.accession, .SH, ""), (Tags.patientName, .PN, ""),
        ]))).map { "\($0.string(Tags.studyUID) ?? "")|\($0.string(Tags.accession) ?? "")|\($0.string(Tags.patientName) ?? "")" }
        #expect(expected.count == 25)
        #expect(result.output.split(separator: "\n").map(String.init) == expected)
    }
}
