import DocumentStore
import Synchronization

/// The services' definitions (name and offered slots), cached per process.
///
/// For the booking path, which then needs one store round trip (the commit), an entry is used
/// while no service was created since it was read (per the host's change counters) and for
/// `readCacheLifetime` at most; services are never changed in place, so this only bounds what
/// other hosts or programs wrote. For the catalog, each definition is checked against the
/// store's update time of its document, so a large catalog is not read and parsed again
/// whenever a booking changes what is free.
public final class ServiceDefinitions: Sendable {
    private struct Entry {
        let service: Service
        let version: UInt64
        let readAt: Double
    }

    private struct CatalogEntry {
        let updateTime: Timestamp
        /// nil for a document that is not a valid service, so that it does not force a re-read.
        let service: Service?
    }

    private let counters: any ChangeCounters
    private let entries = Mutex<[String: Entry]>([:])
    private let catalog = Mutex<[String: CatalogEntry]>([:])
    private let capacity: Int

    public init(counters: any ChangeCounters, capacity: Int = 10_000) {
        self.counters = counters
        self.capacity = capacity
    }

    /// The cached service, or the one `read` returns (cached when found).
    func service(id: String, read: () throws(BookingError) -> Service?) throws(BookingError) -> Service? {
        let version = counters.servicesVersion
        let now = monotonicSeconds()
        if let entry = entries.withLock({ $0[id] }), entry.version == version, now - entry.readAt < readCacheLifetime {
            return entry.service
        }
        guard let service = try read() else { return nil }
        entries.withLock {
            if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
            $0[id] = Entry(service: service, version: version, readAt: now)
        }
        return service
    }

    /// Every valid service, in id order. `versions` are the ids and update times the store
    /// holds now; when each matches a cached definition those are used, otherwise `list` reads
    /// every service document again.
    func all(matching versions: [DocumentVersion], list: () throws(BookingError) -> [Document]) throws(BookingError) -> [Service] {
        let cached: [CatalogEntry]? = catalog.withLock { entries in
            var found: [CatalogEntry] = []
            found.reserveCapacity(versions.count)
            for version in versions {
                guard let entry = entries[version.id], entry.updateTime == version.updateTime else { return nil }
                found.append(entry)
            }
            return found
        }
        if let cached { return cached.compactMap(\.service) }
        let documents = try list()
        var fresh: [String: CatalogEntry] = [:]
        fresh.reserveCapacity(documents.count)
        let services = documents.compactMap { document -> Service? in
            let service = Service(document: document)
            fresh[document.path.id] = CatalogEntry(updateTime: document.updateTime, service: service)
            return service
        }
        catalog.withLock { $0 = fresh }
        return services
    }
}
