/// The code elements a set of ISO 2022 terms designates, and the state each value starts in.
struct ISO2022Configuration: Sendable, Hashable {
    /// G0 at the start of each value and after each delimiter: from value 1 of (0008,0005), ASCII when empty.
    var initialG0: CodeElement
    /// G1 at the start of each value and after each delimiter, nil when value 1 designates none.
    var initialG1: CodeElement?
    /// Every element the terms designate, in the order of the terms (the encoder's order of preference).
    var elements: [CodeElement]

    init(terms: [DefinedTerm]) {
        var initialG0 = CodeElement.ascii
        var initialG1: CodeElement?
        var elements: [CodeElement] = [.ascii]
        for (index, term) in terms.enumerated() {
            guard case .iso2022(let g0, let g1) = term.form else { continue }
            if index == 0 {
                // A double-byte G0 set as value 1 is not allowed; delimiters need a single-byte G0.
                if let g0, !g0.isDoubleByte { initialG0 = g0 }
                // A double-byte G1 set as value 1 (e.g. "ISO 2022 IR 149" alone, common for Korean) is read
                // as active from the start, so EUC-KR text written without escape sequences still decodes.
                initialG1 = g1
            }
            for element in [g0, g1].compactMap({ $0 }) where !elements.contains(element) {
                elements.append(element)
            }
        }
        self.initialG0 = initialG0
        self.initialG1 = initialG1
        self.elements = elements
    }
}

/// Decodes text with ISO 2022 code extensions (PS3.5 §6.1.2.5).
///
/// Escape sequences designate code elements into G0 or G1. The state returns to the initial one
/// (`ISO2022Configuration`) at the start of the value, after each value delimiter (backslash, except in
/// LT, ST, UT and UR), after each CR, LF, FF and TAB, and for PN after each `^` and `=` (PS3.5 §6.1.2.5.3).
/// Delimiters are recognised only while G0 holds a single-byte set, since the second byte of a JIS X 0208
/// character may be 0x5C or 0x5E. Never fails: anything that does not decode becomes U+FFFD.
struct ISO2022Decoder {
    let configuration: ISO2022Configuration

    func decode(_ input: UnsafeBufferPointer<UInt8>, vr: VR) -> String {
        let backslashDelimits = !vr.isSingleValuedText
        let isPersonName = vr == .PN
        var output: [UInt8] = []
        output.reserveCapacity(input.count + input.count / 2)
        // Double-byte characters are collected in their EUC form (with the ASCII between them) and converted
        // in one iconv call per run of one EUC code, rather than one call per component.
        var pending: [UInt8] = []
        var pendingPool: IconvPool?
        func flush() {
            if let pool = pendingPool, !pending.isEmpty {
                pending.withUnsafeBufferPointer { pool.decode($0, invalidSkip: 0, into: &output) }
                pending.removeAll(keepingCapacity: true)
            }
            pendingPool = nil
        }
        func appendASCII(_ byte: UInt8) {
            if pendingPool != nil { pending.append(byte) } else { output.append(byte) }
        }
        func appendReplacement() {
            flush()
            output.append(contentsOf: replacementUTF8)
        }
        func switchPending(to pool: IconvPool) {
            if pendingPool !== pool {
                flush()
                pendingPool = pool
            }
        }

        var g0 = configuration.initialG0
        var g1 = configuration.initialG1
        let count = input.count
        var i = 0
        while i < count {
            let byte = input[i]
            if byte == 0x1B {
                let (element, length) = ISO2022Decoder.parseEscape(input, at: i)
                if let element {
                    if element.isG0 { g0 = element } else { g1 = element }
                } else {
                    appendReplacement()
                }
                i += length
                continue
            }
            if byte < 0x20 || byte == 0x7F {
                appendASCII(byte)
                if byte == 0x0A || byte == 0x0D || byte == 0x0C || byte == 0x09 {
                    g0 = configuration.initialG0
                    g1 = configuration.initialG1
                }
                i += 1
                continue
            }
            if byte < 0x80 {
                if g0.isDoubleByte && byte != 0x20 {
                    // JIS X 0208 or 0212 in GL: 7-bit pairs, in EUC-JP form with the high bits set.
                    var end = i
                    while end < count, input[end] >= 0x21, input[end] <= 0x7E { end += 1 }
                    switchPending(to: IconvCodes.eucJPDecoder)
                    var k = i
                    while k + 1 < end {
                        if g0 == .jisX0212 { pending.append(0x8F) }
                        pending.append(input[k] | 0x80)
                        pending.append(input[k + 1] | 0x80)
                        k += 2
                    }
                    if k < end { appendReplacement() }
                    i = end
                    continue
                }
                appendASCII(byte)
                if (byte == 0x5C && backslashDelimits) || (isPersonName && (byte == 0x5E || byte == 0x3D)) {
                    g0 = configuration.initialG0
                    g1 = configuration.initialG1
                }
                i += 1
                continue
            }
            // GR: bytes 0x80–0xFF, interpreted by G1.
            switch g1 {
            case .upperHalf(let code)?:
                flush()
                SingleByteCodec.codec(for: code).appendUpper(byte, to: &output)
                i += 1
            case let element? where element.isDoubleByte:
                // KS X 1001 or GB 2312 in GR: pairs 0xA1–0xFE, which are their EUC-KR and EUC-CN forms.
                var end = i
                while end < count, input[end] >= 0xA1, input[end] <= 0xFE { end += 1 }
                if end == i {
                    appendReplacement()
                    i += 1
                    continue
                }
                switchPending(to: element == .ksX1001 ? IconvCodes.eucKRDecoder : IconvCodes.eucCNDecoder)
                let evenEnd = end - (end - i) % 2
                pending.append(contentsOf: UnsafeBufferPointer(rebasing: input[i..<evenEnd]))
                if evenEnd < end { appendReplacement() }
                i = end
            default:
                appendReplacement()
                i += 1
            }
        }
        flush()
        return String(decoding: output, as: UTF8.self)
    }

    /// The element an escape sequence at `start` designates (nil when unknown or malformed) and its length.
    /// An escape sequence is ESC, intermediate bytes 0x20–0x2F, and a final byte 0x30–0x7E (ISO 2022 §13.1).
    /// A malformed one (no final byte) is taken to be the ESC alone.
    static func parseEscape(_ input: UnsafeBufferPointer<UInt8>, at start: Int) -> (CodeElement?, Int) {
        var end = start + 1
        while end < input.count, input[end] >= 0x20, input[end] <= 0x2F, end - start <= 3 { end += 1 }
        guard end < input.count, input[end] >= 0x30, input[end] <= 0x7E, end > start + 1 else { return (nil, 1) }
        let sequence = input[(start + 1)...end]
        return (CodeElement.designated(by: ArraySlice(sequence)), end + 1 - start)
    }
}
