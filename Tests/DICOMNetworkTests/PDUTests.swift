import NIOCore
import Testing
@testable import DICOMNetwork

/// Byte vectors written by hand from PS3.8 §9.3 (Tables 9-11 to 9-26) and PS3.7 Annex D.3.3.
@Suite struct PDUTests {
    // MARK: A-ASSOCIATE-RQ

    /// PS3.8 Table 9-11, with items of Tables 9-12 (10H), 9-13/9-14/9-15 (20H, 30H, 40H) and 9-16 (50H).
    static let associateRequestBytes: [UInt8] =
        [0x01, 0x00] +                                  // PDU-type 01H, reserved
        [0x00, 0x00, 0x00, 0xAE] +                      // PDU-length 174
        [0x00, 0x01, 0x00, 0x00] +                      // Protocol-version 0001H, reserved
        ascii("ANY-SCP         ") +                     // Called-AE-title, 16 bytes space padded
        ascii("ECHOSCU         ") +                     // Calling-AE-title
        zeros(32) +                                     // reserved
        [0x10, 0x00, 0x00, 0x15] + ascii("1.2.840.10008.3.1.1.1") +  // Application Context item, length 21
        [0x20, 0x00, 0x00, 0x2E] +                      // Presentation Context item, length 46
        [0x01, 0x00, 0x00, 0x00] +                      // ID 1, reserved ×3
        [0x30, 0x00, 0x00, 0x11] + ascii("1.2.840.10008.1.1") +      // Abstract Syntax sub-item, length 17
        [0x40, 0x00, 0x00, 0x11] + ascii("1.2.840.10008.1.2") +      // Transfer Syntax sub-item, length 17
        [0x50, 0x00, 0x00, 0x1B] +                      // User Information item, length 27
        [0x51, 0x00, 0x00, 0x04, 0x00, 0x00, 0x40, 0x00] +           // Maximum Length 16384
        [0x52, 0x00, 0x00, 0x07] + ascii("1.2.3.4") +  // Implementation Class UID
        [0x55, 0x00, 0x00, 0x04] + ascii("TEST")        // Implementation Version Name

    static let associateRequest = AssociationRequest(
        calledAETitle: "ANY-SCP", callingAETitle: "ECHOSCU",
        presentationContexts: [PresentationContext(id: 1, abstractSyntax: "1.2.840.10008.1.1", transferSyntaxes: ["1.2.840.10008.1.2"])],
        userInformation: UserInformation(maximumLength: 16384, implementationClassUID: "1.2.3.4", implementationVersionName: "TEST"))

    @Test func associateRequestEncodes() throws {
        #expect(try bytes(of: .associateRequest(Self.associateRequest)) == Self.associateRequestBytes)
    }

    @Test func associateRequestDecodes() throws {
        #expect(try decode(Self.associateRequestBytes) == .associateRequest(Self.associateRequest))
    }

    /// Every user information sub-item of PS3.7 Annex D.3.3 (51H–58H) plus an unknown one.
    static let allSubItemsRequestBytes: [UInt8] =
        [0x01, 0x00, 0x00, 0x00, 0x01, 0x12] +          // A-ASSOCIATE-RQ, PDU-length 274
        [0x00, 0x01, 0x00, 0x00] +                      // Protocol-version, reserved
        ascii("ANY-SCP         ") + ascii("ECHOSCU         ") + zeros(32) +
        [0x10, 0x00, 0x00, 0x15] + ascii("1.2.840.10008.3.1.1.1") +
        [0x20, 0x00, 0x00, 0x2E, 0x01, 0x00, 0x00, 0x00] +
        [0x30, 0x00, 0x00, 0x11] + ascii("1.2.840.10008.1.1") +
        [0x40, 0x00, 0x00, 0x11] + ascii("1.2.840.10008.1.2") +
        [0x50, 0x00, 0x00, 0x7F] +                      // User Information item, length 127
        [0x51, 0x00, 0x00, 0x04, 0x00, 0x00, 0x40, 0x00] +           // 51H Maximum Length 16384 (PS3.8 Table D.1-1)
        [0x52, 0x00, 0x00, 0x07] + ascii("1.2.3.4") +  // 52H Implementation Class UID (Table D.3-1)
        [0x53, 0x00, 0x00, 0x04, 0x00, 0x05, 0x00, 0x01] +           // 53H invoked 5, performed 1 (Table D.3-7)
        [0x54, 0x00, 0x00, 0x0C, 0x00, 0x08] + ascii("1.2.3.99") + [0x01, 0x01] +  // 54H UID-length 8, UID, SCU 1, SCP 1 (Table D.3-9)
        [0x55, 0x00, 0x00, 0x04] + ascii("TEST") +     // 55H Implementation Version Name (Table D.3-3)
        [0x56, 0x00, 0x00, 0x0D, 0x00, 0x08] + ascii("1.2.3.99") + [0x01, 0x00, 0x01] +  // 56H SOP class, 3 info bytes (Table D.3-11)
        [0x57, 0x00, 0x00, 0x1F] +                      // 57H, Sub-Item-version 0, length 31 (Table D.3-12)
        [0x00, 0x08] + ascii("1.2.3.99") +              //   SOP-class-uid-length, SOP class UID
        [0x00, 0x07] + ascii("1.2.3.5") +               //   Service-class-uid-length, service class UID
        [0x00, 0x0A] +                                  //   Related-general-sop-class-identification-length 10
        [0x00, 0x08] + ascii("1.2.3.77") +              //     Related-general-sop-class-uid-length, UID (Table D.3-13)
        [0x58, 0x00, 0x00, 0x0E] +                      // 58H User Identity, length 14 (Table D.3-14)
        [0x02, 0x01] +                                  //   User-Identity-Type 2 (username and passcode), positive response requested
        [0x00, 0x04] + ascii("user") +                  //   Primary-field-length, primary field
        [0x00, 0x04] + ascii("pass") +                  //   Secondary-field-length, secondary field
        [0x5F, 0x00, 0x00, 0x02, 0xAB, 0xCD]            // unknown sub-item 5FH, carried through

    static let allSubItemsInformation = UserInformation(
        maximumLength: 16384, implementationClassUID: "1.2.3.4",
        asynchronousOperationsWindow: AsynchronousOperationsWindow(maximumInvoked: 5, maximumPerformed: 1),
        roleSelections: [RoleSelection(sopClassUID: "1.2.3.99", scuRole: true, scpRole: true)],
        implementationVersionName: "TEST",
        extendedNegotiations: [SOPClassExtendedNegotiation(sopClassUID: "1.2.3.99", serviceClassApplicationInformation: [1, 0, 1])],
        commonExtendedNegotiations: [SOPClassCommonExtendedNegotiation(sopClassUID: "1.2.3.99", serviceClassUID: "1.2.3.5",
                                                                       relatedGeneralSOPClassUIDs: ["1.2.3.77"])],
        userIdentity: .usernameAndPasscode("user", passcode: "pass", positiveResponseRequested: true),
        unknownItems: [UnknownItem(type: 0x5F, value: [0xAB, 0xCD])])

    @Test func allUserInformationSubItems() throws {
        var request = Self.associateRequest
        request.userInformation = Self.allSubItemsInformation
        #expect(try decode(Self.allSubItemsRequestBytes) == .associateRequest(request))
        #expect(try bytes(of: .associateRequest(request)) == Self.allSubItemsRequestBytes)
        guard case .associateRequest(let decoded) = try decode(Self.allSubItemsRequestBytes) else { Issue.record("not an RQ"); return }
        #expect(decoded.userInformation.userIdentity?.primaryText == "user")
        #expect(decoded.userInformation.userIdentity?.secondaryText == "pass")
    }

    @Test func userIdentityTokenKindsRoundTrip() throws {
        for kind in [UserIdentity.Kind.username, .kerberos, .saml, .jwt] {
            var request = Self.associateRequest
            let token = [UInt8](repeating: 0x41, count: 3000)
            request.userInformation.userIdentity = UserIdentity(kind: kind, primaryField: kind == .username ? ascii("bob") : token)
            #expect(try decode(try bytes(of: .associateRequest(request))) == .associateRequest(request))
        }
    }

    @Test func overlongUserIdentityIsAnEncodingError() {
        var request = Self.associateRequest
        request.userInformation.userIdentity = UserIdentity(kind: .saml, primaryField: [UInt8](repeating: 0x20, count: 70_000))
        #expect(networkError { _ = try bytes(of: .associateRequest(request)) }?.code == .invalidLength)
    }

    // MARK: A-ASSOCIATE-AC

    /// PS3.8 Table 9-17, with Presentation Context items 21H (Table 9-18) and User Identity 59H (PS3.7 Table D.3-15).
    static let associateAcceptBytes: [UInt8] =
        [0x02, 0x00, 0x00, 0x00, 0x00, 0xA7] +          // PDU-type 02H, reserved, PDU-length 167
        [0x00, 0x01, 0x00, 0x00] +                      // Protocol-version, reserved
        ascii("ANY-SCP         ") + ascii("ECHOSCU         ") +  // reserved, sent with the RQ's AE titles
        zeros(32) +
        [0x10, 0x00, 0x00, 0x15] + ascii("1.2.840.10008.3.1.1.1") +
        [0x21, 0x00, 0x00, 0x19] +                      // Presentation Context item (AC), length 25
        [0x01, 0x00, 0x00, 0x00] +                      // ID 1, reserved, Result 0 acceptance, reserved
        [0x40, 0x00, 0x00, 0x11] + ascii("1.2.840.10008.1.2") +
        [0x21, 0x00, 0x00, 0x08] +                      // Presentation Context item (AC), length 8
        [0x03, 0x00, 0x03, 0x00] +                      // ID 3, reserved, Result 3 abstract-syntax-not-supported, reserved
        [0x40, 0x00, 0x00, 0x00] +                      // empty Transfer Syntax sub-item (not tested)
        [0x50, 0x00, 0x00, 0x1D] +                      // User Information, length 29
        [0x51, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00] +           // Maximum Length 65536
        [0x52, 0x00, 0x00, 0x07] + ascii("1.2.3.4") +
        [0x59, 0x00, 0x00, 0x06, 0x00, 0x04] + ascii("tokn")         // 59H Server-response-length 4, response

    static let associateAccept = AssociationAccept(
        calledAETitle: "ANY-SCP", callingAETitle: "ECHOSCU",
        presentationContextResults: [
            PresentationContextResult(id: 1, result: .acceptance, transferSyntax: "1.2.840.10008.1.2"),
            PresentationContextResult(id: 3, result: .abstractSyntaxNotSupported),
        ],
        userInformation: UserInformation(maximumLength: 65536, implementationClassUID: "1.2.3.4", userIdentityServerResponse: ascii("tokn")))

    @Test func associateAcceptEncodesAndDecodes() throws {
        #expect(try bytes(of: .associateAccept(Self.associateAccept)) == Self.associateAcceptBytes)
        #expect(try decode(Self.associateAcceptBytes) == .associateAccept(Self.associateAccept))
    }

    @Test func acceptWithUntestedReservedAETitles() throws {
        var bytes = Self.associateAcceptBytes
        for i in 10..<42 { bytes[i] = 0x20 }  // both reserved AE fields all spaces
        guard case .associateAccept(let accept) = try decode(bytes) else { Issue.record("not an AC"); return }
        #expect(accept.calledAETitle == nil && accept.callingAETitle == nil)
        #expect(accept.presentationContextResults.count == 2)
    }

    // MARK: A-ASSOCIATE-RJ, P-DATA-TF, A-RELEASE, A-ABORT

    @Test func associateReject() throws {
        let bytes: [UInt8] = [0x03, 0x00, 0x00, 0x00, 0x00, 0x04,  // PDU-type 03H, reserved, PDU-length 4 (Table 9-21)
                              0x00, 0x01, 0x01, 0x07]              // reserved, Result 1 permanent, Source 1 service-user, Reason 7
        let reject = AssociationReject(result: .rejectedPermanent, reason: .calledAETitleNotRecognized)
        #expect(try decode(bytes) == .associateReject(reject))
        #expect(try self.bytes(of: .associateReject(reject)) == bytes)
        #expect(reject.reason.description == "called-AE-title-not-recognized")
        let transient: [UInt8] = [0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x02, 0x03, 0x01]  // transient, presentation, congestion
        #expect(try decode(transient) == .associateReject(AssociationReject(result: .rejectedTransient, reason: .temporaryCongestion)))
    }

    func bytes(of pdu: PDU) throws -> [UInt8] { try DICOMNetworkTests.bytes(of: pdu) }

    @Test func dataTransfer() throws {
        let bytes: [UInt8] = [0x04, 0x00, 0x00, 0x00, 0x00, 0x13] +  // PDU-type 04H, PDU-length 19 (Table 9-22)
            [0x00, 0x00, 0x00, 0x08, 0x01, 0x03] +                   // PDV item length 8, context 1, header: command, last (Table 9-23, Annex E.2)
            [0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF] +                   // fragment
            [0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x11]               // PDV item length 3, context 1, data, not last, 1 byte
        let pdu = PDU.dataTransfer([
            PresentationDataValue(presentationContextID: 1, isCommand: true, isLastFragment: true, fragment: buffer([0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF])),
            PresentationDataValue(presentationContextID: 1, isCommand: false, isLastFragment: false, fragment: buffer([0x11])),
        ])
        #expect(try decode(bytes) == pdu)
        #expect(try self.bytes(of: pdu) == bytes)
    }

    @Test func releaseAndAbort() throws {
        let releaseRQ: [UInt8] = [0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]  // Table 9-24
        let releaseRP: [UInt8] = [0x06, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]  // Table 9-25
        let abort: [UInt8] = [0x07, 0x00, 0x00, 0x00, 0x00, 0x04,   // Table 9-26
                              0x00, 0x00, 0x02, 0x06]               // reserved ×2, Source 2 provider, Reason 6 invalid-PDU-parameter-value
        #expect(try decode(releaseRQ) == .releaseRequest)
        #expect(try decode(releaseRP) == .releaseResponse)
        #expect(try bytes(of: .releaseRequest) == releaseRQ)
        #expect(try bytes(of: .releaseResponse) == releaseRP)
        let pdu = PDU.abort(AssociationAbort(source: .serviceProvider, reason: .invalidPDUParameterValue))
        #expect(try decode(abort) == pdu)
        #expect(try bytes(of: pdu) == abort)
        #expect(try bytes(of: .abort(.serviceUser)) == [0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00])
    }

    @Test func receivedEvents() {
        #expect(PDU.releaseRequest.receivedEvent == .releaseRequestReceived)
        #expect(PDU.abort(.serviceUser).receivedEvent.rawValue == 16)
        #expect(PDU.associateRequest(Self.associateRequest).receivedEvent.rawValue == 6)
    }

    // MARK: Malformed input

    @Test func truncatedPDU() {
        let error = networkError { _ = try decode(Array(Self.associateRequestBytes.prefix(100))) }
        #expect(error?.code == .truncated)
        #expect(error?.pduType == 0x01)
    }

    @Test func unknownPDUType() {
        let error = networkError { _ = try decode([0x08, 0x00, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0]) }
        #expect(error?.code == .unknownPDUType)
        #expect(error?.pduType == 0x08)
    }

    @Test func itemLengthOverrunningPDU() {
        var bytes = Self.associateRequestBytes
        bytes[76] = 0x00; bytes[77] = 0xFF  // Application Context item length 255, past the PDU end
        let error = networkError { _ = try decode(bytes) }
        #expect(error?.code == .invalidLength)
        #expect(error?.offset == 74)
    }

    @Test func subItemLengthOverrunningItem() {
        var bytes = Self.associateRequestBytes
        bytes[110] = 0x40  // Abstract Syntax sub-item length 64, past its presentation context item
        let error = networkError { _ = try decode(bytes) }
        #expect(error?.code == .invalidLength)
        #expect(error?.offset == 107)  // the sub-item's first byte, counted from the PDU start
    }

    @Test func evenPresentationContextID() {
        var bytes = Self.associateRequestBytes
        bytes[103] = 0x02  // presentation context ID 2
        let error = networkError { _ = try decode(bytes) }
        #expect(error?.code == .invalidPresentationContextID)
        #expect(error?.offset == 103)
    }

    @Test func evenIDIsRefusedWhenEncoding() {
        var request = Self.associateRequest
        request.presentationContexts[0].id = 4
        #expect(networkError { _ = try bytes(of: .associateRequest(request)) }?.code == .invalidPresentationContextID)
    }

    @Test func duplicatePresentationContextID() throws {
        var request = Self.associateRequest
        request.presentationContexts.append(request.presentationContexts[0])
        let bytes = try bytes(of: .associateRequest(request))
        #expect(networkError { _ = try decode(bytes) }?.code == .invalidPresentationContextID)
    }

    @Test func missingMandatoryItems() throws {
        // Without the User Information item: PDU-length 174 - 31 = 143 (8FH).
        var noUserInfo = Array(Self.associateRequestBytes.prefix(Self.associateRequestBytes.count - 31))
        noUserInfo[5] = 0x8F
        #expect(networkError { _ = try decode(noUserInfo) }?.code == .malformedItem)
        // A presentation context without transfer syntaxes.
        var request = Self.associateRequest
        request.presentationContexts[0].transferSyntaxes = []
        let bytes = try bytes(of: .associateRequest(request))
        #expect(networkError { _ = try decode(bytes) }?.message.contains("no transfer syntax") == true)
    }

    @Test func wrongMaximumLengthSubItem() {
        var bytes = Self.associateRequestBytes
        // Maximum Length sub-item at offset 153: make its length 2 and the following 2 bytes belong to nothing.
        #expect(bytes[153] == 0x51)
        bytes[156] = 0x02
        #expect(networkError { _ = try decode(bytes) } != nil)
    }

    @Test func blankCalledAETitle() {
        var bytes = Self.associateRequestBytes
        for i in 10..<26 { bytes[i] = 0x20 }
        let error = networkError { _ = try decode(bytes) }
        #expect(error?.code == .invalidAETitle)
        #expect(error?.offset == 10)
    }

    @Test func invalidRejectResult() {
        let error = networkError { _ = try decode([0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x03, 0x01, 0x01]) }
        #expect(error?.code == .invalidValue)
        #expect(error?.offset == 7)
    }

    @Test func releaseWithExtraBytes() {
        let error = networkError { _ = try decode([0x05, 0x00, 0x00, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0]) }
        #expect(error?.code == .invalidLength)
    }

    @Test func badPDVItems() {
        // PDV item length 1: no room for the message control header.
        #expect(networkError { _ = try decode([0x04, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x01]) }?.code == .invalidLength)
        // PDV item length 16 overrunning a 6-byte PDU body.
        #expect(networkError { _ = try decode([0x04, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x10, 0x01, 0x03]) }?.code == .invalidLength)
        // Empty P-DATA-TF.
        #expect(networkError { _ = try decode([0x04, 0x00, 0x00, 0x00, 0x00, 0x00]) }?.code == .malformedItem)
        // Even context ID in a PDV.
        #expect(networkError { _ = try decode([0x04, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x02, 0x02, 0x03]) }?.code == .invalidPresentationContextID)
    }

    @Test func tlsClientHello() {
        // TLS record header: ContentType 16H handshake, version 03 01, length, then ClientHello (01H).
        let error = networkError { _ = try decode([0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03]) }
        #expect(error?.code == .tlsOnPlainPort)
        #expect(error?.message.contains("peer is speaking TLS on a plain DICOM port") == true)
    }

    @Test func mutatedInputNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [Self.associateRequestBytes, Self.allSubItemsRequestBytes, Self.associateAcceptBytes]
        var decoded = 0, rejected = 0
        for _ in 0..<3000 {
            var bytes = seeds[Int.random(in: 0..<seeds.count, using: &generator)]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            var b = buffer(bytes)
            do { _ = try PDU.decode(from: &b); decoded += 1 } catch is DICOMNetworkError { rejected += 1 } catch { Issue.record("unexpected error \(error)") }
        }
        #expect(decoded + rejected == 3000)
        #expect(rejected > 0)
    }
}
