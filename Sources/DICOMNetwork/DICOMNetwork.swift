@_exported import DICOMCore

// # DICOMNetwork
//
// The DICOM upper layer (PS3.8), association negotiation (ACSE, PS3.7 Annex D) and DIMSE messages (PS3.7),
// on NIOCore only: no sockets, no TLS, no threads. DICOMServices builds the SCU and SCP on top.
//
// ## The pieces, bottom up
//
// - ``PDU``: the seven protocol data units as one enum (``AssociationRequest``, ``AssociationAccept``,
//   ``AssociationReject``, `[PresentationDataValue]`, release, ``AssociationAbort``). `PDU.encode(into:)`
//   and `PDU.decode(from:)` follow PS3.8 §9.3 byte for byte; malformed input throws a ``DICOMNetworkError``
//   with the PDU type and the byte offset.
// - ``PDUDecoder`` / ``PDUEncoder``: the channel codecs. `ByteToMessageHandler(PDUDecoder(maximumPDULength:))`
//   frames inbound bytes into PDUs (rejecting an over-long PDU before buffering it, and a TLS ClientHello with
//   a clear message); `MessageToByteHandler(PDUEncoder())` writes them. ``ProtocolSniffing`` helps a TLS
//   port recognise a plain-DICOM peer.
// - ``UpperLayerStateMachine``: PS3.8 Table 9-10 as a pure value. Feed each received PDU's
//   `PDU.receivedEvent`, each local request (associate, P-DATA, release, abort), transport events and ARTIM
//   expiry; perform the returned action's effects (send, indicate, start/stop ARTIM, close).
// - ``AcceptorPolicy``: `negotiate(_:)` turns an ``AssociationRequest`` into an ``AssociationAccept`` or an
//   ``AssociationReject``. ``NegotiatedAssociation`` pairs request and accept: accepted contexts by ID, each
//   side's maximum PDU length, negotiated roles.
// - DIMSE: ``CommandSet`` encodes group 0000 in Implicit VR Little Endian; one struct per message kind
//   (``CEchoRequest``, ``CStoreRequest``, ``CFindResponse``, … ``NDeleteResponse``) converts to and from the
//   command ``DataSet``; ``DIMSECommand`` decodes any of them; ``DIMSEStatus`` gives code, category, meaning.
// - P-DATA: ``PDataFragmenter`` splits a command set or a data set (whole or in chunks) into P-DATA-TF PDUs
//   within the peer's maximum length; ``DIMSEMessageAssembler`` turns received PDVs back into a command and a
//   stream of data set fragments (so a 2 GB data set goes to disk, not memory), validating the message rules;
//   ``DIMSEMessageAccumulator`` collects small messages whole.
//
// ## An SCP association in outline
//
// ```swift
// var machine = UpperLayerStateMachine()
// _ = machine.handle(.transportConnectionIndication)               // AE-5: start ARTIM
// // inbound PDU from PDUDecoder:
// case .associateRequest(let request):
//     _ = machine.handle(.associateRequestReceived)                // AE-6: stop ARTIM, indicate
//     switch policy.negotiate(request, logger: logger) {
//     case .success(let accept):
//         _ = machine.handle(.associateAcceptPrimitive)            // AE-7
//         write(.associateAccept(accept))
//         association = NegotiatedAssociation(request: request, accept: accept, role: .acceptor)
//         assembler = DIMSEMessageAssembler(association: association)
//         fragmenter = PDataFragmenter(maximumPDULength: association.peerMaximumPDULength)
//     case .failure(let reject):
//         _ = machine.handle(.associateRejectPrimitive)            // AE-8: send RJ, start ARTIM
//         write(.associateReject(reject))
//     }
// case .dataTransfer(let values):
//     _ = machine.handle(.dataTransferReceived)                    // DT-2
//     for event in try assembler.receive(values) { ... }          // .command, then .dataSetFragment…
//     // answer: for pdu in try fragmenter.pdus(for: CEchoResponse(answering: rq), presentationContextID: id) { write(pdu) }
// case .releaseRequest:
//     _ = machine.handle(.releaseRequestReceived)                  // AR-2
//     _ = machine.handle(.releaseResponsePrimitive)                // AR-4
//     write(.releaseResponse)
// ```
//
// Any `DICOMNetworkError` from decoding or assembling is Evt19 (invalid PDU): the machine answers AA-8, an
// A-ABORT with source service-provider.
