import DocumentStore

/// A service's definition as stored, with the document it was read from: what a change of the
/// service is made from, and committed under (its update time).
public struct StoredService: Sendable {
    public let service: Service
    let document: Document
}

/// What changing or retiring a service did: the service as it now lists (nil once retired),
/// and the bookings it cancelled because they held slots or seats it no longer offers.
public struct ServiceChange: Sendable {
    public let availability: ServiceAvailability?
    public let cancelled: [Booking]
    /// When the service was retired; nil for an edit.
    public let retiredAt: Timestamp?
}

/// Editing and retiring services: one commit of the service's document under the update time
/// it was read with, after checking which confirmed bookings the change would leave without
/// their slot or seat.
extension BookingDesk {
    /// The service `id` as stored (not as a cache holds it), for a change; `serviceNotFound`
    /// for none, for a document that is not a service, and for a retired one.
    public func storedService(id: String) throws(BookingError) -> StoredService {
        guard (try? Validation.id(id, field: "service_id")) != nil else { throw .serviceNotFound }
        guard let document = try source.serviceDocument(id: id), let service = reader.service(from: document) else { throw .serviceNotFound }
        return StoredService(service: service, document: document)
    }

    /// Replaces the definition of `stored` with `replacement`, checked as a new service's
    /// (its id must be the same). Confirmed bookings of slots that have not begun and that the
    /// new definition no longer offers (a slot, hours or days removed), or beyond a slot's new
    /// seats (the latest made first), are `slotHasBookings` and nothing changes; unless
    /// `cancellingHeldBookings`, which cancels them (as the admin) once the new definition is
    /// committed. `serviceChanged` when the service changed since `stored` was read.
    ///
    /// Fields of the service's document that this service does not know of are kept.
    public func updateService(_ stored: StoredService, to replacement: NewService, cancellingHeldBookings: Bool) throws(BookingError)
        -> ServiceChange
    {
        let id = stored.service.id
        if let newID = replacement.id, newID != id { throw .invalidField("service_id", "cannot change; create a new service instead") }
        let name = try Validation.name(replacement.name, field: "service_name")
        let (settings, zone) = try Validation.serviceSettings(replacement.settings, zones: reader.zones)
        let slots = try Validation.slots(replacement.slots)
        let service = Service(
            id: id, name: name, slots: slots, spellings: stored.service.spellings.filter { slots.contains($0.key) }, settings: settings, zone: zone)
        let time = Timestamp(microseconds: now().microseconds)
        let held = try unheldBookings(of: stored.service.id, by: service, at: time)
        guard held.isEmpty || cancellingHeldBookings else { throw .slotHasBookings(held) }
        var fields = stored.document.fields
        for name in Service.fieldNames { fields[name] = nil }
        fields.merge(service.fields) { _, new in new }
        try commitServiceDocument(stored, fields)
        let cancelled = try cancelAll(held)
        // From the new definition: the directories learn of it once the caller records the change.
        return ServiceChange(availability: try currentAvailability(of: service), cancelled: cancelled, retiredAt: nil)
    }

    /// Retires a service: it is no longer listed or bookable (`serviceNotFound`), its document
    /// (with `retired_at`) and its bookings stay, and its id is not taken again. Confirmed
    /// bookings of slots that have not begun are `slotHasBookings`, unless
    /// `cancellingHeldBookings`, which cancels them once the service is retired.
    public func retireService(_ stored: StoredService, cancellingHeldBookings: Bool) throws(BookingError) -> ServiceChange {
        let time = Timestamp(microseconds: now().microseconds)
        let held = try heldBookings(of: stored.service.id, at: time)
        guard held.isEmpty || cancellingHeldBookings else { throw .slotHasBookings(held) }
        var fields = stored.document.fields
        fields[Service.retiredField] = .timestamp(time)
        try commitServiceDocument(stored, fields)
        return ServiceChange(availability: nil, cancelled: try cancelAll(held), retiredAt: time)
    }

    /// The confirmed bookings of slots that have not begun at `time` that `service` (the new
    /// definition of their service) would leave without a slot or seat.
    private func unheldBookings(of serviceID: String, by service: Service, at time: Timestamp) throws(BookingError) -> [Booking] {
        let bookings = try heldBookings(of: serviceID, at: time)
        let offered = Set(service.offeredSlots(at: time))
        var unheld = bookings.filter { !offered.contains($0.slot) }
        let kept = Dictionary(grouping: bookings.filter { offered.contains($0.slot) }, by: \.slot)
        for (_, holders) in kept where holders.count > service.settings.seats {
            // The earliest made keep their seats.
            unheld += holders.sorted { ($0.timestamp, $0.id) < ($1.timestamp, $1.id) }.dropFirst(service.settings.seats)
        }
        return unheld.sorted { $0.slot != $1.slot ? $0.slot < $1.slot : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }

    /// The service's confirmed bookings of slots that have not begun at `time`.
    private func heldBookings(of serviceID: String, at time: Timestamp) throws(BookingError) -> [Booking] {
        try allBookings(BookingQuery(serviceID: serviceID, slots: TimeRange(from: time), status: .confirmed)).filter { $0.slot.instant > time }
    }

    private func commitServiceDocument(_ stored: StoredService, _ fields: [String: Value]) throws(BookingError) {
        do {
            try store.commit([.set(stored.document.path, fields, .updateTime(stored.document.updateTime))])
        } catch .failedPrecondition, .notFound {
            throw .serviceChanged
        } catch {
            throw Self.translate(error)
        }
    }

    /// Cancels each booking as the admin; those cancelled meanwhile are left as they are.
    private func cancelAll(_ bookings: [Booking]) throws(BookingError) -> [Booking] {
        var cancelled: [Booking] = []
        for booking in bookings { cancelled.append(try cancel(id: booking.id, by: .admin)) }
        return cancelled
    }
}
