/// Encodes text with ISO 2022 code extensions (PS3.5 §6.1.2.5), choosing designations as the
/// standard's examples do (PS3.5 Annex H, I and K):
///
/// - A character goes into the set already designated if it fits (current G1, then a double-byte G0),
///   else into the first set, in the order of the terms, that holds it; ASCII always goes into G0.
/// - Before each delimiter (backslash in multi-valued VRs, `^` and `=` in PN), CR, LF, FF, TAB and the
///   end of the value, G0 returns to the initial set with its escape sequence (Annex H: ESC ( B or ESC ( J),
///   and G1 too when value 1 designates one. Otherwise the reader's own reset restores G1 (Annex I, K).
/// - KS X 1001 is designated at the start of the line or component that uses it (Example I.2-2:
///   "ESC $ ) C The 1st line includes …"); other sets just before their first character (Example K.2-2:
///   "1. ESC $ ) A 第一行文字。").
struct ISO2022Encoder {
    let configuration: ISO2022Configuration
    let setName: String

    func encode(_ string: String, vr: VR) throws -> [UInt8] {
        let backslashDelimits = !vr.isSingleValuedText
        let isPersonName = vr == .PN
        var output: [UInt8] = []
        output.reserveCapacity(string.utf8.count + 8)
        var g0 = configuration.initialG0
        var g1 = configuration.initialG1
        var segmentStart = 0
        var g1UsedInSegment = false

        func designate(_ element: CodeElement, insertingAt position: Int? = nil) {
            let sequence = [0x1B] + (element.escapeSequence ?? [])
            if let position { output.insert(contentsOf: sequence, at: position) } else { output.append(contentsOf: sequence) }
            if element.isG0 { g0 = element } else { g1 = element; g1UsedInSegment = true }
        }
        func restoreInitialState() {
            if g0 != configuration.initialG0 { designate(configuration.initialG0) }
            if let initialG1 = configuration.initialG1, g1 != initialG1 { designate(initialG1) }
            g0 = configuration.initialG0
            g1 = configuration.initialG1
        }

        scalars: for (offset, scalar) in string.unicodeScalars.enumerated() {
            let value = scalar.value
            if value < 0x80 {
                if value == 0x1B {
                    throw unencodable(scalar, at: offset, in: setName, hint: "ESC is reserved for code extension escape sequences")
                }
                let isControlReset = value == 0x0A || value == 0x0D || value == 0x0C || value == 0x09
                let isDelimiter = (value == 0x5C && backslashDelimits) || (isPersonName && (value == 0x5E || value == 0x3D))
                if isControlReset || isDelimiter {
                    restoreInitialState()
                    output.append(UInt8(value))
                    segmentStart = output.count
                    g1UsedInSegment = false
                    continue
                }
                if g0.isDoubleByte { designate(configuration.initialG0.isDoubleByte ? .ascii : configuration.initialG0) }
                output.append(UInt8(value))
                continue
            }
            if let current = g1, let bytes = ISO2022Encoder.bytes(for: scalar, in: current) {
                output.append(contentsOf: bytes)
                g1UsedInSegment = true
                continue
            }
            if g0.isDoubleByte, let bytes = ISO2022Encoder.bytes(for: scalar, in: g0) {
                output.append(contentsOf: bytes)
                continue
            }
            for element in configuration.elements where element != g0 && element != g1 {
                guard let bytes = ISO2022Encoder.bytes(for: scalar, in: element) else { continue }
                if element == .ksX1001 && !g1UsedInSegment {
                    designate(element, insertingAt: segmentStart)
                } else {
                    designate(element)
                }
                output.append(contentsOf: bytes)
                continue scalars
            }
            throw unencodable(scalar, at: offset, in: setName)
        }
        restoreInitialState()
        return output
    }

    /// The bytes of a non-ASCII scalar in a code element, or nil when the element does not hold it.
    static func bytes(for scalar: Unicode.Scalar, in element: CodeElement) -> [UInt8]? {
        switch element {
        case .ascii, .jisRoman:
            return nil
        case .upperHalf(let code):
            guard let byte = SingleByteCodec.codec(for: code).upperByte(for: scalar), byte >= 0xA0 else { return nil }
            return [byte]
        case .jisX0208:
            guard let euc = IconvCodes.eucJPEncoder.encode(scalar), euc.count == 2, euc[0] >= 0xA1, euc[1] >= 0xA1 else { return nil }
            return [euc[0] & 0x7F, euc[1] & 0x7F]
        case .jisX0212:
            guard let euc = IconvCodes.eucJPEncoder.encode(scalar), euc.count == 3, euc[0] == 0x8F else { return nil }
            return [euc[1] & 0x7F, euc[2] & 0x7F]
        case .ksX1001:
            guard let euc = IconvCodes.eucKREncoder.encode(scalar), euc.count == 2, euc[0] >= 0xA1, euc[1] >= 0xA1 else { return nil }
            return euc
        case .gb2312:
            guard let euc = IconvCodes.eucCNEncoder.encode(scalar), euc.count == 2, euc[0] >= 0xA1, euc[1] >= 0xA1 else { return nil }
            return euc
        }
    }
}
