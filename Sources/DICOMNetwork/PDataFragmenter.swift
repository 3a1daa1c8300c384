import DICOMCore
import NIOCore

/// Splits command sets and data sets into P-DATA-TF PDUs no longer than the peer's Maximum Length
/// (PS3.8 §9.3.5, Annex D.1 and E): one presentation data value per PDU, the last-fragment bit on the
/// last fragment of each command set or data set.
///
/// A data set of any size can be sent in chunks: call ``pdus(for:presentationContextID:isCommand:isLast:)``
/// for each chunk read from disk, with `isLast` on the final chunk only.
public struct PDataFragmenter: Sendable, Equatable {
    /// The fragment size used when the peer announced no limit (Maximum Length 0).
    public static let defaultUnlimitedFragmentLength = 1 << 20

    /// The peer's Maximum Length (51H): the largest PDU-length field it receives; 0 means no limit.
    public let maximumPDULength: UInt32
    /// The most fragment bytes one PDV carries: the maximum length minus the PDV item header (4-byte item
    /// length, context ID, message control header), at least 1.
    public let maximumFragmentLength: Int

    public init(maximumPDULength: UInt32, unlimitedFragmentLength: Int = PDataFragmenter.defaultUnlimitedFragmentLength) {
        self.maximumPDULength = maximumPDULength
        if maximumPDULength == 0 {
            maximumFragmentLength = max(1, unlimitedFragmentLength)
        } else {
            maximumFragmentLength = max(1, Int(maximumPDULength) - 6)
        }
    }

    /// P-DATA-TF PDUs carrying `bytes` as fragments of a command set or data set.
    /// - Parameter isLast: whether `bytes` ends the command set or data set; the last PDV gets the last-fragment bit.
    ///   An empty `bytes` with `isLast` gives one empty last fragment.
    public func pdus(for bytes: ByteBuffer, presentationContextID: UInt8, isCommand: Bool, isLast: Bool = true) -> [PDU] {
        var remaining = bytes
        var pdus: [PDU] = []
        pdus.reserveCapacity(remaining.readableBytes / maximumFragmentLength + 1)
        repeat {
            let length = min(maximumFragmentLength, remaining.readableBytes)
            let fragment = remaining.readSlice(length: length)!
            let last = isLast && remaining.readableBytes == 0
            pdus.append(.dataTransfer([PresentationDataValue(presentationContextID: presentationContextID, isCommand: isCommand,
                                                             isLastFragment: last, fragment: fragment)]))
        } while remaining.readableBytes > 0
        return pdus
    }

    /// P-DATA-TF PDUs for a DIMSE message's command set; when the message has a data set, follow them with
    /// ``pdus(for:presentationContextID:isCommand:isLast:)`` for the data set bytes (`isCommand: false`).
    public func pdus(for message: some DIMSEMessage, presentationContextID: UInt8) throws -> [PDU] {
        pdus(for: try CommandSet.encode(message.commandSet), presentationContextID: presentationContextID, isCommand: true)
    }

    /// P-DATA-TF PDUs for a whole message: the command set, then the data set (which must be present exactly
    /// when the message says so).
    public func pdus(for message: some DIMSEMessage, dataSet: ByteBuffer?, presentationContextID: UInt8) throws -> [PDU] {
        guard message.hasDataSet == (dataSet != nil) else {
            throw DICOMNetworkError(.invalidCommandSet, message.hasDataSet
                                    ? "\(type(of: message).commandField) needs a data set but none was given"
                                    : "\(type(of: message).commandField) has no data set but one was given")
        }
        var result = try pdus(for: message, presentationContextID: presentationContextID)
        if let dataSet { result += pdus(for: dataSet, presentationContextID: presentationContextID, isCommand: false) }
        return result
    }
}
