import Testing
@testable import DICOMCore

@Suite struct UIDRegistryTests {
    @Test func transferSyntax() throws {
        let entry = try #require(UIDRegistry.entry(for: "1.2.840.10008.1.2.1"))
        #expect(entry.uid == "1.2.840.10008.1.2.1")
        #expect(entry.name == "Explicit VR Little Endian")
        #expect(entry.keyword == "ExplicitVRLittleEndian")
        #expect(entry.type == "Transfer Syntax")
        #expect(!entry.isRetired)
        #expect(UIDRegistry.entry(for: "1.2.840.10008.1.2.1\0") == entry)  // padded to even length
        let bigEndian = try #require(UIDRegistry.entry(for: "1.2.840.10008.1.2.2"))
        #expect(bigEndian.isRetired)
    }

    @Test func sopClassesAndInstances() throws {
        let ct = try #require(UIDRegistry.entry(for: "1.2.840.10008.5.1.4.1.1.2"))
        #expect(ct.name == "CT Image Storage")
        #expect(ct.keyword == "CTImageStorage")
        #expect(ct.type == "SOP Class")
        #expect(UIDRegistry.entry(for: "1.2.840.10008.1.1")?.name == "Verification SOP Class")
        #expect(UIDRegistry.entry(for: "1.2.840.10008.1.20.1.1")?.type == "Well-known SOP Instance")
        #expect(UIDRegistry.entry(for: "1.2.840.10008.3.1.1.1")?.type == "Application Context Name")
    }

    @Test func unknownUIDs() {
        #expect(UIDRegistry.entry(for: "1.2.3.4") == nil)
        #expect(UIDRegistry.entry(for: "") == nil)
        #expect(UIDRegistry.entry(for: "1.2.840.10008.1.2.1 ") == nil)
        #expect(UIDRegistry.entry(for: "\0") == nil)
    }

    @Test func allEntriesAndTypes() {
        let all = UIDRegistry.allEntries
        #expect(all.count > 400)
        #expect(Set(all.map(\.uid)).count == all.count)
        let transferSyntaxes = UIDRegistry.entries(ofType: "Transfer Syntax")
        #expect(transferSyntaxes.count > 30)
        #expect(transferSyntaxes.allSatisfy { $0.type == "Transfer Syntax" })
        #expect(transferSyntaxes.contains { $0.uid == "1.2.840.10008.1.2" && $0.name == "Implicit VR Little Endian" })
        #expect(UIDRegistry.entries(ofType: "No Such Type").isEmpty)
        #expect(UIDRegistry.entries(ofType: "SOP Class").count > 200)
    }

    @Test func storageSOPClasses() {
        let storage = UIDRegistry.storageSOPClasses
        let uids = Set(storage.map(\.uid))
        #expect(storage.count > 150)
        #expect(storage.allSatisfy { $0.type == "SOP Class" })
        #expect(uids.contains("1.2.840.10008.5.1.4.1.1.2"))      // CT Image Storage
        #expect(uids.contains("1.2.840.10008.5.1.4.1.1.4"))      // MR Image Storage
        #expect(uids.contains("1.2.840.10008.5.1.4.1.1.1.1"))    // Digital X-Ray Image Storage - For Presentation
        #expect(uids.contains("1.2.840.10008.5.1.4.1.1.88.11"))  // Basic Text SR Storage
        #expect(!uids.contains("1.2.840.10008.1.1"))             // Verification SOP Class
        #expect(!uids.contains("1.2.840.10008.1.20.1"))          // Storage Commitment Push Model SOP Class
        #expect(!uids.contains("1.2.840.10008.5.1.4.1.2.2.1"))   // Study Root Q/R Find
    }
}
