import DocumentStore
import Testing

@testable import Booking

/// Another application books in the same store without slot claims (`EXTERNAL_WRITERS`), on the
/// in-memory store with a fixed clock.
@Suite struct ExternalWritersTests {
    let store = MemoryDatabase().makeStore()
    let now = Timestamp(rfc3339: "2031-03-01T00:00:00Z")!

    init() throws {
        try store.commit([
            .create(
                DocumentPath("services", "legacy"),
                [
                    "service_id": .string("legacy"), "service_name": .string("Legacy"),
                    "available_slots": .array([.string("2031-03-04T11:00:00+00:00"), .string("2031-03-04T12:00:00+00:00")]),
                ]),
            // As the original application books: no claim, the slot as the service spells it.
            .create(
                DocumentPath("bookings", "old"),
                [
                    "booking_id": .string("old"), "service_id": .string("legacy"), "slot": .string("2031-03-04T11:00:00+00:00"),
                    "user_name": .string("Old"), "timestamp": .timestamp(Timestamp(seconds: 1_900_000_000)),
                ]),
        ])
    }

    func desk(externalWriters: Bool) -> BookingDesk {
        let now = self.now
        return BookingDesk(store: store, now: { now }, externalWriters: externalWriters)
    }

    @Test func aSlotTheOtherApplicationBookedIsUnlistedAndAConflict() throws {
        let desk = desk(externalWriters: true)
        #expect(try desk.service(id: "legacy").availableSlots.map(\.description) == ["2031-03-04T12:00:00Z"])
        #expect(try desk.services().first?.availableSlots.map(\.description) == ["2031-03-04T12:00:00Z"])
        #expect(throws: BookingError.slotTaken) { try desk.book(BookingRequest(serviceID: "legacy", slot: "2031-03-04T11:00:00Z", userName: "New")) }
        let booking = try desk.book(BookingRequest(serviceID: "legacy", slot: "2031-03-04T12:00:00Z", userName: "New")).booking
        #expect(try store.get(DocumentPath("bookings", booking.id))?["slot"] == .string("2031-03-04T12:00:00+00:00"))
        #expect(try desk.service(id: "legacy").availableSlots.isEmpty)
    }

    @Test func withoutTheSettingOnlyClaimsAndBookingsPresentAtStartCount() throws {
        #expect(try desk(externalWriters: false).service(id: "legacy").availableSlots.count == 2, "no claim yet: listed free")
        _ = try DataAudit(store: store, reader: DocumentReader()).backfillClaims(now: now)
        #expect(try desk(externalWriters: false).service(id: "legacy").availableSlots.map(\.description) == ["2031-03-04T12:00:00Z"])
    }

    @Test func aCancelledBookingNoLongerHoldsItsSlotAndAMoveChecksTheOtherApplicationsBookings() throws {
        let desk = desk(externalWriters: true)
        let made = try desk.book(BookingRequest(serviceID: "legacy", slot: "2031-03-04T12:00:00Z", userName: "New"))
        #expect(throws: BookingError.slotTaken, "the other application's booking holds 11:00 without a claim") {
            try desk.reschedule(id: made.booking.id, to: "2031-03-04T11:00:00Z", by: .manageToken(made.manageToken))
        }
        #expect(try desk.cancel(id: "old", by: .admin).status == .cancelled)
        #expect(try desk.service(id: "legacy").availableSlots.map(\.description) == ["2031-03-04T11:00:00Z"], "cancelled: free")
        let moved = try desk.reschedule(id: made.booking.id, to: "2031-03-04T11:00:00Z", by: .manageToken(made.manageToken))
        #expect(moved.slot.description == "2031-03-04T11:00:00Z")
        #expect(try desk.service(id: "legacy").availableSlots.map(\.description) == ["2031-03-04T12:00:00Z"])
    }
}
