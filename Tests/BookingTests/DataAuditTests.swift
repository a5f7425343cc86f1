import DocumentStore
import PostgresStore
import StoreConfiguration
import TestSupport
import Testing

@testable import Booking

#if canImport(Glibc)
    import Glibc
#endif

/// Bookings another application made without slot claims, on the real PostgreSQL store.
@Suite(.serialized, .enabled(if: TestEnvironment.databaseURL != nil, Comment(rawValue: TestEnvironment.noPostgres)))
struct DataAuditTests {
    let store = PostgresStore(connectionString: TestEnvironment.databaseURL ?? "", fieldIndexes: BookingDesk.fieldIndexes)
    let serviceID = "legacy-\(UInt32.random(in: 0...UInt32.max))"
    let now = Timestamp(rfc3339: "2031-03-01T00:00:00Z")!

    init() throws {
        try store.migrate()
        try store.commit([
            .create(
                DocumentPath("services", serviceID),
                [
                    "service_id": .string(serviceID), "service_name": .string("Legacy"),
                    "available_slots": .array(
                        [
                            "2031-02-01T09:00:00Z", "2031-03-04T11:00:00+00:00", "2031-03-04T12:00:00Z",
                            "2031-03-04T13:00:00Z",
                        ].map(Value.string)),
                ])
        ])
    }

    /// A booking as the original application stored it: no claim, the slot as it was offered.
    func legacyBooking(_ id: String, slot: String, at second: Int64, documentID: String? = nil) throws {
        try store.commit([
            .create(
                DocumentPath("bookings", documentID ?? id),
                [
                    "booking_id": .string(id), "service_id": .string(serviceID), "slot": .string(slot), "user_name": .string("Old"),
                    "timestamp": .timestamp(Timestamp(seconds: 1_900_000_000 + second)),
                ])
        ])
    }

    func claimHolder(_ slot: String) throws -> String? {
        try store.get(DocumentPath("slot_claims", "\(serviceID)@\(slot)"))?["booking_id"]?.stringValue
    }

    @Test func backfillClaimsFutureBookedSlotsOnceAndReportsDoubleBookings() throws {
        let prefix = serviceID
        try legacyBooking("\(prefix)-past", slot: "2031-02-01T09:00:00Z", at: 0)
        try legacyBooking("\(prefix)-old", slot: "2031-03-04T11:00:00+00:00", at: 1)
        try legacyBooking("\(prefix)-late", slot: "2031-03-04T12:00:00Z", at: 9)
        try legacyBooking("\(prefix)-early", slot: "2031-03-04T12:00:00Z", at: 2)
        let problems = ProblemsReportedOnce { _ in }
        let audit = DataAudit(store: store, reader: DocumentReader(problems: problems))

        let first = try audit.backfillClaims(now: now)
        #expect(first.created >= 2)
        #expect(try claimHolder("2031-03-04T11:00:00Z") == "\(prefix)-old")
        #expect(try claimHolder("2031-03-04T12:00:00Z") == "\(prefix)-early", "a slot booked twice is claimed for its earliest booking")
        #expect(try claimHolder("2031-02-01T09:00:00Z") == nil, "a slot that has begun gets no claim")
        #expect(
            problems.all.contains(
                .doubleBooking(
                    serviceID: serviceID, slot: try Slot(parsing: "2031-03-04T12:00:00Z"),
                    bookingIDs: ["\(prefix)-early", "\(prefix)-late"])))

        // Idempotent: nothing of this service is created again.
        try store.commit([.delete(DocumentPath("slot_claims", "\(serviceID)@2031-03-04T11:00:00Z"), .none)])
        #expect(try audit.backfillClaims(now: now).created >= 1)
        #expect(try claimHolder("2031-03-04T11:00:00Z") == "\(prefix)-old")

        let desk = BookingDesk(store: store, now: { Timestamp(rfc3339: "2031-03-01T00:00:00Z")! })
        #expect(try desk.service(id: serviceID).availableSlots.map(\.description) == ["2031-03-04T13:00:00Z"])
        #expect(throws: BookingError.slotTaken) {
            try desk.book(BookingRequest(serviceID: serviceID, slot: "2031-03-04T11:00:00Z", userName: "New"))
        }
        // The slot booked twice stays taken when its claimant is cancelled: the other holds it.
        _ = try desk.cancel(id: "\(prefix)-early", by: .admin)
        #expect(try claimHolder("2031-03-04T12:00:00Z") == "\(prefix)-late")
        #expect(try desk.service(id: serviceID).availableSlots.map(\.description) == ["2031-03-04T13:00:00Z"])
    }

    @Test func aBookingStoresItsSlotAsTheServiceSpellsIt() throws {
        let desk = BookingDesk(store: store, now: { Timestamp(rfc3339: "2031-03-01T00:00:00Z")! })
        let booking = try desk.book(BookingRequest(serviceID: serviceID, slot: "2031-03-04T11:00:00Z", userName: "New")).booking
        #expect(booking.slot.description == "2031-03-04T11:00:00Z")
        #expect(try store.get(DocumentPath("bookings", booking.id))?["slot"] == .string("2031-03-04T11:00:00+00:00"))
    }

    @Test func servicesAndBookingsWithOtherDocumentIDsAreFoundByTheirIDFields() throws {
        let field = "\(serviceID)-field"
        try store.commit([
            .create(
                DocumentPath("services", "random-\(serviceID)"),
                [
                    "service_id": .string(field), "service_name": .string("Added"), "available_slots": .array([.string("2031-03-05T09:00:00Z")]),
                ])
        ])
        try legacyBooking("\(serviceID)-by-field", slot: "2031-03-04T13:00:00Z", at: 3, documentID: "random-booking-\(serviceID)")
        let desk = BookingDesk(store: store, now: { Timestamp(rfc3339: "2031-03-01T00:00:00Z")! })
        #expect(try desk.service(id: field).service.name == "Added")
        #expect(try desk.booking(id: "\(serviceID)-by-field").slot.description == "2031-03-04T13:00:00Z")
        #expect(throws: BookingError.bookingNotFound) { try desk.booking(id: "random-booking-\(serviceID)") }
        _ = try desk.book(BookingRequest(serviceID: field, slot: "2031-03-05T09:00:00Z", userName: "New"))
    }

    @Test func checkCountsAndReportsBookingsWithoutClaims() throws {
        try legacyBooking("\(serviceID)-unclaimed", slot: "2031-03-04T13:00:00Z", at: 4)
        let problems = ProblemsReportedOnce { _ in }
        let check = try DataAudit(store: store, reader: DocumentReader(problems: problems)).check(now: now)
        #expect(check.services >= 1 && check.bookings >= 1)
        #expect(
            problems.all.contains(
                .bookingWithoutClaim(
                    DocumentPath("bookings", "\(serviceID)-unclaimed"), serviceID: serviceID,
                    slot: try Slot(parsing: "2031-03-04T13:00:00Z"))))
    }
}
