import DocumentStore

/// Something customers book: a name and the slots it offers.
public struct Service: Equatable, Sendable {
    public let id: String
    public let name: String
    /// Every slot the service offers, in time order, booked or not.
    public let slots: [Slot]
    /// The spellings its document stores slots in, where they are not the canonical one (the
    /// original application's `2031-03-04T11:00:00+00:00`): a booking stores its slot as the
    /// service offers it, so that applications comparing spellings find it. Usually empty.
    public let spellings: [Slot: String]

    /// `slots` are put in time order if they are not (the free slots are found by merging).
    public init(id: String, name: String, slots: [Slot], spellings: [Slot: String] = [:]) {
        self.id = id
        self.name = name
        self.slots = zip(slots, slots.dropFirst()).allSatisfy { $0 <= $1 } ? slots : slots.sorted()
        self.spellings = spellings
    }

    /// The slot as the service's document spells it.
    public func spelling(of slot: Slot) -> String { spellings[slot] ?? slot.description }
}

/// A service with the slots that are still free.
public struct ServiceAvailability: Equatable, Sendable {
    public let service: Service
    /// The offered slots that have not begun and are not booked, in time order.
    public let availableSlots: [Slot]
}

/// A confirmed booking of one slot.
public struct Booking: Equatable, Sendable {
    public let id: String
    public let serviceID: String
    public let slot: Slot
    public let userName: String
    /// When the booking was made.
    public let timestamp: Timestamp
}

/// What a client asks to book, as received (not yet validated).
public struct BookingRequest: Sendable {
    public let serviceID: String
    public let slot: String
    public let userName: String

    public init(serviceID: String, slot: String, userName: String) {
        self.serviceID = serviceID
        self.slot = slot
        self.userName = userName
    }
}

/// A service to create, as received (not yet validated). A nil id asks for a generated one.
public struct NewService: Sendable {
    public let id: String?
    public let name: String
    public let slots: [String]

    public init(id: String?, name: String, slots: [String]) {
        self.id = id
        self.name = name
        self.slots = slots
    }
}
