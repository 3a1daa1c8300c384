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
    /// When set, every C-FIND, C-MOVE and C-GET is written to the audit trail (keys, caller, studies, count).
    public var audit: AuditTrail?

    public init(index: any ArchiveIndex, root: String, destinations: [AETitle: MoveDestination] = [:], caseInsensitiveNames: Bool = false,
                organizations: Organizations? = nil, shares: StudyShares? = nil) {
        self.index = index
        self.root = root
        self.destinations = destinations
        self.caseInsensitiveNames = caseInsensitiveNames
        self.organizations = organizations
        self.shares = shares
    }

    /// What the caller may see (by its authenticated user, else its calling AE title); nil when the archive has no organizations.
    func access(for context: RequestContext) throws -> StudyAccess? {
        guard let organizations else { return nil }
        let organization = organizations.organization(ofAETitle: context.callingAETitle.value, user: context.userName,
                                                      certificate: context.peerCertificateSHA256)
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
        do {
            let matches = try await index.find(try query(identifier, context))
            if audit != nil {
                record("query", identifier, context, count: matches.count,
                       studies: matches.compactMap { $0.string(IndexedAttribute.studyInstanceUID) }, status: .success)
            }
            return matches
        } catch let failure as DIMSEFailure {
            record("query", identifier, context, count: 0, studies: [], status: failure.status, reason: failure.comment)
            throw failure
        }
    }

    /// The matches encoded by the index itself when it can (``EncodingQueryIndex``, in Implicit or Explicit VR Little
    /// Endian): the same bytes as encoding ``find(_:context:)``'s answers, without building a data set per match.
    public func encodedMatches(_ identifier: DataSet, context: RequestContext, transferSyntax: TransferSyntax) async throws -> EncodedIdentifiers? {
        guard let encoding = index as? any EncodingQueryIndex,
              [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid].contains(transferSyntax.uid) else {
            return nil
        }
        do {
            let answer = try await encoding.findEncoded(try query(identifier, context), explicitVR: transferSyntax.isExplicitVR,
                                                        auditing: audit != nil)
            if audit != nil {
                record("query", identifier, context, count: answer.identifiers.count, studies: answer.studyInstanceUIDs, status: .success)
            }
            return answer.identifiers
        } catch let failure as DIMSEFailure {
            record("query", identifier, context, count: 0, studies: [], status: failure.status, reason: failure.comment)
            throw failure
        }
    }

    /// One audit line for a request (nothing without ``audit``).
    private func record(_ action: String, _ identifier: DataSet, _ context: RequestContext, count: Int, studies: [String],
                        status: DIMSEStatus, reason: String? = nil) {
        guard let audit else { return }
        let caller = context.callingAETitle.value
        var unique: [String] = []
        var seen: Set<String> = []
        for study in studies where seen.insert(study).inserted { unique.append(study) }
        audit.record(AuditEntry(time: Date(), action: action, level: identifier.string(.queryRetrieveLevel), count: count,
                                user: context.userName ?? "", host: AuditLog.hostName, reason: reason, aeTitle: caller,
                                organization: organizations?.organization(ofAETitle: caller, user: context.userName,
                                                                                         certificate: context.peerCertificateSHA256),
                                studies: unique,
                                keys: Self.describe(identifier), status: status.hexCode))
    }

    /// The keys of an identifier that carry a value, as `Keyword=value` ("PatientName=Иван* StudyDate=20240101-").
    static func describe(_ identifier: DataSet) -> String {
        var parts: [String] = []
        for element in identifier where element.tag != .queryRetrieveLevel && element.tag != .specificCharacterSet
            && element.tag.group != 0x0000 && element.tag.group != 0x0002 {
            guard let value = identifier.string(element.tag), !value.isEmpty else { continue }
            let name = DataDictionary.entry(for: element.tag)?.keyword ?? "\(element.tag)"
            parts.append("\(name)=\(value)")
        }
        return parts.joined(separator: " ")
    }

    public func instances(for identifier: DataSet, context: RequestContext) async throws -> [RetrievableInstance] {
        let records: [InstanceRecord]
        do {
            records = try await index.instances(matching: try query(identifier, context))
        } catch let failure as DIMSEFailure {
            record("retrieve", identifier, context, count: 0, studies: [], status: failure.status, reason: failure.comment)
            throw failure
        }
        record("retrieve", identifier, context, count: records.count, studies: records.map(\.studyInstanceUID), status: .success,
               reason: QueryRetrieveModel.moveModels.contains(context.sopClassUID) ? "C-MOVE" : "C-GET")
        return records.map {
            RetrievableInstance(sopClassUID: $0.sopClassUID, sopInstanceUID: $0.sopInstanceUID, transferSyntaxUID: $0.transferSyntaxUID,
                                path: (root as NSString).appendingPathComponent($0.path))
        }
    }

    public func destination(for aeTitle: AETitle) async -> MoveDestination? { destinations[aeTitle] }
}
