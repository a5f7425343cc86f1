import Booking
import BookingApplication
import CoreMetrics
import DocumentStore
import FastCGI
import JSONLog
import Logging
import MetricsExposition
import ReadModel
import StoreConfiguration

#if canImport(Glibc)
    import Glibc
#endif

/// The composition root: reads the configuration, prepares the store, and serves the
/// booking API over FastCGI until told to stop.
@main
enum BookingServer {
    static func main() {
        handleArguments(Array(CommandLine.arguments.dropFirst()))
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration(environment: StoreConfiguration.processEnvironment())
        } catch {
            let message = Array("booking-server: \(error)\n".utf8)
            _ = write(2, message, message.count)
            exit(2)
        }
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: configuration.logLevel) }
        let logger = Logger(label: "booking-server")
        ProcessMetrics.bootstrap()
        let application = Application(configuration: configuration, logger: logger)
        if !FastCGIServer.isWorkerProcess {
            prepareFolders(of: application.readModel, logger: logger)
        }
        let metricsFolder = startMetrics(configuration, logger: logger)
        if !FastCGIServer.isWorkerProcess {
            if !application.readModel.sharesChangesAcrossProcesses {
                logger.warning("no file for change counters beside the socket: each process's read cache may lag others' writes by up to 1 s")
            }
            prepare(configuration.store, application.makeAudit(), logger: logger)
            logger.info(
                "store ready",
                metadata: [
                    "backend": "\(configuration.store.summary)",
                    "external_writers": "\(configuration.data.externalWriters ? 1 : 0)",
                ])
            if configuration.adminToken == nil { logger.warning("ADMIN_TOKEN is not set: POST /services refuses every caller") }
        }

        if FastCGIServer.isWorkerProcess || configuration.fastCGI.processes == 1 { application.startNotifications() }
        let server = FastCGIServer(configuration: configuration.fastCGI, logger: logger, makeResponder: application.makeResponder)
        do {
            try server.run()
        } catch {
            logger.critical("cannot serve: \(error)")
            exit(1)
        }
        if FastCGIServer.isWorkerProcess {
            metricsFolder?.writeNow()  // this worker's last counts
        } else {  // empties the folders: the workers have stopped
            try? application.readModel.prepareFolders()
            ProcessGroupFolder.remove()
        }
    }

    /// Serves the host's metrics on `METRICS_ADDRESS` (the supervising process, summing its
    /// workers' files in a folder it creates) or writes this worker's into that folder. Exits 2
    /// when the address does not resolve.
    private static func startMetrics(_ configuration: ServerConfiguration, logger: Logger) -> MetricsFolder? {
        guard let address = configuration.metricsAddress else { return nil }
        if FastCGIServer.isWorkerProcess {
            guard let group = try? ProcessGroupFolder.path() else { return nil }
            let folder = MetricsFolder(path: group + "/metrics")
            folder.startWriting(logger: logger)
            return folder
        }
        Gauge(label: "booking_build_info", dimensions: [("version", Version.number)]).record(1)
        do {
            let folder = configuration.fastCGI.processes > 1 ? try MetricsFolder.create(at: ProcessGroupFolder.path() + "/metrics") : nil
            let listener = try MetricsListener(address: address) {
                Exposition.sum([ProcessMetrics.text()] + (folder?.workerTexts() ?? []))
            }
            listener.start(logger: logger)
            return folder
        } catch {
            logger.critical("\(error)")
            exit(2)
        }
    }

    /// `--help` and `--version` print and exit 0; any other argument exits 2: the server takes its
    /// settings from the environment only (as systemd's EnvironmentFile and spawn-fcgi pass them).
    private static func handleArguments(_ arguments: [String]) {
        switch arguments {
        case []: return
        case ["--version"]:
            print("booking-server \(Version.number)")
            exit(0)
        case ["--help"], ["-h"]:
            print(help)
            exit(0)
        default:
            let message = Array(
                "booking-server: unknown argument \(arguments[0].prefix(64)); the settings are environment variables (see --help)\n".utf8)
            _ = write(2, message, message.count)
            exit(2)
        }
    }

    /// Every setting, its default, and when it must be set.
    static var help: String {
        var lines = [
            "booking-server \(Version.number): the booking API as a FastCGI application, behind nginx.",
            "",
            "Usage: booking-server [--help | --version]",
            "",
            "It listens on FCGI_SOCKET or FCGI_ADDRESS, else on the socket systemd's socket activation passes",
            "(LISTEN_FDS), else on the one on fd 0 (spawn-fcgi, systemd StandardInput=socket), and reads every",
            "setting from the environment. A setting that is wrong stops it with exit status 2 and",
            "a message naming it. None is required to start; ADMIN_TOKEN is needed for the business's requests.",
            "",
            "Settings:",
        ]
        for setting in ServerConfiguration.settings {
            lines.append("  \(setting.name)")
            lines.append("      \(setting.meaning)")
            lines.append("      default: \(setting.defaultValue)" + (setting.requiredWhen.map { "; required \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    /// Creates and empties the folders of files for nginx, or stops with exit status 2.
    private static func prepareFolders(of readModel: ReadModel, logger: Logger) {
        do {
            try readModel.prepareFolders()
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
            } catch  where attempt < 30 && isUnavailable(error) {
                if attempt == 1 { logger.warning("waiting for the database", metadata: ["reason": "\(reason(error))"]) }
                sleep(1)
            } catch {
                logger.critical("cannot prepare the store: \(error)")
                exit(1)
            }
        }
    }
}
