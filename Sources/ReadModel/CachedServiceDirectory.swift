import Booking
import DocumentStore
import Synchronization

/// The services' definitions (name and offered slots), kept per process: the booking rules'
/// `ServiceDirectory` when the host caches reads.
///
/// For the booking path, which then needs one store round trip (the commit), an entry is used
/// while no service was changed on this host since it was confirmed and for `lifetime` at most;
/// then the store's update time of its document (read without the fields) confirms it, or the
/// document is read again. That bounds what other hosts or programs wrote. For the catalog, each
/// definition is checked against the store's update time of its document, so a large catalog is
/// not read and parsed again whenever a booking changes what is free.
public final class CachedServiceDirectory: ServiceDirectory {
    private struct Entry {
        let service: Service
        let updateTime: Timestamp
        /// The host's services version when the entry was read or last confirmed.
        let version: UInt64
        let confirmedAt: Double
    }

    private struct CatalogEntry {
        let updateTime: Timestamp
        /// nil for a document that is not a valid service, so that it does not force a re-read.
        let service: Service?
    }

    private let counters: MappedChangeCounters
    private let clock: ReadClock
    private let lifetime: Double
    // Keyed by id byte for byte: two services may have canonically equivalent ids.
    private let entries = Mutex<[ExactString: Entry]>([:])
    private let catalog = Mutex<[ExactString: CatalogEntry]>([:])
    private let capacity: Int

    /// - Parameter lifetime: seconds an entry is used before its update time confirms it.
    init(counters: MappedChangeCounters, clock: ReadClock, lifetime: Double, capacity: Int = 10_000) {
        self.counters = counters
        self.clock = clock
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The cached service, or the one the source reads (cached when found). A cached entry that
    /// is due is confirmed by its document's update time instead of being read again. (A service
    /// found by its field has another document id: its update time never matches, so such a
    /// service is read again whenever its entry is due.)
    public func service(id: String, from source: CatalogSource) throws(BookingError) -> Service? {
        let servicesVersion = counters.servicesVersion
        let now = clock.monotonic()
        if let entry = entries.withLock({ $0[ExactString(id)] }) {
            if entry.version == servicesVersion, now - entry.confirmedAt < lifetime { return entry.service }
            if try source.updateTime(ofServiceDocument: id) == entry.updateTime {
                remember(id, Entry(service: entry.service, updateTime: entry.updateTime, version: servicesVersion, confirmedAt: now))
                return entry.service
            }
        }
        guard let document = try source.serviceDocument(id: id), let service = source.service(from: document) else {
            entries.withLock { $0[ExactString(id)] = nil }
            return nil
        }
        remember(id, Entry(service: service, updateTime: document.updateTime, version: servicesVersion, confirmedAt: now))
        return service
    }

    private func remember(_ id: String, _ entry: Entry) {
        let key = ExactString(id)
        entries.withLock {
            if $0.count >= capacity && $0[key] == nil { $0.removeAll(keepingCapacity: true) }
            $0[key] = entry
        }
    }

    /// Every valid service, in id order. When the id and update time of every service document
    /// the store holds now match cached definitions, those are used; otherwise every service
    /// document is read again.
    public func allServices(from source: CatalogSource) throws(BookingError) -> [Service] {
        let versions = try source.serviceVersions()
        let cached: [CatalogEntry]? = catalog.withLock { entries in
            var found: [CatalogEntry] = []
            found.reserveCapacity(versions.count)
            for version in versions {
                guard let entry = entries[ExactString(version.id)], entry.updateTime == version.updateTime else { return nil }
                found.append(entry)
            }
            return found
        }
        if let cached { return cached.compactMap(\.service) }
        let documents = try source.allServiceDocuments()
        var fresh: [ExactString: CatalogEntry] = [:]
        fresh.reserveCapacity(documents.count)
        let services = documents.compactMap { document -> Service? in
            let service = source.service(from: document)
            fresh[ExactString(document.path.id)] = CatalogEntry(updateTime: document.updateTime, service: service)
            return service
        }
        catalog.withLock { $0 = fresh }
        return services
    }
}
