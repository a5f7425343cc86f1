import DocumentStore

/// What happened to a booking, for those who must hear of it (the business's webhooks, the
/// customer's email).
public enum BookingEventType: String, Sendable, CaseIterable {
    case created = "booking.created"
    case cancelled = "booking.cancelled"
    case rescheduled = "booking.rescheduled"
}

/// Who hears of booking changes, each through an outbox collection of its own, so that each
/// is delivered, retried and given up on its own: a receiver that is down holds back no email.
public enum BookingOutbox: String, Sendable, CaseIterable {
    /// The business's webhook receiver: every change of every booking.
    case webhooks = "booking_events"
    /// The customer's email: the changes of bookings made with an email address.
    case emails = "booking_emails"

    /// The outbox's collection of pending, in-flight and failed events.
    public var collection: String { rawValue }
    /// Where its events go once delivered (kept for `bookingctl events list --delivered` and
    /// pruned by `bookingctl prune`).
    public var deliveredCollection: String { rawValue + "_delivered" }
    /// The field of an email event holding the manage token for the customer's link (written by
    /// the change, read by the email, dropped from the copy kept after delivery).
    public static let manageTokenField = "manage_token"

    /// Its name in logs, metrics and `bookingctl`.
    public var channel: String {
        switch self {
        case .webhooks: "webhook"
        case .emails: "email"
        }
    }
}

/// The outbox: each change of a booking writes its events in the commit that makes the change,
/// so that an event exists if and only if its change happened (a booking refused with 409
/// leaves none, a commit retried leaves one). Delivery reads the outboxes later, apart from the
/// answer to the change.
///
/// `{outbox}/{booking_id}.{sequence}`: a booking's creation is event 0, and each change one
/// more than the `event_sequence` its document keeps (set by the change; a document without
/// one, new or another application's, counts as 0), zero-padded to six digits so that a
/// booking's events sort in the order they happened. The number doubles as the `SEQUENCE` of
/// the customer's calendar invitation, which starts at 0. The event holds the booking as the
/// change left it, contact details included (an email needs them; webhooks leave them out
/// unless told otherwise). An email's event also holds the manage token the customer's link
/// needs, when the change knows it (the booking's creation, a change made with the token):
/// delivery drops it from the copy it keeps.
enum BookingEvents {
    static let sequenceField = "event_sequence"

    /// The number of a booking document's latest event; 0 when it has none.
    static func sequence(of fields: [String: Value]) -> Int64 {
        if case .integer(let number)? = fields[sequenceField] { return number }
        return 0
    }

    static func path(in outbox: BookingOutbox, bookingID: String, sequence: Int64) -> DocumentPath {
        let digits = String(sequence)
        return DocumentPath(outbox.collection, "\(bookingID).\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)")
    }

    /// The events' documents for `outboxes` (an email only for a booking with an address), each
    /// created under a must-not-exist precondition: the commit that makes the change makes it once.
    static func writes(
        _ type: BookingEventType, of booking: Booking, slotSpelling: String, sequence: Int64, at time: Timestamp,
        to outboxes: Set<BookingOutbox>, manageToken: String?
    ) -> [Write] {
        guard !outboxes.isEmpty else { return [] }  // no channel: nothing on the booking path
        return BookingOutbox.allCases.compactMap { outbox in
            guard outboxes.contains(outbox), outbox != .emails || booking.contact.email != nil else { return nil }
            // Only what delivery needs, in the booking's commit: every byte here is paid on the
            // booking path. No `state` reads as pending, no `attempts` as none, no
            // `next_attempt_at` as due; delivery adds them.
            var fields: [String: Value] = [
                "type": .string(type.rawValue),
                "service_id": .string(booking.serviceID),
                "sequence": .integer(sequence),
                "created_at": .timestamp(time),
                "booking": .map(booking.fields(slotSpelling: slotSpelling, manageTokenHash: nil)),
            ]
            if outbox == .emails, let manageToken { fields[BookingOutbox.manageTokenField] = .string(manageToken) }
            return .create(path(in: outbox, bookingID: booking.id, sequence: sequence), fields)
        }
    }
}

extension DocumentReader {
    /// The booking an outbox event holds, as its change left it; nil when it holds none.
    public func booking(ofEvent event: Document) -> Booking? {
        guard case .map(let fields)? = event["booking"], let id = fields["booking_id"]?.stringValue else { return nil }
        return booking(
            from: Document(path: DocumentPath(Collections.bookings, id), fields: fields, createTime: event.createTime, updateTime: event.updateTime))
    }

    /// A service as the store holds it now; nil when it is gone or cannot be read.
    public func service(id: String, in store: any DocumentStore) throws(StoreError) -> Service? {
        try store.get(DocumentPath(Collections.services, id)).flatMap(service(from:))
    }
}
