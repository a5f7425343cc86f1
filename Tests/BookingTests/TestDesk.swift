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
    let serviceID: String
    let slots: [String]

    /// - Parameter outboxes: the outboxes the desk writes each change's event to.
    init(
        serviceID: String = "svc-\(UInt32.random(in: 0...UInt32.max))", seats: Int64 = 1,
        slots: [String] = ["2031-03-01T09:00:00Z", "2031-03-01T10:00:00Z", "2031-03-01T11:00:00Z"], outboxes: Set<BookingOutbox> = []
    ) throws {
        let clock = clock
        database = MemoryDatabase(clock: { clock.now() })
        store = database.makeStore()
        desk = BookingDesk(store: store, now: { clock.now() }, outboxes: outboxes)
        (self.serviceID, self.slots) = (serviceID, slots)
        var settings = ServiceSettingsInput()
        settings.seats = seats
        _ = try desk.createService(NewService(id: serviceID, name: "Class", slots: slots, settings: settings))
    }
}

/// A suite that starts each test from a `TestDesk` and names its parts directly.
protocol DeskSuite {
    var testDesk: TestDesk { get }
}

extension DeskSuite {
    var clock: ManualClock { testDesk.clock }
    var database: MemoryDatabase { testDesk.database }
    var store: MemoryStore { testDesk.store }
    var desk: BookingDesk { testDesk.desk }
    var serviceID: String { testDesk.serviceID }
    var slots: [String] { testDesk.slots }
}
