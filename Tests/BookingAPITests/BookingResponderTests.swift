import Booking
@testable import BookingAPI
import FastCGI
import Gzip
import HostCounters
import JSON
import Logging
import PostgresStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP mapping of the API, in process, on the real PostgreSQL store of the test command.
@Suite struct BookingResponderTests {
    let responder: BookingResponder
    let serviceID = "api-\(UInt32.random(in: 0...UInt32.max))"

    init() throws {
        let store = PostgresStore(connectionString: getenv("DATABASE_URL").map { String(cString: $0) } ?? "")
        try store.migrate()
        responder = BookingResponder(desk: BookingDesk(store: store), adminToken: "admin", maximumBodyBytes: 1024,
                                     logger: Logger(label: "test"))
    }

    func send(_ method: String, _ path: String, json: String? = nil, contentType: String? = "application/json",
              headers: [String: String] = [:]) -> Response {
        responder.respond(to: Request(method: method, path: path, headers: headers,
                                      contentType: json == nil ? nil : contentType, body: .bytes(Array((json ?? "").utf8))))
    }

    func createService(slots: [String] = ["2031-05-01T09:00:00Z", "2031-05-01T10:00:00Z"]) -> Response {
        let body = JSON.object(["service_id": .string(serviceID), "service_name": .string("Room"), "available_slots": .array(slots.map(JSON.string))])
        return send("POST", "/services", json: body.text, headers: ["authorization": "Bearer admin"])
    }

    /// Checks the one error shape and returns the code.
    func errorCode(_ response: Response) throws -> String? {
        #expect(response.header("Content-Type") == "application/json; charset=utf-8")
        let json = try JSONParser.parse(response.body)
        guard case .object(let top) = json, top.count == 1, case .object(let error)? = top["error"], error.count == 2,
              case .string(let code)? = error["code"], case .string(let message)? = error["message"], !message.isEmpty
        else {
            Issue.record("not the error shape: \(json.text)")
            return nil
        }
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
        let response = send("POST", "/book", json: #"{"service_id": "\#(serviceID)", "slot": "2031-05-01T11:00:00+02:00", "user_name": "Ann", "extra": 1}"#)
        #expect(response.status == 201)
        let booking = try JSONParser.parse(response.body)
        #expect(booking["slot"] == .string("2031-05-01T09:00:00Z"))
        #expect(booking["user_name"] == .string("Ann"))
        #expect(booking.objectValue.map { Set($0.keys) } == ["booking_id", "service_id", "slot", "user_name", "timestamp"])
        let id = booking["booking_id"]?.stringValue ?? ""
        #expect(response.header("Location") == "/bookings/\(id)")
        #expect(send("GET", "/bookings/\(id)").body == response.body)
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
        let tooLarge = responder.respond(to: Request(method: "POST", path: "/book", contentType: "application/json", body: .tooLarge(declaredLength: 5000)))
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
        let databaseURL = getenv("DATABASE_URL").map { String(cString: $0) } ?? ""
        let slots = (0..<60).map { "2031-06-01T09:\($0 < 10 ? "0" : "")\($0):00Z" }
        _ = try BookingDesk(store: PostgresStore(connectionString: databaseURL)).createService(NewService(id: serviceID, name: "Hall", slots: slots))
        let plain = send("GET", "/services/\(serviceID)")
        #expect(plain.status == 200 && plain.body.count >= EncodedBody.minimumGzipBytes)
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
        let databaseURL = getenv("DATABASE_URL").map { String(cString: $0) } ?? ""
        let counters = MappedChangeCounters()
        let desk = BookingDesk(store: PostgresStore(connectionString: databaseURL), changes: counters)
        let two = { (number: Int) in number < 10 ? "0\(number)" : "\(number)" }
        let slots = (0..<3000).map { "2032-01-\(two($0 / 1440 + 1))T\(two($0 % 1440 / 60)):\(two($0 % 60)):00Z" }  // 3,000 minutes
        let ids = (0..<4).map { "\(serviceID)-\($0)" }
        for id in ids { _ = try desk.createService(NewService(id: id, name: "Large", slots: slots)) }
        let directory = "/tmp/responder-bodies-\(getpid())-\(serviceID)"
        let files = LargeBodyFiles(directory: directory, logger: Logger(label: "test"))
        try files.prepare()
        defer { removeFolder(directory) }
        // Built once for the hour: other tests' services, created meanwhile, do not show.
        let cache = ResponseCache(counters: counters, lifetime: 3600, largeBodyFiles: files)
        let responder = BookingResponder(desk: desk, cache: cache,
                                         adminToken: nil, maximumBodyBytes: 1024, logger: Logger(label: "test"))
        let read = { (headers: [String: String]) in responder.respond(to: Request(method: "GET", path: "/services", headers: headers)) }

        let gzipped = read(["accept-encoding": "gzip"])
        #expect(gzipped.header("X-Accel-Redirect") == nil && gzipped.header("Content-Encoding") == "gzip")
        let firstRead = read([:])
        #expect(firstRead.header("X-Accel-Redirect") == nil && firstRead.body.count >= ResponseCache.largeBodyBytes, "through FastCGI")
        let plain = read([:])
        let uri = try #require(plain.header("X-Accel-Redirect"))
        #expect(plain.status == 200 && plain.body.isEmpty && uri.hasPrefix("/_large/booking-body-"))
        #expect(plain.header("Content-Type") == "application/json; charset=utf-8" && plain.header("Cache-Control") == "no-store")
        let body = { (uri: String) in contentsOfFile(directory + "/" + uri.dropFirst("/_large/".count)) ?? [] }
        #expect(body(uri).count >= ResponseCache.largeBodyBytes && Gzip.compress(body(uri)) == gzipped.body)
        for precondition in ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] {
            let answered = read([precondition: "*"])  // nginx would evaluate it for the file; the workers' answer ignores it
            #expect(answered.header("X-Accel-Redirect") == nil && answered.body == body(uri), "\(precondition)")
        }

        _ = try desk.book(BookingRequest(serviceID: ids[0], slot: slots[0], userName: "Ann"))
        _ = read([:])
        let afterBooking = try #require(read([:]).header("X-Accel-Redirect"))
        #expect(afterBooking != uri, "a new body, so a new file")
        guard case .object(let catalog) = try JSONParser.parse(body(afterBooking)), case .array(let services)? = catalog["services"],
              case .object(let booked)? = services.first(where: { if case .object(let service) = $0 { service["service_id"] == .string(ids[0]) } else { false } }),
              case .array(let free)? = booked["available_slots"]
        else {
            Issue.record("the catalog in the file lacks \(ids[0])")
            return
        }
        #expect(free.count == slots.count - 1 && free.first == .string(slots[1]), "the booked slot is gone from the file")
    }

    @Test(arguments: [
        ("gzip", true), ("GZip, deflate, br", true), ("x-gzip", true), ("gzip;q=0.5", true), ("deflate;q=1, gzip ; q=0.001", true),
        ("*", true), ("identity, *;q=0.1", true), (nil, false), ("", false), ("identity", false), ("br, deflate", false),
        ("gzip;q=0", false), ("gzip; q=0.000", false), ("*;q=0", false), ("gzip;q=0, *", false), ("gzip;q=high", false), ("gzip;q=2", false),
    ] as [(String?, Bool)])
    func acceptEncodingIsReadAsRFC9110Says(_ header: String?, _ accepts: Bool) {
        #expect(EncodedBody.acceptsGzip(header) == accepts)
    }

    @Test func healthNamesTheBackend() throws {
        let response = send("GET", "/healthz")
        #expect(response.status == 200)
        #expect(try JSONParser.parse(response.body) == .object(["status": .string("ok"), "backend": .string("postgres")]))
    }
}
