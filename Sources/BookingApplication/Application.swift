import Booking
import BookingAPI
import DocumentStore
import FastCGI
import Logging
import ReadModel
import StoreConfiguration

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

        public init(
            readModel: ReadModel.Settings = ReadModel.Settings(), adminToken: String? = nil, maximumBodyBytes: Int = 65536,
            externalWriters: Bool = false
        ) {
            self.readModel = readModel
            self.adminToken = adminToken
            self.maximumBodyBytes = maximumBodyBytes
            self.externalWriters = externalWriters
        }
    }

    public let settings: Settings
    public let readModel: ReadModel
    private let makeStore: @Sendable () -> any DocumentStore
    private let documentReader: DocumentReader
    private let now: @Sendable () -> Timestamp
    private let logger: Logger

    /// - Parameters:
    ///   - makeStore: a store connection, one per worker thread.
    ///   - documentReader: how documents other applications wrote are read.
    ///   - now: the clock of booking times and of slots that have begun.
    ///   - readClock: the read model's clocks.
    ///   - afterLargeBuild: called after building a large body (see `ReadModel`).
    public init(
        settings: Settings, makeStore: @escaping @Sendable () -> any DocumentStore, documentReader: DocumentReader = DocumentReader(),
        now: @escaping @Sendable () -> Timestamp = Timestamp.now, readClock: ReadClock = .system, logger: Logger,
        afterLargeBuild: @escaping @Sendable () -> Void = {}
    ) {
        self.settings = settings
        self.makeStore = makeStore
        self.documentReader = documentReader
        self.now = now
        self.logger = logger
        readModel = ReadModel(settings: settings.readModel, clock: readClock, logger: logger, afterLargeBuild: afterLargeBuild)
    }

    /// The application the server's configuration describes: its store, its folders for nginx,
    /// and the change counters every worker process of the host maps (beside the FastCGI socket).
    public convenience init(configuration: ServerConfiguration, logger: Logger) {
        let problems = ProblemsReportedOnce { logger.warning("\($0.description)") }
        let readModel = ReadModel.Settings(
            lifetime: configuration.readCacheLifetime,
            countersFile: FastCGIServer.socketPath(of: configuration.fastCGI.listener).map { $0 + ".changes" },
            largeBodyDirectory: configuration.largeBodyDirectory, publishDirectory: configuration.publishDirectory)
        self.init(
            settings: Settings(
                readModel: readModel, adminToken: configuration.adminToken,
                maximumBodyBytes: configuration.fastCGI.maximumBodyBytes,
                externalWriters: configuration.data.externalWriters),
            makeStore: configuration.store.makeFactory(fieldIndexes: BookingDesk.fieldIndexes),
            documentReader: DocumentReader(legacyZone: configuration.data.legacySlotTimeZone, problems: problems),
            logger: logger, afterLargeBuild: ProcessMemory.releaseFreed)
    }

    /// The booking rules on a store connection of their own, finding services and claims through
    /// the read model's directories.
    public func makeDesk() -> BookingDesk {
        BookingDesk(
            store: makeStore(), now: now, directory: readModel.serviceDirectory, claims: readModel.claimDirectory, reader: documentReader,
            externalWriters: settings.externalWriters)
    }

    /// The rules' start-up checks on a store connection of their own.
    public func makeAudit() -> DataAudit {
        DataAudit(store: makeStore(), reader: documentReader)
    }

    /// A responder for one worker thread.
    public func makeResponder() -> BookingResponder {
        BookingResponder(
            desk: makeDesk(), reads: readModel.makeReader(), adminToken: settings.adminToken,
            maximumBodyBytes: settings.maximumBodyBytes, logger: logger)
    }
}
