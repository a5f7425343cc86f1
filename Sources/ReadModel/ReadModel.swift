import Booking
import DocumentStore
import Logging

/// The read path: the availability bodies the workers serve from memory, the large ones nginx
/// sends as files, the catalog nginx serves itself each second, and the services' definitions,
/// all kept fresh by one entry for changes.
///
/// A worker thread reads through its own `Reader`; every mutation, once its store commit
/// succeeded and before its answer is written, calls `recordChange`.
public final class ReadModel: Sendable {
    /// Where the read model keeps what it shares, and for how long.
    public struct Settings: Sendable {
        /// Seconds a cached read is served at most: the bound for changes made on other hosts.
        public var lifetime: Double
        /// The file that maps the host's change counters, shared by the host's worker processes;
        /// nil counts per process (then other processes' changes show once `lifetime` passed).
        public var countersFile: String?
        /// The folder for large bodies that nginx sends itself (`LARGE_BODY_DIR`); nil: none.
        public var largeBodyDirectory: String?
        /// The folder the catalog is published to each second (`PUBLISH_DIR`); nil: none.
        public var publishDirectory: String?

        public init(
            lifetime: Double = Settings.defaultLifetime, countersFile: String? = nil, largeBodyDirectory: String? = nil,
            publishDirectory: String? = nil
        ) {
            self.lifetime = lifetime
            self.countersFile = countersFile
            self.largeBodyDirectory = largeBodyDirectory
            self.publishDirectory = publishDirectory
        }

        /// One second: changes made on another host, or by another program, show within it.
        public static let defaultLifetime = 1.0
    }

    /// What a mutation changed.
    public enum Change: Sendable {
        /// A service was created or its definition changed (and with it, what is free).
        case services
        /// A slot was taken or freed.
        case availability
    }

    private let counters: MappedChangeCounters
    private let cache: ResponseCache
    private let largeBodyFiles: LargeBodyFiles?
    private let published: PublishedBodies?
    /// The services' definitions, for the booking rules.
    public let serviceDirectory: CachedServiceDirectory
    /// The claimed slots, for the booking rules' catalog.
    public let claimDirectory: CachedClaimDirectory
    /// Each service's part of the catalog body, as last written.
    private let catalogFragments = CatalogFragments()
    /// Whether the change counters are shared with the host's other processes (their file could
    /// be mapped), or count this process's changes only.
    public let sharesChangesAcrossProcesses: Bool

    /// - Parameter afterLargeBuild: called after building a large body, for example to hand the
    ///   memory freed while building it back to the system.
    public init(settings: Settings, clock: ReadClock = .system, logger: Logger, afterLargeBuild: @escaping @Sendable () -> Void = {}) {
        let shared = settings.countersFile.flatMap(MappedChangeCounters.init(path:))
        let counters = shared ?? MappedChangeCounters()
        self.counters = counters
        sharesChangesAcrossProcesses = shared != nil
        largeBodyFiles = settings.largeBodyDirectory.map { LargeBodyFiles(directory: $0, clock: clock, logger: logger) }
        published = settings.publishDirectory.map { PublishedBodies(directory: $0, counters: counters, clock: clock, logger: logger) }
        cache = ResponseCache(
            counters: counters, clock: clock, lifetime: settings.lifetime, largeBodyFiles: largeBodyFiles,
            published: published, afterLargeBuild: afterLargeBuild)
        serviceDirectory = CachedServiceDirectory(counters: counters, clock: clock, lifetime: settings.lifetime)
        claimDirectory = CachedClaimDirectory(counters: counters, clock: clock, lifetime: settings.lifetime)
    }

    /// Creates the folders of files for nginx and empties them. For the process that starts the
    /// server, before its workers run, and after they stopped.
    public func prepareFolders() throws(FolderError) {
        try largeBodyFiles?.prepare()
        try published?.prepare()
    }

    /// Records a change that was committed to the store, before it is confirmed to the client:
    /// every mutation calls this after its commit succeeds and before its 2xx is written.
    ///
    /// The invariant: once a change is confirmed, no read on this host is answered without it,
    /// neither from a worker's memory nor from a file nginx serves. It holds because the change
    /// is counted first, then every published file is withdrawn:
    /// - Counting first makes every body built before it older than the version every later
    ///   read begins with, so `Freshness` rebuilds it, and every body built after it began from
    ///   a version that holds the change (versions are read before building).
    /// - A publication takes the host's lock, sets the shared "may be published" word and then
    ///   checks that the counters still show its body's version; the withdrawal, after the count,
    ///   reads that word and removes the files under the same lock. So a body built before the
    ///   count is either withdrawn here or never published.
    public func recordChange(_ change: Change) {
        switch change {
        case .services: counters.servicesChanged()
        case .availability: counters.availabilityChanged()
        }
        published?.withdraw()
    }

    /// The `ETag` of a body built for one request only (see `EntityTag`), as the bodies the
    /// read model keeps carry theirs.
    public static func entityTag(of body: [UInt8]) -> String {
        EntityTag.value(contentTime: EntityTag.contentTime(of: body), size: body.count)
    }

    /// A reader for one worker thread.
    public func makeReader() -> Reader {
        Reader(model: self)
    }

    /// One worker thread's way into the read model. It holds no bodies of its own: every thread
    /// of a process is served from the process's cache (see docs/PERFORMANCE.md for why).
    public final class Reader {
        private let model: ReadModel

        fileprivate init(model: ReadModel) {
            self.model = model
        }

        /// The body of the read `key` (a request path), as the client may take it: cached, or
        /// the one `build` makes, which is then cached; in gzip when the client accepts it and
        /// it gains; as a file nginx sends when it is large and the client may take a file.
        public func body<Failure: Error>(
            for key: String, accepting accepted: Accepted,
            build: () throws(Failure) -> [UInt8]
        ) throws(Failure) -> Delivery {
            let key = ExactString(key)
            let entry = try model.cache.entry(for: key, build: build)
            model.cache.offer(key, entry)
            let encoded = entry.body.encoded(gzip: accepted.gzip)
            if accepted.file, let file = encoded.file { return .file(uri: file.uri) }
            return .inline(encoded.bytes, gzip: encoded.isGzip, entityTag: encoded.entityTag)
        }

        /// As `ReadModel.recordChange(_:)`.
        public func recordChange(_ change: Change) {
            model.recordChange(change)
        }

        /// A service's part of the catalog body: what `write` made for an equal availability
        /// before, or what it makes now (see `CatalogFragments`).
        public func catalogFragment(of availability: ServiceAvailability, write: () -> [UInt8]) -> [UInt8] {
            model.catalogFragments.bytes(of: availability, write: write)
        }
    }
}

/// The forms of a body a client takes.
public struct Accepted: Sendable {
    /// It accepts gzip.
    public var gzip: Bool
    /// It may be sent a file by nginx (a request without preconditions, which nginx would
    /// evaluate for a file but not for the workers' answers).
    public var file: Bool

    public init(gzip: Bool, file: Bool) {
        self.gzip = gzip
        self.file = file
    }
}

/// A body as the worker hands it over.
public enum Delivery: Equatable, Sendable {
    /// In the response, gzip-compressed or not, with its `ETag` (see `EntityTag`).
    case inline([UInt8], gzip: Bool, entityTag: String)
    /// As a file nginx sends itself (`X-Accel-Redirect` to `uri`).
    case file(uri: String)
}
