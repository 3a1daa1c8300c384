import Testing
@testable import DICOMNetwork

@Suite struct AETitleTests {
    @Test func validTitles() throws {
        #expect(try AETitle("STORESCP").value == "STORESCP")
        #expect(try AETitle("  PACS 1  ").value == "PACS 1")  // leading and trailing spaces not significant
        #expect(try AETitle("ABCDEFGHIJKLMNOP").paddedBytes == ascii("ABCDEFGHIJKLMNOP"))
        #expect(try AETitle("A").paddedBytes == ascii("A               "))
    }

    /// `AETitle("literal")` is literal coercion (SE-0213) and traps on an invalid literal, so the invalid
    /// titles go through a `String` value, as user input does.
    static func title(_ text: String) throws -> AETitle { try AETitle(text) }

    @Test func invalidTitles() {
        #expect(networkError { _ = try Self.title("") }?.code == .invalidAETitle)
        #expect(networkError { _ = try Self.title("                ") }?.code == .invalidAETitle)
        #expect(networkError { _ = try Self.title("ABCDEFGHIJKLMNOPQ") }?.message.contains("17 characters") == true)
        #expect(networkError { _ = try Self.title("BACK\\SLASH") }?.code == .invalidAETitle)
        #expect(networkError { _ = try Self.title("TAB\tX") }?.code == .invalidAETitle)
        #expect(networkError { _ = try Self.title("ÄRZTE") }?.code == .invalidAETitle)
    }
}
