import Crypto
import DocumentStore
import JSON
import TextEncodings

/// The POST a webhook receiver gets for one event of the outbox: its JSON body and headers.
///
/// The body is `{"id", "type", "created_at", "booking": {...}}` (keys sorted, as every body the
/// service writes): the event's id (the same on every retry, so receivers drop duplicates), its
/// type, when the change happened (signed with the body, so receivers can refuse an old message
/// replayed), and the booking as the change left it, without contact details unless the business
/// asked for them, and never the manage token. `X-Booking-Signature` is `sha256=` and the hex
/// HMAC-SHA256 of the exact body bytes with the shared secret.
public struct WebhookMessage: Sendable {
    public let eventID: String
    public let body: [UInt8]
    public let headers: [String]

    /// The fields of the booking a receiver always gets; the contact fields only when included.
    static let bookingFields = ["booking_id", "service_id", "slot", "user_name", "timestamp", "status", "cancelled_at", "seat"]
    static let contactFields = ["email", "phone", "notes"]

    /// The message for an event document of the outbox, or nil when it is not one (no type).
    public init?(event: Document, secret: [UInt8], includeContact: Bool) {
        guard let type = event["type"]?.stringValue, case .timestamp(let createdAt)? = event["created_at"],
            case .map(let booking)? = event["booking"]
        else { return nil }
        let shown = Self.bookingFields + (includeContact ? Self.contactFields : [])
        var bookingJSON: [String: JSON] = [:]
        for name in shown {
            switch booking[name] {
            case .string(let text)?: bookingJSON[name] = .string(text)
            case .timestamp(let time)?: bookingJSON[name] = .string(time.rfc3339)
            case .integer(let number)?: bookingJSON[name] = .integer(number)
            default: break
            }
        }
        let message: JSON = .object([
            "id": .string(event.path.id), "type": .string(type), "created_at": .string(createdAt.rfc3339), "booking": .object(bookingJSON),
        ])
        var body: [UInt8] = []
        message.write(to: &body)
        eventID = event.path.id
        self.body = body
        headers = [
            "Content-Type: application/json", "X-Booking-Event-Id: \(event.path.id)", "X-Booking-Event-Type: \(type)",
            "X-Booking-Signature: \(Self.signature(of: body, secret: secret))",
        ]
    }

    /// `sha256=<hex HMAC-SHA256 of body with secret>`.
    public static func signature(of body: [UInt8], secret: [UInt8]) -> String {
        "sha256=" + Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret))))
    }
}
