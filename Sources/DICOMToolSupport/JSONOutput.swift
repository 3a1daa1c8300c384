import DICOMCore
import DICOMJSON
import Foundation

/// DICOM JSON output for the tools.
public enum JSONOutput {
    /// One data set as an object when `single`, otherwise an array of objects. Binary values are inline (base64).
    public static func encode(_ dataSets: [DataSet], single: Bool, pretty: Bool = true) throws -> Data {
        let encoder = DICOMJSONEncoder(options: .init(prettyPrinted: pretty, bulkDataThreshold: Int.max))
        if single, let only = dataSets.first, dataSets.count == 1 { return try encoder.encode(only) }
        return try encoder.encode(dataSets)
    }
}
