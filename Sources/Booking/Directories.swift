import DocumentStore

/// Where the booking rules find services' definitions.
///
/// A booking needs its service's definition and the catalog needs every one; both are read far
/// more often than services change. `StoreServiceDirectory` reads the store every time; a host
/// may keep definitions between requests (the read model's cached directory does), as long as it
/// answers as the store would within its bound for changes made elsewhere.
public protocol ServiceDirectory: Sendable {
    /// The service known by `id`, or nil when there is none (or its document is not a service).
    func service(id: String, from source: CatalogSource) throws(BookingError) -> Service?
    /// Every valid service, in service-id order.
    func allServices(from source: CatalogSource) throws(BookingError) -> [Service]
}

/// Where the catalog finds which seats of which slots are claimed (booked).
///
/// Claims pile up with bookings: reading every one for each catalog build made a read's cost
/// grow with the bookings ever made. `StoreClaimDirectory` reads them all every time; the read
/// model's cached directory keeps them and reads only what was written since it last looked.
public protocol ClaimDirectory: Sendable {
    /// The claimed seats of every service, in time order per service, keyed by service id byte
    /// for byte. It may also hold slots that have begun, and services that no longer exist.
    func allClaimedSeats(from source: CatalogSource) throws(BookingError) -> [ExactString: [SeatClaim]]
}

/// The store's uncached reads of services and claims: what the directories answer from.
public struct CatalogSource {
    let store: any DocumentStore
    let reader: DocumentReader

    public init(store: any DocumentStore, reader: DocumentReader) {
        self.store = store
        self.reader = reader
    }

    /// The document the service `id` is known by (see `BookingDesk.document(known:in:by:store:)`).
    public func serviceDocument(id: String) throws(BookingError) -> Document? {
        try storeCall { () throws(StoreError) in
            try BookingDesk.document(known: id, in: Collections.services, by: "service_id", store: store)
        }
    }

    /// The update time of the service document whose id is `id`, read without its fields; nil
    /// when there is none.
    public func updateTime(ofServiceDocument id: String) throws(BookingError) -> Timestamp? {
        try storeCall { () throws(StoreError) in try store.version(of: DocumentPath(Collections.services, id))?.updateTime }
    }

    /// Every service document, in id order.
    public func allServiceDocuments() throws(BookingError) -> [Document] {
        try storeCall { () throws(StoreError) in try store.listAll(collection: Collections.services) }
    }

    /// The id and update time of every service document, in id order.
    public func serviceVersions() throws(BookingError) -> [DocumentVersion] {
        try storeCall { () throws(StoreError) in try store.versions(collection: Collections.services) }
    }

    /// The service a document holds; nil (reported once) when it is not a valid service.
    public func service(from document: Document) -> Service? {
        reader.service(from: document)
    }

    /// The slots claimed and released at or after `since` (the store's clock), as claim ids
    /// (releases have their claim's id), with the store's time when it began to look; nil when
    /// the store cannot tell without reading every claim.
    ///
    /// A slot booked again after a release has both its release and its new claim (a booking
    /// does not delete the release). The releases are read first and applied first, so a claim
    /// written since wins, and a slot claimed again while the releases were read is among the
    /// claims. A release written after its collection was read is found by the next look, from
    /// before `asOf`.
    public func slotsWritten(since: Timestamp) throws(BookingError) -> WrittenSlots? {
        try storeCall { () throws(StoreError) in
            guard let released = try store.written(collection: Collections.slotReleases, since: since),
                let claimed = try store.written(collection: Collections.slotClaims, since: since)
            else { return nil }
            return WrittenSlots(released: released.documents, claimed: claimed.documents, asOf: released.asOf)
        }
    }

    /// The service and seat a claim id names; nil for an id that is not a claim's.
    public static func claim(id: String) -> (serviceID: ExactString, claim: SeatClaim)? {
        var id = id
        return id.withUTF8 { bytes in
            Collections.split(claimID: bytes).map { (ExactString(String(decoding: $0.serviceID, as: UTF8.self)), $0.claim) }
        }
    }

    /// The claimed seats of every service, from every claim id (claims are read by id alone: a
    /// claim's id names its service, slot and seat).
    public func allClaimedSeats() throws(BookingError) -> [ExactString: [SeatClaim]] {
        let ids = try storeCall { () throws(StoreError) in try store.ids(collection: Collections.slotClaims, in: nil) }
        return Collections.claimedSeats(claimIDs: ids)
    }
}

/// The claims and releases written from a time on (see `CatalogSource.slotsWritten(since:)`).
public struct WrittenSlots: Sendable {
    /// Releases: their ids are the ids of the claims they followed.
    public let released: [DocumentVersion]
    public let claimed: [DocumentVersion]
    /// The store's time when it began to look.
    public let asOf: Timestamp
}

/// A directory of services that reads the store on every call.
public struct StoreServiceDirectory: ServiceDirectory {
    public init() {}

    public func service(id: String, from source: CatalogSource) throws(BookingError) -> Service? {
        try source.serviceDocument(id: id).flatMap(source.service(from:))
    }

    public func allServices(from source: CatalogSource) throws(BookingError) -> [Service] {
        try source.allServiceDocuments().compactMap(source.service(from:))
    }
}

/// A directory of claims that reads every claim id on every call. Claims are read by id alone
/// (a claim's id names its service and slot), without their documents.
public struct StoreClaimDirectory: ClaimDirectory {
    public init() {}

    public func allClaimedSeats(from source: CatalogSource) throws(BookingError) -> [ExactString: [SeatClaim]] {
        try source.allClaimedSeats()
    }
}
