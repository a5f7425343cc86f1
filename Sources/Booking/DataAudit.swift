import DocumentStore

/// The store's bookings taken as a whole: the slot claims that bookings made by other
/// applications lack (the original application wrote none), and the problems an operator should
/// know of. Problems go to the reader's reporter.
public struct DataAudit {
    private let store: any DocumentStore
    private let reader: DocumentReader

    public init(store: any DocumentStore, reader: DocumentReader) {
        self.store = store
        self.reader = reader
    }

    /// What `backfillClaims` did.
    public struct Backfill: Equatable, Sendable {
        /// The bookings read.
        public var bookings = 0
        /// The claims it created.
        public var created = 0
    }

    /// Creates the missing claim of every booked slot that has not begun at `now`, so that the
    /// slot is listed as taken and cannot be booked again; reports every slot booked twice.
    ///
    /// Run by the server before it answers anything, and by `bookingctl copy` on its target.
    /// Idempotent, and safe on many hosts at once without a lock: each claim is created under a
    /// must-not-exist precondition, and one that another host (or a booking) created meanwhile
    /// is left as it is. A slot booked twice is claimed for its earliest booking. Past slots get
    /// no claim: they cannot be booked, and `prune-claims` removes such claims. It reads every
    /// booking and every claim id once. `progress` is told the claims created so far after each
    /// commit.
    public func backfillClaims(now: Timestamp, progress: (_ created: Int, _ of: Int) -> Void = { _, _ in }) throws(BookingError) -> Backfill {
        let services = try storeCall { () throws(StoreError) in try store.listAll(collection: Collections.services) }
        let (bookings, slots) = try bookedSlots(seats: seats(of: services))
        let claimed = Set(try storeCall { () throws(StoreError) in try store.ids(collection: Collections.slotClaims, in: nil) })
        var missing: [Write] = []
        for (key, holders) in slots where key.slot.instant > now {
            let claim = Collections.claimPath(serviceID: key.serviceID, slot: key.slot)
            guard !claimed.contains(claim.id) else { continue }
            missing.append(BookingDesk.claim(claim, of: holders[0]))
        }
        var report = Backfill(bookings: bookings)
        for start in stride(from: 0, to: missing.count, by: maximumWritesPerCommit) {
            report.created += try commitCreates(Array(missing[start..<min(start + maximumWritesPerCommit, missing.count)]))
            progress(report.created, missing.count)
        }
        return report
    }

    /// Commits the creates, dropping each that meets an existing document and trying the rest
    /// again; returns how many were created.
    private func commitCreates(_ writes: [Write]) throws(BookingError) -> Int {
        var writes = writes
        while !writes.isEmpty {
            do {
                try store.commit(writes)
                return writes.count
            } catch .alreadyExists(let path) {
                let remaining = writes.filter { $0.path != path }
                guard remaining.count < writes.count else { throw .storeFailure("the store refused a claim it did not name: \(path)") }
                writes = remaining
            } catch {
                throw BookingDesk.translate(error)
            }
        }
        return 0
    }

    /// Counts and problems, for `bookingctl check`.
    public struct Check: Sendable {
        public var services = 0
        public var bookings = 0
        public var claims = 0
    }

    /// Reads every service, booking and claim id, and reports what cannot be served as it is:
    /// unreadable documents, unparsed slots, ids held by two documents, double bookings, and
    /// bookings of slots that have not begun whose claim is missing.
    public func check(now: Timestamp) throws(BookingError) -> Check {
        var check = Check()
        let services = try storeCall { () throws(StoreError) in try store.listAll(collection: Collections.services) }
        check.services = services.count
        reportDuplicates(services.filter { reader.service(from: $0) != nil }, in: Collections.services, id: reader.serviceID(of:))
        let (bookings, slots) = try bookedSlots(seats: seats(of: services))
        check.bookings = bookings
        let claimIDs = try storeCall { () throws(StoreError) in try store.ids(collection: Collections.slotClaims, in: nil) }
        check.claims = claimIDs.count
        let claimed = Set(claimIDs)
        for (key, holders) in slots.sorted(by: { ($0.key.serviceID, $0.key.slot) < ($1.key.serviceID, $1.key.slot) }) where key.slot.instant > now {
            for holder in holders where !claimed.contains(Collections.claimPath(serviceID: key.serviceID, slot: key.slot, seat: holder.seat).id) {
                reader.problems?.report(.bookingWithoutClaim(DocumentPath(Collections.bookings, holder.id), serviceID: key.serviceID, slot: key.slot))
                break
            }
        }
        return check
    }

    private struct SlotKey: Hashable {
        let serviceID: String
        let slot: Slot

        static func == (lhs: SlotKey, rhs: SlotKey) -> Bool { ExactString(lhs.serviceID) == ExactString(rhs.serviceID) && lhs.slot == rhs.slot }
        func hash(into hasher: inout Hasher) {
            hasher.combine(ExactString(serviceID))
            hasher.combine(slot)
        }
    }

    /// The seats of each slot of each readable service (services not found have one).
    private func seats(of services: [Document]) -> [ExactString: Int] {
        var seats: [ExactString: Int] = [:]
        for document in services { if let service = reader.service(from: document) { seats[ExactString(service.id)] = service.settings.seats } }
        return seats
    }

    /// Every readable confirmed booking, grouped by the slot it holds (earliest booking first), after
    /// reporting each slot held by more bookings than its seats; and how many booking documents there are.
    private func bookedSlots(seats: [ExactString: Int]) throws(BookingError) -> (documents: Int, slots: [SlotKey: [Booking]]) {
        let documents = try storeCall { () throws(StoreError) in try store.listAll(collection: Collections.bookings) }
        reportDuplicates(documents, in: Collections.bookings, id: reader.bookingID(of:))
        var slots: [SlotKey: [Booking]] = [:]
        for document in documents {
            guard let booking = reader.booking(from: document), booking.status == .confirmed else { continue }
            slots[SlotKey(serviceID: booking.serviceID, slot: booking.slot), default: []].append(booking)
        }
        for (key, holders) in slots where holders.count > 1 {
            slots[key] = holders.sorted { ($0.timestamp, $0.id) < ($1.timestamp, $1.id) }
        }
        for (key, holders) in slots.sorted(by: { ($0.key.serviceID, $0.key.slot) < ($1.key.serviceID, $1.key.slot) })
        where holders.count > seats[ExactString(key.serviceID), default: 1] {
            reader.problems?.report(.doubleBooking(serviceID: key.serviceID, slot: key.slot, bookingIDs: holders.map(\.id)))
        }
        return (documents.count, slots)
    }

    private func reportDuplicates(_ documents: [Document], in collection: String, id: (Document) -> String) {
        var byID: [ExactString: [String]] = [:]
        for document in documents { byID[ExactString(id(document)), default: []].append(document.path.id) }
        for (key, documentIDs) in byID.sorted(by: { $0.key.string < $1.key.string }) where documentIDs.count > 1 {
            reader.problems?.report(.duplicateID(collection: collection, id: key.string, documentIDs: documentIDs))
        }
    }
}
