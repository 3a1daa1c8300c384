import Testing
@testable import DICOMCore

@Suite struct DictionaryTests {
    @Test func countAndOrder() {
        #expect(DataDictionary.count > 4_000)
        let all = DataDictionary.allEntries
        #expect(all.count == DataDictionary.count)
        // Strictly ascending tags, so no attribute is listed twice.
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.tag < $1.tag })
        let keywords = all.map(\.keyword).filter { !$0.isEmpty }
        #expect(Set(keywords).count == keywords.count)
        // The tag lookup (a switch giving a record offset) finds the same record as the iteration table.
        for entry in all {
            #expect(DataDictionary.entry(for: entry.tag) == entry, "\(entry)")
        }
    }

    @Test func patientName() throws {
        let entry = try #require(DataDictionary.entry(for: Tag(0x0010, 0x0010)))
        #expect(entry.tag == Tag(0x0010, 0x0010))
        #expect(entry.keyword == "PatientName")
        #expect(entry.name == "Patient's Name")
        #expect(entry.vrs == [.PN])
        #expect(entry.vr == .PN)
        #expect(entry.vm == "1")
        #expect(!entry.isRetired)
        #expect(!entry.hasAmbiguousVR)
        #expect(entry.description == "(0010,0010) PatientName PN 1")
    }

    @Test func ambiguousVRs() throws {
        let pixelData = try #require(DataDictionary.entry(for: Tag(0x7FE0, 0x0010)))
        #expect(pixelData.keyword == "PixelData")
        #expect(pixelData.vrs == [.OB, .OW])
        #expect(pixelData.vr == .OB)
        #expect(pixelData.vrText == "OB or OW")
        #expect(pixelData.hasAmbiguousVR)
        #expect(DataDictionary.entry(for: Tag(0x0028, 0x0106))?.vrs == [.US, .SS])
        #expect(DataDictionary.entry(for: Tag(0x0028, 0x1200))?.vrText == "US or SS or OW")
        #expect(DataDictionary.entry(for: Tag(0x0028, 0x3006))?.vrs == [.US, .OW])
    }

    @Test func retiredEntries() throws {
        let entry = try #require(DataDictionary.entry(for: Tag(0x0000, 0x0001)))
        #expect(entry.keyword == "CommandLengthToEnd")
        #expect(entry.vr == .UL)
        #expect(entry.isRetired)
        #expect(entry.description.hasSuffix("(retired)"))
        // A retired attribute the standard left without a keyword.
        let blank = try #require(DataDictionary.entry(for: Tag(0x0008, 0x0202)))
        #expect(blank.keyword.isEmpty)
        #expect(blank.isRetired)
    }

    @Test func itemAndDelimitationTagsHaveNoVR() throws {
        for (tag, keyword) in [(Tag.item, "Item"), (.itemDelimitationItem, "ItemDelimitationItem"),
                               (.sequenceDelimitationItem, "SequenceDelimitationItem")] {
            let entry = try #require(DataDictionary.entry(for: tag))
            #expect(entry.keyword == keyword)
            #expect(entry.vrs.isEmpty)
            #expect(entry.vr == .UN)
            #expect(entry.vrText == "NONE")
        }
        #expect(Tag.item == Tag(0xFFFE, 0xE000))
        #expect(Tag.itemDelimitationItem == Tag(0xFFFE, 0xE00D))
        #expect(Tag.sequenceDelimitationItem == Tag(0xFFFE, 0xE0DD))
    }

    @Test func repeatingGroups() throws {
        let overlay = try #require(DataDictionary.entry(for: Tag(0x6002, 0x3000)))
        #expect(overlay.tag == Tag(0x6002, 0x3000))
        #expect(overlay.keyword == "OverlayData")
        #expect(overlay.vrs == [.OB, .OW])
        #expect(!overlay.isRetired)
        let curve = try #require(DataDictionary.entry(for: Tag(0x5004, 0x0010)))
        #expect(curve.tag == Tag(0x5004, 0x0010))
        #expect(curve.keyword == "NumberOfPoints")
        #expect(curve.vr == .US)
        #expect(curve.isRetired)
        #expect(DataDictionary.entry(for: Tag(0x601E, 0x0010))?.keyword == "OverlayRows")
        #expect(DataDictionary.entry(for: Tag(0x7F02, 0x0010))?.keyword == "VariablePixelData")
        #expect(DataDictionary.entry(for: Tag(0x0020, 0x31A7))?.keyword == "SourceImageIDs")
        // Element-repeating patterns (1000,xxx0)…(1000,xxx5), (1010,xxxx), (0028,04x0).
        #expect(DataDictionary.entry(for: Tag(0x1000, 0x0120))?.keyword == "EscapeTriplet")
        #expect(DataDictionary.entry(for: Tag(0x1000, 0x0125))?.keyword == "ShiftTableTriplet")
        #expect(DataDictionary.entry(for: Tag(0x1010, 0x1234))?.keyword == "ZonalMap")
        #expect(DataDictionary.entry(for: Tag(0x0028, 0x0420))?.keyword == "RowsForNthOrderCoefficients")
        // The exact entry wins over a pattern that also matches: (0028,0400) is Transform Label.
        #expect(DataDictionary.entry(for: Tag(0x0028, 0x0400))?.keyword == "TransformLabel")
        // Element 0000 is a group length, never a repeating-group attribute.
        #expect(DataDictionary.entry(for: Tag(0x1000, 0x0000))?.keyword == "GroupLength")
        // Odd groups are private, not repeating groups.
        #expect(DataDictionary.entry(for: Tag(0x6001, 0x3000)) == nil)
        #expect(DataDictionary.entry(for: Tag(0x6000, 0x3001)) == nil)
    }

    @Test func groupLengthAndPrivateCreator() throws {
        let generic = try #require(DataDictionary.entry(for: Tag(0x0008, 0x0000)))
        #expect(generic.name == "Group Length")
        #expect(generic.vr == .UL)
        #expect(generic.tag == Tag(0x0008, 0x0000))
        #expect(DataDictionary.entry(for: Tag(0x0002, 0x0000))?.keyword == "FileMetaInformationGroupLength")
        #expect(DataDictionary.entry(for: Tag(0x0029, 0x0000))?.vr == .UL)

        let creator = try #require(DataDictionary.entry(for: Tag(0x0029, 0x0010)))
        #expect(creator.name == "Private Creator")
        #expect(creator.vr == .LO)
        #expect(DataDictionary.entry(for: Tag(0x0029, 0x00FF))?.vr == .LO)
        #expect(DataDictionary.entry(for: Tag(0x0029, 0x1010)) == nil)
        #expect(DataDictionary.entry(for: Tag(0x0029, 0x0100)) == nil)
        #expect(DataDictionary.entry(for: Tag(0x0029, 0x0005)) == nil)
    }

    @Test func unknownTags() {
        #expect(DataDictionary.entry(for: Tag(0x0010, 0x0011)) == nil)
        #expect(DataDictionary.entry(for: Tag(0x0014, 0x2009)) == nil)  // between two chunks' tags
        #expect(DataDictionary.entry(for: Tag(0xFFFF, 0xFFFF)) == nil)
        #expect(DataDictionary.entry(for: Tag(0x0000, 0x0004)) == nil)
    }

    @Test func keywordLookups() throws {
        #expect(DataDictionary.tag(forKeyword: "PatientName") == Tag(0x0010, 0x0010))
        #expect(DataDictionary.tag(forKeyword: "SOPInstanceUID") == Tag(0x0008, 0x0018))
        #expect(DataDictionary.tag(forKeyword: "PixelData") == Tag(0x7FE0, 0x0010))
        #expect(DataDictionary.tag(forKeyword: "OverlayData") == Tag(0x6000, 0x3000))
        #expect(DataDictionary.tag(forKeyword: "EscapeTriplet") == Tag(0x1000, 0x0010))
        #expect(DataDictionary.tag(forKeyword: "patientName") == nil)
        #expect(DataDictionary.tag(forKeyword: "NoSuchKeyword") == nil)
        #expect(DataDictionary.tag(forKeyword: "") == nil)
        #expect(DataDictionary.tag(forKeyword: "GroupLength") == nil)
        let entry = try #require(DataDictionary.entry(forKeyword: "StudyInstanceUID"))
        #expect(entry.tag == Tag(0x0020, 0x000D))
        #expect(entry.vr == .UI)
        // Every keyword leads back to its own entry.
        for entry in DataDictionary.allEntries where !entry.keyword.isEmpty {
            #expect(DataDictionary.tag(forKeyword: entry.keyword) == entry.tag, "\(entry)")
        }
    }

    @Test func tagConstants() {
        #expect(Tag.patientName == Tag(0x0010, 0x0010))
        #expect(Tag.sopInstanceUID == Tag(0x0008, 0x0018))
        #expect(Tag.sopClassUID == Tag(0x0008, 0x0016))
        #expect(Tag.specificCharacterSet == Tag(0x0008, 0x0005))
        #expect(Tag.pixelData == Tag(0x7FE0, 0x0010))
        #expect(Tag.transferSyntaxUID == Tag(0x0002, 0x0010))
        #expect(Tag.commandGroupLength == Tag(0x0000, 0x0000))
        #expect(Tag.commandLengthToEnd == Tag(0x0000, 0x0001))  // retired
        #expect(Tag.overlayData == Tag(0x6000, 0x3000))  // repeating group: first tag of the range
        #expect(Tag.iccProfile == Tag(0x0028, 0x2000))
        #expect(Tag.uid == Tag(0x0040, 0xA124))
        #expect(DataDictionary.entry(for: .patientBirthDate)?.keyword == "PatientBirthDate")
    }

    /// PS3.5 Annex A.1 and the rules table of `implicitVR(for:pixelRepresentation:)`.
    @Test func implicitVRRules() {
        // Unknown and private data elements.
        #expect(DataDictionary.implicitVR(for: Tag(0x0010, 0x0011)) == .UN)
        #expect(DataDictionary.implicitVR(for: Tag(0x0029, 0x1010)) == .UN)
        #expect(DataDictionary.implicitVR(for: Tag(0x0029, 0x0010)) == .LO)
        #expect(DataDictionary.implicitVR(for: Tag(0x0008, 0x0000)) == .UL)
        // No VR.
        #expect(DataDictionary.implicitVR(for: .item) == .UN)
        // OB or OW and friends: OW.
        #expect(DataDictionary.implicitVR(for: .pixelData) == .OW)
        #expect(DataDictionary.implicitVR(for: Tag(0x6000, 0x3000)) == .OW)
        #expect(DataDictionary.implicitVR(for: Tag(0x6004, 0x3000)) == .OW)
        #expect(DataDictionary.implicitVR(for: .waveformData) == .OW)
        #expect(DataDictionary.implicitVR(for: .lutData, pixelRepresentation: 1) == .OW)
        #expect(DataDictionary.implicitVR(for: .grayLookupTableData, pixelRepresentation: 1) == .OW)
        // US or SS by Pixel Representation.
        #expect(DataDictionary.implicitVR(for: .smallestImagePixelValue, pixelRepresentation: 1) == .SS)
        #expect(DataDictionary.implicitVR(for: .smallestImagePixelValue, pixelRepresentation: 0) == .US)
        #expect(DataDictionary.implicitVR(for: .smallestImagePixelValue) == .US)
        #expect(DataDictionary.implicitVR(for: .pixelPaddingValue, pixelRepresentation: 1) == .SS)
        // LUT descriptors stay US.
        #expect(DataDictionary.implicitVR(for: .lutDescriptor, pixelRepresentation: 1) == .US)
        #expect(DataDictionary.implicitVR(for: .redPaletteColorLookupTableDescriptor, pixelRepresentation: 1) == .US)
        // Unambiguous VRs are what the dictionary says, whatever Pixel Representation is.
        #expect(DataDictionary.implicitVR(for: .patientName, pixelRepresentation: 1) == .PN)
        #expect(DataDictionary.implicitVR(for: .pixelRepresentation, pixelRepresentation: 1) == .US)
        #expect(DataDictionary.implicitVR(for: Tag(0x0018, 0x9810), pixelRepresentation: 1) == .SS)

        // Whatever the rule, the result is one of the VRs the dictionary allows.
        for entry in DataDictionary.allEntries {
            for pixelRepresentation: UInt16? in [nil, 0, 1] {
                let vr = DataDictionary.implicitVR(for: entry.tag, pixelRepresentation: pixelRepresentation)
                #expect(entry.vrs.isEmpty ? vr == .UN : entry.vrs.contains(vr), "\(entry)")
            }
        }
    }
}
