import DocumentStore
import TestSupport
import Testing

@testable import Booking

/// Editing and retiring services: what confirmed bookings would lose is refused or cancelled,
/// the document's other fields stay, and a concurrent edit is not overwritten.
@Suite struct ServiceChangesTests: DeskSuite {
    let testDesk: TestDesk

    init() throws {
        testDesk = try TestDesk(serviceID: "svc", seats: 2)
    }

    func book(_ slot: String, _ name: String = "Ann") throws -> Booking {
        try desk.book(BookingRequest(serviceID: "svc", slot: slot, userName: name)).booking
    }

    func edit(slots: [String]? = nil, seats: Int64 = 2, cancelling: Bool = false) throws -> ServiceChange {
        var settings = ServiceSettingsInput()
        settings.seats = seats
        return try desk.updateService(
            try desk.storedService(id: "svc"), to: NewService(id: nil, name: "Class", slots: slots ?? self.slots, settings: settings),
            cancellingHeldBookings: cancelling)
    }

    @Test func removingABookedSlotIsRefusedWithItsBookingsAndChangesNothing() throws {
        let ann = try book(slots[0])
        #expect(throws: BookingError.slotHasBookings([ann])) { try edit(slots: Array(slots.dropFirst())) }
        #expect(try desk.service(id: "svc").availableSlots.count == 3)
        // A free slot goes without a word.
        #expect(try edit(slots: Array(slots.dropLast())).availability?.availableSlots.count == 2)
    }

    @Test func fewerSeatsThanASlotHoldsRefusesItsLatestBookings() throws {
        let first = try book(slots[1])
        clock.advance(by: 1)
        let second = try book(slots[1], "Bob")
        #expect(throws: BookingError.slotHasBookings([second])) { try edit(seats: 1) }
        let change = try edit(seats: 1, cancelling: true)
        #expect(change.cancelled.map(\.id) == [second.id] && change.cancelled[0].status == .cancelled)
        #expect(try desk.booking(id: first.id).status == .confirmed)
        #expect(change.availability?.availableSlots.map(\.description) == [slots[0], slots[2]])
    }

    @Test func seatsLoweredBelowAClaimedSeatsNumberStillBoundTheBookings() throws {
        _ = try edit(seats: 3)
        let bookings = try (1...3).map { try book(slots[0], "Guest \($0)") }
        _ = try desk.cancel(id: bookings[1].id, by: .admin)  // seats 1 and 3 stay taken
        _ = try edit(seats: 2)
        #expect(try desk.service(id: "svc").availableSlots.map(\.description) == [slots[1], slots[2]])
        #expect(throws: BookingError.slotTaken) { try book(slots[0], "Fourth") }
        _ = try desk.cancel(id: bookings[2].id, by: .admin)
        #expect(try book(slots[0], "Fifth").seat == 2)
        #expect(throws: BookingError.slotTaken) { try book(slots[0], "Sixth") }
    }

    @Test func bookingsOfSlotsThatBeganDoNotHoldAnEditBack() throws {
        let ann = try book(slots[0])
        clock.advance(by: Double(try Slot(parsing: slots[0]).instant.seconds) - clock.wallSeconds + 60)
        #expect(try edit(slots: Array(slots.dropFirst())).cancelled.isEmpty)
        #expect(try desk.booking(id: ann.id).status == .confirmed)
    }

    @Test func fieldsOtherApplicationsAddedStayAndTheIDCannotChange() throws {
        let path = DocumentPath("services", "svc")
        var fields = try #require(try store.get(path)).fields
        fields["owner"] = .string("front desk")
        _ = try store.commit([.set(path, fields, .none)])
        _ = try edit(seats: 5)
        #expect(try store.get(path)?["owner"] == .string("front desk"))
        #expect(try store.get(path)?["seats"] == .integer(5))
        #expect(throws: BookingError.invalidField("service_id", "cannot change; create a new service instead")) {
            try desk.updateService(
                try desk.storedService(id: "svc"), to: NewService(id: "other", name: "X", slots: []), cancellingHeldBookings: false)
        }
    }

    @Test func anEditMadeFromAnOlderReadIsRefusedAsChanged() throws {
        let stale = try desk.storedService(id: "svc")
        _ = try edit(seats: 3)
        #expect(throws: BookingError.serviceChanged) {
            try desk.updateService(stale, to: NewService(id: nil, name: "Stale", slots: slots), cancellingHeldBookings: false)
        }
        #expect(try desk.storedService(id: "svc").service.settings.seats == 3)
    }

    @Test func aRetiredServiceIsNeitherListedNorBookableAndItsBookingsStay() throws {
        let ann = try book(slots[0])
        #expect(throws: BookingError.slotHasBookings([ann])) {
            try desk.retireService(try desk.storedService(id: "svc"), cancellingHeldBookings: false)
        }
        let change = try desk.retireService(try desk.storedService(id: "svc"), cancellingHeldBookings: true)
        #expect(change.retiredAt != nil && change.cancelled.map(\.id) == [ann.id])
        #expect(throws: BookingError.serviceNotFound) { try desk.service(id: "svc") }
        #expect(try desk.services().isEmpty)
        #expect(throws: BookingError.serviceNotFound) { try book(slots[1]) }
        #expect(throws: BookingError.serviceNotFound) { try desk.storedService(id: "svc") }
        #expect(try desk.booking(id: ann.id).status == .cancelled)
        #expect(throws: BookingError.serviceExists) { try desk.createService(NewService(id: "svc", name: "Again", slots: slots)) }
    }
}
