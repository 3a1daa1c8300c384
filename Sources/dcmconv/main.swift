// dcmconv: transcodes DICOM files between transfer syntaxes (being built; see issue #6).
import Foundation
FileHandle.standardError.write(Data("dcmconv: not built yet\n".utf8))
exit(70)
