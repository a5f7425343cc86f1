import DocumentStore

/// Where the booking rules find services' definitions.
///
/// A booking needs its service's definition and the catalog needs every one; both are read far
/// more often than services change. `StoreServiceDirectory` reads the store every time; a host
/// may keep definitions between requests (the read model's cached directory does), as long as it
/// answers as the store would within its bound for changes made elsewhere.
public protocol ServiceDirectory: Sendable {
    /// The service known by `id`, or nil when there is none (or its document is not a service).
    func service(id: String, from source: ServiceSource) throws(BookingError) -> Service?
    /// Every valid service, in service-id order.
    func allServices(from source: ServiceSource) throws(BookingError) -> [Service]
}

/// The store's reads of service documents, uncached: what a `ServiceDirectory` answers from.
public struct ServiceSource {
    let store: any DocumentStore
    let reader: DocumentReader

    public init(store: any DocumentStore, reader: DocumentReader) {
        self.store = store
        self.reader = reader
    }

    /// The document the service `id` is known by (see `BookingDesk.document(known:in:by:store:)`).
    public func document(id: String) throws(BookingError) -> Document? {
        try storeCall { () throws(StoreError) in
            try BookingDesk.document(known: id, in: Collections.services, by: "service_id", store: store)
        }
    }

    /// The update time of the document whose id is `id`, read without its fields; nil when none.
    public func updateTime(ofDocument id: String) throws(BookingError) -> Timestamp? {
        try storeCall { () throws(StoreError) in try store.version(of: DocumentPath(Collections.services, id))?.updateTime }
    }

    /// Every service document, in id order.
    public func allDocuments() throws(BookingError) -> [Document] {
        try storeCall { () throws(StoreError) in try store.listAll(collection: Collections.services) }
    }

    /// The id and update time of every service document, in id order.
    public func versions() throws(BookingError) -> [DocumentVersion] {
        try storeCall { () throws(StoreError) in try store.versions(collection: Collections.services) }
    }

    /// The service a document holds; nil (reported once) when it is not a valid service.
    public func service(from document: Document) -> Service? {
        reader.service(from: document)
    }
}

/// A directory that reads the store on every call.
public struct StoreServiceDirectory: ServiceDirectory {
    public init() {}

    public func service(id: String, from source: ServiceSource) throws(BookingError) -> Service? {
        try source.document(id: id).flatMap(source.service(from:))
    }

    public func allServices(from source: ServiceSource) throws(BookingError) -> [Service] {
        try source.allDocuments().compactMap(source.service(from:))
    }
}
