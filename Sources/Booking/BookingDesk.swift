import DocumentStore

/// The booking rules: creating services, listing what is free, and booking a slot at most once.
///
/// It speaks only to a `DocumentStore`, so it runs unchanged on every store. One desk per
/// worker thread, like the store it wraps.
public final class BookingDesk {
    let store: any DocumentStore
    let now: () -> Timestamp
    let directory: any ServiceDirectory
    let claims: any ClaimDirectory
    let reader: DocumentReader
    /// Set when other applications write bookings without slot claims (`EXTERNAL_WRITERS`).
    let externalWriters: (any TransactionalDocumentStore)?
    /// The outboxes each change of a booking writes its events to (`BookingEvents`): those of
    /// the channels configured (webhooks, email), else the writes would pile up unread.
    let outboxes: Set<BookingOutbox>

    /// - Parameters:
    ///   - now: the clock, for booking times and for refusing slots that have begun.
    ///   - directory: where services' definitions are found: the store itself, or a cache of them.
    ///   - claims: where the catalog finds the claimed slots: the store itself, or a cache of them.
    ///   - reader: how documents other applications wrote are read, and where problems are reported.
    ///   - externalWriters: whether another application books in the same store without slot
    ///     claims, as the original application did. Then a booking checks the bookings of its
    ///     slot and commits in one read-write transaction, and listings read every booking.
    ///     Only stores with serializable transactions (Firestore) support it.
    ///   - outboxes: the outboxes changes of bookings write their events to.
    public init(
        store: any DocumentStore, now: @escaping () -> Timestamp, directory: any ServiceDirectory = StoreServiceDirectory(),
        claims: any ClaimDirectory = StoreClaimDirectory(), reader: DocumentReader = DocumentReader(), externalWriters: Bool = false,
        outboxes: Set<BookingOutbox> = []
    ) {
        self.outboxes = outboxes
        self.store = store
        self.now = now
        self.directory = directory
        self.claims = claims
        self.reader = reader
        self.externalWriters = externalWriters ? store as? any TransactionalDocumentStore : nil
        precondition(!externalWriters || self.externalWriters != nil, "external writers need a store with transactions")
    }

    /// The fields that documents are looked up by, for the store to index: services and
    /// bookings by their id fields. (Bookings by `service_id` are queried only with external
    /// writers, on Firestore, which indexes every field.)
    public static let fieldIndexes = [
        FieldIndex(collection: Collections.services, field: "service_id"),
        FieldIndex(collection: Collections.bookings, field: "booking_id"),
    ]

    public var backendName: String { store.backendName }

    /// Every listed service (hidden ones too when `includingHidden`) with its free slots
    /// (bookable now, not booked) within `range`, in service-id order.
    public func services(within range: TimeRange = TimeRange(), includingHidden: Bool = false) throws(BookingError) -> [ServiceAvailability] {
        let services = try directory.allServices(from: source).filter { includingHidden || !$0.settings.hidden }
        let claimed = try addingExternalBookings(to: claims.allClaimedSeats(from: source), of: nil)
        let currentTime = now()  // one instant for the whole catalog
        return services.map { service in
            availability(of: service, claimed: claimed[ExactString(service.id)] ?? [], at: currentTime).within(range)
        }
    }

    /// One service with its free slots within `range`.
    public func service(id: String, within range: TimeRange = TimeRange()) throws(BookingError) -> ServiceAvailability {
        guard (try? Validation.id(id, field: "service_id")) != nil else { throw .serviceNotFound }
        guard let service = try directory.service(id: id, from: source) else { throw .serviceNotFound }
        return try currentAvailability(of: service).within(range)
    }

    /// What `service` has free now, from its claims as the store holds them.
    func currentAvailability(of service: Service) throws(BookingError) -> ServiceAvailability {
        let claimIDs = try storeCall { () throws(StoreError) in
            try store.ids(collection: Collections.slotClaims, in: Collections.claimIDs(of: service.id))
        }
        // The range also holds the claims of services whose ids start with `{id}@`.
        let claimed = try addingExternalBookings(to: Collections.claimedSeats(claimIDs: claimIDs), of: service.id)
        return availability(of: service, claimed: claimed[ExactString(service.id)] ?? [], at: now())
    }

    /// Creates a service with its slots (normalised, de-duplicated, in time order; all of them
    /// are stored, and those that have not begun are listed as free).
    ///
    /// - Parameter record: writes to commit with the service, made from it (nil: none).
    public func createService(_ request: NewService, recording record: ChangeRecord<ServiceAvailability>? = nil) throws(BookingError)
        -> ServiceAvailability
    {
        let id = try request.id.map { id throws(BookingError) in try Validation.id(id, field: "service_id") } ?? Self.autoID()
        let name = try Validation.name(request.name, field: "service_name")
        let (settings, zone) = try Validation.serviceSettings(request.settings, zones: reader.zones)
        let service = Service(id: id, name: name, slots: try Validation.slots(request.slots), settings: settings, zone: zone)
        let created = availability(of: service, claimed: [], at: now())
        do {
            try store.commit([.create(DocumentPath(Collections.services, id), service.fields)] + (record?.writes(created) ?? []))
        } catch .alreadyExists {
            throw .serviceExists
        } catch {
            throw Self.translate(error)
        }
        record?.committed = true
        return created
    }

    /// Books `request.slot` of `request.serviceID` for `request.userName`, or fails with
    /// `slotTaken` if anyone, in any process on any host, holds it already (every seat of it,
    /// for a service with more than one). The booking comes with its manage token, which is
    /// stored only as a hash.
    ///
    /// - Parameter record: writes to commit with the booking, made from it (nil: none).
    public func book(_ request: BookingRequest, recording record: ChangeRecord<NewBooking>? = nil) throws(BookingError) -> NewBooking {
        let serviceID = try Validation.id(request.serviceID, field: "service_id")
        let userName = try Validation.name(request.userName, field: "user_name")
        let contact = try Validation.contact(request.contact)
        let slot = try Slot(parsing: request.slot)
        guard let service = try directory.service(id: serviceID, from: source) else { throw .serviceNotFound }
        let time = Timestamp(microseconds: now().microseconds)  // the precision both stores keep
        if let refusal = service.refusal(of: slot, at: time) { throw refusal }

        let unseated = Booking(id: Self.autoID(), serviceID: serviceID, slot: slot, userName: userName, timestamp: time, contact: contact)
        let token = ManageToken.generate()
        let seats = service.settings.seats
        // One seat: its claim is tried without a read. More: the claims of the slot are read and
        // the lowest free seat is tried; a seat taken meanwhile is added and the next tried.
        var taken: Set<Int> = seats == 1 ? [] : try takenSeats(of: serviceID, slot: slot)
        while true {
            guard let seat = Self.freeSeat(of: seats, taken: taken) else { throw .slotTaken }
            let booking = unseated.seated(seat)
            let made = NewBooking(booking: booking, manageToken: token)
            let claim = Collections.claimPath(serviceID: serviceID, slot: slot, seat: seat)
            // The claim first: a seat already taken fails the commit before anything else is written.
            let writes: [Write] =
                [
                    Self.claim(claim, of: booking),
                    .create(
                        DocumentPath(Collections.bookings, booking.id),
                        booking.fields(slotSpelling: service.spelling(of: slot), manageTokenHash: ManageToken.hash(token))),
                ] + events(.created, of: booking, slotSpelling: service.spelling(of: slot), sequence: 0, at: time, manageToken: token)
                + (record?.writes(made) ?? [])
            let bookedElsewhere: Bool
            do {
                bookedElsewhere = try commit(writes, unlessAnotherApplicationBooked: slot, of: serviceID, seats: seats)
            } catch .alreadyExists {
                // Stores retry commits that got no answer, so the claim may be our own first attempt's.
                guard try isClaimed(claim, by: booking.id) else {
                    guard seats > 1 else { throw .slotTaken }
                    taken = try takenSeats(of: serviceID, slot: slot).union([seat])
                    continue
                }
                bookedElsewhere = false
            } catch {
                throw Self.translate(error)
            }
            if bookedElsewhere { throw .slotTaken }
            record?.committed = true
            return made
        }
    }

    /// The outboxes' writes for an event of `booking` (none when no outbox is configured).
    func events(_ type: BookingEventType, of booking: Booking, slotSpelling: String, sequence: Int64, at time: Timestamp, manageToken: String?)
        -> [Write]
    {
        BookingEvents.writes(type, of: booking, slotSpelling: slotSpelling, sequence: sequence, at: time, to: outboxes, manageToken: manageToken)
    }

    /// Whether the customer of `booking` will get an email of its changes: the email outbox is
    /// configured and the booking has an address. (What the booking page tells the customer.)
    public func emailsCustomer(of booking: Booking) -> Bool {
        outboxes.contains(.emails) && booking.contact.email != nil
    }

    /// The lowest seat to try of a slot with `seats` seats whose `taken` seats have claims; nil
    /// when as many claims as seats exist. (Claims may name seats beyond `seats` after the
    /// service's seats were lowered: they count, so a slot never holds more than its seats.)
    static func freeSeat(of seats: Int, taken: Set<Int>) -> Int? {
        guard taken.count < seats else { return nil }
        return (1...seats).first { !taken.contains($0) }
    }

    /// The seats of a slot whose claims exist.
    func takenSeats(of serviceID: String, slot: Slot) throws(BookingError) -> Set<Int> {
        let ids = try storeCall { () throws(StoreError) in
            try store.ids(collection: Collections.slotClaims, in: Collections.seatClaimIDs(of: serviceID, slot: slot))
        }
        let claims = Collections.claimedSeats(claimIDs: ids)[ExactString(serviceID)] ?? []
        return Set(claims.filter { $0.slot == slot }.map(\.seat))
    }

    /// The write that claims `booking`'s slot (`path`) for it, unless anything holds it.
    static func claim(_ path: DocumentPath, of booking: Booking) -> Write {
        .create(path, claimFields(of: booking))
    }

    /// A slot claim's fields: the service, the slot and the booking that holds it.
    static func claimFields(of booking: Booking) -> [String: Value] {
        ["service_id": .string(booking.serviceID), "slot": .string(booking.slot.description), "booking_id": .string(booking.id)]
    }

    /// Commits a booking's writes; returns true, having written nothing, when bookings that
    /// another application made without claims fill the slot's `seats` (only with external writers).
    ///
    /// With external writers the check and the writes are one transaction, which reads every
    /// booking of the service as another application's transaction would query them: one that
    /// lands meanwhile changes this result, and Firestore then aborts one of the two.
    func commit(_ writes: [Write], unlessAnotherApplicationBooked slot: Slot, of serviceID: String, seats: Int) throws(StoreError) -> Bool {
        guard let transactional = externalWriters else {
            try store.commit(writes)
            return false
        }
        return try transactional.transaction { reads throws(StoreError) in
            let bookings = try reads.query(collection: Collections.bookings, where: FieldFilter("service_id", equals: serviceID))
            let taken = bookings.count { reader.bookedSlot(from: $0)?.slot == slot } >= seats
            return (taken ? [] : writes, taken)
        }
    }

    /// `claimed` with the slots of every booking document (of one service, or of all) added,
    /// in time order, when other applications book without claims; else `claimed` as it is.
    /// The k bookings of a slot count as its seats 1 to k, so with the claims (this service's
    /// bookings have both) the larger of the two counts holds the slot's seats. Reads only the
    /// two fields, but every booking: Firestore bills a read per document.
    private func addingExternalBookings(to claimed: [ExactString: [SeatClaim]], of serviceID: String?) throws(BookingError)
        -> [ExactString: [SeatClaim]]
    {
        guard externalWriters != nil else { return claimed }
        let documents = try storeCall { () throws(StoreError) in
            try store.query(
                collection: Collections.bookings, where: serviceID.map { FieldFilter("service_id", equals: $0) },
                select: DocumentReader.bookedSlotFields)
        }
        var booked: [ExactString: [Slot: Int]] = [:]
        for document in documents {
            if let (serviceID, slot) = reader.bookedSlot(from: document) { booked[ExactString(serviceID), default: [:]][slot, default: 0] += 1 }
        }
        let seats = booked.mapValues { counts in counts.flatMap { slot, count in (1...count).map { SeatClaim(slot: slot, seat: $0) } } }
        return claimed.merging(seats) { Array(Set($0).union($1)).sorted() }.mapValues { $0.sorted() }
    }

    /// One booking by id, as anyone may see it (without its contact details): the document of
    /// that id, or else the one whose `booking_id` field holds it (documents another application
    /// added with generated ids).
    public func booking(id: String) throws(BookingError) -> Booking {
        try storedBooking(id: id).booking.withoutContact
    }

    /// One booking by id with its contact details, for the holder of its manage token or the
    /// admin; `forbidden` for any other token.
    public func booking(id: String, by authority: BookingAuthority) throws(BookingError) -> Booking {
        let stored = try storedBooking(id: id)
        try authorize(authority, for: stored.document)
        return stored.booking
    }

    /// A booking with the document it was read from (for its update time and token hash).
    struct StoredBooking {
        let document: Document
        let booking: Booking
    }

    func storedBooking(id: String) throws(BookingError) -> StoredBooking {
        guard (try? Validation.id(id, field: "booking_id")) != nil else { throw .bookingNotFound }
        let document = try storeCall { () throws(StoreError) in
            try Self.document(known: id, in: Collections.bookings, by: "booking_id", store: store)
        }
        guard let document, let booking = reader.booking(from: document) else { throw .bookingNotFound }
        return StoredBooking(document: document, booking: booking)
    }

    /// Lets the admin through, and the holder of a token that hashes to the one the booking
    /// stores; bookings without a stored hash (other applications') only the admin manages.
    func authorize(_ authority: BookingAuthority, for document: Document) throws(BookingError) {
        guard case .manageToken(let token) = authority else { return }
        guard let hash = document[ManageToken.hashField]?.stringValue, ManageToken.matches(token, storedHash: hash) else {
            throw .forbidden
        }
    }

    /// The document a service or booking is known by under `id`: the one with that document id,
    /// unless its id field names another; else the first whose id field holds `id` (a query on
    /// the indexed field, made only when the first read finds nothing that fits).
    static func document(
        known id: String, in collection: String, by field: String,
        store: any DocumentStore
    ) throws(StoreError) -> Document? {
        if let document = try store.get(DocumentPath(collection, id)),
            document[field]?.stringValue.map({ ExactString($0) == ExactString(id) }) ?? true
        {
            return document
        }
        return try store.query(collection: collection, where: FieldFilter(field, equals: id), select: nil).first
    }

    /// Deletes the slot claims and releases of slots that began before `cutoff` and returns how
    /// many claims it deleted. A claim only stops a second booking of its slot, and a slot that
    /// has begun cannot be booked, so these guard nothing; the bookings stay. Without pruning,
    /// every catalog rebuild reads the claim of every booking ever made. `cutoff` should lie well
    /// before now: a booking accepted just before its slot began may still be committing.
    /// `progress` is told each collection's deletions so far after each commit.
    public func pruneClaims(
        ofSlotsBefore cutoff: Timestamp, progress: (_ collection: String, _ deleted: Int, _ of: Int) -> Void = { _, _, _ in }
    ) throws(BookingError) -> Int {
        let claims = try deleteEnded(in: Collections.slotClaims, before: cutoff, progress: progress)
        _ = try deleteEnded(in: Collections.slotReleases, before: cutoff, progress: progress)
        return claims
    }

    /// Deletes the documents of `collection` whose ids name a slot (as claims' ids do) that
    /// began before `cutoff`, telling `progress` after each commit, and returns how many.
    private func deleteEnded(
        in collection: String, before cutoff: Timestamp, progress: (String, Int, Int) -> Void
    ) throws(BookingError) -> Int {
        let ids = try storeCall { () throws(StoreError) in try store.ids(collection: collection, in: nil) }
        let ended = ids.filter { id in Collections.slot(ofClaimID: id).map { $0.instant < cutoff } ?? false }
        try storeCall { () throws(StoreError) in
            try store.commit(inChunks: ended.map { .delete(DocumentPath(collection, $0), .none) }) { progress(collection, $0, ended.count) }
        }
        return ended.count
    }

    /// Succeeds when the store answers.
    public func checkHealth() throws(BookingError) {
        try storeCall { () throws(StoreError) in try store.ping() }
    }

    // MARK: - Helpers

    /// The store's uncached reads of services and claims, for the directories.
    var source: CatalogSource { CatalogSource(store: store, reader: reader) }

    /// The service's slots that may be booked at `currentTime`, but `claimed` (both in time
    /// order): one merged pass, no hashing. A slot that begins (or comes within the minimum
    /// notice) while a cached body lists it is refused when booked, and gone from the body at
    /// its next rebuild.
    private func availability(of service: Service, claimed: [SeatClaim], at currentTime: Timestamp) -> ServiceAvailability {
        let upcoming = service.bookableSlots(at: currentTime)
        let seats = service.settings.seats
        guard !claimed.isEmpty else {
            return ServiceAvailability(
                service: service, availableSlots: Array(upcoming), seatsLeft: seats == 1 ? [] : Array(repeating: seats, count: upcoming.count))
        }
        var free: [Slot] = []
        var seatsLeft: [Int] = []
        free.reserveCapacity(upcoming.count)
        var next = claimed.startIndex
        for slot in upcoming {
            while next < claimed.endIndex && claimed[next].slot < slot { next += 1 }
            var taken = 0
            while next < claimed.endIndex && claimed[next].slot == slot {
                taken += 1
                next += 1
            }
            guard taken < seats else { continue }
            free.append(slot)
            if seats > 1 { seatsLeft.append(seats - taken) }
        }
        return ServiceAvailability(service: service, availableSlots: free, seatsLeft: seatsLeft)
    }

    private func isClaimed(_ claim: DocumentPath, by bookingID: String) throws(BookingError) -> Bool {
        let document = try storeCall { () throws(StoreError) in try store.get(claim) }
        return document?["booking_id"]?.stringValue == bookingID
    }

    static func translate(_ error: StoreError) -> BookingError {
        switch error {
        case .unavailable: return .storeUnavailable
        default: return .storeFailure("\(error)")
        }
    }

    /// A 20-character random id from the alphabet Firestore's client libraries use, drawn from
    /// the system's generator a 64-bit word at a time (not a system call per character).
    static func autoID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var generator = SystemRandomNumberGenerator()
        var id: [UInt8] = []
        id.reserveCapacity(20)
        while id.count < 20 {
            var word = generator.next()
            for _ in 0..<8 where id.count < 20 {
                let byte = UInt8(truncatingIfNeeded: word)
                word >>= 8
                if byte < 248 { id.append(alphabet[Int(byte % 62)]) }  // 248 = 4 × 62: no bias
            }
        }
        return String(decoding: id, as: UTF8.self)
    }
}

/// Runs a store call, turning its failure into the booking rules' error.
func storeCall<T>(_ call: () throws(StoreError) -> T) throws(BookingError) -> T {
    do {
        return try call()
    } catch {
        throw BookingDesk.translate(error)
    }
}
