import DICOMArchive
import DICOMCore
import DICOMNetwork
import DICOMServices
import Foundation
import Testing
@testable import DICOMWorklist

/// The worklist applies the archive's organization rule (#7): an order belongs to the organization of its Scheduled
/// Station AE Title, and a caller sees only its organization's orders — by its authenticated user first, else its
/// calling AE title.
@Suite struct WorklistOrganizationTests {
    @Test func callersSeeOnlyTheirOrganizationsOrders() async throws {
        let store = try WorklistStoreTests.store()
        try store.addOrder(WorklistStoreTests.order("P1", "Иванов^Иван", station: "CT_A", scheduled: "2026-11-23T10:30"))
        try store.addOrder(WorklistStoreTests.order("P2", "Бекова^Айгүл", station: "CT_B", scheduled: "2026-11-23T11:00"))
        try store.addOrder(WorklistStoreTests.order("P3", "احمدی^علی", station: "MR_X", scheduled: "2026-11-23T12:00", modality: "MR"))
        let organizations = try Organizations(members: ["A": ["CT_A", "NODE_A"], "B": ["CT_B"]], users: ["B": ["dr.bekova"]])
        let handler = ModalityWorklistHandler(store: store, configuration: WorklistConfiguration(), organizations: organizations)
        func names(caller: String, user: String? = nil) async throws -> [String] {
            let context = RequestContext(callingAETitle: try AETitle(caller), calledAETitle: "WORKLIST",
                                         sopClassUID: WorklistSOPClass.modalityWorklistFind, userName: user)
            return try await handler.find(WorklistStoreTests.mwlIdentifier(), context: context).compactMap { $0.string(.patientName) }
        }
        #expect(try await names(caller: "CT_A") == ["Иванов^Иван"])
        #expect(try await names(caller: "NODE_A") == ["Иванов^Иван"])
        #expect(try await names(caller: "CT_B") == ["Бекова^Айгүл"])
        // Even asking for another organization's station by name gives nothing.
        let asked = try await handler.find(WorklistStoreTests.mwlIdentifier(station: "CT_B"),
                                           context: RequestContext(callingAETitle: "CT_A", calledAETitle: "WORKLIST",
                                                                   sopClassUID: WorklistSOPClass.modalityWorklistFind))
        #expect(asked.isEmpty)
        // The user decides before the AE title; an AE title in no organization sees the orders of stations in none.
        #expect(try await names(caller: "CT_A", user: "dr.bekova") == ["Бекова^Айгүл"])
        #expect(try await names(caller: "STRANGER") == ["احمدی^علی"])
        // Without organizations, everyone sees everything.
        let open = ModalityWorklistHandler(store: store, configuration: WorklistConfiguration())
        let all = try await open.find(WorklistStoreTests.mwlIdentifier(),
                                      context: RequestContext(callingAETitle: "CT_A", calledAETitle: "WORKLIST",
                                                              sopClassUID: WorklistSOPClass.modalityWorklistFind))
        #expect(all.count == 3)
    }
}
