import DICOMCore
import Foundation

/// Short names for transfer syntaxes on the command line (`dcmconv --ts`, `dcmstore --store-as`).
public enum TransferSyntaxNames {
    public static let table: [(name: String, syntax: TransferSyntax)] = [
        ("explicit", .explicitVRLittleEndian),
        ("implicit", .implicitVRLittleEndian),
        ("big-endian", .explicitVRBigEndian),
        ("deflated", .deflatedExplicitVRLittleEndian),
        ("rle", .rleLossless),
        ("jpeg-baseline", .jpegBaseline),
        ("jpeg-extended", .jpegExtended),
        ("jpeg-lossless", .jpegLosslessSV1),
        ("jpeg-lossless-p14", .jpegLossless),
        ("jpeg-ls", .jpegLSLossless),
        ("jpeg-ls-near", .jpegLSNearLossless),
        ("j2k-lossless", .jpeg2000Lossless),
        ("j2k", .jpeg2000),
        ("htj2k-lossless", .htj2kLossless),
        ("htj2k", .htj2k),
    ]

    public static var names: [String] { table.map(\.name) }

    /// The syntax for a short name (case-insensitive) or a UID.
    public static func resolve(_ text: String) -> TransferSyntax? {
        let key = text.trimmingCharacters(in: .whitespaces)
        if let entry = table.first(where: { $0.name.caseInsensitiveCompare(key) == .orderedSame }) { return entry.syntax }
        return TransferSyntax(uid: key)
    }

    /// One line per name: name, UID, full name, lossy mark, and whether this build can write it.
    public static var helpText: String {
        table.map { entry in
            let writable = !entry.syntax.isEncapsulated || CodecRegistry.encoder(for: entry.syntax.uid) != nil
            let name = entry.name.padding(toLength: 18, withPad: " ", startingAt: 0)
            return "  \(name)\(entry.syntax.uid)  \(entry.syntax.name)\(entry.syntax.isLossy ? " *" : "")"
                + (writable ? "" : " (no encoder in this build)")
        }.joined(separator: "\n")
    }
}
