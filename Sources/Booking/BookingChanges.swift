import DocumentStore

/// Writes that a caller commits together with a change, made from the change's result: how a
/// record of the change (the response kept for an idempotency key) is stored if and only if the
/// change is. `committed` says whether they were.
public final class ChangeRecord<Result> {
    let writes: (Result) -> [Write]
    /// Set when a commit holding the writes succeeded.
    public internal(set) var committed = false

    public init(_ writes: @escaping (Result) -> [Write]) {
        self.writes = writes
    }
}

/// Cancelling and moving bookings: each one commit that changes the booking and who holds
/// which slot together, with the booking's update time as a precondition, so that concurrent
/// changes of one booking cannot both win.
extension BookingDesk {
    /// How many times a change is tried when its booking changed between the read and the commit.
    static let changeAttempts = 5

    /// Cancels a booking and frees its slot in the same commit. Cancelling a cancelled booking
    /// changes nothing and answers as the first time did. A customer (manage token) cannot cancel
    /// once the slot has begun; the admin can.
    public func cancel(id: String, by authority: BookingAuthority, recording record: ChangeRecord<Booking>? = nil) throws(BookingError)
        -> Booking
    {
        try changing(id: id, by: authority, recording: record) { stored, careful throws(BookingError) in
            let booking = stored.booking
            guard booking.status == .confirmed else { return .done(booking) }
            let time = Timestamp(microseconds: now().microseconds)
            if case .manageToken = authority, booking.slot.instant <= time { throw .bookingInPast }
            let cancelled = booking.cancelled(at: time)
            var fields = stored.document.fields  // fields other applications added stay
            fields["status"] = .string(BookingStatus.cancelled.rawValue)
            fields["cancelled_at"] = .timestamp(time)
            let sequence = BookingEvents.sequence(of: fields) + 1
            fields[BookingEvents.sequenceField] = .integer(sequence)
            let writes =
                [Write.set(stored.document.path, fields, .updateTime(stored.document.updateTime))]
                + events(
                    .cancelled, of: cancelled, slotSpelling: fields["slot"]?.stringValue ?? "\(booking.slot)", sequence: sequence, at: time,
                    manageToken: nil)
            return .commit(writes + (try releasing(stored, carefully: careful, at: time)), cancelled, claimsSeatOf: nil)
        }
    }

    /// Moves a confirmed booking to another slot of its service: the new slot's claim created,
    /// the old one's deleted and the booking updated, all in one commit. A taken target is
    /// `slotTaken`, and then nothing changed: the booking keeps its slot. Moving to the slot it
    /// holds changes nothing. A customer cannot move a booking once its slot has begun.
    public func reschedule(id: String, to slotText: String, by authority: BookingAuthority, recording record: ChangeRecord<Booking>? = nil)
        throws(BookingError) -> Booking
    {
        let slot = try Slot(parsing: slotText)
        return try changing(id: id, by: authority, recording: record) { stored, careful throws(BookingError) in
            let booking = stored.booking
            guard booking.status == .confirmed else { throw .bookingCancelled }
            let time = Timestamp(microseconds: now().microseconds)
            if case .manageToken = authority, booking.slot.instant <= time { throw .bookingInPast }
            guard slot != booking.slot else { return .done(booking) }
            guard let service = try directory.service(id: booking.serviceID, from: source) else { throw .slotNotOffered }
            if let refusal = service.refusal(of: slot, at: time) { throw refusal }
            let seats = service.settings.seats
            let taken: Set<Int> = seats == 1 ? [] : try takenSeats(of: booking.serviceID, slot: slot)
            guard let seat = Self.freeSeat(of: seats, taken: taken) else { throw .slotTaken }
            let moved = booking.moved(to: slot, seat: seat)
            var fields = stored.document.fields
            fields["slot"] = .string(service.spelling(of: slot))
            fields["status"] = .string(BookingStatus.confirmed.rawValue)
            fields["seat"] = seat == 1 ? nil : .integer(Int64(seat))
            let sequence = BookingEvents.sequence(of: fields) + 1
            fields[BookingEvents.sequenceField] = .integer(sequence)
            let writes =
                [
                    Self.claim(Collections.claimPath(serviceID: booking.serviceID, slot: slot, seat: seat), of: moved),
                    .set(stored.document.path, fields, .updateTime(stored.document.updateTime)),
                ]
                + events(
                    .rescheduled, of: moved, slotSpelling: service.spelling(of: slot), sequence: sequence, at: time,
                    manageToken: authority.manageToken)
            return .commit(writes + (try releasing(stored, carefully: careful, at: time)), moved, claimsSeatOf: seats)
        }
    }

    /// What a change of one booking decided, having read it.
    enum Change {
        /// Nothing to write: the answer is this booking.
        case done(Booking)
        /// Commit these writes (and the record's); the answer is this booking. With a seat of
        /// `booking.slot` newly claimed (of a slot with that many seats), the commit also checks
        /// that other applications' bookings without claims do not fill it.
        case commit([Write], Booking, claimsSeatOf: Int?)
    }

    /// Reads the booking, checks `authority`, and commits what `decide` makes of it (with the
    /// writes of `record`, made from the changed booking); when the
    /// commit's preconditions fail (the booking or its claim changed meanwhile, or a retried
    /// commit had succeeded), reads again and decides again, the claim then read too
    /// (`careful`). A taken target slot (a claim that exists) is `slotTaken`, unless it is the
    /// booking's own (a retried commit that had succeeded), which the next read shows, or a seat
    /// of a slot with more, taken meanwhile: then the next decision picks another.
    private func changing(
        id: String, by authority: BookingAuthority, recording record: ChangeRecord<Booking>?,
        decide: (StoredBooking, _ careful: Bool) throws(BookingError) -> Change
    ) throws(BookingError) -> Booking {
        for attempt in 0..<Self.changeAttempts {
            let stored = try storedBooking(id: id)
            try authorize(authority, for: stored.document)
            switch try decide(stored, attempt > 0) {
            case .done(let booking):
                return booking
            case .commit(let changes, let booking, let seats):
                let writes = changes + (record?.writes(booking) ?? [])
                let bookedElsewhere: Bool
                do {
                    if let seats {
                        bookedElsewhere = try commit(writes, unlessAnotherApplicationBooked: booking.slot, of: booking.serviceID, seats: seats)
                    } else {
                        try store.commit(writes)
                        bookedElsewhere = false
                    }
                } catch .failedPrecondition, .notFound {
                    continue
                } catch .alreadyExists(let path) {
                    let claim = try storeCall { () throws(StoreError) in try store.get(path) }
                    guard claim?["booking_id"]?.stringValue == stored.booking.id || (seats ?? 1) > 1 else { throw .slotTaken }
                    continue
                } catch {
                    throw Self.translate(error)
                }
                if bookedElsewhere { throw .slotTaken }
                record?.committed = true
                return booking
            }
        }
        throw .bookingChanged
    }

    /// The writes that free a booking's slot: its claim deleted and a release written, or none
    /// when the claim is not this booking's (another application's data) or is gone (pruned
    /// after the slot began). A slot the original application booked twice keeps its claim,
    /// handed to its next confirmed booking (`nextHolder(after:)`), so that it is not offered
    /// while that booking holds it.
    ///
    /// A booking and its claim are written in one commit and so share its update time; the
    /// claim is then deleted under that time as its precondition, without reading it. Where
    /// that fails (a claim made later for an older booking, or a booking changed without its
    /// claim), the change is tried again `carefully`: the claim read, and deleted only if it
    /// names this booking, under its own update time.
    func releasing(_ stored: StoredBooking, carefully careful: Bool, at time: Timestamp) throws(BookingError) -> [Write] {
        let booking = stored.booking
        let claim = Collections.claimPath(serviceID: booking.serviceID, slot: booking.slot, seat: booking.seat)
        let claimTime: Timestamp
        if careful {
            let document = try storeCall { () throws(StoreError) in try store.get(claim) }
            guard let document, document["booking_id"]?.stringValue == booking.id else { return [] }
            claimTime = document.updateTime
        } else {
            claimTime = stored.document.updateTime
        }
        if let next = try nextHolder(after: stored) {
            return [.set(claim, Self.claimFields(of: next), .updateTime(claimTime))]
        }
        return [
            .delete(claim, .updateTime(claimTime)),
            .set(
                Collections.releasePath(serviceID: booking.serviceID, slot: booking.slot, seat: booking.seat),
                ["service_id": .string(booking.serviceID), "slot": .string(booking.slot.description), "released_at": .timestamp(time)], .none),
        ]
    }

    /// The booking that holds a slot with `stored`'s booking without a claim: the earliest other
    /// confirmed booking of its service, slot and seat. Only the original application's bookings
    /// (no manage token) can share a slot, from its double bookings, which the claims' backfill
    /// reports and claims for the earliest; the query is made for those alone, never on the
    /// service's own bookings' path.
    func nextHolder(after stored: StoredBooking) throws(BookingError) -> Booking? {
        guard stored.document[ManageToken.hashField] == nil else { return nil }
        let booking = stored.booking
        let documents = try storeCall { () throws(StoreError) in
            try store.query(collection: Collections.bookings, where: FieldFilter("service_id", equals: booking.serviceID), select: nil)
        }
        return documents.compactMap { reader.booking(from: $0) }
            .filter { $0.id != booking.id && $0.status == .confirmed && $0.slot == booking.slot && $0.seat == booking.seat }
            .min { ($0.timestamp, $0.id) < ($1.timestamp, $1.id) }
    }
}
