// libFuzzer harness for the upper-layer PDU decoder and the DIMSE message path of DICOMNetwork. See README.md.
// Built as a package against the repository's DICOMNetwork product (it needs NIOCore): Tools/fuzz/pdu/Package.swift.
import CFuzzerDriver
import DICOMIO
import DICOMNetwork
import Foundation
import NIOCore

/// The policy of an archive that accepts verification, storage and query: the decoded A-ASSOCIATE-RQ is
/// negotiated against it as the server would.
let policy: AcceptorPolicy = {
    var policy = AcceptorPolicy()
    let syntaxes = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
    policy.accept(abstractSyntaxes: ["1.2.840.10008.1.1", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.7",
                                     "1.2.840.10008.5.1.4.1.2.1.1", "1.2.840.10008.5.1.4.1.2.2.1"], transferSyntaxes: syntaxes)
    return policy
}()

/// Reads a received data set as the server does (C-STORE data set, C-FIND identifier) and decodes its text.
func readDataSet(_ data: Data, transferSyntax: TransferSyntax) {
    var options = ReadOptions()
    options.maximumInflatedSize = 16 << 20
    guard let dataSet = try? DataSetReader.read(data, transferSyntax: transferSyntax, options: options) else { return }
    touch(dataSet)
}

func touch(_ dataSet: DataSet) {
    for element in dataSet {
        switch element.value {
        case .sequence(let items): items.forEach(touch)
        case .bytes(let data):
            if element.vr.isString { _ = dataSet.strings(element.tag) }
            if element.vr == .PN { _ = dataSet.characterSet.decodePersonNames(data) }
        case .encapsulated: break
        }
    }
}

/// The input is a byte stream as a peer sends it: PDUs one after another. Each decoded PDU must encode and decode
/// back to itself; an A-ASSOCIATE-RQ is negotiated; the PDVs of P-DATA-TF PDUs go through the DIMSE message
/// assembler (on the negotiated contexts, or on every context ID when there was no request) and each message's
/// command and data set are parsed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: start, count: count))
    var decoder = PDUDecoder(maximumPDULength: 1 << 20)
    var accumulator = DIMSEMessageAccumulator(assembler: DIMSEMessageAssembler(acceptedContextIDs: Set(0...255)),
                                              maximumDataSetLength: 1 << 20)
    var syntaxes: [UInt8: TransferSyntax] = [:]
    while true {
        let pdu: PDU
        do {
            guard let next = try decoder.decodeLast(buffer: &buffer, seenEOF: true) else { break }
            pdu = next
        } catch {
            break
        }
        // Round trip: what decoded encodes, and decodes to the same PDU.
        if let encoded = try? pdu.encoded() {
            var again = encoded
            var second = PDUDecoder(maximumPDULength: UInt32.max)
            do {
                let decoded = try second.decode(buffer: &again)
                precondition(decoded == pdu, "PDU round trip differs: \(pdu) -> \(String(describing: decoded))")
            } catch {
                preconditionFailure("re-encoded \(pdu.type) does not decode: \(error)")
            }
        }
        switch pdu {
        case .associateRequest(let request):
            if case .success(let accept) = policy.negotiate(request) {
                let association = NegotiatedAssociation(request: request, accept: accept, role: .acceptor)
                accumulator = DIMSEMessageAccumulator(assembler: DIMSEMessageAssembler(association: association),
                                                      maximumDataSetLength: 1 << 20)
                for (id, context) in association.acceptedContexts {
                    syntaxes[id] = context.knownTransferSyntax
                }
            }
        case .dataTransfer(let values):
            guard let messages = try? accumulator.receive(values) else { return 0 }
            for message in messages {
                _ = try? CommandSet.encode(message.command.commandSet)
                if let data = message.dataSetData {
                    readDataSet(data, transferSyntax: syntaxes[message.presentationContextID] ?? .implicitVRLittleEndian)
                }
            }
        default:
            break
        }
    }
    return 0
}

/// The program's entry point: SwiftPM aliases `main` to `<module>_main` for executables, which hides libFuzzer's
/// `main`; this one hands the command line to libFuzzer's driver.
@_cdecl("fuzz_pdu_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
}
