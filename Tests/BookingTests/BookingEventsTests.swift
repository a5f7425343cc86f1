import DocumentStore
import TestSupport
import Testing

@testable import Booking

/// The outbox: an event in the commit of each change of a booking, none for a change refused
/// or repeated, in the booking's order; on the in-memory store with a hand-stepped clock.
@Suite struct BookingEventsTests: DeskSuite {
    let testDesk: TestDesk

    init() throws {
        testDesk = try TestDesk(outboxes: [.webhooks])
    }

    func book(_ slot: Int, _ name: String = "Ann", on desk: BookingDesk? = nil) throws -> NewBooking {
        try (desk ?? self.desk).book(
            BookingRequest(serviceID: serviceID, slot: slots[slot], userName: name, contact: Contact(email: "ann@example.com")))
    }

    /// The outbox's events as (id, type, slot of the booking it holds), in id order.
    func events() throws -> [(id: String, type: String, slot: String, status: String)] {
        try store.list(collection: "booking_events", pageSize: 1000, pageToken: nil).documents.map { event in
            guard case .map(let booking)? = event["booking"] else { return (event.path.id, "", "", "") }
            return (
                event.path.id, event["type"]?.stringValue ?? "", booking["slot"]?.stringValue ?? "", booking["status"]?.stringValue ?? ""
            )
        }
    }

    @Test func eachChangeWritesOneEventInOrderAndNothingElseDoes() throws {
        let made = try book(0)
        let id = made.booking.id
        _ = try desk.reschedule(id: id, to: slots[1], by: .manageToken(made.manageToken))
        _ = try desk.reschedule(id: id, to: slots[1], by: .manageToken(made.manageToken))  // where it is: no change
        _ = try desk.cancel(id: id, by: .admin)
        _ = try desk.cancel(id: id, by: .admin)  // cancelled already: no change
        let found = try events()
        #expect(found.map(\.id) == ["\(id).000000", "\(id).000001", "\(id).000002"])
        #expect(found.map(\.type) == ["booking.created", "booking.rescheduled", "booking.cancelled"])
        #expect(found.map(\.slot) == [slots[0], slots[1], slots[1]])
        #expect(found.map(\.status) == ["confirmed", "confirmed", "cancelled"])
        let first = try #require(try store.get(DocumentPath("booking_events", "\(id).000000")))
        #expect(first["sequence"] == .integer(0) && first["service_id"] == .string(serviceID))
        #expect(first["state"] == nil && first["attempts"] == nil, "pending and untried: left out of the booking's commit")
        #expect(first["created_at"] == .timestamp(Timestamp(microseconds: made.booking.timestamp.microseconds)))
        guard case .map(let booking)? = first["booking"] else { Issue.record("no booking in the event"); return }
        #expect(booking["email"] == .string("ann@example.com"), "an email needs the address")
        #expect(booking["manage_token_sha256"] == nil, "never the token, nor its hash")
    }

    @Test func aRefusedChangeWritesNoEvent() throws {
        let ann = try book(0)
        #expect(throws: BookingError.slotTaken) { try book(0, "Bob") }
        let cy = try book(1, "Cy")
        #expect(throws: BookingError.slotTaken) { try desk.reschedule(id: cy.booking.id, to: slots[0], by: .admin) }
        #expect(throws: BookingError.forbidden) { try desk.cancel(id: ann.booking.id, by: .manageToken(cy.manageToken)) }
        #expect(try events().map(\.id) == ["\(ann.booking.id).000000", "\(cy.booking.id).000000"].sorted())
    }

    @Test func withoutEventsRecordedTheOutboxStaysEmptyAndTheSequenceStillCounts() throws {
        let quiet = BookingDesk(store: store, now: { clock.now() })
        let made = try book(2, on: quiet)
        _ = try quiet.cancel(id: made.booking.id, by: .admin)
        #expect(try events().isEmpty)
        let document = try #require(try store.get(DocumentPath("bookings", made.booking.id)))
        #expect(document["event_sequence"] == .integer(1), "so that a later event is numbered after the changes made meanwhile")
    }
}
