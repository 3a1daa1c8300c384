// dcmrender: renders a frame to PNG or JPEG (being built; see issue #6).
import Foundation
FileHandle.standardError.write(Data("dcmrender: not built yet\n".utf8))
exit(70)
