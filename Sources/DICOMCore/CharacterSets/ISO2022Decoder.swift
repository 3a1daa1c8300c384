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
                    output.append(contentsOf: replacementUTF8)
                }
                i += length
                continue
            }
            if byte < 0x20 || byte == 0x7F {
                output.append(byte)
                if byte == 0x0A || byte == 0x0D || byte == 0x0C || byte == 0x09 {
                    g0 = configuration.initialG0
                    g1 = configuration.initialG1
                }
                i += 1
                continue
            }
            if byte < 0x80 {
                if g0.isDoubleByte && byte != 0x20 {
                    var end = i
                    while end < count, input[end] >= 0x21, input[end] <= 0x7E { end += 1 }
                    decodeDoubleByteG0(UnsafeBufferPointer(rebasing: input[i..<end]), element: g0, into: &output)
                    i = end
                    continue
                }
                output.append(byte)
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
                SingleByteCodec.codec(for: code).appendUpper(byte, to: &output)
                i += 1
            case let element? where element.isDoubleByte:
                var end = i
                while end < count, input[end] >= 0xA1, input[end] <= 0xFE { end += 1 }
                if end == i {
                    output.append(contentsOf: replacementUTF8)
                    i += 1
                } else {
                    decodeDoubleByteG1(UnsafeBufferPointer(rebasing: input[i..<end]), element: element, into: &output)
                    i = end
                }
            default:
                output.append(contentsOf: replacementUTF8)
                i += 1
            }
        }
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

    /// JIS X 0208 or 0212 in GL: 7-bit byte pairs, converted through their EUC-JP form.
    private func decodeDoubleByteG0(_ run: UnsafeBufferPointer<UInt8>, element: CodeElement, into output: inout [UInt8]) {
        let pairs = run.count / 2
        let supplementary = element == .jisX0212
        var euc: [UInt8] = []
        euc.reserveCapacity(pairs * 3)
        for k in 0..<pairs {
            if supplementary { euc.append(0x8F) }
            euc.append(run[2 * k] | 0x80)
            euc.append(run[2 * k + 1] | 0x80)
        }
        euc.withUnsafeBufferPointer {
            IconvCodes.eucJPDecoder.decode($0, invalidSkip: supplementary ? 3 : 2, into: &output)
        }
        if run.count % 2 == 1 { output.append(contentsOf: replacementUTF8) }
    }

    /// KS X 1001 or GB 2312 in GR: byte pairs 0xA1–0xFE, which are their EUC-KR and EUC-CN forms.
    private func decodeDoubleByteG1(_ run: UnsafeBufferPointer<UInt8>, element: CodeElement, into output: inout [UInt8]) {
        let even = UnsafeBufferPointer(rebasing: run[0..<(run.count & ~1)])
        let pool = element == .ksX1001 ? IconvCodes.eucKRDecoder : IconvCodes.eucCNDecoder
        pool.decode(even, invalidSkip: 2, into: &output)
        if run.count % 2 == 1 { output.append(contentsOf: replacementUTF8) }
    }
}
