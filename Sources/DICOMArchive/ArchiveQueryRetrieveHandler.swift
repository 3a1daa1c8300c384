import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation

/// Serves C-FIND, C-MOVE and C-GET from an ``ArchiveIndex``: queries go to the index, retrieves send the stored files,
/// and C-MOVE destinations come from the configuration (AE title → host, port, TLS).
public struct ArchiveQueryRetrieveHandler: QueryHandler, RetrieveHandler {
    public let index: any ArchiveIndex
    /// The archive root the index's relative file paths start from.
    public let root: String
    /// C-MOVE destinations by AE title.
    public var destinations: [AETitle: MoveDestination]
    /// Match Person Name attributes ignoring case.
    public var caseInsensitiveNames: Bool

    public init(index: any ArchiveIndex, root: String, destinations: [AETitle: MoveDestination] = [:], caseInsensitiveNames: Bool = false) {
        self.index = index
        self.root = root
        self.destinations = destinations
        self.caseInsensitiveNames = caseInsensitiveNames
    }

    public func find(_ identifier: DataSet, context: RequestContext) async throws -> [DataSet] {
        try await index.find(IndexQuery(identifier: identifier, patientRoot: QueryRetrieveModel.isPatientRoot(context.sopClassUID),
                                        caseInsensitiveNames: caseInsensitiveNames))
    }

    public func instances(for identifier: DataSet, context: RequestContext) async throws -> [RetrievableInstance] {
        let records = try await index.instances(matching: IndexQuery(identifier: identifier,
                                                                     patientRoot: QueryRetrieveModel.isPatientRoot(context.sopClassUID),
                                                                     caseInsensitiveNames: caseInsensitiveNames))
        return records.map {
            RetrievableInstance(sopClassUID: $0.sopClassUID, sopInstanceUID: $0.sopInstanceUID, transferSyntaxUID: $0.transferSyntaxUID,
                                path: (root as NSString).appendingPathComponent($0.path))
        }
    }

    public func destination(for aeTitle: AETitle) async -> MoveDestination? { destinations[aeTitle] }
}
