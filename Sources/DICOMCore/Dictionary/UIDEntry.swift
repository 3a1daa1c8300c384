/// One entry of the registry of DICOM unique identifiers (PS3.6 Annex A, Table A-1; PS3.6 Table A-2 for the
/// well-known frames of reference).
public struct UIDEntry: Sendable, Hashable, CustomStringConvertible {
    /// The UID, e.g. "1.2.840.10008.1.2.1".
    public let uid: String
    /// Its name, e.g. "Explicit VR Little Endian" (empty for a few retired UIDs the standard left unnamed).
    public let name: String
    /// Its keyword, e.g. "ExplicitVRLittleEndian" (may be empty, as for `name`).
    public let keyword: String
    /// Its type as PS3.6 writes it: "Transfer Syntax", "SOP Class", "Meta SOP Class", "Well-known SOP Instance",
    /// "Well-known frame of reference", "Coding Scheme", "Application Context Name", "LDAP OID"…
    public let type: String
    /// Whether the standard has retired the UID.
    public let isRetired: Bool

    public init(_ uid: String, _ name: String, _ keyword: String, _ type: String, _ isRetired: Bool) {
        self.uid = uid
        self.name = name
        self.keyword = keyword
        self.type = type
        self.isRetired = isRetired
    }

    /// `1.2.840.10008.1.2.1 Explicit VR Little Endian (Transfer Syntax)`.
    public var description: String {
        "\(uid) \(name) (\(type)\(isRetired ? ", retired" : ""))"
    }
}
