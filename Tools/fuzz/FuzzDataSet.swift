// libFuzzer harness for the Part 10 file reader and the bare data set reader (DICOMIO). See README.md.
import DICOMCore
import Foundation

/// Limits small enough that a fuzzer input cannot ask for gigabytes, as a server would configure them.
func fuzzOptions(_ base: ReadOptions, strict: Bool) -> ReadOptions {
    var options = base
    options.maximumInflatedSize = 16 << 20
    if strict { options.tolerated = .none }
    return options
}

/// Decodes every text value the way the server does for C-FIND identifiers: with the Specific Character Set of
/// the data set (inherited by sequence items), values split, person names parsed, numbers converted.
func touchValues(_ dataSet: DataSet, depth: Int = 0) {
    _ = dataSet.characterSet
    for element in dataSet {
        switch element.value {
        case .sequence(let items):
            for item in items { touchValues(item, depth: depth + 1) }
        case .bytes(let data):
            let vr = element.vr
            if vr.isString {
                _ = dataSet.text(element.tag)
                _ = dataSet.strings(element.tag)
            }
            switch vr {
            case .PN: _ = dataSet.characterSet.decodePersonNames(data)
            case .IS, .DS, .US, .SS, .UL, .SL, .FL, .FD: _ = dataSet.integers(element.tag); _ = dataSet.doubles(element.tag)
            case .AT: _ = dataSet.tags(element.tag)
            default: break
            }
        case .encapsulated:
            break
        }
    }
}

/// Re-encodes what parsed and, when `readBack` is set, checks that the encoding parses again.
func roundTrip(_ dataSet: DataSet, _ syntax: TransferSyntax, readBack: Bool) {
    guard let encoded = try? DataSetWriter.encode(dataSet, transferSyntax: syntax) else { return }
    guard readBack else { return }
    do {
        let bytes = syntax.isDeflated ? try Deflate.inflate(encoded) : encoded
        _ = try DataSetReader.read(bytes, transferSyntax: syntax.isDeflated ? .explicitVRLittleEndian : syntax)
    } catch {
        preconditionFailure("re-encoded data set does not read back in \(syntax.name): \(error)")
    }
}

/// The first byte picks the entry point: the Part 10 reader (full or metadata only), the bare reader in implicit
/// VR little endian, explicit VR little or big endian, or deflated; bit 7 reads with no tolerated defects.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 1 else { return 0 }
    let mode = start[0] & 0x7F, strict = start[0] & 0x80 != 0
    let data = Data(bytes: start + 1, count: count - 1)
    switch mode % 6 {
    case 0, 1:
        let options = fuzzOptions(mode % 6 == 0 ? ReadOptions() : .metadataOnly, strict: strict)
        guard let file = try? DICOMFile(data: data, options: options) else { return 0 }
        touchValues(file.fileMetaInformation)
        touchValues(file.dataSet)
        if let encoded = try? file.encoded() {
            // Explicit VR and deflated files written by us must read back; others (an unknown transfer syntax read
            // as explicit VR, implicit VR with odd tags) are only re-encoded.
            let syntax = file.transferSyntax
            if syntax == .explicitVRLittleEndian || syntax == .deflatedExplicitVRLittleEndian {
                do { _ = try DICOMFile(data: encoded) } catch {
                    preconditionFailure("re-encoded file does not read back (\(syntax.name)): \(error)")
                }
            }
        }
    case 2, 3, 4:
        let syntax: TransferSyntax = [.implicitVRLittleEndian, .explicitVRLittleEndian, .explicitVRBigEndian][Int(mode % 6) - 2]
        guard let dataSet = try? DataSetReader.read(data, transferSyntax: syntax, options: fuzzOptions(ReadOptions(), strict: strict))
        else { return 0 }
        touchValues(dataSet)
        roundTrip(dataSet, syntax, readBack: syntax.isExplicitVR)
    default:
        let options = fuzzOptions(ReadOptions(), strict: strict)
        guard let inflated = try? Deflate.inflate(data, maximumSize: options.maximumInflatedSize),
              let dataSet = try? DataSetReader.read(inflated, transferSyntax: .explicitVRLittleEndian, options: options)
        else { return 0 }
        touchValues(dataSet)
        roundTrip(dataSet, .deflatedExplicitVRLittleEndian, readBack: true)
    }
    return 0
}
