import Booking
import BookingAPI
import DocumentStore
import FastCGI
import Idempotency
import Logging
import Notifications
import ReadModel
import StoreConfiguration
import SystemError
import TimeZones

#if canImport(Glibc)
    import Glibc
#endif

/// The composition root: the booking rules, the read model and the HTTP mapping, wired together
/// once for the server and, on an in-memory store with hand-stepped clocks, for the tests.
public final class Application: Sendable {
    /// What the application is built from, besides its store and clocks.
    public struct Settings: Sendable {
        public var readModel: ReadModel.Settings
        /// The bearer token `POST /services` requires; nil refuses every caller.
        public var adminToken: String?
        /// The largest request body accepted.
        public var maximumBodyBytes: Int
        /// Whether another application books in the same store without slot claims.
        public var externalWriters: Bool
        /// Where booking changes are sent; with it, each change writes its event to the webhook outbox.
        public var webhook: WebhookSettings?
        /// How customers are emailed; with it, each change of a booking with an address writes
        /// its event to the email outbox.
        public var email: EmailSettings?

        public init(
            readModel: ReadModel.Settings = ReadModel.Settings(), adminToken: String? = nil, maximumBodyBytes: Int = 65536,
            externalWriters: Bool = false, webhook: WebhookSettings? = nil, email: EmailSettings? = nil
        ) {
            self.readModel = readModel
            self.adminToken = adminToken
            self.maximumBodyBytes = maximumBodyBytes
            self.externalWriters = externalWriters
            self.webhook = webhook
            self.email = email
        }

        /// The outboxes booking changes write to: those of the channels configured.
        var outboxes: Set<BookingOutbox> {
            Set([webhook == nil ? nil : BookingOutbox.webhooks, email == nil ? nil : .emails].compactMap { $0 })
        }
    }

    public let settings: Settings
    public let readModel: ReadModel
    private let makeStore: @Sendable () -> any DocumentStore
    private let documentReader: DocumentReader
    private let now: @Sendable () -> Timestamp
    private let pause: @Sendable (Double) -> Void
    private let logger: Logger

    /// - Parameters:
    ///   - makeStore: a store connection, one per worker thread.
    ///   - documentReader: how documents other applications wrote are read.
    ///   - now: the clock of booking times and of slots that have begun.
    ///   - pause: sleeps the calling thread that many seconds (a repeated request waiting for the
    ///     first one's response).
    ///   - readClock: the read model's clocks.
    ///   - afterLargeBuild: called after building a large body (see `ReadModel`).
    public init(
        settings: Settings, makeStore: @escaping @Sendable () -> any DocumentStore,
        documentReader: DocumentReader = DocumentReader(zones: ZoneDatabase()),
        now: @escaping @Sendable () -> Timestamp = Timestamp.now, pause: @escaping @Sendable (Double) -> Void = Application.sleep,
        readClock: ReadClock = .system, logger: Logger,
        afterLargeBuild: @escaping @Sendable () -> Void = {}
    ) {
        self.settings = settings
        self.makeStore = makeStore
        self.documentReader = documentReader
        self.now = now
        self.pause = pause
        self.logger = logger
        readModel = ReadModel(settings: settings.readModel, clock: readClock, logger: logger, afterLargeBuild: afterLargeBuild)
    }

    /// The application the server's configuration describes: its store, its folders for nginx,
    /// and the change counters every worker process of the host maps (beside the FastCGI socket).
    public convenience init(configuration: ServerConfiguration, logger: Logger) {
        let problems = ProblemsReportedOnce { logger.warning("\($0.description)") }
        let readModel = ReadModel.Settings(
            lifetime: configuration.readCacheLifetime,
            countersFile: Self.countersFile(for: configuration.fastCGI.listener),
            largeBodyDirectory: configuration.largeBodyDirectory, publishDirectory: configuration.publishDirectory)
        self.init(
            settings: Settings(
                readModel: readModel, adminToken: configuration.adminToken,
                maximumBodyBytes: configuration.fastCGI.maximumBodyBytes,
                externalWriters: configuration.data.externalWriters, webhook: configuration.webhook, email: configuration.email),
            makeStore: Self.observed(configuration.store.makeFactory(fieldIndexes: BookingDesk.fieldIndexes)),
            documentReader: configuration.data.documentReader(problems: problems),
            logger: logger, afterLargeBuild: ProcessMemory.releaseFreed)
    }

    /// The file of the host's change counters, which every process that serves the socket maps:
    /// beside a unix socket in a folder this user may write (independent processes on one socket,
    /// as `spawn-fcgi -F` starts them, share it too), else in the folder of the server's own
    /// processes (TCP, or systemd's socket in a folder of root's).
    private static func countersFile(for listener: FastCGIConfiguration.Listener) -> String? {
        if let path = FastCGIServer.socketPath(of: listener), let slash = path.lastIndex(of: "/"),
            access(slash == path.startIndex ? "/" : String(path[..<slash]), W_OK) == 0
        {
            return path + ".changes"
        }
        return (try? ProcessGroupFolder.path()).map { $0 + "/changes" }
    }

    /// Store connections whose calls are counted and timed (`StoreMetrics`).
    private static func observed(_ makeStore: @escaping @Sendable () -> any DocumentStore) -> @Sendable () -> any DocumentStore {
        { ObservedStore.observing(makeStore(), with: StoreMetrics()) }
    }

    /// The booking rules on a store connection of their own, finding services and claims through
    /// the read model's directories.
    public func makeDesk() -> BookingDesk { makeDesk(on: makeStore()) }

    private func makeDesk(on store: any DocumentStore) -> BookingDesk {
        BookingDesk(
            store: store, now: now, directory: readModel.serviceDirectory, claims: readModel.claimDirectory, reader: documentReader,
            externalWriters: settings.externalWriters, outboxes: settings.outboxes)
    }

    /// Starts sending the outboxes' events (to the webhook receiver, to customers' email) from
    /// this process (each worker process does; leases keep an event to one sender). Nothing for
    /// a channel not configured.
    public func startNotifications() {
        if let webhook = settings.webhook { WebhookDelivery(settings: webhook, makeStore: makeStore, logger: logger).start() }
        if let email = settings.email {
            EmailDelivery(settings: email, makeStore: makeStore, reader: documentReader, logger: logger).start()
        }
    }

    /// The rules' start-up checks on a store connection of their own.
    public func makeAudit() -> DataAudit {
        DataAudit(store: makeStore(), reader: documentReader)
    }

    /// A responder for one worker thread, its booking rules and idempotency keys on one store
    /// connection.
    public func makeResponder() -> BookingResponder {
        let store = makeStore()
        return BookingResponder(
            desk: makeDesk(on: store), reads: readModel.makeReader(),
            keys: IdempotencyKeys(store: store, now: now, pause: pause, holders: Self.keyHolders),
            adminToken: settings.adminToken, maximumBodyBytes: settings.maximumBodyBytes, version: Version.number, logger: logger)
    }

    /// This process as the holder of the idempotency keys it claims, and the holders of other
    /// keys looked up among this host's processes: a repeat of a request whose worker process
    /// died runs at once instead of after the key's lease (other hosts' holders: after it).
    /// Read from /proc once per process, when its first responder is made.
    static let keyHolders: KeyHolders = {
        guard let current = ProcessIdentity.current() else { return .unnamed }
        return KeyHolders(current: current.description) { holder in ProcessIdentity(holder)?.hasEnded(seenFrom: current) ?? false }
    }()

    /// Sleeps the calling thread.
    public static func sleep(_ seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
