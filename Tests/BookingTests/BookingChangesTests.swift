import DocumentStore
import TestSupport
import Testing

@testable import Booking

/// Cancelling and moving bookings, contact details and manage tokens, and the listing, on the
/// in-memory store with a hand-stepped clock (2030, before the slots).
@Suite struct BookingChangesTests: DeskSuite {
    let testDesk: TestDesk

    init() throws {
        testDesk = try TestDesk()
    }

    func book(_ slot: Int, _ name: String = "Ann", contact: Contact = Contact()) throws -> NewBooking {
        try desk.book(BookingRequest(serviceID: serviceID, slot: slots[slot], userName: name, contact: contact))
    }

    func claims() throws -> [String] { try store.ids(collection: "slot_claims", in: nil) }
    func releases() throws -> [String] { try store.ids(collection: "slot_releases", in: nil) }
    func free() throws -> [String] { try desk.service(id: serviceID).availableSlots.map(\.description) }

    @Test func aBookingComesWithAManageTokenThatIsStoredOnlyAsItsHash() throws {
        let made = try book(0, contact: Contact(email: " ann@example.com ", phone: "+49 30 1234", notes: ""))
        #expect(made.manageToken.utf8.count == 32 && Base64Alphabet.holds(made.manageToken), "192 bits in base64url")
        #expect(made.booking.status == .confirmed)
        #expect(made.booking.contact == Contact(email: "ann@example.com", phone: "+49 30 1234", notes: nil), "trimmed; empty is absent")
        let document = try #require(try store.get(DocumentPath("bookings", made.booking.id)))
        #expect(document["manage_token_sha256"]?.stringValue == ManageToken.hash(made.manageToken))
        #expect(!document.fields.values.contains(.string(made.manageToken)), "never the token itself")
        #expect(document["status"] == .string("confirmed"))
        #expect(try book(1).manageToken != made.manageToken)
    }

    @Test func contactDetailsAreShownOnlyToTheTokensHolderAndTheAdmin() throws {
        let made = try book(0, contact: Contact(email: "ann@example.com"))
        #expect(try desk.booking(id: made.booking.id).contact == Contact(), "the public view")
        #expect(try desk.booking(id: made.booking.id, by: .manageToken(made.manageToken)).contact.email == "ann@example.com")
        #expect(try desk.booking(id: made.booking.id, by: .admin).contact.email == "ann@example.com")
        #expect(throws: BookingError.forbidden) { try desk.booking(id: made.booking.id, by: .manageToken(try book(1).manageToken)) }
        #expect(throws: BookingError.forbidden) { try desk.booking(id: made.booking.id, by: .manageToken("")) }
    }

    @Test(arguments: [
        Contact(email: "ann"), Contact(email: "ann@example"), Contact(email: "a b@example.com"), Contact(email: "@example.com"),
        Contact(email: String(repeating: "a", count: 250) + "@x.io"), Contact(email: "ann@exa_mple.com"), Contact(email: "ann@-x.com"),
        Contact(phone: "call me"), Contact(phone: "+1 (555) 0100 0100 0100 0100 0100 0"), Contact(phone: "()"),
        Contact(notes: String(repeating: "n", count: 1001)), Contact(notes: "bell \u{7}"),
    ])
    func invalidContactDetailsAreRefusedAndChangeNothing(_ contact: Contact) throws {
        #expect(throws: BookingError.self) { try book(0, contact: contact) }
        #expect(try claims().isEmpty)
    }

    @Test func validContactDetailsAreKept() throws {
        let notes = "Line one\nline two\twith a tab, " + String(repeating: "é", count: 900)
        let contact = Contact(email: "ann.o'neil+cut@bücher.example.de", phone: "+1 (555) 010-0100", notes: notes)
        #expect(try book(0, contact: contact).booking.contact == contact)
    }

    @Test func cancellingFreesTheSlotInTheSameCommitAndAgainAnswersTheSame() throws {
        let made = try book(0)
        clock.advance(by: 60)
        let cancelled = try desk.cancel(id: made.booking.id, by: .manageToken(made.manageToken))
        #expect(cancelled.status == .cancelled && cancelled.cancelledAt == clock.now())
        #expect(try claims().isEmpty, "the claim is gone")
        #expect(try releases() == ["\(serviceID)@\(slots[0])"], "and its release written")
        #expect(try free() == slots)
        clock.advance(by: 60)
        #expect(try desk.cancel(id: made.booking.id, by: .admin) == cancelled, "again: the same booking, nothing changed")
        #expect(try desk.booking(id: made.booking.id, by: .admin) == cancelled)
        let again = try book(0, "Bob")
        #expect(try claims() == ["\(serviceID)@\(slots[0])"] && again.booking.slot == made.booking.slot, "the slot can be booked again")
    }

    @Test func aCancelReadsTheBookingOnlyAndCommitsOnce() throws {
        let made = try book(0)
        let counting = CountingStore(store)
        let desk = BookingDesk(store: counting, now: { clock.now() })
        _ = try desk.cancel(id: made.booking.id, by: .manageToken(made.manageToken))
        #expect((counting.count("get"), counting.count("commit")) == (1, 1), "the claim deleted under the booking's update time, unread")
        let moved = try book(1)
        _ = try desk.reschedule(id: moved.booking.id, to: slots[2], by: .admin)
        // The booking and the service's definition (which the server's cached directory keeps).
        #expect((counting.count("get"), counting.count("commit")) == (3, 2))
    }

    @Test func onlyTheTokenOrTheAdminCancels() throws {
        let made = try book(0)
        let other = try book(1)
        #expect(throws: BookingError.forbidden) { try desk.cancel(id: made.booking.id, by: .manageToken(other.manageToken)) }
        #expect(throws: BookingError.bookingNotFound) { try desk.cancel(id: "no-such-booking", by: .admin) }
        #expect(try claims().count == 2)
        #expect(try desk.cancel(id: made.booking.id, by: .admin).status == .cancelled)
    }

    @Test func aCustomerCannotCancelOnceTheSlotHasBegunButTheAdminCan() throws {
        let made = try book(0)
        clock.advance(by: Double(try #require(Timestamp(rfc3339: slots[0])).seconds - clock.now().seconds))
        #expect(throws: BookingError.bookingInPast) { try desk.cancel(id: made.booking.id, by: .manageToken(made.manageToken)) }
        #expect(try desk.cancel(id: made.booking.id, by: .admin).status == .cancelled)
    }

    @Test func cancellingKeepsTheFieldsOtherApplicationsAdded() throws {
        let made = try book(0)
        let path = DocumentPath("bookings", made.booking.id)
        var fields = try #require(try store.get(path)).fields
        fields["crm_id"] = .integer(42)
        try store.commit([.set(path, fields, .none)])  // the booking changed without its claim: the careful way
        _ = try desk.cancel(id: made.booking.id, by: .admin)
        #expect(try store.get(path)?["crm_id"] == .integer(42))
        #expect(try claims().isEmpty)
    }

    @Test func cancellingABookingWhoseSlotAnotherBookingClaimsLeavesTheClaim() throws {
        let made = try book(0)
        // Another application's booking of the same slot, without a claim (a double booking in
        // data that predates the claims): cancelling it must not free the slot.
        try store.commit([
            .create(
                DocumentPath("bookings", "legacy"),
                ["booking_id": .string("legacy"), "service_id": .string(serviceID), "slot": .string(slots[0]), "user_name": .string("Old")])
        ])
        #expect(try desk.cancel(id: "legacy", by: .admin).status == .cancelled)
        #expect(try claims() == ["\(serviceID)@\(slots[0])"])
        #expect(try store.get(DocumentPath("slot_claims", "\(serviceID)@\(slots[0])"))?["booking_id"] == .string(made.booking.id))
        #expect(throws: BookingError.forbidden, "no stored hash: only the admin manages it") {
            try desk.cancel(id: made.booking.id, by: .manageToken("anything"))
        }
    }

    @Test func reschedulingMovesTheClaimInOneCommit() throws {
        let made = try book(0)
        let moved = try desk.reschedule(id: made.booking.id, to: "2031-03-01T12:00:00+01:00", by: .manageToken(made.manageToken))
        #expect(moved.id == made.booking.id && moved.slot.description == slots[2] && moved.status == .confirmed)
        #expect(try claims() == ["\(serviceID)@\(slots[2])"])
        #expect(try store.get(DocumentPath("slot_claims", "\(serviceID)@\(slots[2])"))?["booking_id"] == .string(made.booking.id))
        #expect(try free() == [slots[0], slots[1]])
        #expect(try desk.booking(id: made.booking.id) == moved)
        #expect(try desk.reschedule(id: made.booking.id, to: slots[2], by: .admin) == moved, "to the slot it holds: nothing changes")
        #expect(try desk.reschedule(id: made.booking.id, to: slots[0], by: .admin).slot.description == slots[0], "and back")
    }

    @Test func reschedulingToATakenSlotKeepsTheOldOne() throws {
        let made = try book(0)
        _ = try book(1, "Bob")
        #expect(throws: BookingError.slotTaken) { try desk.reschedule(id: made.booking.id, to: slots[1], by: .admin) }
        #expect(try desk.booking(id: made.booking.id).slot.description == slots[0])
        #expect(try claims() == ["\(serviceID)@\(slots[0])", "\(serviceID)@\(slots[1])"])
        #expect(try releases().isEmpty)
    }

    @Test func reschedulingIsRefusedForSlotsNotOfferedOrPastAndForCancelledBookings() throws {
        let made = try book(1)
        #expect(throws: BookingError.slotNotOffered) { try desk.reschedule(id: made.booking.id, to: "2031-03-01T09:30:00Z", by: .admin) }
        #expect(throws: BookingError.self) { try desk.reschedule(id: made.booking.id, to: "soon", by: .admin) }
        clock.advance(by: Double(try #require(Timestamp(rfc3339: slots[0])).seconds - clock.now().seconds + 1))
        #expect(throws: BookingError.slotInPast) { try desk.reschedule(id: made.booking.id, to: slots[0], by: .admin) }
        _ = try desk.cancel(id: made.booking.id, by: .admin)
        #expect(throws: BookingError.bookingCancelled) { try desk.reschedule(id: made.booking.id, to: slots[2], by: .admin) }
        #expect(try claims().isEmpty)
    }

    @Test func aChangeRecordIsCommittedWithTheChangeOnly() throws {
        let record = ChangeRecord<NewBooking> { made in [.create(DocumentPath("records", made.booking.id), [:])] }
        let made = try desk.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: "Ann"), recording: record)
        #expect(record.committed)
        #expect(try store.get(DocumentPath("records", made.booking.id)) != nil)
        let refused = ChangeRecord<NewBooking> { made in [.create(DocumentPath("records", made.booking.id), [:])] }
        #expect(throws: BookingError.slotTaken) {
            try desk.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: "Bob"), recording: refused)
        }
        #expect(!refused.committed)
        #expect(try store.ids(collection: "records", in: nil).count == 1)
        let cancelRecord = ChangeRecord<Booking> { _ in [.create(DocumentPath("records", "cancel"), [:])] }
        _ = try desk.cancel(id: made.booking.id, by: .admin, recording: cancelRecord)
        let again = ChangeRecord<Booking> { _ in [.create(DocumentPath("records", "again"), [:])] }
        _ = try desk.cancel(id: made.booking.id, by: .admin, recording: again)
        #expect(cancelRecord.committed && !again.committed, "a cancellation that changed nothing commits nothing")
    }

    @Test func theListingIsOrderedBySlotThenIdAndPagesStayCorrectWhileBookingsChange() throws {
        var made = try (0..<3).map { try book($0, "N\($0)", contact: Contact(email: "n\($0)@example.com")) }
        let first = try desk.bookings(BookingQuery(serviceID: serviceID, limit: 2))
        #expect(first.bookings.map(\.id) == made[0...1].map(\.booking.id))
        #expect(first.bookings[0].contact.email == "n0@example.com", "with contact details")
        let next = try #require(first.next)
        #expect(try BookingCursor(token: next.token) == next)
        // Meanwhile: the first booking is cancelled, a new one is made before the cursor.
        _ = try desk.cancel(id: made[0].booking.id, by: .admin)
        made.append(try book(0, "N3"))
        let second = try desk.bookings(BookingQuery(serviceID: serviceID, limit: 2, after: next))
        #expect(second.bookings.map(\.id) == [made[2].booking.id] && second.next == nil, "the rest, nothing twice")
        let confirmed = try desk.bookings(BookingQuery(status: .confirmed)).bookings.filter { $0.serviceID == serviceID }
        #expect(Set(confirmed.map(\.id)) == Set([made[1], made[2], made[3]].map(\.booking.id)))
        let window = try desk.bookings(
            BookingQuery(serviceID: serviceID, slots: TimeRange(from: Timestamp(rfc3339: slots[1]), to: Timestamp(rfc3339: slots[2]))))
        #expect(window.bookings.map(\.id) == [made[1].booking.id], "from included, to excluded")
        #expect(throws: BookingError.self) { try desk.bookings(BookingQuery(limit: 0)) }
        #expect(throws: BookingError.self) { try desk.bookings(BookingQuery(limit: 1001)) }
        #expect(throws: BookingError.self) { try BookingCursor(token: "not a token") }
        #expect(throws: BookingError.self) { try BookingCursor(token: "djEuMQ") }
    }

    /// Two bookings of one slot as the original application stored them (no claim, no token).
    func doubleBookedBySlot(_ slot: Int) throws {
        for (id, second) in [("early", Int64(1)), ("late", 2)] {
            try store.commit([
                .create(
                    DocumentPath("bookings", id),
                    [
                        "booking_id": .string(id), "service_id": .string(serviceID), "slot": .string(slots[slot]),
                        "user_name": .string("Old"), "timestamp": .timestamp(Timestamp(seconds: 1_900_000_000 + second)),
                    ])
            ])
        }
        _ = try DataAudit(store: store, reader: DocumentReader()).backfillClaims(now: clock.now())
        #expect(try claimHolder(slot) == "early", "the backfill claims the slot for its earliest booking")
    }

    func claimHolder(_ slot: Int) throws -> String? {
        try store.get(DocumentPath("slot_claims", "\(serviceID)@\(slots[slot])"))?["booking_id"]?.stringValue
    }

    @Test func aSlotTheOriginalApplicationBookedTwiceStaysTakenUntilBothAreCancelled() throws {
        try doubleBookedBySlot(0)
        _ = try desk.cancel(id: "early", by: .admin)
        #expect(try claimHolder(0) == "late", "the claim goes to the slot's other booking")
        #expect(try !free().contains(slots[0]))
        #expect(throws: BookingError.slotTaken) { try book(0) }
        _ = try desk.cancel(id: "late", by: .admin)
        #expect(try claimHolder(0) == nil && free().contains(slots[0]))
        #expect(try book(0).booking.status == .confirmed)
    }

    @Test func movingTheHolderOfADoubleBookedSlotLeavesItToTheOtherBooking() throws {
        try doubleBookedBySlot(0)
        _ = try desk.reschedule(id: "early", to: slots[2], by: .admin)
        #expect(try claimHolder(0) == "late" && claimHolder(2) == "early")
        #expect(try free() == [slots[1]])
    }
}

/// The base64url alphabet.
enum Base64Alphabet {
    static func holds(_ text: String) -> Bool {
        text.utf8.allSatisfy { (65...90).contains($0) || (97...122).contains($0) || (48...57).contains($0) || $0 == 45 || $0 == 95 }
    }
}
