/// One attribute of the DICOM data dictionary (PS3.6 §6, Table 6-1; PS3.7 Annex E for the command group).
///
/// Entries come from ``DataDictionary``. For a repeating-group attribute such as Overlay Data (60xx,3000)
/// (PS3.5 §7.6), ``tag`` is the concrete tag that was looked up, for example (6002,3000).
public struct DictionaryEntry: Sendable, Hashable, CustomStringConvertible {
    /// The tag of the attribute; for repeating groups the tag that was looked up.
    public let tag: Tag
    /// The attribute's keyword, e.g. "PatientName"; empty for the few retired attributes the standard left unnamed.
    public let keyword: String
    /// The attribute's name as the standard prints it, e.g. "Patient's Name".
    public let name: String
    /// The value multiplicity as the standard writes it: "1", "2", "1-n", "2-2n", "3-3n"… (PS3.5 §6.4).
    public let vm: String
    /// Whether the standard has retired the attribute (PS3.6 "RET").
    public let isRetired: Bool
    /// Up to three VRs, 16 bits each, first VR in the low bits; 0 ends the list.
    @usableFromInline let packedVRs: UInt64

    /// The value representations the standard allows, the default first: `[.US, .SS]` for "US or SS",
    /// `[.OB, .OW]` for "OB or OW". Empty for Item, Item Delimitation Item and Sequence Delimitation Item
    /// (FFFE,E000/E00D/E0DD), which have no VR (PS3.5 §7.5).
    public var vrs: [VR] {
        var result: [VR] = []
        var packed = packedVRs
        while packed != 0, let vr = VR(rawValue: UInt16(truncatingIfNeeded: packed)) {
            result.append(vr)
            packed >>= 16
        }
        return result
    }

    /// The first (default) VR, or UN for the item and delimitation tags, which have none.
    /// For reading implicit VR data use ``DataDictionary/implicitVR(for:pixelRepresentation:)``, which resolves
    /// "US or SS" and "OB or OW".
    @inlinable public var vr: VR {
        VR(rawValue: UInt16(truncatingIfNeeded: packedVRs)) ?? .UN
    }

    /// Whether the standard allows more than one VR ("US or SS", "OB or OW", "US or SS or OW", "US or OW").
    @inlinable public var hasAmbiguousVR: Bool { packedVRs > 0xFFFF }

    /// The VRs as the standard writes them: "US or SS", or "NONE" when there is no VR.
    public var vrText: String {
        let list = vrs
        return list.isEmpty ? "NONE" : list.map(\.description).joined(separator: " or ")
    }

    /// `(0010,0010) PatientName PN 1`.
    public var description: String {
        "\(tag) \(keyword.isEmpty ? name : keyword) \(vrText) \(vm)\(isRetired ? " (retired)" : "")"
    }

    /// An entry from its parts; `packedVRs` holds up to three `VR.rawValue`s, 16 bits each, the first lowest.
    init(tag: Tag, keyword: String, name: String, vm: String, isRetired: Bool, packedVRs: UInt64) {
        self.tag = tag
        self.keyword = keyword
        self.name = name
        self.vm = vm
        self.isRetired = isRetired
        self.packedVRs = packedVRs
    }
}
