import DICOMCore
import DICOMIO
import DICOMServices
import Foundation

/// An index that answers C-FIND with response identifiers already encoded (``QueryHandler/encodedMatches(_:context:transferSyntax:)``),
/// so the server neither builds a ``DataSet`` per match nor encodes it afterwards.
protocol EncodingQueryIndex: ArchiveIndex {
    /// What ``ArchiveIndex/find(_:)`` answers for `query`, encoded in Explicit (`explicitVR`) or Implicit VR Little Endian.
    func findEncoded(_ query: IndexQuery, explicitVR: Bool, auditing: Bool) async throws -> EncodedQueryAnswer
}

/// Encoded response identifiers and, when asked for the audit trail, the Study Instance UID each one carries.
struct EncodedQueryAnswer: Sendable {
    var identifiers = EncodedIdentifiers()
    /// The first value of each identifier's Study Instance UID (0020,000D) where it has one (as
    /// `DataSet.string(_:)` reads it); empty unless `auditing`.
    var studyInstanceUIDs: [String] = []
}

extension JSONArchiveIndex: EncodingQueryIndex {
    func findEncoded(_ query: IndexQuery, explicitVR: Bool, auditing: Bool) throws -> EncodedQueryAnswer {
        try QueryEngine(state: state, access: query.access).findEncoded(query, explicitVR: explicitVR, auditing: auditing)
    }
}

extension QueryEngine {
    /// The response identifiers of `query` encoded in Explicit (`explicitVR`) or Implicit VR Little Endian: the bytes
    /// that encoding ``find(_:)``'s data sets gives, written directly from the index where every value is ASCII text
    /// (the common case), else through ``response(_:_:)`` and ``DataSetWriter``.
    func findEncoded(_ query: IndexQuery, explicitVR: Bool, auditing: Bool = false) throws -> EncodedQueryAnswer {
        let parsed = try ParsedQuery(query)
        let chains = matches(parsed)
        var answer = EncodedQueryAnswer()
        answer.identifiers.bytes.reserveCapacity(chains.count * 320)
        answer.identifiers.ends.reserveCapacity(chains.count)
        let direct = parsed.returnKeys.allSatisfy { QueryEngine.answersAsText($0.vr) }
        let studyKey = auditing ? parsed.returnKeys.first { $0.tag == IndexedAttribute.studyInstanceUID } : nil
        let syntax: TransferSyntax = explicitVR ? .explicitVRLittleEndian : .implicitVRLittleEndian
        for chain in chains {
            if direct && writeASCIIResponse(parsed, chain, explicitVR: explicitVR, into: &answer.identifiers.bytes) {
                if let studyKey, let uid = studyKey.attribute.flatMap({ value($0, chain) }).flatMap(QueryEngine.firstValue) {
                    answer.studyInstanceUIDs.append(uid)
                }
            } else {
                let dataSet = response(parsed, chain)
                try DataSetWriter.encode(dataSet, transferSyntax: syntax, into: &answer.identifiers.bytes)
                if auditing, let uid = dataSet.string(IndexedAttribute.studyInstanceUID) { answer.studyInstanceUIDs.append(uid) }
            }
            answer.identifiers.endIdentifier()
        }
        return answer
    }

    /// Whether ``response(_:_:)`` answers a key of this VR with its text bytes (not a binary number or a sequence).
    static func answersAsText(_ vr: VR) -> Bool {
        switch vr {
        case .US, .SS, .UL, .SL, .SV, .UV, .SQ: return false
        default: return true
        }
    }

    /// The first of the backslash-separated values of a non-empty text as `DataSet.string(_:)` reads it back from a
    /// response (leading spaces and trailing spaces and NULs removed); nil for an empty text (an empty element).
    static func firstValue(_ text: String) -> String? {
        // Byte-wise (backslash, space and NUL are ASCII, so every cut falls on a character boundary): the common
        // case, a bare UID, is returned as it is without copying.
        let utf8 = text.utf8
        if utf8.isEmpty { return nil }
        var end = utf8.firstIndex(of: 0x5C) ?? utf8.endIndex
        var start = utf8.startIndex
        while end > start, utf8[utf8.index(before: end)] == 0x20 || utf8[utf8.index(before: end)] == 0x00 { end = utf8.index(before: end) }
        while start < end, utf8[start] == 0x20 { start = utf8.index(after: start) }
        if start == utf8.startIndex && end == utf8.endIndex { return text }
        return String(text[start..<end])
    }

    /// Writes the identifier ``response(_:_:)`` builds for `chain`, encoded, into `out`, when every value is ASCII and
    /// every key is answered as text (``answersAsText(_:)``, checked by the caller): the Query/Retrieve Level in its
    /// place, each key with its value padded to even length (PS3.5 §7.1: UI with 00H, other text with a space) or
    /// empty, in tag order. Returns false, with `out` as it was, when a value is not ASCII (the response then
    /// declares a character set) or is too long for a 16-bit length in Explicit VR.
    func writeASCIIResponse(_ query: ParsedQuery, _ chain: Chain, explicitVR: Bool, into out: inout [UInt8]) -> Bool {
        let start = out.count
        var levelPending = true
        for key in query.returnKeys {
            if levelPending && key.tag.rawValue > Tag.queryRetrieveLevel.rawValue {
                Self.writeLevel(query.level, explicitVR: explicitVR, into: &out)
                levelPending = false
            }
            var text = key.attribute.flatMap { value($0, chain) }
            // Instance Availability (0008,0056): everything the index answers is on line (PS3.4 C.4.1.1.3.2).
            if key.tag == QueryEngine.instanceAvailability { text = "ONLINE" }
            guard var text, !text.isEmpty else {
                Self.writeHeader(key.tag, key.vr, length: 0, explicitVR: explicitVR, into: &out)
                continue
            }
            let written = text.withUTF8 { bytes -> Bool in
                let length = bytes.count + bytes.count & 1
                guard !bytes.contains(where: { $0 >= 0x80 }), !explicitVR || key.vr.hasLongLength || length <= 0xFFFF else {
                    return false
                }
                Self.writeHeader(key.tag, key.vr, length: length, explicitVR: explicitVR, into: &out)
                out.append(contentsOf: bytes)
                if bytes.count & 1 == 1 { out.append(key.vr.paddingByte) }
                return true
            }
            guard written else {
                out.removeSubrange(start...)
                return false
            }
        }
        if levelPending { Self.writeLevel(query.level, explicitVR: explicitVR, into: &out) }
        return true
    }

    /// An element header in little endian: tag, then (Explicit VR) the VR and a 16-bit length, or 0000H and a 32-bit
    /// length for the VRs that have one (PS3.5 §7.1.2), or (Implicit VR) a 32-bit length.
    static func writeHeader(_ tag: Tag, _ vr: VR, length: Int, explicitVR: Bool, into out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: tag.group)); out.append(UInt8(truncatingIfNeeded: tag.group >> 8))
        out.append(UInt8(truncatingIfNeeded: tag.element)); out.append(UInt8(truncatingIfNeeded: tag.element >> 8))
        if explicitVR {
            out.append(UInt8(truncatingIfNeeded: vr.rawValue >> 8)); out.append(UInt8(truncatingIfNeeded: vr.rawValue))
            if !vr.hasLongLength {
                out.append(UInt8(truncatingIfNeeded: length)); out.append(UInt8(truncatingIfNeeded: length >> 8))
                return
            }
            out.append(0); out.append(0)
        }
        out.append(UInt8(truncatingIfNeeded: length)); out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length >> 16)); out.append(UInt8(truncatingIfNeeded: length >> 24))
    }

    /// Query/Retrieve Level (0008,0052), CS, padded with a space.
    static func writeLevel(_ level: QueryLevel, explicitVR: Bool, into out: inout [UInt8]) {
        let text = level.rawValue.utf8
        writeHeader(.queryRetrieveLevel, .CS, length: text.count + text.count & 1, explicitVR: explicitVR, into: &out)
        out.append(contentsOf: text)
        if text.count & 1 == 1 { out.append(0x20) }
    }
}
