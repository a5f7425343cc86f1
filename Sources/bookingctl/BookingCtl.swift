import ArgumentParser
import Booking
import BookingFormats
import DocumentStore
import Idempotency
import PostgresStore
import StoreConfiguration

#if canImport(Glibc)
    import Glibc
#endif

/// The operator's command line: schema, sample data, moving data between stores, listing,
/// exporting and cancelling bookings, and pruning what has served its purpose.
/// Stores are configured by the same environment variables as the server (see README).
@main
struct BookingCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookingctl",
        abstract: "Operate the booking service's store.", version: "bookingctl \(Version.number)",
        subcommands: [Migrate.self, Seed.self, Copy.self, Services.self, Bookings.self, Prune.self, Check.self])

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case postgres, firestore
    }

    /// The store of `backend`, or of the environment's choice when nil, once it has answered: a
    /// store that cannot be reached stops the command with the store's own reason, in one line.
    static func store(_ backend: Backend?) throws -> (StoreConfiguration, any DocumentStore) {
        let configuration = try StoreConfiguration(environment: environment(backend))
        let store = configuration.makeFactory(fieldIndexes: BookingDesk.fieldIndexes)()
        try store.ping()
        return (configuration, store)
    }

    static func environment(_ backend: Backend?) -> [String: String] {
        var environment = StoreConfiguration.processEnvironment()
        if let backend { environment["STORE_BACKEND"] = backend.rawValue }
        return environment
    }

    /// Problems printed as lines, once each, and kept for a summary.
    static func printedProblems() -> ProblemsReportedOnce {
        ProblemsReportedOnce { print("  \($0.failsCheck ? "error" : "warning"): \($0.description)") }
    }

    /// The booking rules on the store of `backend`, reading documents as the server does.
    static func desk(_ backend: Backend?) throws -> BookingDesk {
        let (configuration, store) = try BookingCtl.store(backend)
        return BookingDesk(store: store, now: Timestamp.now, reader: try reader(backend, configuration))
    }

    /// How the store's documents are read, as the server reads them, reporting to `problems`.
    static func reader(_ backend: Backend?, _ configuration: StoreConfiguration, problems: (any DataProblemReporter)? = nil) throws -> DocumentReader
    {
        try DataSettings(environment: environment(backend), store: configuration).documentReader(problems: problems)
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update the PostgreSQL schema (idempotent).")

        func run() throws {
            let (configuration, _) = try BookingCtl.store(.postgres)
            try configuration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            print("schema is up to date")
        }
    }

    struct Seed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create sample services with hourly slots over the next days, only in a store that has no services.")
        @Option(help: "The store to seed (default: as the server would choose).") var backend: Backend?
        @Option(help: "Days of slots to create, starting tomorrow.") var days = 7

        func run() throws {
            let (configuration, store) = try BookingCtl.store(backend)
            try configuration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            // Samples never go into a store in use (a live database the service was pointed at).
            if !(try store.list(collection: "services", pageSize: 1, pageToken: nil).documents.isEmpty) {
                print("the store has services: no sample services created")
                return
            }
            let desk = BookingDesk(store: store, now: Timestamp.now)
            let tomorrow = (Timestamp.now().seconds / 86_400 + 1) * 86_400
            let samples: [(id: String, name: String, hours: [Int64])] = [
                ("haircut", "Haircut (30 min)", [9, 10, 11, 13, 14, 15, 16]),
                ("massage", "Massage (60 min)", [10, 12, 14, 16]),
                ("meeting-room", "Meeting room A", [8, 9, 10, 11, 12, 13, 14, 15, 16, 17]),
            ]
            for sample in samples {
                let slots = (0..<Int64(days)).flatMap { day in
                    sample.hours.map { Timestamp(seconds: tomorrow + day * 86_400 + $0 * 3600).rfc3339 }
                }
                do {
                    _ = try desk.createService(NewService(id: sample.id, name: sample.name, slots: slots))
                    print("created \(sample.id) with \(slots.count) slots")
                } catch {
                    guard error == .serviceExists else { throw error }
                    print("\(sample.id) exists")
                }
            }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract:
                "Delete the slot claims and releases of slots that began more than --keep-hours ago (the bookings stay), and the idempotency keys that expired.",
            aliases: ["prune-claims"])
        @Option(help: "The store to prune (default: as the server would choose).") var backend: Backend?
        @Option(help: "Hours since a slot began during which its claim is kept.") var keepHours = 24

        func validate() throws {
            guard keepHours >= 1 else { throw ValidationError("--keep-hours must be at least 1") }
        }

        func run() throws {
            let (configuration, store) = try BookingCtl.store(backend)
            try configuration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            let now = Timestamp.now()
            let cutoff = Timestamp(seconds: now.seconds - Int64(keepHours) * 3600)
            let deleted = try BookingDesk(store: store, now: Timestamp.now).pruneClaims(ofSlotsBefore: cutoff)
            print("deleted \(deleted) slot claims of slots that began before \(cutoff.rfc3339)")
            let keys = try IdempotencyKeys(store: store, now: Timestamp.now, pause: { _ in }).pruneExpired(before: now)
            print("deleted \(keys) idempotency keys that expired before \(now.rfc3339)")
        }
    }

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy all services, bookings and slot claims from one store to the other (idempotent).")
        @Option(help: "The store to read.") var from: Backend
        @Option(help: "The store to write.") var to: Backend

        func validate() throws {
            guard from != to else { throw ValidationError("--from and --to must differ") }
        }

        func run() throws {
            let (_, source) = try BookingCtl.store(from)
            let (targetConfiguration, target) = try BookingCtl.store(to)
            try targetConfiguration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            let counts = try BookingDataCopier.copy(from: source, to: target)
            for collection in BookingDataCopier.collections {
                print("\(collection): \(counts[collection] ?? 0) documents copied from \(from.rawValue) to \(to.rawValue)")
            }
            // Bookings another application made have no claims: a server already running on the
            // target would not claim them before its next start.
            let problems = printedProblems()
            let audit = DataAudit(store: target, reader: try BookingCtl.reader(to, targetConfiguration, problems: problems))
            let backfill = try audit.backfillClaims(now: Timestamp.now())
            print("slot_claims: \(backfill.created) created in \(to.rawValue) for bookings that had none")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the configuration, the store and its data; exit 1 on a double booking or an unreadable document.")
        @Option(help: "The store to check (default: as the server would choose).") var backend: Backend?

        func run() throws {
            let (configuration, store) = try BookingCtl.store(backend)
            let problems = printedProblems()
            let reader = try BookingCtl.reader(backend, configuration, problems: problems)
            print("configuration: \(configuration.summary)" + (reader.legacyZone.map { ", legacy slot time zone \($0.identifier)" } ?? ""))
            try BookingDesk(store: store, now: Timestamp.now).checkHealth()
            print("store: answers")
            let check = try DataAudit(store: store, reader: reader).check(now: Timestamp.now())
            print("services: \(check.services), bookings: \(check.bookings), slot claims: \(check.claims)")
            let found = problems.all
            print(found.isEmpty ? "problems: none" : "problems: \(found.count)")
            if found.contains(where: \.failsCheck) { throw ExitCode(1) }
        }
    }
}

/// `bookingctl bookings`: what the API's `GET /bookings` and `DELETE /bookings/{id}` do for the
/// admin, on the store directly. Changes made here reach the servers' cached listings within
/// READ_CACHE_SECONDS, as another host's do.
struct Bookings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, export or cancel bookings.", subcommands: [List.self, Export.self, Cancel.self])

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, csv
    }

    /// The filters `list` and `export` share, as `GET /bookings` takes them.
    struct Filters: ParsableArguments {
        @Option(help: "The store to read (default: as the server would choose).") var backend: BookingCtl.Backend?
        @Option(name: .customLong("service-id"), help: "Only this service's bookings.") var serviceID: String?
        @Option(help: "Only slots at or after this RFC 3339 date-time.") var from: String?
        @Option(help: "Only slots before this RFC 3339 date-time.") var to: String?
        @Option(help: "Only bookings with this status (confirmed or cancelled).") var status: String?
        @Option(help: "json or csv.") var format: Format = .json

        func query(limit: Int, after cursor: BookingCursor?) throws -> BookingQuery {
            func time(_ text: String?, _ name: String) throws -> Timestamp? {
                guard let text else { return nil }
                guard let time = Timestamp(rfc3339: text) else { throw ValidationError("--\(name) must be an RFC 3339 date-time") }
                return time
            }
            let status = try self.status.map { text in
                guard let status = BookingStatus(rawValue: text) else { throw ValidationError("--status must be confirmed or cancelled") }
                return status
            }
            return BookingQuery(
                serviceID: serviceID, slots: TimeRange(from: try time(from, "from"), to: try time(to, "to")), status: status, limit: limit,
                after: cursor)
        }

        func desk() throws -> BookingDesk { try BookingCtl.desk(backend) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one page of bookings in slot order (the next page's token goes to standard error).")
        @OptionGroup var filters: Filters
        @Option(help: "Bookings per page, 1 to 1,000.") var limit = BookingQuery.defaultLimit
        @Option(name: .customLong("page-token"), help: "The token that ended the page before.") var pageToken: String?

        func run() throws {
            let page = try filters.desk().bookings(try filters.query(limit: limit, after: pageToken.map { try BookingCursor(token: $0) }))
            write(filters.format == .csv ? BookingsCSV.document(page.bookings) : BookingJSON.bookings(page) + [10])
            if let next = page.next { Bookings.note("next page: --page-token \(next.token)\n") }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every matching booking in slot order (one read of the store).")
        @OptionGroup var filters: Filters

        func run() throws {
            let bookings = try filters.desk().allBookings(try filters.query(limit: BookingQuery.maximumLimit, after: nil))
            if filters.format == .csv {
                write(BookingsCSV.document(bookings))
            } else {
                write(BookingJSON.bookings(BookingPage(bookings: bookings, next: nil)) + [10])
            }
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a booking as the admin (also once its slot has begun) and print it; a cancelled one is printed as it is.")
        @Option(help: "The store (default: as the server would choose).") var backend: BookingCtl.Backend?
        @Argument(help: "The booking's id.") var bookingID: String

        func run() throws {
            write(BookingJSON.booking(try BookingCtl.desk(backend).cancel(id: bookingID, by: .admin), contact: true) + [10])
        }
    }

    /// Writes a JSON or CSV document (UTF-8 bytes) to standard output.
    static func write(_ bytes: [UInt8]) { print(String(decoding: bytes, as: UTF8.self), terminator: "") }

    /// Writes a short text to standard error, apart from the document on standard output.
    static func note(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) } }
}

struct Services: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show, hide or retire services.", subcommands: [List.self, Show.self, Hide.self, Retire.self])

    /// The store option every subcommand takes.
    struct Store: ParsableArguments {
        @Option(help: "The store (default: as the server would choose).") var backend: BookingCtl.Backend?

        func desk() throws -> BookingDesk { try BookingCtl.desk(backend) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every service, hidden ones too: id, free slots, seats, zone, whether hidden, name (tab-separated).")
        @OptionGroup var store: Store
        @Flag(help: "Print the services as GET /services would, hidden ones too, in JSON.") var json = false

        func run() throws {
            let services = try store.desk().services(includingHidden: true)
            if json {
                Bookings.write(ServiceJSON.services(services) + [10])
                return
            }
            print(["id", "free", "seats", "time_zone", "hidden", "name"].joined(separator: "\t"))
            for availability in services {
                let service = availability.service
                print(
                    [
                        service.id, String(availability.availableSlots.count), String(service.settings.seats), service.settings.timeZone,
                        service.settings.hidden ? "hidden" : "listed", service.name,
                    ].joined(separator: "\t"))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one service as GET /services/{id} shows it.")
        @OptionGroup var store: Store
        @Argument(help: "The service's id.") var serviceID: String

        func run() throws {
            Bookings.write(ServiceJSON.service(try store.desk().service(id: serviceID)) + [10])
        }
    }

    struct Hide: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hide a service from GET /services and the page (still bookable by id), or list it again with --unhide.")
        @OptionGroup var store: Store
        @Flag(help: "List the service again.") var unhide = false
        @Argument(help: "The service's id.") var serviceID: String

        func run() throws {
            let desk = try store.desk()
            let stored = try desk.storedService(id: serviceID)
            var definition = NewService(stored.service)
            var settings = definition.settings
            settings.hidden = !unhide
            definition = NewService(id: definition.id, name: definition.name, slots: definition.slots, settings: settings)
            _ = try desk.updateService(stored, to: definition, cancellingHeldBookings: false)
            print("\(serviceID): \(unhide ? "listed" : "hidden")")
        }
    }

    struct Retire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Retire a service: no longer listed or bookable; its bookings stay. Refused while it has future confirmed bookings, unless --cancel-bookings."
        )
        @OptionGroup var store: Store
        @Flag(name: .customLong("cancel-bookings"), help: "Cancel its confirmed bookings of slots that have not begun.") var cancelBookings = false
        @Argument(help: "The service's id.") var serviceID: String

        func run() throws {
            let desk = try store.desk()
            let change: ServiceChange
            do {
                change = try desk.retireService(try desk.storedService(id: serviceID), cancellingHeldBookings: cancelBookings)
            } catch {
                guard let bookings = Self.heldBookings(in: error) else { throw error }
                Bookings.note("\(serviceID) has \(bookings.count) confirmed future bookings; nothing changed (--cancel-bookings cancels them):\n")
                for booking in bookings { Bookings.note("  \(booking.id) \(booking.slot)\n") }
                throw ExitCode(1)
            }
            print("\(serviceID): retired at \(change.retiredAt?.rfc3339 ?? ""); \(change.cancelled.count) bookings cancelled")
            for booking in change.cancelled { print("  cancelled \(booking.id) (\(booking.slot))") }
        }

        /// The bookings a `slotHasBookings` refusal lists; nil for any other error.
        static func heldBookings(in error: any Error) -> [Booking]? {
            guard let error = error as? BookingError, case .slotHasBookings(let bookings) = error else { return nil }
            return bookings
        }
    }
}

extension DataProblem {
    /// Whether `check` fails for it: data that is wrong, not merely left unserved.
    var failsCheck: Bool {
        switch self {
        case .doubleBooking, .unreadableDocument: true
        default: false
        }
    }
}
