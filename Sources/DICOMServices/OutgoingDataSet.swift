import DICOMCodecs
import DICOMCore
import DICOMIO
import DICOMNetwork
import Foundation
import NIOCore

/// How a stored file goes through the presentation contexts a peer accepted: as stored when its transfer syntax was
/// accepted, re-encoded in another native syntax, or — for a compressed file the peer takes only uncompressed —
/// decompressed with the built-in codecs (DICOMCodecs' ``Transcoder``), as DCMTK's storescu does.
enum OutgoingDataSet {
    /// The syntaxes a file not accepted as it is may be converted to, in order of preference.
    static let conversionTargets: [TransferSyntax] = [.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian,
                                                      .deflatedExplicitVRLittleEndian]

    /// The accepted context for a data set of `sopClassUID` in `transferSyntax`: the exact one, else one in a syntax it
    /// can be converted to (a compressed one only when a decoder for it is built in). Nil when none fits.
    static func context(in negotiated: NegotiatedAssociation, sopClassUID: String,
                        transferSyntax: TransferSyntax) -> NegotiatedAssociation.AcceptedContext? {
        if let exact = negotiated.context(forAbstractSyntax: sopClassUID, transferSyntax: transferSyntax.uid) { return exact }
        for candidate in conversionTargets where Transcoder.canTranscode(from: transferSyntax, to: candidate) {
            if let context = negotiated.context(forAbstractSyntax: sopClassUID, transferSyntax: candidate.uid) { return context }
        }
        return nil
    }

    /// What to send for the Part 10 file at `path` in `target` when its own syntax was not accepted: a temporary file
    /// written frame by frame by ``StreamingConversion`` (returned as `temporaryFile`, for the caller to remove once
    /// sent), or — when the conversion does not stream, e.g. to Deflated Explicit VR Little Endian — the data set
    /// encoded in memory by ``encoded(fileAt:in:)``.
    /// - Throws: ``DICOMServiceError`` `invalidInput` naming the file and what failed.
    static func converted(fileAt path: String, in target: TransferSyntax,
                          temporaryDirectory: String) throws -> (source: Association.DataSetSource, temporaryFile: String?) {
        if let file = try StreamingConversion.convert(fileAt: path, to: target, temporaryDirectory: temporaryDirectory) {
            return (.file(path: file, offset: 0), file)
        }
        return (.buffer(ByteBuffer(bytes: try encoded(fileAt: path, in: target))), nil)
    }

    /// The data set of the Part 10 file at `path` encoded in `target`, its pixel data decompressed when the file is
    /// compressed and `target` is not.
    /// - Throws: ``DICOMServiceError`` `invalidInput` naming the file and what failed (unreadable, no codec, corrupt frame).
    static func encoded(fileAt path: String, in target: TransferSyntax) throws -> Data {
        do {
            let file = try DICOMFile(contentsOf: path)
            var dataSet = file.dataSet
            if file.transferSyntax.isEncapsulated && !target.isEncapsulated {
                dataSet = try Transcoder().transcode(dataSet, from: file.transferSyntax, to: target)
            }
            return try DataSetWriter.encode(dataSet, transferSyntax: target)
        } catch let error as CodecError {
            throw DICOMServiceError(.invalidInput, "\(path): cannot decompress to \(target.name): \(error)")
        } catch {
            throw DICOMServiceError(.invalidInput, "\(path): cannot encode in \(target.name): \(error)")
        }
    }
}
