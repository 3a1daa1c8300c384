import Testing
@testable import DICOMCore

@Suite struct TagTests {
    @Test func groupAndElement() {
        let tag = Tag(0x0010, 0x0010)
        #expect(tag.group == 0x0010)
        #expect(tag.element == 0x0010)
        #expect(tag.rawValue == 0x0010_0010)
        #expect(tag.description == "(0010,0010)")
    }

    @Test func parsing() {
        #expect(Tag(parsing: "(7FE0,0010)") == Tag(0x7FE0, 0x0010))
        #expect(Tag(parsing: "0008,0005") == Tag(0x0008, 0x0005))
        #expect(Tag(parsing: "00080005") == Tag(0x0008, 0x0005))
        #expect(Tag(parsing: "0008,005") == nil)
        #expect(Tag(parsing: "zzzz,0005") == nil)
    }

    @Test func privateTags() {
        #expect(Tag(0x0029, 0x0010).isPrivateCreator)
        #expect(Tag(0x0029, 0x1010).privateCreatorTag == Tag(0x0029, 0x0010))
        #expect(Tag(0x0010, 0x1010).privateCreatorTag == nil)
    }

    @Test func ordering() {
        #expect(Tag(0x0008, 0xFFFF) < Tag(0x0010, 0x0000))
    }
}
