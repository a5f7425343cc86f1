import Booking
import Idempotency

/// Every error the API returns: a stable code, a message for people, and the HTTP status.
/// All error bodies have one shape: `{"error": {"code": "...", "message": "..."}}`, and
/// `slot_has_bookings` adds the bookings it is about (`"bookings": [{"booking_id", "slot"}]`).
public struct APIError: Error, Equatable, Sendable {
    public let status: Int
    public let code: String
    public let message: String
    /// Extra headers the status calls for (`Allow`, `WWW-Authenticate`, `Retry-After`).
    public let headers: [String: String]
    /// The bookings the error is about (`slot_has_bookings`), as booking id and slot.
    public let bookings: [(id: String, slot: String)]

    public init(status: Int, code: String, message: String, headers: [String: String] = [:], bookings: [(id: String, slot: String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.bookings = bookings
    }

    public static func == (lhs: APIError, rhs: APIError) -> Bool {
        (lhs.status, lhs.code, lhs.message, lhs.headers) == (rhs.status, rhs.code, rhs.message, rhs.headers)
            && lhs.bookings.map(\.id) == rhs.bookings.map(\.id) && lhs.bookings.map(\.slot) == rhs.bookings.map(\.slot)
    }

    static func notFound() -> APIError {
        APIError(status: 404, code: "not_found", message: "no such endpoint")
    }

    static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(
            status: 405, code: "method_not_allowed", message: "use \(allowed.joined(separator: ", "))",
            headers: ["Allow": allowed.joined(separator: ", ")])
    }

    static func invalidJSON(_ reason: String) -> APIError {
        APIError(status: 400, code: "invalid_json", message: "the body is not valid JSON: \(reason)")
    }

    static func invalidRequest(_ message: String) -> APIError {
        APIError(status: 400, code: "invalid_request", message: message)
    }

    static func unsupportedMediaType() -> APIError {
        APIError(status: 415, code: "unsupported_media_type", message: "send the body as application/json")
    }

    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(status: 413, code: "payload_too_large", message: "the body is larger than \(limit) bytes")
    }

    static func unauthorized(_ token: String = "admin token") -> APIError {
        APIError(
            status: 401, code: "unauthorized", message: "this needs Authorization: Bearer <\(token)>",
            headers: ["WWW-Authenticate": "Bearer"])
    }

    static func invalidIdempotencyKey() -> APIError {
        APIError(status: 400, code: "invalid_request", message: "Idempotency-Key must be 1 to 255 visible ASCII characters")
    }

    /// The HTTP form of a refusal from the idempotency keys.
    init(_ error: IdempotencyError) {
        switch error {
        case .reused:
            self.init(
                status: 422, code: "idempotency_key_reused",
                message: "this Idempotency-Key was used for another request within 24 hours; use a new key for a new request")
        case .inProgress:
            self.init(
                status: 409, code: "idempotency_key_in_use", message: "the first request with this Idempotency-Key is still running; retry shortly",
                headers: ["Retry-After": "1"])
        case .storeUnavailable: self.init(BookingError.storeUnavailable)
        case .storeFailure(let detail): self.init(BookingError.storeFailure(detail))
        }
    }

    /// The HTTP form of a refusal from the booking rules.
    init(_ error: BookingError) {
        let status: Int
        var headers: [String: String] = [:]
        switch error {
        case .invalidField, .invalidSlot, .slotNotOffered, .slotInPast, .slotTooSoon, .slotTooFarAhead: status = 422
        case .slotTaken, .serviceExists, .bookingInPast, .bookingCancelled, .bookingChanged, .slotHasBookings, .serviceChanged: status = 409
        case .serviceNotFound, .bookingNotFound: status = 404
        case .forbidden: status = 403
        case .storeUnavailable:
            status = 503
            headers["Retry-After"] = "1"
        case .storeFailure: status = 500
        }
        var bookings: [(id: String, slot: String)] = []
        if case .slotHasBookings(let held) = error { bookings = held.map { ($0.id, $0.slot.description) } }
        self.init(status: status, code: error.code, message: error.message, headers: headers, bookings: bookings)
    }
}
