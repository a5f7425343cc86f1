import Booking
import DocumentStore
import DocumentStoreConformance
import FastCGI
import JSON
import TestSupport
import Testing

@testable import BookingAPI

/// Cancelling, moving, idempotency keys and the listing over HTTP, in process, on the
/// application as the server composes it over the in-memory store.
@Suite struct BookingLifecycleAPITests {
    let app = TestApplication()
    let serviceID = "life-\(UInt32.random(in: 0...UInt32.max))"
    let slots = ["2031-05-01T09:00:00Z", "2031-05-01T10:00:00Z", "2031-05-01T11:00:00Z"]
    let admin = ["authorization": "Bearer admin"]

    init() throws {
        let body = JSON.object([
            "service_id": .string(serviceID), "service_name": .string("Room"), "available_slots": .array(slots.map(JSON.string)),
        ])
        #expect(app.send("POST", "/services", json: body.text, headers: admin).status == 201)
    }

    func book(_ slot: Int, extra: String = "", headers: [String: String] = [:]) -> Response {
        app.send("POST", "/book", json: #"{"service_id": "\#(serviceID)", "slot": "\#(slots[slot])", "user_name": "Ann"\#(extra)}"#, headers: headers)
    }

    /// The booking a response holds, and its manage token when it has one.
    func booking(_ response: Response) throws -> (id: String, token: String?, object: [String: JSON]) {
        let object = try #require(try JSONParser.parse(response.body).objectValue)
        return (try #require(object["booking_id"]?.stringValue), object["manage_token"]?.stringValue, object)
    }

    func bearer(_ token: String) -> [String: String] { ["authorization": "Bearer \(token)"] }

    func freeSlots() throws -> [String] {
        let service = try JSONParser.parse(app.send("GET", "/services/\(serviceID)").body)
        return service["available_slots"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    @Test func contactDetailsAreTakenAndShownOnlyWithTheTokenOrTheAdmin() throws {
        let response = book(0, extra: #", "email": "ann@example.com", "phone": "+44 20 7946 0958", "notes": "Window seat""#)
        #expect(response.status == 201)
        let (id, token, object) = try booking(response)
        #expect(object["email"] == .string("ann@example.com") && object["status"] == .string("confirmed"))
        let publicView = try JSONParser.parse(app.send("GET", "/bookings/\(id)").body)
        #expect(publicView["email"] == nil && publicView["phone"] == nil && publicView["status"] == .string("confirmed"))
        let own = try JSONParser.parse(app.send("GET", "/bookings/\(id)", headers: bearer(try #require(token))).body)
        #expect(own["phone"] == .string("+44 20 7946 0958") && own["notes"] == .string("Window seat") && own["manage_token"] == nil)
        #expect(try JSONParser.parse(app.send("GET", "/bookings/\(id)", headers: admin).body)["email"] == .string("ann@example.com"))
        let wrong = app.send("GET", "/bookings/\(id)", headers: bearer("not-the-token"))
        #expect(wrong.status == 403 && errorCode(of: wrong) == "forbidden")
        for (extra, field) in [(#", "email": "nope""#, "email"), (#", "phone": "x"#, "phone"), (#", "email": 7"#, "email")] {
            let refused = book(1, extra: extra)
            #expect(refused.status == 422 || refused.status == 400, "\(field)")
            #expect(errorCode(of: refused) != nil)
        }
        #expect(try freeSlots() == [slots[1], slots[2]], "refusals change nothing")
    }

    @Test func cancellingAnswersEveryStatusTheAPIPromises() throws {
        let (id, token, _) = try booking(book(0))
        let other = try booking(book(1))
        let noToken = app.send("DELETE", "/bookings/\(id)")
        #expect(noToken.status == 401 && noToken.header("WWW-Authenticate") == "Bearer" && errorCode(of: noToken) == "unauthorized")
        #expect(errorCode(of: app.send("DELETE", "/bookings/\(id)", headers: bearer(try #require(other.token)))) == "forbidden")
        #expect(app.send("DELETE", "/bookings/no-such-booking", headers: admin).status == 404)
        #expect(try freeSlots() == [slots[2]])

        let cancelled = app.send("DELETE", "/bookings/\(id)", headers: bearer(try #require(token)))
        #expect(cancelled.status == 200)
        let object = try booking(cancelled).object
        #expect(object["status"] == .string("cancelled") && object["cancelled_at"]?.stringValue != nil)
        #expect(try freeSlots() == [slots[0], slots[2]], "free again at once on this host")
        app.clock.advance(by: 5)
        let again = app.send("DELETE", "/bookings/\(id)", headers: admin)
        #expect(again.status == 200 && again.body == cancelled.body, "again: the same 200")
        #expect(book(0).status == 201, "the slot can be booked again")
        #expect(try JSONParser.parse(app.send("GET", "/bookings/\(id)").body)["status"] == .string("cancelled"))
    }

    @Test func aCustomerCannotCancelOnceTheSlotBegan() throws {
        let (id, token, _) = try booking(book(0))
        app.clock.advance(by: 1_950_000_000 - app.clock.wallSeconds)  // 2031-10
        let refused = app.send("DELETE", "/bookings/\(id)", headers: bearer(try #require(token)))
        #expect(refused.status == 409 && errorCode(of: refused) == "booking_in_past")
        #expect(app.send("DELETE", "/bookings/\(id)", headers: admin).status == 200)
    }

    @Test func reschedulingAnswersEveryStatusTheAPIPromises() throws {
        let (id, token, _) = try booking(book(0))
        _ = book(1)
        let owner = bearer(try #require(token))
        func move(_ slot: String, _ headers: [String: String]) -> Response {
            app.send("POST", "/bookings/\(id)/reschedule", json: #"{"slot": "\#(slot)"}"#, headers: headers)
        }
        #expect(move(slots[2], [:]).status == 401)
        #expect(move(slots[2], bearer("wrong")).status == 403)
        let taken = move(slots[1], owner)
        #expect(taken.status == 409 && errorCode(of: taken) == "slot_taken")
        #expect(errorCode(of: move("2031-05-01T09:30:00Z", owner)) == "slot_not_offered")
        #expect(move("not a time", owner).status == 422)
        #expect(app.send("POST", "/bookings/\(id)/reschedule", json: "{}", headers: owner).status == 400)
        #expect(try freeSlots() == [slots[2]], "refusals keep the old slot")

        let moved = move("2031-05-01T12:00:00+01:00", owner)
        #expect(moved.status == 200)
        let object = try booking(moved).object
        #expect(object["booking_id"] == .string(id) && object["slot"] == .string(slots[2]))
        #expect(try freeSlots() == [slots[0]])
        _ = app.send("DELETE", "/bookings/\(id)", headers: admin)
        let cancelled = move(slots[0], admin)
        #expect(cancelled.status == 409 && errorCode(of: cancelled) == "booking_cancelled")
        #expect(app.send("PUT", "/bookings/\(id)").header("Allow") == "GET, HEAD, DELETE")
    }

    @Test func aRepeatWithTheSameKeyGetsTheFirstResponse() throws {
        let key = ["idempotency-key": "order-4711"]
        let first = book(0, headers: key)
        #expect(first.status == 201 && first.header("Idempotent-Replayed") == nil)
        let repeated = book(0, headers: key)
        #expect(repeated.status == 201 && repeated.body == first.body && repeated.header("Idempotent-Replayed") == "true")
        #expect(repeated.header("Location") == first.header("Location"))
        #expect(try booking(repeated).token == (try booking(first).token), "the same token, kept sealed")
        let reused = book(1, headers: key)
        #expect(reused.status == 422 && errorCode(of: reused) == "idempotency_key_reused")
        #expect(try freeSlots() == [slots[1], slots[2]], "one booking")

        let stored = try app.database.makeStore().listAll(collection: "idempotency_keys")
        let token = try #require(try booking(first).token)
        #expect(stored.count == 1 && !"\(stored[0].fields)".contains(token), "the token is not stored in the clear")

        app.clock.advance(by: 24 * 3600 + 1)
        let later = book(1, headers: key)
        #expect(later.status == 201 && later.header("Idempotent-Replayed") == nil, "after 24 hours the key is free again")
    }

    @Test func aRefusalIsKeptTooAndAFailureOfTheRequestBeforeItRanIsNot() throws {
        _ = book(0)
        let key = ["idempotency-key": "k-1"]
        let refused = book(0, headers: key)
        #expect(refused.status == 409)
        let again = book(0, headers: key)
        #expect(again.status == 409 && again.header("Idempotent-Replayed") == "true" && again.body == refused.body)
        let malformed = app.send("POST", "/book", json: "{", headers: ["idempotency-key": "k-2"])
        #expect(malformed.status == 400)
        #expect(book(1, headers: ["idempotency-key": "k-2"]).status == 201, "a request refused before it ran keeps no key")
        for invalid in ["", String(repeating: "k", count: 256), "with space", "tab\t"] {
            #expect(errorCode(of: book(2, headers: ["idempotency-key": invalid])) == "invalid_request", "\(invalid)")
        }
    }

    @Test func cancelRescheduleAndServiceCreationTakeKeysToo() throws {
        let (id, _, _) = try booking(book(0))
        let move = { (slot: String, key: String) in
            app.send("POST", "/bookings/\(id)/reschedule", json: #"{"slot": "\#(slot)"}"#, headers: admin.merging(["idempotency-key": key]) { $1 })
        }
        #expect(move(slots[1], "m1").status == 200)
        #expect(move(slots[2], "m2").status == 200)
        let replay = move(slots[1], "m1")
        #expect(replay.header("Idempotent-Replayed") == "true")
        #expect(try booking(replay).object["slot"] == .string(slots[1]))
        #expect(try freeSlots() == [slots[0], slots[1]], "the replay moved nothing")
        let cancel = app.send("DELETE", "/bookings/\(id)", headers: admin.merging(["idempotency-key": "c1"]) { $1 })
        #expect(app.send("DELETE", "/bookings/\(id)", headers: admin.merging(["idempotency-key": "c1"]) { $1 }).body == cancel.body)
        let service = #"{"service_name": "Extra", "available_slots": []}"#
        let created = app.send("POST", "/services", json: service, headers: admin.merging(["idempotency-key": "s1"]) { $1 })
        let repeated = app.send("POST", "/services", json: service, headers: admin.merging(["idempotency-key": "s1"]) { $1 })
        #expect(created.status == 201 && repeated.body == created.body && repeated.header("Idempotent-Replayed") == "true")
    }

    @Test func concurrentRepeatsExecuteOnce() throws {
        nonisolated(unsafe) let responders = (0..<12).map { _ in app.application.makeResponder() }
        let body = Array(#"{"service_id": "\#(serviceID)", "slot": "\#(slots[0])", "user_name": "Ann"}"#.utf8)
        let outcomes = race(responders.count) { index in
            let response = responders[index].respond(
                to: Request(method: "POST", path: "/book", headers: ["idempotency-key": "race"], contentType: "application/json", body: .bytes(body)))
            return "\(response.status) \(String(decoding: response.body, as: UTF8.self))"
        }
        #expect(outcomes.count == 1 && outcomes.first?.key.hasPrefix("201 ") == true, "12 identical answers: \(outcomes)")
        #expect(try freeSlots() == [slots[1], slots[2]], "one booking")
    }

    @Test func theListingNeedsTheAdminAndPagesInSlotOrder() throws {
        for slot in [2, 0, 1] { _ = book(slot, extra: #", "email": "n\#(slot)@example.com""#) }
        #expect(app.send("GET", "/bookings").status == 401)
        #expect(app.send("GET", "/bookings", headers: bearer("x")).status == 401)
        let first = app.send("GET", "/bookings?service_id=\(serviceID)&limit=2", headers: admin)
        #expect(first.status == 200)
        let page = try JSONParser.parse(first.body)
        let listed = page["bookings"]?.arrayValue ?? []
        #expect(listed.compactMap { $0["slot"]?.stringValue } == [slots[0], slots[1]])
        #expect(listed.first?["email"] == .string("n0@example.com"))
        let token = try #require(page["next_page_token"]?.stringValue)
        let second = try JSONParser.parse(app.send("GET", "/bookings?service_id=\(serviceID)&limit=2&page_token=\(token)", headers: admin).body)
        #expect(second["bookings"]?.arrayValue?.compactMap { $0["slot"]?.stringValue } == [slots[2]] && second["next_page_token"] == .null)
        let window = try JSONParser.parse(
            app.send("GET", "/bookings?service_id=\(serviceID)&from=2031-05-01T11:00:00%2B01:00&to=2031-05-01T11:00:00Z", headers: admin).body)
        #expect(window["bookings"]?.arrayValue?.compactMap { $0["slot"]?.stringValue } == [slots[1]])
        for bad in ["limit=0", "limit=1001", "limit=x", "status=maybe", "page_token=%%", "from=yesterday", "limit=1&limit=2"] {
            let refused = app.send("GET", "/bookings?\(bad)", headers: admin)
            #expect((400...422).contains(refused.status) && errorCode(of: refused) != nil, "\(bad)")
        }
    }

    @Test func theListingAsCSVEscapesFormulasAndQuotes() throws {
        _ = app.send(
            "POST", "/book", json: #"{"service_id": "\#(serviceID)", "slot": "\#(slots[0])", "user_name": "=HYPERLINK(\"x\")", "notes": "a, b\nc"}"#)
        let csv = app.send("GET", "/bookings?service_id=\(serviceID)", headers: admin.merging(["accept": "text/csv"]) { $1 })
        #expect(csv.status == 200 && csv.header("Content-Type") == "text/csv; charset=utf-8; header=present")
        let text = String(decoding: csv.body, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines[0] == "booking_id,service_id,slot,status,user_name,email,phone,notes,timestamp,cancelled_at")
        #expect(text.contains(#","confirmed","'=HYPERLINK(""x"")",,,"a, b"#.replacingOccurrences(of: #","confirmed""#, with: ",confirmed")))
        #expect(text.hasSuffix("\r\n"))
    }

    @Test func servicesCanBeRestrictedToATimeWindow() throws {
        let window = try JSONParser.parse(app.send("GET", "/services/\(serviceID)?from=2031-05-01T10:00:00Z&to=2031-05-01T11:00:00Z").body)
        #expect(window["available_slots"] == .array([.string(slots[1])]))
        let all = try JSONParser.parse(app.send("GET", "/services?from=2031-05-01T11:00:00Z").body)
        let ours = all["services"]?.arrayValue?.first { $0["service_id"] == .string(serviceID) }
        #expect(ours?["available_slots"] == .array([.string(slots[2])]))
        #expect(app.send("GET", "/services?from=tomorrow").status == 400)
    }
}
