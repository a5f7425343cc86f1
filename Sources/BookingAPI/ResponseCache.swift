import Booking
import DocumentStore
import Synchronization

/// Pre-serialised bodies of the availability reads (`GET /services`, `GET /services/{id}`),
/// each also gzip-compressed once for the clients that accept it, shared by the threads of a
/// process. A body is served while no booking or service was made since it was built (per the
/// host's change counters, which count a change before it is confirmed: a booked slot never
/// shows as free on this host once its 201 is sent) and for `lifetime` at most (the bound for
/// changes made on other hosts).
public final class ResponseCache: Sendable {
    private final class Entry: Sendable {
        let body: [UInt8]
        let version: UInt64
        let builtAt: Double
        /// The gzip form, made by the first read that accepts it.
        private let gzipped = Mutex<EncodedBody?>(nil)

        init(body: [UInt8], version: UInt64, builtAt: Double) {
            self.body = body
            self.version = version
            self.builtAt = builtAt
        }

        func encoded(gzip: Bool) -> EncodedBody {
            guard gzip else { return EncodedBody(body, gzip: false) }
            return gzipped.withLock { made in
                if let made { return made }
                let encoded = EncodedBody(body, gzip: true)
                made = encoded
                return encoded
            }
        }
    }

    private let counters: any ChangeCounters
    private let lifetime: Double
    /// A body this old is rebuilt by the first thread to find it so, while the others go on
    /// serving it (it is still within `lifetime`): a body expiring only by age never makes the
    /// threads of a process wait for its rebuild.
    let refreshAge: Double
    private let entries = Mutex<[ExactString: Entry]>([:])  // paths, byte for byte
    /// Held while building, so that the threads that find a body stale together build it once.
    private let building = Mutex<Void>(())
    private let capacity: Int
    private let afterLargeBuild: @Sendable () -> Void

    /// Bodies of at least this size call `afterLargeBuild` once built.
    static let largeBodyBytes = 256 * 1024

    /// - Parameters:
    ///   - lifetime: seconds a body is served at most, whatever the counters say.
    ///   - afterLargeBuild: called after building a large body, for example to hand the memory
    ///     freed while building it back to the system.
    public init(counters: any ChangeCounters, lifetime: Double = defaultReadCacheLifetime, capacity: Int = 1000,
                afterLargeBuild: @escaping @Sendable () -> Void = {}) {
        self.counters = counters
        self.lifetime = lifetime
        refreshAge = lifetime * 0.8
        self.capacity = capacity
        self.afterLargeBuild = afterLargeBuild
    }

    /// The cached body for `key` (gzip-compressed when `gzip` and worth it), or the one `build`
    /// makes, then cached. The version is read before building, so a change committed meanwhile
    /// makes the next read build again.
    func body(for key: String, gzip: Bool = false, build: () throws(APIError) -> [UInt8]) throws(APIError) -> EncodedBody {
        try entry(for: ExactString(key), build: build).encoded(gzip: gzip)
    }

    private func entry(for key: ExactString, build: () throws(APIError) -> [UInt8]) throws(APIError) -> Entry {
        let version = counters.availabilityVersion
        if let entry = entries.withLock({ $0[key] }), entry.version == version {
            let age = monotonicSeconds() - entry.builtAt
            if age < refreshAge { return entry }
            if age < lifetime {
                return try building.withLockIfAvailable { _ throws(APIError) in try buildUnlessFresh(key, build) } ?? entry
            }
        }
        return try building.withLock { _ throws(APIError) in try buildUnlessFresh(key, build) }
    }

    /// Called with `building` held: another thread may have built the body meanwhile.
    private func buildUnlessFresh(_ key: ExactString, _ build: () throws(APIError) -> [UInt8]) throws(APIError) -> Entry {
        let version = counters.availabilityVersion
        let now = monotonicSeconds()
        if let entry = entries.withLock({ $0[key] }), entry.version == version, now - entry.builtAt < refreshAge {
            return entry
        }
        let entry = Entry(body: try build(), version: version, builtAt: now)
        entries.withLock {
            if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
            $0[key] = entry
        }
        if entry.body.count >= Self.largeBodyBytes { afterLargeBuild() }
        return entry
    }
}
