import Booking
import DocumentStore
import JSON

/// The API's one JSON boundary: request bodies in, response bodies out. Nothing else in
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
        let object = try object(from: body)
        let id = try optionalString(object, "service_id")
        guard case .array(let elements)? = object["available_slots"] else {
            throw .invalidRequest("available_slots must be an array of date-time strings")
        }
        var slots: [String] = []
        for element in elements {
            guard case .string(let slot) = element else {
                throw .invalidRequest("available_slots must be an array of date-time strings")
            }
            slots.append(slot)
        }
        return NewService(id: id, name: try string(object, "service_name"), slots: slots)
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

    // MARK: Responses

    /// Written straight to bytes, as the serializer would write the same objects (keys sorted):
    /// a large catalog is rebuilt after bookings, and a tree of 100,000 strings cost more than
    /// the catalog itself.
    static func services(_ services: [ServiceAvailability]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(services.reduce(16) { $0 + estimatedBytes($1) })
        output.append(contentsOf: #"{"services":"#.utf8)
        var dates = RFC3339Dates()
        JSON.writeArray(services, to: &output) { write($0, to: &$1, dates: &dates) }
        output.append(UInt8(ascii: "}"))
        return output
    }

    static func service(_ service: ServiceAvailability) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(estimatedBytes(service))
        var dates = RFC3339Dates()
        write(service, to: &output, dates: &dates)
        return output
    }

    static func health(backend: String, healthy: Bool) -> [UInt8] {
        JSON.object(["status": .string(healthy ? "ok" : "unavailable"), "backend": .string(backend)]).serialized()
    }

    static func error(_ error: APIError) -> [UInt8] {
        JSON.object(["error": .object(["code": .string(error.code), "message": .string(error.message)])]).serialized()
    }

    /// About the size `write` makes: the fixed text, the id and name, 23 bytes per slot.
    private static func estimatedBytes(_ availability: ServiceAvailability) -> Int {
        64 + availability.service.id.utf8.count + availability.service.name.utf8.count + 23 * availability.availableSlots.count
    }

    private static func write(_ availability: ServiceAvailability, to output: inout [UInt8], dates: inout RFC3339Dates) {
        output.append(contentsOf: #"{"available_slots":"#.utf8)
        JSON.writeArray(availability.availableSlots, to: &output) { slot, output in
            // A slot's canonical spelling (2026-12-01T09:30:00Z) has nothing to escape.
            output.append(UInt8(ascii: "\""))
            slot.appendSpelling(to: &output, dates: &dates)
            output.append(UInt8(ascii: "\""))
        }
        output.append(contentsOf: #","service_id":"#.utf8)
        JSON.writeString(availability.service.id, to: &output)
        output.append(contentsOf: #","service_name":"#.utf8)
        JSON.writeString(availability.service.name, to: &output)
        output.append(UInt8(ascii: "}"))
    }
}
