import DocumentStore

/// What happened to a booking, for those who must hear of it (the business's webhooks, the
/// customer's email).
public enum BookingEventType: String, Sendable, CaseIterable {
    case created = "booking.created"
    case cancelled = "booking.cancelled"
    case rescheduled = "booking.rescheduled"
}

/// The outbox: each change of a booking writes its event document in the commit that makes the
/// change, so that an event exists if and only if its change happened (a booking refused with
/// 409 leaves none, a commit retried leaves one). Delivery reads the outbox later, apart from
/// the answer to the change.
///
/// `booking_events/{booking_id}.{sequence}`: a booking's creation is event 0, and each change
/// one more than the `event_sequence` its document keeps (set by the change; a document without
/// one, new or another application's, counts as 0), zero-padded to six digits so that a
/// booking's events sort in the order they happened. The number doubles as the `SEQUENCE` of
/// the customer's calendar invitation, which starts at 0. The event holds the booking as the change left it, contact
/// details included (an email needs them; webhooks leave them out unless told otherwise).
enum BookingEvents {
    static let collection = "booking_events"
    static let sequenceField = "event_sequence"

    /// The number of a booking document's latest event; 0 when it has none.
    static func sequence(of fields: [String: Value]) -> Int64 {
        if case .integer(let number)? = fields[sequenceField] { return number }
        return 0
    }

    static func path(bookingID: String, sequence: Int64) -> DocumentPath {
        let digits = String(sequence)
        return DocumentPath(collection, "\(bookingID).\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)")
    }

    /// The event's document, created under a must-not-exist precondition: the commit that
    /// makes the change makes it once.
    static func write(_ type: BookingEventType, of booking: Booking, slotSpelling: String, sequence: Int64, at time: Timestamp) -> Write {
        .create(
            path(bookingID: booking.id, sequence: sequence),
            [
                "type": .string(type.rawValue),
                "booking_id": .string(booking.id),
                "service_id": .string(booking.serviceID),
                "sequence": .integer(sequence),
                "created_at": .timestamp(time),
                "booking": .map(booking.fields(slotSpelling: slotSpelling, manageTokenHash: nil)),
                "state": .string("pending"),
                "attempts": .integer(0),
                "next_attempt_at": .timestamp(time),
            ])
    }
}
