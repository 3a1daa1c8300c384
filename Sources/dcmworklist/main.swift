// dcmworklist: patients, orders, Modality Worklist and MPPS (being built; see issue #5).
import Foundation
FileHandle.standardError.write(Data("dcmworklist: not built yet\n".utf8))
exit(70)
