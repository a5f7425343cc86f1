import DocumentStore
import TestSupport

@testable import Booking

/// A desk on the in-memory store with a hand-stepped clock (2030), holding one service of
/// `seats` seats per slot: what the seat and service-change tests start from.
struct SeatedService {
    let clock = ManualClock()
    let store: MemoryStore
    let desk: BookingDesk

    init(id: String, seats: Int64, slots: [String]) throws {
        let clock = clock
        store = MemoryDatabase(clock: { clock.now() }).makeStore()
        desk = BookingDesk(store: store, now: { clock.now() })
        var settings = ServiceSettingsInput()
        settings.seats = seats
        _ = try desk.createService(NewService(id: id, name: "Class", slots: slots, settings: settings))
    }
}
