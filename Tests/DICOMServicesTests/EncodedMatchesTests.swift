import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import Testing
@testable import DICOMServices

/// A query handler that answers with identifiers it encoded itself (``QueryHandler/encodedMatches(_:context:transferSyntax:)``):
/// the requestor receives them as encoded, in order, in batches, and C-CANCEL stops them between batches.
@Suite struct EncodedMatchesTests {
    struct EncodingHandler: QueryHandler {
        var count: Int
        /// Whether to answer through encodedMatches (else find only).
        var encodes = true

        func answers() -> [DataSet] {
            (0..<count).map { index in
                var answer = DataSet()
                answer.setASCII(.queryRetrieveLevel, vr: .CS, "STUDY")
                answer.setASCII(Tag(0x0010, 0x0020), vr: .LO, "PATIENT\(index)")
                answer.setASCII(Tag(0x0020, 0x000D), vr: .UI, "1.2.826.0.1.\(index)")
                return answer
            }
        }

        func find(_ identifier: DataSet, context: RequestContext) async throws -> [DataSet] { answers() }

        func encodedMatches(_ identifier: DataSet, context: RequestContext, transferSyntax: TransferSyntax) async throws -> EncodedIdentifiers? {
            guard encodes else { return nil }
            var encoded = EncodedIdentifiers()
            for answer in answers() {
                try DataSetWriter.encode(answer, transferSyntax: transferSyntax, into: &encoded.bytes)
                encoded.endIdentifier()
            }
            return encoded
        }
    }

    struct NoStorage: StorageHandler {
        func store(_ instance: ReceivedInstance) async -> DIMSEStatus { .outOfResources }
    }

    static func withAssociation(_ handler: EncodingHandler, transferSyntaxes: [String] = DICOMClient.nativeTransferSyntaxes,
                                _ body: (Association) async throws -> Void) async throws {
        let server = try await DICOMServer.start(port: 0, policy: DICOMServer.defaultArchivePolicy(), storageHandler: NoStorage(),
                                                 queryHandler: handler)
        do {
            let association = try await DICOMClient.connect(
                host: "127.0.0.1", port: server.port, callingAE: try AETitle("FINDSCU"), calledAE: try AETitle("ARCHIVE"),
                presentationContexts: PresentationContext.numbered([QueryRetrieveModel.studyRootFind], transferSyntaxes: transferSyntaxes),
                timeouts: DICOMTimeouts(connect: .seconds(10), dimse: .seconds(20)))
            do {
                try await body(association)
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

    static var query: DataSet {
        var query = DataSet()
        query.setASCII(.queryRetrieveLevel, vr: .CS, "STUDY")
        query.setASCII(Tag(0x0010, 0x0020), vr: .LO, "")
        return query
    }

    /// More matches than one batch, in both native syntaxes, answered encoded and answered as data sets: the same.
    @Test(arguments: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
    func encodedAnswersArriveAsFindAnswers(transferSyntax: String) async throws {
        let count = QueryRetrieveService.findBatchSize * 2 + 5
        let expected = EncodingHandler(count: count).answers()
        for encodes in [true, false] {
            try await Self.withAssociation(EncodingHandler(count: count, encodes: encodes), transferSyntaxes: [transferSyntax]) { association in
                for _ in 0..<2 {
                    let result = try await association.find(Self.query)
                    #expect(result.status.isSuccess)
                    #expect(result.matches == expected, "encodes: \(encodes)")
                }
            }
        }
    }

    /// C-CANCEL after a few matches: the answer stops early with status Cancel (FE00H).
    @Test func cancelStopsEncodedAnswers() async throws {
        let count = 5_000
        try await Self.withAssociation(EncodingHandler(count: count)) { association in
            let result = try await association.find(Self.query, maximumMatches: 3)
            #expect(result.cancelRequested)
            #expect(result.status == .cancel)
            #expect(result.matches.count >= 3 && result.matches.count < count)
            // The association is still usable.
            let again = try await association.find(Self.query, maximumMatches: 1)
            #expect(again.status == .cancel)
        }
    }
}
