import Booking
import Testing

@testable import BookingAPI

@Suite struct RouteTests {
    @Test(arguments: [
        ("/healthz", Route.health), ("/services", .services), ("/services/haircut", .service(id: "haircut")),
        ("/book", .book), ("/bookings/abc", .booking(id: "abc")), ("/services/Zoë's chair", .service(id: "Zoë's chair")),
        ("/bookings", .bookings), ("/bookings/abc/reschedule", .reschedule(bookingID: "abc")),
    ])
    func matchesEndpoints(_ path: String, _ route: Route) {
        #expect(Route(path: path) == route)
    }

    @Test(arguments: [
        "", "/", "/services/", "/services/a/b", "/book/", "/bookings/", "/bookings//reschedule", "/bookings/a/b/reschedule",
        "/bookings/a/reschedule/", "/healthz/x", "services", "/Services",
        "//services", "/servicesx", "/services/x/", "/bookings/a/b", "/books", "/healthz\u{0}", "/book\u{301}",
    ])
    func unknownPathsMatchNothing(_ path: String) {
        #expect(Route(path: path) == nil)
    }

    @Test func locationSegmentsArePercentEncoded() {
        #expect(Route.encodedSegment("t sp") == "t%20sp")
        #expect(Route.encodedSegment("a-Z_0.9~") == "a-Z_0.9~")
        #expect(Route.encodedSegment("é?#%") == "%C3%A9%3F%23%25")
    }

    @Test func eachEndpointHasItsOwnIndexAndName() {
        let routes: [Route] = [.health, .readiness, .services, .service(id: "a"), .book, .bookings, .booking(id: "b"), .reschedule(bookingID: "c")]
        #expect(routes.map(\.index) == Array(0..<Route.count), "in index order, each once")
        #expect(Set(routes.map(\.name)).count == Route.count)
        #expect(Route.service(id: "x").index == Route.service(id: "y").index, "whatever the id")
    }

    @Test func allowedMethodsIncludeHeadWhereverGetIs() {
        #expect(Route.services.allowedMethods == ["GET", "HEAD", "POST"])
        #expect(Route.book.allowedMethods == ["POST"])
        #expect(Route.service(id: "x").allowedMethods == ["GET", "HEAD", "PATCH", "DELETE"])
        #expect(Route.booking(id: "x").allowedMethods == ["GET", "HEAD", "DELETE"])
        #expect(Route.reschedule(bookingID: "x").allowedMethods == ["POST"])
    }

    @Test(arguments: [
        ("application/json", true), ("application/json; charset=utf-8", true), ("Application/JSON;charset=UTF-8", true),
        ("application/json ; charset=utf-8", true), ("text/plain", false), ("application/jsonp", false),
        ("application/x-www-form-urlencoded", false), ("", false),
    ])
    func recognisesJSONContentTypes(_ type: String, _ isJSON: Bool) {
        #expect(BookingResponder.isJSON(type) == isJSON)
    }

    @Test func comparesTokensExactly() {
        let token = Array("s3cret-token".utf8)
        #expect(constantTimeEqual(token, Array("s3cret-token".utf8)))
        #expect(!constantTimeEqual(token, Array("s3cret-tokeN".utf8)))
        #expect(!constantTimeEqual(token, Array("s3cret-token2".utf8)))
        #expect(!constantTimeEqual(token, Array("s3cret".utf8)))
        #expect(!constantTimeEqual(token, []))
    }
}
