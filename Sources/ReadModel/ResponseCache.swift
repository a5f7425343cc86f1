import CoreMetrics
import DocumentStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Pre-serialised bodies of the availability reads (`GET /services`, `GET /services/{id}`),
/// shared by the threads of a process, each also gzip-compressed once for the clients that accept
/// it (and a large one written once to a file that nginx sends to the others). `Freshness`
/// decides when a body is served and when it is built again; with `PublishedBodies`, the
/// published paths' bodies are handed to it.
final class ResponseCache: Sendable {
    struct Entry: Sendable {
        let body: CachedBody
        let stamp: Freshness.Stamp
    }

    private let counters: MappedChangeCounters
    let freshness: Freshness
    private let clock: ReadClock
    private let entries = Mutex<[ExactString: Entry]>([:])  // paths, byte for byte
    /// Held while building, so that the threads that find a body stale together build it once.
    private let building = Mutex<Void>(())
    private let capacity: Int
    private let afterLargeBuild: @Sendable () -> Void
    private let largeBodyFiles: LargeBodyFiles?
    private let published: PublishedBodies?
    /// Reads served a cached body, and bodies built (swift-metrics; counted by every thread).
    private let hits = Counter(label: "booking_read_cache_hits_total")
    private let rebuilds = Counter(label: "booking_read_cache_rebuilds_total")

    /// Bodies of at least this size call `afterLargeBuild` once built, and go to clients that do
    /// not accept gzip as files (when there are `largeBodyFiles`).
    static let largeBodyBytes = 256 * 1024

    /// - Parameters:
    ///   - lifetime: seconds a body is served at most, whatever the counters say.
    ///   - largeBodyFiles: where large bodies go as files that nginx sends; nil sends every body
    ///     through FastCGI.
    ///   - published: where the bodies of the published paths go for nginx to serve; nil
    ///     publishes none. Publication bounds the age of what nginx serves by a second, so it
    ///     needs a `lifetime` of at least that.
    ///   - afterLargeBuild: called after building a large body, for example to hand the memory
    ///     freed while building it back to the system.
    init(
        counters: MappedChangeCounters, clock: ReadClock, lifetime: Double, capacity: Int = 1000,
        largeBodyFiles: LargeBodyFiles? = nil, published: PublishedBodies? = nil, afterLargeBuild: @escaping @Sendable () -> Void = {}
    ) {
        precondition(published == nil || lifetime >= 1, "published bodies need a lifetime of at least a second")
        self.counters = counters
        self.clock = clock
        freshness = Freshness(lifetime: lifetime, rebuildsEachSecond: published != nil)
        self.largeBodyFiles = largeBodyFiles
        self.published = published
        self.capacity = capacity
        self.afterLargeBuild = afterLargeBuild
    }

    /// The host's change version now: what a read that begins now must see.
    private var currentVersion: UInt64 { counters.availabilityVersion }

    /// What a read that began at `version` does with `entry`, now.
    private func decision(for entry: Entry?, since version: UInt64) -> Freshness.Decision {
        freshness.read(entry?.stamp, now: clock.monotonic(), version: version, second: clock.second)
    }

    /// The cached entry for `key` if a read that begins now may be served it, or else the one
    /// `build` makes, then cached.
    func entry<Failure: Error>(for key: ExactString, build: () throws(Failure) -> [UInt8]) throws(Failure) -> Entry {
        let version = currentVersion
        let found = entries.withLock { $0[key] }
        switch decision(for: found, since: version) {
        case .serve:
            hits.increment()
            return found!
        case .serveAndRebuild:
            if let built = try building.withLockIfAvailable({ _ throws(Failure) in try buildUnlessFresh(key, since: version, build) }) {
                return built
            }
            hits.increment()  // another thread is building it
            return found!
        case .rebuild:
            return try building.withLock { _ throws(Failure) in try buildUnlessFresh(key, since: version, build) }
        }
    }

    /// Hands a read's body to `published` (which publishes the published paths' bodies).
    func offer(_ key: ExactString, _ entry: Entry) {
        published?.offer(key.string, version: entry.stamp.version, builtIn: entry.stamp.second) {
            let gzip = entry.body.encoded(gzip: true)
            return (entry.body.bytes, gzip.isGzip ? gzip.bytes : nil, entry.body.contentTime)
        }
    }

    /// Called with `building` held. Another thread may have built the body while this one
    /// waited: from a version at least `version` (this read's), it serves this read too, even if
    /// more bookings came since. So under steady bookings the threads that wait for a rebuild
    /// wait for at most two, not for one each.
    private func buildUnlessFresh<Failure: Error>(
        _ key: ExactString, since version: UInt64,
        _ build: () throws(Failure) -> [UInt8]
    ) throws(Failure) -> Entry {
        // Only the thread holding `building` replaces entries, so this one stays current here.
        let previous = entries.withLock { $0[key] }
        if let previous, decision(for: previous, since: version) == .serve {
            hits.increment()
            return previous
        }
        let stamp = Freshness.Stamp(version: currentVersion, builtAt: clock.monotonic(), second: clock.second)
        let bytes = try build()
        rebuilds.increment()
        // Mostly a rebuild by age finds the body unchanged: it keeps its gzip form and file.
        let unchanged = previous.flatMap { sameBytes($0.body.bytes, bytes) && !$0.body.lostItsFile ? $0.body : nil }
        let entry = Entry(body: unchanged ?? CachedBody(bytes, files: largeBodyFiles), stamp: stamp)
        // Returned, so that the entries replaced are released after the lock (and a large body's
        // file, when no entry holds it any more, is retired outside it).
        _ = entries.withLock { entries in
            var replaced: [Entry] = []
            if entries.count >= capacity {
                replaced = Array(entries.values)
                entries.removeAll(keepingCapacity: true)
            }
            if let previous = entries.updateValue(entry, forKey: key) { replaced.append(previous) }
            return replaced
        }
        if bytes.count >= Self.largeBodyBytes { afterLargeBuild() }
        return entry
    }
}

/// Whether two byte arrays are equal, compared with memcmp: Array's `==` compares a large
/// catalog byte by byte (12% of the workers' CPU in a profile of the schedule catalog's reads).
func sameBytes(_ first: [UInt8], _ second: [UInt8]) -> Bool {
    guard first.count == second.count else { return false }
    return first.withUnsafeBytes { one in second.withUnsafeBytes { other in memcmp(one.baseAddress!, other.baseAddress!, one.count) == 0 } }
}
