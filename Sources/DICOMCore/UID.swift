/// Unique identifiers (PS3.5 §9.1).
public enum UID {
    /// Whether `uid` is a valid UID: 1 to 64 characters, components of digits separated by single dots,
    /// no component with a leading zero unless it is exactly "0" (PS3.5 §9.1).
    /// Use this before a UID touches a path or a query.
    public static func isValid(_ uid: String) -> Bool {
        let bytes = Array(uid.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        var componentStart = true
        var componentLeadingZero = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if componentStart { return false }
                componentStart = true
                componentLeadingZero = false
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                if componentLeadingZero { return false }
                if componentStart && byte == UInt8(ascii: "0") { componentLeadingZero = true }
                componentStart = false
            } else {
                return false
            }
        }
        return !componentStart
    }

    /// This toolkit's UID root: the UUID-derived root "2.25" (PS3.5 §B.2), followed by a decimal form of a random UUID.
    public static let root = "2.25"

    /// The Implementation Class UID written into File Meta Information and A-ASSOCIATE PDUs.
    public static let implementationClassUID = "2.25.200933547016447232126213898421066862857"
    /// The Implementation Version Name (at most 16 characters).
    public static let implementationVersionName = "SWIFTDICOM_01"

    /// A new UID under 2.25 from 128 random bits (PS3.5 §B.2), which fits within 64 characters.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return root + "." + decimalString(high: high, low: low)
    }

    /// The decimal representation of a 128-bit number given as two halves.
    static func decimalString(high: UInt64, low: UInt64) -> String {
        if high == 0 { return String(low) }
        var digits: [UInt8] = []
        var h = high, l = low
        while h != 0 || l != 0 {
            // Divide the 128-bit number (h:l) by 10.
            let (qh, rh) = h.quotientAndRemainder(dividingBy: 10)
            let (ql, rl) = (10 as UInt64).dividingFullWidth((rh, l))
            h = qh
            l = ql
            digits.append(UInt8(ascii: "0") + UInt8(rl))
        }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}
