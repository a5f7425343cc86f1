import Booking
import BookingAPI
import DocumentStore
import FastCGI
import HostCounters
import Logging
import StoreConfiguration

#if canImport(Glibc)
import Glibc
#endif

/// The composition root: reads the configuration, prepares the store, and serves the
/// booking API over FastCGI until told to stop.
@main
enum BookingServer {
    static func main() {
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration(environment: StoreConfiguration.processEnvironment())
        } catch {
            let message = Array("booking-server: \(error)\n".utf8)
            _ = write(2, message, message.count)
            exit(2)
        }
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "booking-server")
        let makeStore = configuration.store.makeFactory(fieldIndexes: BookingDesk.fieldIndexes)
        let problems = ProblemsReportedOnce { logger.warning("\($0.description)") }
        let reader = DocumentReader(legacyZone: configuration.data.legacySlotTimeZone, problems: problems)

        let adminToken = configuration.adminToken
        let largeBodyFiles = configuration.largeBodyDirectory.map { LargeBodyFiles(directory: $0, logger: logger) }
        let hostCounters = changeCounters(for: configuration.fastCGI.listener, logger: logger)
        let published = configuration.publishDirectory.map { PublishedBodies(directory: $0, counters: hostCounters, logger: logger) }
        if !FastCGIServer.isWorkerProcess {
            prepare(largeBodyFiles, published, logger: logger)
            prepare(configuration.store, DataAudit(store: makeStore(), reader: reader), logger: logger)
            logger.info("store ready", metadata: ["backend": "\(configuration.store.summary)",
                                                  "external_writers": "\(configuration.data.externalWriters ? 1 : 0)"])
            if adminToken == nil { logger.warning("ADMIN_TOKEN is not set: POST /services refuses every caller") }
        }

        let maximumBodyBytes = configuration.fastCGI.maximumBodyBytes
        // Every change is counted through these, so that it also withdraws the published bodies.
        let counters: any ChangeCounters = published.map { WithdrawingChangeCounters(hostCounters, withdrawing: $0) } ?? hostCounters
        let cache = ResponseCache(counters: counters, lifetime: configuration.readCacheLifetime, largeBodyFiles: largeBodyFiles,
                                  published: published, afterLargeBuild: ProcessMemory.releaseFreed)
        let definitions = ServiceDefinitions(counters: counters, lifetime: configuration.readCacheLifetime)
        let server = FastCGIServer(configuration: configuration.fastCGI, logger: logger) {
            BookingResponder(desk: BookingDesk(store: makeStore(), changes: counters, definitions: definitions, reader: reader,
                                               externalWriters: configuration.data.externalWriters), cache: cache,
                             adminToken: adminToken, maximumBodyBytes: maximumBodyBytes, logger: logger)
        }
        do {
            try server.run()
        } catch {
            logger.critical("cannot serve: \(error)")
            exit(1)
        }
        if !FastCGIServer.isWorkerProcess {  // empties the folders: the workers have stopped
            try? largeBodyFiles?.prepare()
            try? published?.prepare()
        }
    }

    /// Creates and empties the folders of files for nginx, or stops with exit status 2.
    private static func prepare(_ files: LargeBodyFiles?, _ published: PublishedBodies?, logger: Logger) {
        do {
            try files?.prepare()
            try published?.prepare()
        } catch {
            logger.critical("\(error)")
            exit(2)
        }
    }

    /// Whether the store could not be reached, as the schema migration and the booking rules say it.
    private static func isUnavailable(_ error: any Error) -> Bool {
        if case .unavailable? = error as? StoreError { return true }
        return error as? BookingError == .storeUnavailable
    }

    /// The store's own words for why it could not be reached, where it gave them.
    private static func reason(_ error: any Error) -> String {
        if case .unavailable(let reason)? = error as? StoreError { return reason }
        return (error as? BookingError)?.message ?? "\(error)"
    }

    /// The host's change counters, in a file beside the FastCGI socket that every worker process
    /// of this deployment maps; per process (changes elsewhere show within a second) without one.
    private static func changeCounters(for listener: FastCGIConfiguration.Listener, logger: Logger) -> any ChangeCounters {
        if let socket = FastCGIServer.socketPath(of: listener), let counters = MappedChangeCounters(path: socket + ".changes") {
            return counters
        }
        if !FastCGIServer.isWorkerProcess {
            logger.warning("no file for change counters beside the socket: each process's read cache may lag others' writes by up to 1 s")
        }
        return MappedChangeCounters()
    }

    /// Prepares the store (PostgreSQL's schema, with the indexes the booking rules look documents
    /// up by), then claims the slots of bookings that have none (made by another application)
    /// before any request is answered, so that they are never listed free or booked again.
    /// Waits up to 30 s for the store to come up; exits 1 on any other failure.
    private static func prepare(_ store: StoreConfiguration, _ audit: DataAudit, logger: Logger) {
        for attempt in 1...30 {
            do {
                try store.prepare(fieldIndexes: BookingDesk.fieldIndexes)
                let backfill = try audit.backfillClaims(now: Timestamp.now())
                logger.info("slot claims checked", metadata: ["bookings": "\(backfill.bookings)", "claims_created": "\(backfill.created)"])
                return
            } catch where attempt < 30 && isUnavailable(error) {
                if attempt == 1 { logger.warning("waiting for the database", metadata: ["reason": "\(reason(error))"]) }
                sleep(1)
            } catch {
                logger.critical("cannot prepare the store: \(error)")
                exit(1)
            }
        }
    }
}
