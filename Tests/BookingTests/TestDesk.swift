import DocumentStore
import TestSupport

@testable import Booking

/// A desk on the in-memory store with a hand-stepped clock (2030, before the slots the tests
/// book), holding one service of `seats` seats per slot: what the desk's tests start from.
struct TestDesk {
    let clock = ManualClock()
    let database: MemoryDatabase
    let store: MemoryStore
    let desk: BookingDesk

    /// - Parameter outboxes: the outboxes the desk writes each change's event to.
    init(serviceID: String, seats: Int64 = 1, slots: [String], outboxes: Set<BookingOutbox> = []) throws {
        let clock = clock
        database = MemoryDatabase(clock: { clock.now() })
        store = database.makeStore()
        desk = BookingDesk(store: store, now: { clock.now() }, outboxes: outboxes)
        var settings = ServiceSettingsInput()
        settings.seats = seats
        _ = try desk.createService(NewService(id: serviceID, name: "Class", slots: slots, settings: settings))
    }
}
