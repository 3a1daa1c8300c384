import DICOMCore
import DICOMNetwork
@testable import DICOMServices
import Foundation
import NIOCore
import Testing

/// A C-STORE sends its command with the first part of the data set and does not wait for the last part's write, only
/// for the response. When the peer goes away meanwhile, the store fails promptly with a connection error; it neither
/// hangs nor succeeds.
@Suite(.serialized) struct UnawaitedLastWriteTests {
    @Test func commandAndSmallDataSetArriveTogetherAndAnEarlyCloseFailsTheStore() async throws {
        let (acceptor, peer, association) = try await PeerReleaseTests.establish()
        defer { peer.close(); acceptor.close() }
        let dataSet = ByteBuffer(bytes: [UInt8](repeating: 0x41, count: 2_000))
        let started = Date()
        let store = Task {
            try await association.store(dataSet: dataSet, sopClassUID: TestSupport.ctImageStorage, sopInstanceUID: "1.2.3.4",
                                        transferSyntax: .explicitVRLittleEndian)
        }
        // The command PDU and the data set PDU, both there (one write from the client's side).
        let command = await peer.readPDU()
        let data = await peer.readPDU()
        #expect(command?.type == 0x04 && data?.type == 0x04)
        // The data set PDV is flagged last, not command (message control header 02H, PS3.8 E.2).
        if let data, data.body.count > 5 { #expect(data.body[5] == 0x02) }
        peer.close()
        do {
            _ = try await store.value
            Issue.record("the C-STORE must fail when the peer closes before answering")
        } catch {
            #expect(error is DICOMServiceError, "\(error)")
        }
        #expect(Date().timeIntervalSince(started) < 15, "failed only after the DIMSE timeout")
    }
}
