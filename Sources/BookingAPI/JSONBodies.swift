import Booking
import BookingFormats
import DocumentStore
import JSON

/// The API's JSON boundary: request bodies in, response bodies out (those of services and
/// bookings written by BookingFormats, which bookingctl shares). Nothing else in
/// the service touches JSON text, so the hot paths use the small strict codec only.
enum JSONBodies {
    // MARK: Requests

    static func bookingRequest(from body: [UInt8]) throws(APIError) -> BookingRequest {
        let object = try object(from: body)
        return BookingRequest(
            serviceID: try string(object, "service_id"), slot: try string(object, "slot"),
            userName: try string(object, "user_name"),
            contact: Contact(
                email: try optionalString(object, "email"), phone: try optionalString(object, "phone"), notes: try optionalString(object, "notes")))
    }

    /// The target slot of `POST /bookings/{id}/reschedule`.
    static func rescheduleSlot(from body: [UInt8]) throws(APIError) -> String {
        try string(try object(from: body), "slot")
    }

    static func newService(from body: [UInt8]) throws(APIError) -> NewService {
        try newService(from: try object(from: body))
    }

    private static func newService(from object: [String: JSON]) throws(APIError) -> NewService {
        let id = try optionalString(object, "service_id")
        let slots = try optionalStrings(object, "available_slots", "available_slots must be an array of date-time strings") ?? []
        return NewService(id: id, name: try string(object, "service_name"), slots: slots, settings: try settings(object))
    }

    /// The service `stored` changed by a JSON merge patch (RFC 7396) of its definition: the
    /// object `definition(of:)` gives, with the patch's members set, replaced or (null) removed.
    static func patchedService(_ stored: Service, patch body: [UInt8]) throws(APIError) -> NewService {
        let json: JSON
        do {
            json = try JSONParser.parse(body)
        } catch {
            throw .invalidJSON(error.description)
        }
        guard case .object = json else { throw .invalidRequest("a merge patch of a service must be a JSON object") }
        guard case .object(let patched) = JSON.object(ServiceJSON.definition(of: stored)).mergePatched(with: json) else {
            throw .invalidRequest("a merge patch of a service must be a JSON object")
        }
        return try newService(from: patched)
    }

    /// A service's settings from its JSON object (fields absent or null take their defaults).
    private static func settings(_ object: [String: JSON]) throws(APIError) -> ServiceSettingsInput {
        var settings = ServiceSettingsInput()
        settings.timeZone = try optionalString(object, "time_zone")
        settings.durationMinutes = try optionalInteger(object, "duration_minutes")
        settings.description = try optionalString(object, "description")
        switch object["hidden"] {
        case nil, .null?: break
        case .bool(let hidden)?: settings.hidden = hidden
        default: throw .invalidRequest("hidden must be true or false")
        }
        settings.seats = try optionalInteger(object, "seats")
        settings.minNoticeMinutes = try optionalInteger(object, "min_notice_minutes")
        settings.maxAdvanceDays = try optionalInteger(object, "max_advance_days")
        switch object["schedule"] {
        case nil, .null?: break
        case .object(let schedule)?: settings.schedule = try self.schedule(schedule)
        default: throw .invalidRequest("schedule must be an object")
        }
        return settings
    }

    private static func schedule(_ object: [String: JSON]) throws(APIError) -> ScheduleInput {
        let known: Set = ["weekly", "slot_minutes", "horizon_days", "closed_dates"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidRequest(
                "schedule has an unknown field \"\(unknown.prefix(32))\": it takes weekly, slot_minutes, horizon_days and closed_dates")
        }
        guard case .object(let weekly)? = object["weekly"] else {
            throw .invalidRequest("schedule.weekly must be an object of weekdays (mon ... sun) to time ranges")
        }
        let rangesProblem = APIError.invalidRequest("schedule.weekly's days must be arrays of [\"HH:MM\", \"HH:MM\"] ranges")
        var days: [String: [[String]]] = [:]
        for (day, value) in weekly {
            guard case .array(let ranges) = value else { throw rangesProblem }
            var parsed: [[String]] = []
            for range in ranges {
                guard case .array(let ends) = range else { throw rangesProblem }
                var times: [String] = []
                for end in ends {
                    guard case .string(let time) = end else { throw rangesProblem }
                    times.append(time)
                }
                parsed.append(times)
            }
            days[day] = parsed
        }
        return ScheduleInput(
            weekly: days, slotMinutes: try optionalInteger(object, "slot_minutes", in: "schedule."),
            horizonDays: try optionalInteger(object, "horizon_days", in: "schedule."),
            closedDates: try optionalStrings(object, "closed_dates", "schedule.closed_dates must be an array of dates such as 2031-12-25") ?? [])
    }

    private static func object(from body: [UInt8]) throws(APIError) -> [String: JSON] {
        let json: JSON
        do {
            json = try JSONParser.parse(body)
        } catch {
            throw .invalidJSON(error.description)
        }
        guard case .object(let object) = json else { throw .invalidRequest("the body must be a JSON object") }
        return object
    }

    private static func string(_ object: [String: JSON], _ field: String) throws(APIError) -> String {
        guard case .string(let value)? = object[field] else { throw .invalidRequest("\(field) must be a string") }
        return value
    }

    /// A field that may be absent or null (nil), else must be a string.
    private static func optionalString(_ object: [String: JSON], _ field: String) throws(APIError) -> String? {
        switch object[field] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw .invalidRequest("\(field) must be a string")
        }
    }

    /// A field that may be absent or null (nil), else must be an integer: as JSON Schema counts
    /// them (and the OpenAPI description says), `5.0` and `5e0` are the integer 5 too.
    private static func optionalInteger(_ object: [String: JSON], _ field: String, in parent: String = "") throws(APIError) -> Int64? {
        switch object[field] {
        case nil, .null?: return nil
        case .integer(let value)?: return value
        case .double(let value)? where value.rounded() == value && abs(value) < 9e15: return Int64(value)
        default: throw .invalidRequest("\(parent)\(field) must be an integer")
        }
    }

    /// A field that may be absent or null (nil), else must be an array of strings.
    private static func optionalStrings(_ object: [String: JSON], _ field: String, _ problem: String) throws(APIError) -> [String]? {
        switch object[field] {
        case nil, .null?: return nil
        case .array(let elements)?:
            var strings: [String] = []
            for element in elements {
                guard case .string(let text) = element else { throw .invalidRequest(problem) }
                strings.append(text)
            }
            return strings
        default: throw .invalidRequest(problem)
        }
    }

    // MARK: Responses

    /// The answer to retiring a service: its id, when, and the bookings cancelled with it.
    static func retired(serviceID: String, _ change: ServiceChange) -> [UInt8] {
        JSON.object([
            "service_id": .string(serviceID), "retired_at": .string(change.retiredAt?.rfc3339 ?? ""),
            "cancelled_bookings": .array(change.cancelled.map { .string($0.id) }),
        ]).serialized()
    }

    /// The health answer: the store's name, the server's version and, when the store answered,
    /// how long its round trip took.
    static func health(backend: String, version: String, roundTripMilliseconds: Double?) -> [UInt8] {
        var members: [String: JSON] = [
            "status": .string(roundTripMilliseconds == nil ? "unavailable" : "ok"), "backend": .string(backend), "version": .string(version),
        ]
        if let milliseconds = roundTripMilliseconds { members["store_rtt_ms"] = .double((milliseconds * 1000).rounded() / 1000) }
        return JSON.object(members).serialized()
    }

    /// The readiness answer: `ready`, `draining` or `unavailable` (the store).
    static func readiness(_ status: String) -> [UInt8] {
        JSON.object(["status": .string(status)]).serialized()
    }

    static func error(_ error: APIError) -> [UInt8] {
        var members: [String: JSON] = ["code": .string(error.code), "message": .string(error.message)]
        if !error.bookings.isEmpty {
            members["bookings"] = .array(error.bookings.map { .object(["booking_id": .string($0.id), "slot": .string($0.slot)]) })
        }
        return JSON.object(["error": .object(members)]).serialized()
    }

}
