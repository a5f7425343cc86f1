import Booking
import DocumentStore
import Synchronization

/// Pre-serialised bodies of the availability reads (`GET /services`, `GET /services/{id}`),
/// each also gzip-compressed once for the clients that accept it (and a large one written once
/// to a file that nginx sends to the others), shared by the threads of a process. A body is
/// served while no booking or service was made since it was built (per the host's change
/// counters, which count a change before it is confirmed: a booked slot never shows as free on
/// this host once its 201 is sent) and for `lifetime` at most (the bound for changes made on
/// other hosts). With `PublishedBodies`, a body is also rebuilt in each new second of the wall
/// clock in which it is read, and the published paths' bodies are handed to it.
public final class ResponseCache: Sendable {
    private struct Entry: Sendable {
        let body: CachedBody
        let version: UInt64
        let builtAt: Double
        /// The second of the wall clock the build began in (with `PublishedBodies` only).
        let builtIn: Int
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
    private let largeBodyFiles: LargeBodyFiles?
    private let published: PublishedBodies?

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
    public init(counters: any ChangeCounters, lifetime: Double = defaultReadCacheLifetime, capacity: Int = 1000,
                largeBodyFiles: LargeBodyFiles? = nil, published: PublishedBodies? = nil,
                afterLargeBuild: @escaping @Sendable () -> Void = {}) {
        precondition(published == nil || lifetime >= 1, "published bodies need a lifetime of at least a second")
        self.counters = counters
        self.largeBodyFiles = largeBodyFiles
        self.published = published
        self.lifetime = lifetime
        refreshAge = lifetime * 0.8
        self.capacity = capacity
        self.afterLargeBuild = afterLargeBuild
    }

    /// The cached body for `key` (gzip-compressed when `gzip` and worth it, else with its file
    /// when it is large), or the one `build` makes, then cached. A body built from a version at
    /// least the one this read began with holds every change confirmed before the read began
    /// (versions are read before building, and a change is counted before it is confirmed).
    func body(for key: String, gzip: Bool = false, build: () throws(APIError) -> [UInt8]) throws(APIError) -> EncodedBody {
        let key = ExactString(key)
        let entry = try entry(for: key, build: build)
        offer(key, entry)
        return entry.body.encoded(gzip: gzip)
    }

    /// Whether `entry` may be served to a read that began at `version` without more ado: built
    /// from that version or a later one, and not yet due for a refresh (by age, or with
    /// `published`, by a new second).
    private func isFresh(_ entry: Entry, since version: UInt64) -> Bool {
        entry.version >= version && monotonicSeconds() - entry.builtAt < refreshAge
            && (published.map { entry.builtIn == $0.currentSecond } ?? true)
    }

    /// Hands a read's body to `published` (which publishes the published paths' bodies).
    private func offer(_ key: ExactString, _ entry: Entry) {
        published?.offer(key.string, version: entry.version, builtIn: entry.builtIn) {
            let gzip = entry.body.encoded(gzip: true)
            return (entry.body.bytes, gzip.isGzip ? gzip.bytes : nil)
        }
    }

    private func entry(for key: ExactString, build: () throws(APIError) -> [UInt8]) throws(APIError) -> Entry {
        let version = counters.availabilityVersion
        if let entry = entries.withLock({ $0[key] }), entry.version >= version {
            if isFresh(entry, since: version) { return entry }
            if monotonicSeconds() - entry.builtAt < lifetime {
                return try building.withLockIfAvailable { _ throws(APIError) in try buildUnlessFresh(key, since: version, build) } ?? entry
            }
        }
        return try building.withLock { _ throws(APIError) in try buildUnlessFresh(key, since: version, build) }
    }

    /// Called with `building` held. Another thread may have built the body while this one
    /// waited: from a version at least `version` (this read's), it serves this read too, even if
    /// more bookings came since. So under steady bookings the threads that wait for a rebuild
    /// wait for at most two, not for one each.
    private func buildUnlessFresh(_ key: ExactString, since version: UInt64,
                                  _ build: () throws(APIError) -> [UInt8]) throws(APIError) -> Entry {
        // Only the thread holding `building` replaces entries, so this one stays current here.
        let previous = entries.withLock { $0[key] }
        if let previous, isFresh(previous, since: version) { return previous }
        let now = monotonicSeconds()
        let second = published?.currentSecond ?? 0
        let current = counters.availabilityVersion
        let bytes = try build()
        // Mostly a rebuild by age finds the body unchanged: it keeps its gzip form and file.
        let unchanged = previous.flatMap { $0.body.bytes == bytes && !$0.body.lostItsFile ? $0.body : nil }
        let entry = Entry(body: unchanged ?? CachedBody(bytes, files: largeBodyFiles), version: current, builtAt: now,
                          builtIn: second)
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

extension ResponseCache {
    /// One worker thread's way into the cache. It keeps the small bodies it was served and serves
    /// them again while they are fresh (the cache's own test), without taking the cache's lock:
    /// with every thread of a process taking that lock for every read, a sixth of the workers'
    /// CPU went to it spinning at 128 connections (`perf`). Large bodies are not kept, so that an
    /// idle thread never holds megabytes that are out of date. Not for sharing between threads.
    public final class Reader {
        private let cache: ResponseCache
        private var kept: [ExactString: Entry] = [:]
        /// At most this many bodies of at most `keptBytes` each.
        static let keptCount = 64
        static let keptBytes = 64 * 1024

        fileprivate init(cache: ResponseCache) {
            self.cache = cache
        }

        /// As `ResponseCache.body(for:gzip:build:)`.
        func body(for key: String, gzip: Bool = false, build: () throws(APIError) -> [UInt8]) throws(APIError) -> EncodedBody {
            let key = ExactString(key)
            if let entry = kept[key], cache.isFresh(entry, since: cache.counters.availabilityVersion) {
                cache.offer(key, entry)
                return entry.body.encoded(gzip: gzip)
            }
            let entry = try cache.entry(for: key, build: build)
            cache.offer(key, entry)
            if entry.body.bytes.count <= Self.keptBytes {
                if kept.count >= Self.keptCount && kept[key] == nil { kept.removeAll(keepingCapacity: true) }
                kept[key] = entry
            } else {
                kept[key] = nil
            }
            return entry.body.encoded(gzip: gzip)
        }
    }

    /// A reader for one thread.
    public func makeReader() -> Reader {
        Reader(cache: self)
    }
}
