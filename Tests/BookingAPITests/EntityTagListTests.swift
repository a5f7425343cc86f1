import Testing

@testable import BookingAPI

/// If-None-Match lists, weakly compared (RFC 9110, section 13.1.2).
@Suite struct EntityTagListTests {
    let tag = "\"58a32434-4bbc65\""

    @Test(arguments: ["*", "\"58a32434-4bbc65\"", "W/\"58a32434-4bbc65\"", "\"a\", \"58a32434-4bbc65\"", " \"b\" ,W/\"58a32434-4bbc65\"\t"])
    func namesTheTag(_ header: String) {
        #expect(EntityTagList(header).matches(tag))
    }

    @Test(arguments: ["", "\"58a32434-4bbc6\"", "58a32434-4bbc65", "\"a\", \"b\"", "w/\"58a32434-4bbc65\"", "**"])
    func doesNotNameTheTag(_ header: String) {
        #expect(!EntityTagList(header).matches(tag))
    }
}
