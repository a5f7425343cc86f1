import DocumentStore
import TestSupport
import Testing

@testable import Booking

/// Slots with more than one seat: one claim per seat taken, never more bookings than seats,
/// and a cancelled or moved booking's seat free again.
@Suite struct SeatsTests: DeskSuite {
    let testDesk: TestDesk

    init() throws {
        testDesk = try TestDesk(serviceID: "class", seats: 3, slots: ["2031-03-01T09:00:00Z", "2031-03-01T10:00:00Z"])
    }

    func book(_ slot: String, _ name: String = "Ann") throws -> NewBooking {
        try desk.book(BookingRequest(serviceID: "class", slot: slot, userName: name))
    }

    /// The listed seats left of each slot.
    func seatsLeft() throws -> [String: Int] {
        let availability = try desk.service(id: "class")
        return Dictionary(
            uniqueKeysWithValues: availability.availableSlots.indices.map {
                (availability.availableSlots[$0].description, availability.seatsLeft(at: $0))
            })
    }

    func claimIDs() throws -> [String] {
        try store.ids(collection: "slot_claims", in: nil)
    }

    @Test func eachBookingTakesTheLowestFreeSeatUntilNoneIsLeft() throws {
        #expect(try seatsLeft() == [slots[0]: 3, slots[1]: 3])
        let bookings = try (1...3).map { try book(slots[0], "Guest \($0)").booking }
        #expect(bookings.map(\.seat) == [1, 2, 3])
        #expect(try claimIDs() == ["class@\(slots[0])", "class@\(slots[0])#2", "class@\(slots[0])#3"])
        #expect(throws: BookingError.slotTaken) { try book(slots[0], "Late") }
        #expect(try seatsLeft() == [slots[1]: 3])
        // The seat is recorded beside the original fields, the first seat's not at all.
        #expect(try store.get(DocumentPath("bookings", bookings[0].id))?["seat"] == nil)
        #expect(try store.get(DocumentPath("bookings", bookings[2].id))?["seat"] == .integer(3))
        #expect(try desk.booking(id: bookings[2].id).seat == 3)
    }

    @Test func aCancelledSeatIsFreeAndTakenAgain() throws {
        let bookings = try (1...3).map { try book(slots[0], "Guest \($0)").booking }
        _ = try desk.cancel(id: bookings[1].id, by: .admin)
        #expect(try seatsLeft()[slots[0]] == 1)
        #expect(try claimIDs().contains("class@\(slots[0])#2") == false)
        #expect(try store.get(DocumentPath("slot_releases", "class@\(slots[0])#2")) != nil)
        #expect(try book(slots[0], "Next").booking.seat == 2)
        #expect(throws: BookingError.slotTaken) { try book(slots[0], "Late") }
    }

    @Test func movingTakesAFreeSeatOfTheTargetAndFreesItsOwn() throws {
        let first = try book(slots[0]).booking
        let second = try book(slots[0], "Bob").booking
        _ = try book(slots[1], "Cy")
        let moved = try desk.reschedule(id: second.id, to: slots[1], by: .admin)
        #expect(moved.seat == 2 && moved.slot.description == slots[1])
        #expect(try seatsLeft() == [slots[0]: 2, slots[1]: 1])
        #expect(try claimIDs().sorted() == ["class@\(slots[0])", "class@\(slots[1])", "class@\(slots[1])#2"])
        // Back to the first slot, where seat 2 is free again.
        let back = try desk.reschedule(id: moved.id, to: slots[0], by: .admin)
        #expect(back.seat == 2 && first.seat == 1)
        #expect(try store.get(DocumentPath("bookings", moved.id))?["seat"] == .integer(2))
        _ = try book(slots[1], "Di")
        _ = try book(slots[1], "Ed")
        #expect(throws: BookingError.slotTaken) { try desk.reschedule(id: first.id, to: slots[1], by: .admin) }
        #expect(try desk.booking(id: first.id).slot.description == slots[0], "a refused move changes nothing")
    }

    @Test func aSeatTakenBetweenTheReadAndTheCommitIsPassedOver() throws {
        // Another host took seat 1 without this desk seeing it in the read: the commit fails on
        // seat 1's claim, and the next free seat is tried.
        _ = try book(slots[0])
        let racing = RacingStore(store, claimBefore: DocumentPath("slot_claims", "class@\(slots[0])#2"))
        let other = BookingDesk(store: racing, now: { clock.now() })
        let booking = try other.book(BookingRequest(serviceID: "class", slot: slots[0], userName: "Bob")).booking
        #expect(booking.seat == 3)
        #expect(try claimIDs().count == 3)
        #expect(throws: BookingError.slotTaken) { try book(slots[0], "Late") }
    }

    @Test func theAuditTakesAFullSlotForWhatItIsAndReportsOneBookedPastItsSeats() throws {
        let bookings = try (1...3).map { try book(slots[0], "Guest \($0)").booking }
        let problems = CollectedProblems()
        _ = try DataAudit(store: store, reader: DocumentReader(problems: problems)).check(now: clock.now())
        #expect(problems.all.isEmpty)
        // A fourth booking written past the rules (another program), without a claim.
        var fields = try #require(try store.get(DocumentPath("bookings", bookings[0].id))).fields
        fields["booking_id"] = .string("extra")
        _ = try store.commit([.create(DocumentPath("bookings", "extra"), fields)])
        _ = try DataAudit(store: store, reader: DocumentReader(problems: problems)).check(now: clock.now())
        #expect(problems.all.contains { if case .doubleBooking(_, _, let ids) = $0 { ids.count == 4 } else { false } })
        #expect(problems.all.contains { if case .bookingWithoutClaim = $0 { true } else { false } } == false, "its seat 1 claim exists")
    }

    @Test func seatsOutOfBoundsAreRefused() throws {
        for seats: Int64 in [0, 1001] {
            var settings = ServiceSettingsInput()
            settings.seats = seats
            #expect(throws: BookingError.invalidField("seats", "must be from 1 to 1000")) {
                try desk.createService(NewService(id: "bad", name: "Bad", slots: slots, settings: settings))
            }
        }
    }
}

/// A store that, just before the first commit holding `claimBefore`, creates that claim for
/// someone else: a race lost between reading the taken seats and committing.
final class RacingStore: DocumentStore, @unchecked Sendable {
    private let store: MemoryStore
    private let path: DocumentPath
    private var raced = false

    init(_ store: MemoryStore, claimBefore path: DocumentPath) {
        self.store = store
        self.path = path
    }

    var backendName: String { store.backendName }
    func get(_ path: DocumentPath) throws(StoreError) -> Document? { try store.get(path) }
    func version(of path: DocumentPath) throws(StoreError) -> DocumentVersion? { try store.version(of: path) }
    func versions(collection: String) throws(StoreError) -> [DocumentVersion] { try store.versions(collection: collection) }
    func list(collection: String, pageSize: Int, pageToken: String?) throws(StoreError) -> DocumentPage {
        try store.list(collection: collection, pageSize: pageSize, pageToken: pageToken)
    }
    func ids(collection: String, in range: DocumentIDRange?) throws(StoreError) -> [String] { try store.ids(collection: collection, in: range) }
    func query(collection: String, where filter: FieldFilter?, select: [String]?) throws(StoreError) -> [Document] {
        try store.query(collection: collection, where: filter, select: select)
    }
    func written(collection: String, since: Timestamp) throws(StoreError) -> WrittenDocuments? {
        try store.written(collection: collection, since: since)
    }
    func ping() throws(StoreError) { try store.ping() }
    func commit(_ writes: [Write]) throws(StoreError) -> Timestamp {
        if !raced, writes.contains(where: { $0.path == path }) {
            raced = true
            _ = try store.commit([.create(path, ["booking_id": .string("someone-else")])])
        }
        return try store.commit(writes)
    }
}
