import DocumentStore
import Synchronization

/// Something customers book: a name, how it is offered, and its slots: those listed explicitly
/// and those its weekly schedule generates.
public struct Service: Equatable, Sendable {
    public let id: String
    public let name: String
    /// The slots offered explicitly (`available_slots`), in time order, booked or not.
    public let slots: [Slot]
    /// The spellings its document stores slots in, where they are not the canonical one (the
    /// original application's `2031-03-04T11:00:00+00:00`): a booking stores its slot as the
    /// service offers it, so that applications comparing spellings find it. Usually empty.
    public let spellings: [Slot: String]
    public let settings: ServiceSettings
    /// The zone `settings.timeZone` names.
    public let zone: any LocalTimeZone
    /// The explicit and generated slots of the current day's horizon, for a service with a schedule.
    private let offered: OfferedSlots?

    /// `slots` are put in time order if they are not (the free slots are found by merging).
    /// `zone` must be the one `settings.timeZone` names.
    public init(
        id: String, name: String, slots: [Slot], spellings: [Slot: String] = [:], settings: ServiceSettings = ServiceSettings(),
        zone: any LocalTimeZone = UTCZone()
    ) {
        self.id = id
        self.name = name
        self.slots = zip(slots, slots.dropFirst()).allSatisfy { $0 <= $1 } ? slots : slots.sorted()
        self.spellings = spellings
        self.settings = settings
        self.zone = zone
        offered = settings.schedule.map { _ in OfferedSlots() }
    }

    /// The slot as the service's document spells it.
    public func spelling(of slot: Slot) -> String { spellings[slot] ?? slot.description }

    /// Every slot the service offers on the day clocks in its zone show at `now`, booked or not,
    /// in time order: the explicit ones and those the schedule generates for the days from
    /// today to its horizon. Generated once a day per process, not per request.
    func offeredSlots(at now: Timestamp) -> [Slot] {
        guard let schedule = settings.schedule, let offered else { return slots }
        let today = CivilDate.day(of: now, in: zone)
        return offered.slots(on: today) {
            let generated = schedule.slots(from: today, length: settings.slotLength, in: zone)
            return slots.isEmpty ? generated : Array(Set(generated).union(slots)).sorted()
        }
    }

    /// The offered slots that may be booked at `now`, in time order: not begun, and beginning
    /// no sooner than the minimum notice and no later than the maximum advance allow.
    func bookableSlots(at now: Timestamp) -> ArraySlice<Slot> {
        let offered = offeredSlots(at: now)
        let window = bookingWindow(at: now)
        let first = offered.partitioningIndex { $0.instant > now && $0.instant >= window.earliest }
        let end = window.latest.map { latest in offered.partitioningIndex { $0.instant > latest } } ?? offered.endIndex
        return first < end ? offered[first..<end] : []
    }

    /// Why `slot` cannot be booked at `now`, or nil when it can (booked or not).
    func refusal(of slot: Slot, at now: Timestamp) -> BookingError? {
        let offered = offeredSlots(at: now)
        let index = offered.partitioningIndex { $0 >= slot }
        guard index < offered.endIndex, offered[index] == slot else { return .slotNotOffered }
        guard slot.instant > now else { return .slotInPast }
        let window = bookingWindow(at: now)
        if slot.instant < window.earliest { return .slotTooSoon }
        if let latest = window.latest, slot.instant > latest { return .slotTooFarAhead }
        return nil
    }

    /// The earliest and latest (nil: any) beginning a slot booked at `now` may have.
    private func bookingWindow(at now: Timestamp) -> (earliest: Timestamp, latest: Timestamp?) {
        let notice = Int64(settings.minNoticeMinutes ?? 0) * 60
        return (
            Timestamp(seconds: now.seconds + notice, nanos: now.nanos),
            settings.maxAdvanceDays.map { Timestamp(seconds: now.seconds + Int64($0) * 86400, nanos: now.nanos) }
        )
    }

    public static func == (lhs: Service, rhs: Service) -> Bool {
        lhs.id == rhs.id && lhs.name == rhs.name && lhs.slots == rhs.slots && lhs.spellings == rhs.spellings && lhs.settings == rhs.settings
    }
}

/// How a service is offered beside its name and slots. Every field is optional in documents
/// and requests; the defaults make a service without them (the original application's) what
/// it always was: UTC, one seat, listed, bookable until it begins.
public struct ServiceSettings: Equatable, Sendable {
    /// The IANA zone its schedule's hours and dates are in.
    public var timeZone = "UTC"
    /// How long an appointment lasts: the end of each slot; nil: not said.
    public var durationMinutes: Int?
    public var description: String?
    /// Not listed by `GET /services`, still shown and bookable by id.
    public var hidden = false
    /// How many bookings each slot takes (a class's places).
    public var seats = 1
    /// A slot beginning sooner than this after now is neither listed nor bookable.
    public var minNoticeMinutes: Int?
    /// A slot beginning later than this after now is neither listed nor bookable.
    public var maxAdvanceDays: Int?
    public var schedule: WeeklySchedule?

    public init() {}

    /// How long a slot lasts, in minutes: the duration, else the schedule's step (also the
    /// minutes a generated slot needs before its range closes, and a calendar event's length).
    public var slotLength: Int { durationMinutes ?? schedule?.slotMinutes ?? WeeklySchedule.defaultSlotMinutes }
}

/// The offered slots of one day's horizon, generated on the first request of the day and kept.
private final class OfferedSlots: Sendable {
    private let cache = Mutex<(day: Int, slots: [Slot])?>(nil)

    func slots(on day: Int, generate: () -> [Slot]) -> [Slot] {
        if let cached = cache.withLock({ $0 }), cached.day == day { return cached.slots }
        let slots = generate()
        cache.withLock { $0 = (day, slots) }
        return slots
    }
}

extension Array {
    /// The index of the first element for which `isAfter` holds, in an array where it holds
    /// for a suffix (a binary search).
    func partitioningIndex(where isAfter: (Element) -> Bool) -> Int {
        var low = startIndex, high = endIndex
        while low < high {
            let middle = (low + high) / 2
            if isAfter(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

/// A service with the slots that are still free.
public struct ServiceAvailability: Equatable, Sendable {
    public let service: Service
    /// The slots that may be booked now and have a seat left, in time order.
    public let availableSlots: [Slot]
    /// The seats left of each of `availableSlots`; empty when the service has one seat per slot
    /// (then every listed slot has one).
    let seatsLeft: [Int]

    init(service: Service, availableSlots: [Slot], seatsLeft: [Int] = []) {
        precondition(seatsLeft.isEmpty || seatsLeft.count == availableSlots.count)
        self.service = service
        self.availableSlots = availableSlots
        self.seatsLeft = seatsLeft
    }

    /// The seats left of `availableSlots[index]`.
    public func seatsLeft(at index: Int) -> Int { seatsLeft.isEmpty ? 1 : seatsLeft[index] }

    /// The same, with only the free slots within `range`.
    func within(_ range: TimeRange) -> ServiceAvailability {
        guard range.from != nil || range.to != nil else { return self }
        let kept = availableSlots.indices.filter { range.contains(availableSlots[$0]) }
        return ServiceAvailability(
            service: service, availableSlots: kept.map { availableSlots[$0] }, seatsLeft: seatsLeft.isEmpty ? [] : kept.map { seatsLeft[$0] })
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
    /// Which of the slot's seats it holds (its claim): 1 unless the service has more seats.
    public let seat: Int

    public init(
        id: String, serviceID: String, slot: Slot, userName: String, timestamp: Timestamp, status: BookingStatus = .confirmed,
        cancelledAt: Timestamp? = nil, contact: Contact = Contact(), seat: Int = 1
    ) {
        self.id = id
        self.serviceID = serviceID
        self.slot = slot
        self.userName = userName
        self.timestamp = timestamp
        self.status = status
        self.cancelledAt = cancelledAt
        self.contact = contact
        self.seat = seat
    }

    /// The same booking at another slot and seat.
    func moved(to slot: Slot, seat: Int) -> Booking { changed(slot: slot, seat: seat) }

    /// The same booking holding another seat of its slot.
    func seated(_ seat: Int) -> Booking { changed(seat: seat) }

    /// The same booking, cancelled at `time`.
    func cancelled(at time: Timestamp) -> Booking { changed(status: .cancelled, cancelledAt: time) }

    /// The same booking as anyone may see it: without its contact details.
    var withoutContact: Booking { changed(contact: Contact()) }

    private func changed(
        slot: Slot? = nil, status: BookingStatus? = nil, cancelledAt: Timestamp? = nil, contact: Contact? = nil, seat: Int? = nil
    ) -> Booking {
        Booking(
            id: id, serviceID: serviceID, slot: slot ?? self.slot, userName: userName, timestamp: timestamp, status: status ?? self.status,
            cancelledAt: cancelledAt ?? self.cancelledAt, contact: contact ?? self.contact, seat: seat ?? self.seat)
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

    /// The customer's token, when the customer acts.
    public var manageToken: String? {
        if case .manageToken(let token) = self { return token }
        return nil
    }
}

/// A service to create, as received (not yet validated). A nil id asks for a generated one.
public struct NewService: Sendable {
    public let id: String?
    public let name: String
    public let slots: [String]
    public let settings: ServiceSettingsInput

    public init(id: String?, name: String, slots: [String], settings: ServiceSettingsInput = ServiceSettingsInput()) {
        self.id = id
        self.name = name
        self.slots = slots
        self.settings = settings
    }
}

extension NewService {
    /// The definition of `service` as a request would give it: what an edit starts from.
    public init(_ service: Service) {
        var settings = ServiceSettingsInput()
        let current = service.settings
        settings.timeZone = current.timeZone
        settings.durationMinutes = current.durationMinutes.map(Int64.init)
        settings.description = current.description
        settings.hidden = current.hidden
        settings.seats = Int64(current.seats)
        settings.minNoticeMinutes = current.minNoticeMinutes.map(Int64.init)
        settings.maxAdvanceDays = current.maxAdvanceDays.map(Int64.init)
        settings.schedule = current.schedule.map { schedule in
            ScheduleInput(
                weekly: schedule.spelledHours, slotMinutes: Int64(schedule.slotMinutes), horizonDays: Int64(schedule.horizonDays),
                closedDates: schedule.closedDates.map(\.description))
        }
        self.init(id: service.id, name: service.name, slots: service.slots.map(\.description), settings: settings)
    }
}

/// A service's settings as received (not yet validated); nil fields take their defaults.
public struct ServiceSettingsInput: Sendable {
    public var timeZone: String?
    public var durationMinutes: Int64?
    public var description: String?
    public var hidden: Bool?
    public var seats: Int64?
    public var minNoticeMinutes: Int64?
    public var maxAdvanceDays: Int64?
    public var schedule: ScheduleInput?

    public init() {}
}

/// A weekly schedule as received: `weekly` maps weekday names (`mon` ... `sun`) to ranges of
/// two `HH:MM` times.
public struct ScheduleInput: Sendable {
    public var weekly: [String: [[String]]]
    public var slotMinutes: Int64?
    public var horizonDays: Int64?
    public var closedDates: [String]

    public init(weekly: [String: [[String]]], slotMinutes: Int64? = nil, horizonDays: Int64? = nil, closedDates: [String] = []) {
        self.weekly = weekly
        self.slotMinutes = slotMinutes
        self.horizonDays = horizonDays
        self.closedDates = closedDates
    }
}
