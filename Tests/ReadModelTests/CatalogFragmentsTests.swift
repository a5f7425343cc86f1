import DocumentStore
import Testing

@testable import Booking
@testable import ReadModel

/// A service's part of the catalog is written again only when what it is written from changed.
@Suite struct CatalogFragmentsTests {
    let slots = try! ["2031-01-01T09:00:00Z", "2031-01-01T10:00:00Z"].map { try Slot(parsing: $0) }

    @Test func anEqualAvailabilityGetsTheBytesWrittenBeforeAndAChangedOneIsWrittenAgain() {
        let fragments = CatalogFragments()
        var writes = 0
        func bytes(_ availability: ServiceAvailability) -> [UInt8] {
            fragments.bytes(of: availability) {
                writes += 1
                return Array("\(availability.service.name) \(availability.availableSlots.count)".utf8)
            }
        }
        let service = Service(id: "a", name: "A", slots: slots)
        #expect(bytes(ServiceAvailability(service: service, availableSlots: slots)) == Array("A 2".utf8))
        #expect(bytes(ServiceAvailability(service: service, availableSlots: slots)) == Array("A 2".utf8) && writes == 1)
        #expect(bytes(ServiceAvailability(service: service, availableSlots: [slots[1]])) == Array("A 1".utf8) && writes == 2, "a slot booked")
        let renamed = Service(id: "a", name: "B", slots: slots)
        #expect(bytes(ServiceAvailability(service: renamed, availableSlots: [slots[1]])) == Array("B 1".utf8) && writes == 3, "renamed")
        var seats = ServiceSettings()
        seats.seats = 2
        let seated = Service(id: "a", name: "B", slots: slots, settings: seats)
        _ = bytes(ServiceAvailability(service: seated, availableSlots: [slots[1]], seatsLeft: [2]))
        _ = bytes(ServiceAvailability(service: seated, availableSlots: [slots[1]], seatsLeft: [1]))
        #expect(writes == 5, "a seat taken")
    }

    @Test func pastItsCapacityItStartsAfresh() {
        let fragments = CatalogFragments(capacity: 2)
        var writes = 0
        for id in ["a", "b", "c", "a"] {
            _ = fragments.bytes(of: ServiceAvailability(service: Service(id: id, name: id, slots: []), availableSlots: [])) {
                writes += 1
                return []
            }
        }
        #expect(writes == 4)
    }
}
