import Synchronization

/// The services' definitions (name and offered slots), cached per process for the booking
/// path, which then needs one store round trip: the commit. An entry is used while no service
/// was created since it was read (per the host's change counters) and for `readCacheLifetime`
/// at most; services are never changed in place, so this only bounds what other hosts or
/// programs wrote.
public final class ServiceDefinitions: Sendable {
    private struct Entry {
        let service: Service
        let version: UInt64
        let readAt: Double
    }

    private let counters: any ChangeCounters
    private let entries = Mutex<[String: Entry]>([:])
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
}
