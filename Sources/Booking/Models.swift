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

    /// The same, with only the free slots within `range`.
    func within(_ range: TimeRange) -> ServiceAvailability {
        range.from == nil && range.to == nil ? self : ServiceAvailability(service: service, availableSlots: availableSlots.filter(range.contains))
    }
}

/// A booking of one slot: confirmed (it holds the slot) or cancelled (it no longer does).
public struct Booking: Equatable, Sendable {
    public let id: String
    public let serviceID: String
    public let slot: Slot
    public let userName: String
    /// When the booking was made.
    public let timestamp: Timestamp
    public let status: BookingStatus
    /// When it was cancelled; nil while it is confirmed.
    public let cancelledAt: Timestamp?
    /// How to reach the customer: shown only to the holder of the manage token and the admin.
    public let contact: Contact

    public init(
        id: String, serviceID: String, slot: Slot, userName: String, timestamp: Timestamp, status: BookingStatus = .confirmed,
        cancelledAt: Timestamp? = nil, contact: Contact = Contact()
    ) {
        self.id = id
        self.serviceID = serviceID
        self.slot = slot
        self.userName = userName
        self.timestamp = timestamp
        self.status = status
        self.cancelledAt = cancelledAt
        self.contact = contact
    }

    /// The same booking at another slot.
    func moved(to slot: Slot) -> Booking { changed(slot: slot) }

    /// The same booking, cancelled at `time`.
    func cancelled(at time: Timestamp) -> Booking { changed(status: .cancelled, cancelledAt: time) }

    /// The same booking as anyone may see it: without its contact details.
    var withoutContact: Booking { changed(contact: Contact()) }

    private func changed(
        slot: Slot? = nil, status: BookingStatus? = nil, cancelledAt: Timestamp? = nil, contact: Contact? = nil
    ) -> Booking {
        Booking(
            id: id, serviceID: serviceID, slot: slot ?? self.slot, userName: userName, timestamp: timestamp, status: status ?? self.status,
            cancelledAt: cancelledAt ?? self.cancelledAt, contact: contact ?? self.contact)
    }
}

/// Whether a booking holds its slot. Documents without a status (the original application's)
/// are confirmed.
public enum BookingStatus: String, Equatable, Sendable, CaseIterable {
    case confirmed
    case cancelled
}

/// A customer's contact details, each optional and validated when given.
public struct Contact: Equatable, Sendable {
    public let email: String?
    public let phone: String?
    public let notes: String?

    public init(email: String? = nil, phone: String? = nil, notes: String? = nil) {
        self.email = email
        self.phone = phone
        self.notes = notes
    }
}

/// What a client asks to book, as received (not yet validated).
public struct BookingRequest: Sendable {
    public let serviceID: String
    public let slot: String
    public let userName: String
    /// Contact details as received; nil or empty fields are absent.
    public let contact: Contact

    public init(serviceID: String, slot: String, userName: String, contact: Contact = Contact()) {
        self.serviceID = serviceID
        self.slot = slot
        self.userName = userName
        self.contact = contact
    }
}

/// A booking just made, with the token that manages it: returned once, stored only as a hash.
public struct NewBooking: Equatable, Sendable {
    public let booking: Booking
    public let manageToken: String
}

/// Who asks to see or change a booking: the business (the admin token, checked by the caller)
/// or whoever holds a token, which must be the booking's manage token.
public enum BookingAuthority: Sendable {
    case admin
    case manageToken(String)
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
