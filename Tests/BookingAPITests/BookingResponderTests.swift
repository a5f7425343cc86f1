import Booking
import BookingApplication
import FastCGI
import Gzip
import JSON
import Logging
import ReadModel
import StoreConfiguration
import TestSupport
import Testing

@testable import BookingAPI

#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP mapping of the API, in process, on the application as the server composes it, over
/// the in-memory store with hand-stepped clocks (2030, before every slot the tests book).
@Suite struct BookingResponderTests {
    let app = TestApplication()
    var responder: BookingResponder { app.responder }
    let serviceID = "api-\(UInt32.random(in: 0...UInt32.max))"

    func send(
        _ method: String, _ path: String, json: String? = nil, contentType: String? = "application/json",
        headers: [String: String] = [:]
    ) -> Response {
        app.send(method, path, json: json, contentType: contentType, headers: headers)
    }

    func createService(
        id: String? = nil, name: String = "Room", slots: [String] = ["2031-05-01T09:00:00Z", "2031-05-01T10:00:00Z"],
        to app: TestApplication? = nil
    ) -> Response {
        let body = JSON.object([
            "service_id": .string(id ?? serviceID), "service_name": .string(name), "available_slots": .array(slots.map(JSON.string)),
        ])
        return (app ?? self.app).send("POST", "/services", json: body.text, headers: ["authorization": "Bearer admin"])
    }

    /// The code of an error response, which must have the one error shape.
    func errorCode(_ response: Response) throws -> String? {
        let code = TestSupport.errorCode(of: response)
        if code == nil { Issue.record("not the error shape: \(String(decoding: response.body, as: UTF8.self))") }
        return code
    }

    @Test func creatingAServiceNeedsTheAdminToken() throws {
        let body = #"{"service_name": "X", "available_slots": []}"#
        let missing = send("POST", "/services", json: body)
        #expect(missing.status == 401)
        #expect(missing.header("WWW-Authenticate") == "Bearer")
        #expect(try errorCode(missing) == "unauthorized")
        #expect(send("POST", "/services", json: body, headers: ["authorization": "Bearer wrong"]).status == 401)
        #expect(send("POST", "/services", json: body, headers: ["authorization": "Basic admin"]).status == 401)
        let created = createService()
        #expect(created.status == 201)
        #expect(created.header("Location") == "/services/\(serviceID)")
        #expect(createService().status == 409)
    }

    @Test func bookingRespondsWithTheBookingAndItsLocation() throws {
        #expect(createService().status == 201)
        let response = send(
            "POST", "/book", json: #"{"service_id": "\#(serviceID)", "slot": "2031-05-01T11:00:00+02:00", "user_name": "Ann", "extra": 1}"#)
        #expect(response.status == 201)
        let booking = try JSONParser.parse(response.body)
        #expect(booking["slot"] == .string("2031-05-01T09:00:00Z"))
        #expect(booking["user_name"] == .string("Ann"))
        #expect(
            booking.objectValue.map { Set($0.keys) } == [
                "booking_id", "service_id", "slot", "user_name", "timestamp", "status", "manage_token", "confirmation_email_queued",
            ])
        #expect(booking["status"] == .string("confirmed"))
        #expect(booking["confirmation_email_queued"] == .bool(false), "no mail server here")
        let id = booking["booking_id"]?.stringValue ?? ""
        #expect(response.header("Location") == "/bookings/\(id)")
        var shown = booking.objectValue ?? [:]
        shown["manage_token"] = nil
        shown["confirmation_email_queued"] = nil
        #expect(try JSONParser.parse(send("GET", "/bookings/\(id)").body) == .object(shown), "the token only in the booking's answer")
        let again = send("POST", "/book", json: #"{"service_id": "\#(serviceID)", "slot": "2031-05-01T09:00:00Z", "user_name": "Bob"}"#)
        #expect(again.status == 409)
        #expect(try errorCode(again) == "slot_taken")
    }

    @Test(arguments: [
        ("{", 400, "invalid_json"), ("[]", 400, "invalid_request"), (#"{"service_id": 1, "slot": "x", "user_name": "A"}"#, 400, "invalid_request"),
        (#"{"slot": "2031-05-01T09:00:00Z", "user_name": "A"}"#, 400, "invalid_request"),
        (#"{"service_id": "SERVICE", "slot": "soon", "user_name": "A"}"#, 422, "invalid_slot"),
        (#"{"service_id": "SERVICE", "slot": "2031-05-01T09:30:00Z", "user_name": "A"}"#, 422, "slot_not_offered"),
        (#"{"service_id": "SERVICE", "slot": "2031-05-01T09:00:00Z", "user_name": "  "}"#, 422, "invalid_field"),
        (#"{"service_id": "missing-SERVICE", "slot": "2031-05-01T09:00:00Z", "user_name": "A"}"#, 404, "service_not_found"),
    ])
    func badBookingsGetClearErrors(_ body: String, _ status: Int, _ code: String) throws {
        #expect(createService().status == 201)
        let response = send("POST", "/book", json: body.replacing("SERVICE", with: serviceID))
        #expect(response.status == status)
        #expect(try errorCode(response) == code)
        #expect(send("GET", "/services/\(serviceID)").body.count > 0)
        let service = try JSONParser.parse(send("GET", "/services/\(serviceID)").body)
        #expect(service["available_slots"]?.arrayValue?.count == 2, "nothing was booked")
    }

    @Test func bodiesMustBeJSONAndSmall() throws {
        let wrongType = send("POST", "/book", json: "service_id=x", contentType: "application/x-www-form-urlencoded")
        #expect(wrongType.status == 415)
        #expect(try errorCode(wrongType) == "unsupported_media_type")
        let tooLarge = responder.respond(
            to: Request(method: "POST", path: "/book", contentType: "application/json", body: .tooLarge(declaredLength: 5000)))
        #expect(tooLarge.status == 413)
        #expect(try errorCode(tooLarge) == "payload_too_large")
    }

    @Test func unknownPathsAndWrongMethodsAreJSONErrors() throws {
        let unknown = send("GET", "/nothing-here")
        #expect(unknown.status == 404)
        #expect(try errorCode(unknown) == "not_found")
        let wrongMethod = send("DELETE", "/services")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.header("Allow") == "GET, HEAD, POST")
        #expect(try errorCode(wrongMethod) == "method_not_allowed")
        #expect(send("GET", "/book").header("Allow") == "POST")
        #expect(try errorCode(send("GET", "/services/no-such-\(serviceID)")) == "service_not_found")
        #expect(try errorCode(send("GET", "/bookings/no-such-\(serviceID)")) == "booking_not_found")
    }

    @Test func availabilityIsGzippedForClientsThatAcceptIt() throws {
        let slots = (0..<60).map { "2031-06-01T09:\($0 < 10 ? "0" : "")\($0):00Z" }
        #expect(createService(name: "Hall", slots: slots).status == 201)
        let plain = send("GET", "/services/\(serviceID)")
        #expect(plain.status == 200 && plain.body.count >= 1024)
        #expect(plain.header("Content-Encoding") == nil && plain.header("Vary") == "Accept-Encoding")
        let gzipped = send("GET", "/services/\(serviceID)", headers: ["accept-encoding": "br, gzip, deflate"])
        #expect(gzipped.header("Content-Encoding") == "gzip" && gzipped.header("Vary") == "Accept-Encoding")
        #expect(gzipped.body == Gzip.compress(plain.body))
        let refused = send("GET", "/services/\(serviceID)", headers: ["accept-encoding": "gzip;q=0, *"])
        #expect(refused.header("Content-Encoding") == nil && refused.body == plain.body)
        #expect(createService().status == 409, "the service exists")
        let small = send("GET", "/services/no-such-\(serviceID)", headers: ["accept-encoding": "gzip"])
        #expect(small.header("Content-Encoding") == nil, "an error body is never compressed")
    }

    @Test func aLargeBodyGoesAsItsFileToClientsWithoutGzip() throws {
        let directory = uniqueFolder("responder-bodies")
        let app = TestApplication(settings: Application.Settings(readModel: ReadModel.Settings(largeBodyDirectory: directory), adminToken: "admin"))
        try app.application.readModel.prepareFolders()
        defer { removeFolder(directory) }
        let two = { (number: Int) in number < 10 ? "0\(number)" : "\(number)" }
        let slots = (0..<3000).map { "2032-01-\(two($0 / 1440 + 1))T\(two($0 % 1440 / 60)):\(two($0 % 60)):00Z" }  // 3,000 minutes
        let ids = (0..<4).map { "\(serviceID)-\($0)" }
        for id in ids { #expect(createService(id: id, name: "Large", slots: slots, to: app).status == 201) }
        let read = { (headers: [String: String]) in app.send("GET", "/services", headers: headers) }

        let gzipped = read(["accept-encoding": "gzip"])
        #expect(gzipped.header("X-Accel-Redirect") == nil && gzipped.header("Content-Encoding") == "gzip")
        let firstRead = read([:])
        #expect(firstRead.header("X-Accel-Redirect") == nil && firstRead.body.count >= 256 * 1024, "through FastCGI")
        let plain = read([:])
        let uri = try #require(plain.header("X-Accel-Redirect"))
        #expect(plain.status == 200 && plain.body.isEmpty && uri.hasPrefix("/_large/booking-body-"))
        #expect(plain.header("Content-Type") == "application/json; charset=utf-8" && plain.header("Cache-Control") == "no-cache")
        let body = { (uri: String) in contentsOfFile(directory + "/" + uri.dropFirst("/_large/".count)) ?? [] }
        #expect(body(uri).count >= 256 * 1024 && Gzip.compress(body(uri)) == gzipped.body)
        // The tag nginx gives the file (its modification time and size) is the workers' tag of the body.
        var status = stat()
        #expect(stat(directory + "/" + uri.dropFirst("/_large/".count), &status) == 0)
        let nginxTag = "\"\(String(status.st_mtim.tv_sec, radix: 16))-\(String(status.st_size, radix: 16))\""
        for precondition in ["if-match", "if-modified-since", "if-unmodified-since"] {
            let answered = read([precondition: "*"])  // nginx would evaluate it for the file; the workers send the body
            #expect(answered.header("X-Accel-Redirect") == nil && answered.body == body(uri), "\(precondition)")
            #expect(answered.header("ETag") == nginxTag)
        }
        for tags in ["*", nginxTag, "W/\(nginxTag)", "\"other\", \(nginxTag)"] {
            let answered = read(["if-none-match": tags])
            #expect(answered.status == 304 && answered.body.isEmpty && answered.header("ETag") == nginxTag, "\(tags)")
        }
        #expect(read(["if-none-match": "\"other\""]).status == 200)
        #expect(read(["if-none-match": gzipped.header("ETag") ?? "none", "accept-encoding": "gzip"]).status == 304)
        #expect(gzipped.header("ETag") != nginxTag, "each form has its own tag")

        let booked = app.send("POST", "/book", json: #"{"service_id": "\#(ids[0])", "slot": "\#(slots[0])", "user_name": "Ann"}"#)
        #expect(booked.status == 201)
        _ = read([:])
        let afterBooking = try #require(read([:]).header("X-Accel-Redirect"))
        #expect(afterBooking != uri, "a new body, so a new file")
        guard case .object(let catalog) = try JSONParser.parse(body(afterBooking)), case .array(let services)? = catalog["services"],
            case .object(let service)? = services.first(where: {
                if case .object(let service) = $0 { service["service_id"] == .string(ids[0]) } else { false }
            }),
            case .array(let free)? = service["available_slots"]
        else {
            Issue.record("the catalog in the file lacks \(ids[0])")
            return
        }
        #expect(free.count == slots.count - 1 && free.first == .string(slots[1]), "the booked slot is gone from the file")
    }

    /// Every mutation records its change before its 2xx: the next read, however fresh the cached
    /// body, shows it (a route that forgot `recordChange` would serve the body from before).
    @Test func aReadAfterAMutationsAnswerShowsTheMutation() throws {
        let catalog = { try JSONParser.parse(send("GET", "/services").body) }
        let one = { try JSONParser.parse(send("GET", "/services/\(serviceID)").body) }
        #expect(try catalog()["services"]?.arrayValue?.count == 0)
        #expect(createService().status == 201)
        #expect(try catalog()["services"]?.arrayValue?.count == 1, "the new service, at once")
        #expect(try one()["available_slots"]?.arrayValue?.count == 2)
        let booked = send("POST", "/book", json: #"{"service_id": "\#(serviceID)", "slot": "2031-05-01T09:00:00Z", "user_name": "Ann"}"#)
        #expect(booked.status == 201)
        #expect(try one()["available_slots"] == .array([.string("2031-05-01T10:00:00Z")]), "the booked slot is gone at once")
        #expect(try catalog()["services"]?.arrayValue?.first?["available_slots"] == .array([.string("2031-05-01T10:00:00Z")]))
    }

    @Test func aSlotThatBeginsIsGoneFromTheListingAfterTheCachesBound() throws {
        #expect(createService(slots: ["2030-03-17T20:00:00Z", "2031-05-01T10:00:00Z"]).status == 201)
        let free = { try JSONParser.parse(send("GET", "/services/\(serviceID)").body)["available_slots"] }
        #expect(try free() == .array([.string("2030-03-17T20:00:00Z"), .string("2031-05-01T10:00:00Z")]))
        app.clock.advance(by: 3 * 3600)  // past the first slot's start, and the cache's lifetime
        #expect(try free() == .array([.string("2031-05-01T10:00:00Z")]))
        let late = send("POST", "/book", json: #"{"service_id": "\#(serviceID)", "slot": "2030-03-17T20:00:00Z", "user_name": "Ann"}"#)
        #expect(late.status == 422)
        #expect(try errorCode(late) == "slot_in_past")
    }

    @Test(
        arguments: [
            ("gzip", true), ("GZip, deflate, br", true), ("x-gzip", true), ("gzip;q=0.5", true), ("deflate;q=1, gzip ; q=0.001", true),
            ("*", true), ("identity, *;q=0.1", true), (nil, false), ("", false), ("identity", false), ("br, deflate", false),
            ("gzip;q=0", false), ("gzip; q=0.000", false), ("*;q=0", false), ("gzip;q=0, *", false), ("gzip;q=high", false), ("gzip;q=2", false),
        ] as [(String?, Bool)])
    func acceptEncodingIsReadAsRFC9110Says(_ header: String?, _ accepts: Bool) {
        #expect(AcceptEncoding.acceptsGzip(header) == accepts)
    }

    @Test func healthNamesTheBackendAndTheVersionAndTimesTheStore() throws {
        let response = send("GET", "/healthz")
        #expect(response.status == 200)
        guard case .object(var members) = try JSONParser.parse(response.body) else {
            Issue.record("not an object")
            return
        }
        switch members.removeValue(forKey: "store_rtt_ms") {
        case .double(let milliseconds)?: #expect(milliseconds >= 0 && milliseconds < 1000)
        case .integer(let milliseconds)?: #expect(milliseconds == 0)  // under a microsecond: written as 0
        default: Issue.record("no store_rtt_ms in \(String(decoding: response.body, as: UTF8.self))")
        }
        #expect(members == ["status": .string("ok"), "backend": .string("memory"), "version": .string(Version.number)])
    }

    @Test func readinessIsReadyWhileTheStoreAnswers() throws {
        let response = send("GET", "/readyz")
        #expect(response.status == 200)
        #expect(try JSONParser.parse(response.body) == .object(["status": .string("ready")]))
        #expect(send("POST", "/readyz").status == 405)
    }
}
