import DocumentStore
import DocumentStoreConformance
import PostgresStore
import TestSupport
import Testing

@testable import Booking

#if canImport(Glibc)
    import Glibc
#endif

/// The booking rules on the in-memory store, with a hand-stepped clock (2030, before every
/// slot the tests book).
@Suite struct BookingDeskTests: DeskSuite {
    let testDesk: TestDesk

    init() throws {
        testDesk = try TestDesk()
    }

    @Test func bookingAFreeSlotConfirmsIt() throws {
        let booking = try desk.book(BookingRequest(serviceID: serviceID, slot: slots[1], userName: "  Ann  ")).booking
        #expect(booking.serviceID == serviceID)
        #expect(booking.slot.description == slots[1])
        #expect(booking.userName == "Ann")
        #expect(booking.id.count == 20)
        #expect(try desk.booking(id: booking.id) == booking)
    }

    @Test func bookingTheSameSlotTwiceIsAConflict() throws {
        _ = try desk.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: "Ann"))
        #expect(throws: BookingError.slotTaken) { try desk.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: "Bob")) }
    }

    @Test func anotherSpellingOfABookedInstantIsTheSameSlot() throws {
        _ = try desk.book(BookingRequest(serviceID: serviceID, slot: "2031-03-01T10:00:00+01:00", userName: "Ann"))
        #expect(throws: BookingError.slotTaken) {
            try desk.book(BookingRequest(serviceID: serviceID, slot: "2031-03-01T09:00:00.000Z", userName: "Bob"))
        }
    }

    @Test func theSameSlotOfAnotherServiceIsFree() throws {
        let other = "\(serviceID)-b"
        _ = try desk.createService(NewService(id: other, name: "Other", slots: slots))
        _ = try desk.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: "Ann"))
        _ = try desk.book(BookingRequest(serviceID: other, slot: slots[0], userName: "Bob"))
    }

    @Test func aServiceWhoseIDExtendsAnotherWithAtKeepsItsOwnClaims() throws {
        // Claim ids are `{service_id}@{slot}`: the claims of "x@y" lie in the id range read for "x".
        let extended = "\(serviceID)@\(slots[0])"
        _ = try desk.createService(NewService(id: extended, name: "Extended", slots: slots))
        _ = try desk.book(BookingRequest(serviceID: extended, slot: slots[1], userName: "Ann"))
        #expect(try desk.service(id: serviceID).availableSlots.map(\.description) == slots)
        #expect(try desk.service(id: extended).availableSlots.map(\.description) == [slots[0], slots[2]])
        let listed = try desk.services().filter { $0.service.id.hasPrefix(serviceID) }
        #expect(listed.map { $0.availableSlots.count } == [3, 2])
    }

    @Test func aBookedSlotLeavesTheAvailableList() throws {
        _ = try desk.book(BookingRequest(serviceID: serviceID, slot: slots[1], userName: "Ann"))
        let expected = [slots[0], slots[2]]
        #expect(try desk.service(id: serviceID).availableSlots.map(\.description) == expected)
        let listed = try desk.services().first { $0.service.id == serviceID }
        #expect(listed?.availableSlots.map(\.description) == expected)
        #expect(listed?.service.slots.count == 3)
    }

    @Test func refusalsNameTheirReason() throws {
        #expect(throws: BookingError.serviceNotFound) {
            try desk.book(BookingRequest(serviceID: "no-such-\(serviceID)", slot: slots[0], userName: "A"))
        }
        #expect(throws: BookingError.slotNotOffered) {
            try desk.book(BookingRequest(serviceID: serviceID, slot: "2031-03-01T09:30:00Z", userName: "A"))
        }
        #expect(throws: BookingError.self) { try desk.book(BookingRequest(serviceID: serviceID, slot: "tomorrow", userName: "A")) }
        #expect(throws: BookingError.self) { try desk.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: " ")) }
        #expect(throws: BookingError.self) { try desk.book(BookingRequest(serviceID: "a/b", slot: slots[0], userName: "A")) }
        #expect(throws: BookingError.serviceNotFound) { try desk.service(id: "a/../b") }
        #expect(throws: BookingError.bookingNotFound) { try desk.booking(id: "nope-\(serviceID)") }
    }

    @Test func aSlotThatHasBegunCannotBeBooked() throws {
        let later = BookingDesk(store: store, now: { Timestamp(rfc3339: "2031-03-01T10:00:00Z")! })
        #expect(throws: BookingError.slotInPast) { try later.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: "A")) }
        #expect(throws: BookingError.slotInPast) { try later.book(BookingRequest(serviceID: serviceID, slot: slots[1], userName: "A")) }
        _ = try later.book(BookingRequest(serviceID: serviceID, slot: slots[2], userName: "A"))
    }

    @Test func slotsThatHaveBegunAreNotListedAsFree() throws {
        let at = { (instant: String) in BookingDesk(store: store, now: { Timestamp(rfc3339: instant)! }) }
        func listed(by desk: BookingDesk) throws -> [String] {
            let one = try desk.service(id: serviceID).availableSlots.map(\.description)
            let all = try desk.services().first { $0.service.id == serviceID }?.availableSlots.map(\.description)
            #expect(one == all, "the catalog and the one service agree")
            return one
        }
        #expect(try listed(by: at("2031-03-01T08:59:59Z")) == slots)
        #expect(try listed(by: at("2031-03-01T09:00:00Z")) == Array(slots[1...]), "a slot that begins now has begun")
        _ = try desk.book(BookingRequest(serviceID: serviceID, slot: slots[2], userName: "A"))
        #expect(try listed(by: at("2031-03-01T09:30:00Z")) == [slots[1]])
        #expect(try listed(by: at("2031-03-01T11:00:01Z")) == [])
        let created = try at("2031-03-01T10:00:00Z").createService(NewService(id: "\(serviceID)-new", name: "New", slots: slots))
        #expect(created.service.slots.count == 3, "every slot is stored")
        #expect(created.availableSlots.map(\.description) == [slots[2]])
    }

    @Test func pruningDeletesTheClaimsOfSlotsThatBeganBeforeTheCutoffOnly() throws {
        // Slots of 2027 booked "in 2026", then pruned "in 2027"; no other test books slots that early.
        let slots = ["2027-06-01T09:00:00Z", "2027-06-01T10:00:00Z", "2027-06-01T11:00:00Z"]
        let early = BookingDesk(store: store, now: { Timestamp(rfc3339: "2027-01-01T00:00:00Z")! })
        let id = "\(serviceID)-2027"
        _ = try early.createService(NewService(id: id, name: "Early", slots: slots))
        let bookings = try slots.map { try early.book(BookingRequest(serviceID: id, slot: $0, userName: "A")).booking }
        func claims() throws -> [String] { try store.ids(collection: "slot_claims", in: Collections.claimIDs(of: id)) }

        #expect(try desk.pruneClaims(ofSlotsBefore: Timestamp(rfc3339: "2027-06-01T10:00:00Z")!) >= 1)
        #expect(try claims() == ["\(id)@\(slots[1])", "\(id)@\(slots[2])"], "a slot that begins at the cutoff keeps its claim")
        for booking in bookings { #expect(try desk.booking(id: booking.id) == booking, "the bookings stay") }
        #expect(throws: BookingError.slotTaken, "a kept claim still guards its slot") {
            try early.book(BookingRequest(serviceID: id, slot: slots[1], userName: "B"))
        }
    }

    @Test func rejectedRequestsWriteNothing() throws {
        _ = try desk.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: "Ann"))
        let before = try documentCount()
        _ = try? desk.book(BookingRequest(serviceID: serviceID, slot: slots[0], userName: "Bob"))
        _ = try? desk.book(BookingRequest(serviceID: serviceID, slot: "2031-03-01T09:30:00Z", userName: "Bob"))
        _ = try? desk.book(BookingRequest(serviceID: serviceID, slot: slots[1], userName: ""))
        _ = try? desk.createService(NewService(id: serviceID, name: "Again", slots: []))
        _ = try? desk.createService(NewService(id: "\(serviceID)-x", name: "Bad", slots: ["2031-03-01T09:00:00.5Z"]))
        #expect(try documentCount() == before)
        #expect(try store.get(DocumentPath("services", "\(serviceID)-x")) == nil)
    }

    @Test func creatingAServiceNormalisesItsSlots() throws {
        let created = try desk.createService(
            NewService(
                id: nil, name: " Massage ",
                slots: [
                    "2031-03-02T11:00:00+01:00", "2031-03-02T09:00:00Z", "2031-03-02T10:00:00Z", "2031-03-02T10:00:00.000Z",
                ]))
        #expect(created.service.id.count == 20)
        #expect(created.service.name == "Massage")
        #expect(created.service.slots.map(\.description) == ["2031-03-02T09:00:00Z", "2031-03-02T10:00:00Z"])
        #expect(try desk.service(id: created.service.id) == created)
        #expect(throws: BookingError.serviceExists) {
            try desk.createService(NewService(id: created.service.id, name: "Again", slots: []))
        }
    }

    @Test func manyThreadsBookingOneSlotMakeExactlyOneBooking() throws {
        let (database, clock) = (database, clock)
        let counts = raceForOneSlot(serviceID: serviceID, slot: slots[2]) { BookingDesk(store: database.makeStore(), now: { clock.now() }) }
        #expect(counts == ["booked": 1, "slot_taken": 23])
        #expect(try documents(in: "slot_claims").count == 1)
        #expect(try documents(in: "bookings").count == 1)
    }

    @Test func readsDocumentsWrittenByTheOriginalApplication() throws {
        // The Python/Firestore version wrote slots as it received them and the time as a string.
        let id = "\(serviceID)-legacy"
        try store.commit([
            .create(
                DocumentPath("services", id),
                [
                    "service_id": .string(id), "service_name": .string("Legacy"),
                    "available_slots": .array([.string("2031-03-03T10:00:00+01:00"), .string("not a time"), .string("2031-03-03T08:00:00Z")]),
                ]),
            .create(
                DocumentPath("bookings", "\(id)-b"),
                [
                    "booking_id": .string("\(id)-b"), "service_id": .string(id), "slot": .string("2031-03-03T08:00:00Z"),
                    "user_name": .string("Old"), "timestamp": .string("2026-01-01T12:00:00Z"),
                ]),
        ])
        #expect(try desk.service(id: id).availableSlots.map(\.description) == ["2031-03-03T08:00:00Z", "2031-03-03T09:00:00Z"])
        #expect(try desk.booking(id: "\(id)-b").timestamp == Timestamp(rfc3339: "2026-01-01T12:00:00Z"))
    }

    /// Documents that name this test's service.
    private func documentCount() throws -> Int {
        try documents(in: "bookings").count + documents(in: "slot_claims").count + documents(in: "services").count
    }

    /// The documents of `collection` whose `service_id` is this test's service.
    private func documents(in collection: String) throws -> [Document] {
        try store.listAll(collection: collection).filter { $0["service_id"] == .string(serviceID) }
    }
}

/// The race for one slot on the real PostgreSQL store the test command started, where claims are
/// rows and commits from many connections go in batches.
@Suite(.enabled(if: TestEnvironment.databaseURL != nil, Comment(rawValue: TestEnvironment.noPostgres)))
struct BookingDeskOnPostgresTests {
    @Test func manyConnectionsBookingOneSlotMakeExactlyOneBooking() throws {
        let databaseURL = TestEnvironment.databaseURL ?? ""
        let store = PostgresStore(connectionString: databaseURL)
        try store.migrate()
        let serviceID = "pg-\(UInt32.random(in: 0...UInt32.max))", slot = "2031-03-01T11:00:00Z"
        _ = try BookingDesk(store: store, now: Timestamp.now).createService(NewService(id: serviceID, name: "Room", slots: [slot]))
        let batcher = CommitBatcher()
        let counts = raceForOneSlot(serviceID: serviceID, slot: slot) {
            BookingDesk(store: PostgresStore(connectionString: databaseURL, batcher: batcher), now: Timestamp.now)
        }
        #expect(counts == ["booked": 1, "slot_taken": 23])
        let bookings = try store.listAll(collection: "bookings").filter { $0["service_id"] == .string(serviceID) }
        #expect(bookings.count == 1)
        #expect(try store.ids(collection: "slot_claims", in: Collections.claimIDs(of: serviceID)) == ["\(serviceID)@\(slot)"])
    }
}

/// 24 threads, each with a desk of its own, book one slot at once: how many got which outcome
/// ("booked" or the error's code).
func raceForOneSlot(serviceID: String, slot: String, makeDesk: @escaping @Sendable () -> BookingDesk) -> [String: Int] {
    race(24) { index in
        do throws(BookingError) {
            _ = try makeDesk().book(BookingRequest(serviceID: serviceID, slot: slot, userName: "client \(index)"))
            return "booked"
        } catch {
            return error.code
        }
    }
}
