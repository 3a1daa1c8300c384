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
    /// When set, each caller sees only its organization's studies and those shared with it (``StudyAccess``).
    public var organizations: Organizations?
    /// The studies shared between organizations (read on every request; reloaded when the file changes).
    public var shares: StudyShares?

    public init(index: any ArchiveIndex, root: String, destinations: [AETitle: MoveDestination] = [:], caseInsensitiveNames: Bool = false,
                organizations: Organizations? = nil, shares: StudyShares? = nil) {
        self.index = index
        self.root = root
        self.destinations = destinations
        self.caseInsensitiveNames = caseInsensitiveNames
        self.organizations = organizations
        self.shares = shares
    }

    /// What the calling AE may see; nil when the archive has no organizations.
    func access(for context: RequestContext) throws -> StudyAccess? {
        guard let organizations else { return nil }
        let organization = organizations.organization(ofAETitle: context.callingAETitle.value)
        do {
            return StudyAccess(organizations: organizations, organization: organization,
                               sharedStudies: try shares?.sharedStudies(with: organization) ?? [])
        } catch {
            throw DIMSEFailure(.processingFailure, "cannot read the study shares: \(error)")
        }
    }

    func query(_ identifier: DataSet, _ context: RequestContext) throws -> IndexQuery {
        IndexQuery(identifier: identifier, patientRoot: QueryRetrieveModel.isPatientRoot(context.sopClassUID),
                   caseInsensitiveNames: caseInsensitiveNames, access: try access(for: context))
    }

    public func find(_ identifier: DataSet, context: RequestContext) async throws -> [DataSet] {
        try await index.find(try query(identifier, context))
    }

    public func instances(for identifier: DataSet, context: RequestContext) async throws -> [RetrievableInstance] {
        let records = try await index.instances(matching: try query(identifier, context))
        return records.map {
            RetrievableInstance(sopClassUID: $0.sopClassUID, sopInstanceUID: $0.sopInstanceUID, transferSyntaxUID: $0.transferSyntaxUID,
                                path: (root as NSString).appendingPathComponent($0.path))
        }
    }

    public func destination(for aeTitle: AETitle) async -> MoveDestination? { destinations[aeTitle] }
}
