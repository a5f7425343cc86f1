import ArgumentParser
import Booking
import BookingFormats
import DocumentStore
import Idempotency
import JSON
import Notifications
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
        subcommands: [Migrate.self, Seed.self, Copy.self, Services.self, Bookings.self, Events.self, Prune.self, Check.self])

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case postgres, firestore
    }

    /// The store of `backend`, or of the environment's choice when nil, once it has answered: a
    /// store that cannot be reached stops the command with the store's own reason, in one line.
    /// (A database without the schema yet answers too: the commands that write prepare it.)
    static func store(_ backend: Backend?) throws -> (StoreConfiguration, any DocumentStore) {
        let configuration = try StoreConfiguration(environment: environment(backend))
        let store = configuration.makeFactory(fieldIndexes: BookingDesk.fieldIndexes)()
        do {
            try store.ping()
        } catch .unavailable(let reason) {
            throw StoreError.unavailable(reason)
        } catch {}
        return (configuration, store)
    }

    static func environment(_ backend: Backend?) -> [String: String] {
        var environment = StoreConfiguration.processEnvironment()
        if let backend { environment["STORE_BACKEND"] = backend.rawValue }
        return environment
    }

    /// Problems noted on standard error as they are found, once each, and kept for the result.
    static func notedProblems() -> ProblemsReportedOnce {
        ProblemsReportedOnce { Output.note("\($0.failsCheck ? "error" : "warning"): \($0.description)") }
    }

    /// The booking rules on the store of `backend`, reading documents as the server does and
    /// writing the events of changes to the outboxes the server's settings turn on.
    static func desk(_ backend: Backend?) throws -> BookingDesk {
        let (configuration, store) = try BookingCtl.store(backend)
        return BookingDesk(
            store: store, now: Timestamp.now, reader: try reader(backend, configuration),
            outboxes: BookingOutbox.configured(in: environment(backend)))
    }

    /// How the store's documents are read, as the server reads them, reporting to `problems`.
    static func reader(_ backend: Backend?, _ configuration: StoreConfiguration, problems: (any DataProblemReporter)? = nil) throws -> DocumentReader
    {
        try DataSettings(environment: environment(backend), store: configuration).documentReader(problems: problems)
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update the PostgreSQL schema (idempotent).")
        @OptionGroup var output: OutputOptions

        func run() throws {
            let (configuration, _) = try BookingCtl.store(.postgres)
            try configuration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            Output.record([("schema", .string("up to date"))], json: output.json)
        }
    }

    struct Seed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create sample services with hourly slots over the next days, only in a store that has no services.")
        @Option(help: "The store to seed (default: as the server would choose).") var backend: Backend?
        @Option(help: "Days of slots to create, starting tomorrow.") var days = 7
        @OptionGroup var output: OutputOptions

        func run() throws {
            let (configuration, store) = try BookingCtl.store(backend)
            try configuration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            // Samples never go into a store in use (a live database the service was pointed at).
            if !(try store.list(collection: "services", pageSize: 1, pageToken: nil).documents.isEmpty) {
                Output.note("the store has services: no sample services created")
                Output.table(["service_id", "slots", "result"], [], json: output.json)
                return
            }
            let desk = BookingDesk(store: store, now: Timestamp.now)
            let tomorrow = (Timestamp.now().seconds / 86_400 + 1) * 86_400
            let samples: [(id: String, name: String, hours: [Int64])] = [
                ("haircut", "Haircut (30 min)", [9, 10, 11, 13, 14, 15, 16]),
                ("massage", "Massage (60 min)", [10, 12, 14, 16]),
                ("meeting-room", "Meeting room A", [8, 9, 10, 11, 12, 13, 14, 15, 16, 17]),
            ]
            var rows: [[String]] = []
            for sample in samples {
                let slots = (0..<Int64(days)).flatMap { day in
                    sample.hours.map { Timestamp(seconds: tomorrow + day * 86_400 + $0 * 3600).rfc3339 }
                }
                do {
                    _ = try desk.createService(NewService(id: sample.id, name: sample.name, slots: slots))
                    rows.append([sample.id, String(slots.count), "created"])
                } catch {
                    guard error == .serviceExists else { throw error }
                    rows.append([sample.id, String(slots.count), "exists"])
                }
            }
            Output.table(["service_id", "slots", "result"], rows, json: output.json)
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract:
                "Delete the slot claims and releases of slots that began more than --keep-hours ago (the bookings stay), the idempotency keys that expired, and the webhook and email events delivered more than --keep-delivered-days ago.",
            aliases: ["prune-claims"])
        @Option(help: "The store to prune (default: as the server would choose).") var backend: Backend?
        @Option(help: "Hours since a slot began during which its claim is kept.") var keepHours = 24
        @Option(help: "Days a delivered event is kept (to look up what a receiver was sent).") var keepDeliveredDays = 7
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard keepHours >= 1 else { throw ValidationError("--keep-hours must be at least 1") }
            guard keepDeliveredDays >= 0 else { throw ValidationError("--keep-delivered-days must be 0 or more") }
        }

        func run() throws {
            let (configuration, store) = try BookingCtl.store(backend)
            try configuration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            let now = Timestamp.now()
            let cutoff = Timestamp(seconds: now.seconds - Int64(keepHours) * 3600)
            let progress = Progress()
            let deleted = try BookingDesk(store: store, now: Timestamp.now).pruneClaims(ofSlotsBefore: cutoff) { collection, count, total in
                progress.report("deleting \(collection)", count, of: total, done: count == total)
            }
            let keys = try IdempotencyKeys(store: store, now: Timestamp.now, pause: { _ in }).pruneExpired(before: now)
            let deliveredBefore = Timestamp(seconds: now.seconds - Int64(keepDeliveredDays) * 86400)
            var events = 0
            for outbox in BookingOutbox.allCases { events += try OutboxDelivery.pruneDelivered(of: outbox, before: deliveredBefore, in: store) }
            Output.record(
                [
                    ("slot_claims_deleted", .integer(Int64(deleted))), ("slots_before", .string(cutoff.rfc3339)),
                    ("idempotency_keys_deleted", .integer(Int64(keys))), ("keys_expired_before", .string(now.rfc3339)),
                    ("delivered_events_deleted", .integer(Int64(events))), ("delivered_before", .string(deliveredBefore.rfc3339)),
                ], json: output.json)
        }
    }

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy all services, bookings and slot claims from one store to the other (idempotent).")
        @Option(help: "The store to read.") var from: Backend
        @Option(help: "The store to write.") var to: Backend
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard from != to else { throw ValidationError("--from and --to must differ") }
        }

        func run() throws {
            let (_, source) = try BookingCtl.store(from)
            let (targetConfiguration, target) = try BookingCtl.store(to)
            try targetConfiguration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            let progress = Progress()
            var counts = try BookingDataCopier.copy(from: source, to: target) { collection, count in
                progress.report("copying \(collection)", count)
            }
            for collection in BookingDataCopier.collections { progress.report("copying \(collection)", counts[collection] ?? 0, done: true) }
            // Bookings another application made have no claims: a server already running on the
            // target would not claim them before its next start.
            let problems = notedProblems()
            let audit = DataAudit(store: target, reader: try BookingCtl.reader(to, targetConfiguration, problems: problems))
            let backfill = try audit.backfillClaims(now: Timestamp.now()) { created, total in
                progress.report("claiming slots of bookings without a claim", created, of: total, done: created == total)
            }
            counts["slot_claims_created"] = backfill.created
            Output.table(
                ["what", "documents"], (BookingDataCopier.collections + ["slot_claims_created"]).map { [$0, String(counts[$0] ?? 0)] },
                json: output.json)
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the configuration, the store and its data; exit 1 on a double booking or an unreadable document.")
        @Option(help: "The store to check (default: as the server would choose).") var backend: Backend?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let (configuration, store) = try BookingCtl.store(backend)
            let problems = notedProblems()
            let reader = try BookingCtl.reader(backend, configuration, problems: problems)
            let check = try DataAudit(store: store, reader: reader).check(now: Timestamp.now())
            let found = problems.all
            var fields: [(String, JSON)] = [("configuration", .string(configuration.summary))]
            if let zone = reader.legacyZone { fields.append(("legacy_slot_time_zone", .string(zone.identifier))) }
            fields += [
                ("store", .string("answers")), ("services", .integer(Int64(check.services))), ("bookings", .integer(Int64(check.bookings))),
                ("slot_claims", .integer(Int64(check.claims))), ("errors", .integer(Int64(found.filter(\.failsCheck).count))),
                ("warnings", .integer(Int64(found.filter { !$0.failsCheck }.count))),
            ]
            if output.json {  // as text, each went to standard error as it was found
                fields.append(("problems", .array(found.map { .string("\($0.failsCheck ? "error" : "warning"): \($0.description)") })))
            }
            Output.record(fields, json: output.json)
            if found.contains(where: \.failsCheck) { throw ExitCode(1) }
        }
    }
}

/// `bookingctl bookings`: what the API's `GET /bookings` and `DELETE /bookings/{id}` do for the
/// admin, on the store directly. Changes made here reach the servers' cached listings within
/// READ_CACHE_SECONDS, as another host's do.
/// The outboxes of webhook and email events: what is waiting, what failed, and putting failed
/// ones back.
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the webhook and email events of the outboxes, or send failed ones again.", subcommands: [List.self, Retry.self])

    /// One channel's outbox, or both.
    enum Channel: String, ExpressibleByArgument, CaseIterable {
        case webhook, email

        var outbox: BookingOutbox { self == .webhook ? .webhooks : .emails }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print the events waiting, being sent or failed (with --delivered, the delivered ones kept too), in id order, webhooks first.")
        @Option(help: "The store (default: as the server would choose).") var backend: BookingCtl.Backend?
        @Option(help: "Only this channel's events (webhook or email).") var channel: Channel?
        @Flag(help: "Also the events delivered (kept until bookingctl prune).") var delivered = false
        @OptionGroup var output: OutputOptions

        func run() throws {
            let (_, store) = try BookingCtl.store(backend)
            func text(_ value: Value?) -> String {
                switch value {
                case .string(let text)?: text
                case .integer(let number)?: String(number)
                case .timestamp(let time)?: time.rfc3339
                default: ""
                }
            }
            var rows: [[String]] = []
            for chosen in channel.map({ [$0] }) ?? Channel.allCases {
                for event in try OutboxDelivery.events(of: chosen.outbox, in: store, includingDelivered: delivered) {
                    // An event delivery has not touched yet holds only what its change wrote.
                    let state = event["state"] ?? .string("pending")
                    let attempts = event["attempts"] ?? .integer(0)
                    let next = event["next_attempt_at"] ?? event["created_at"]
                    rows.append(
                        [chosen.rawValue, event.path.id, text(event["type"]), text(state), text(attempts), text(next), text(event["last_error"])])
                }
            }
            Output.table(["channel", "event_id", "type", "state", "attempts", "next_attempt_at", "last_error"], rows, json: output.json)
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send failed events again (the ids given, or every failed one), with another 24 hours of retries.")
        @Option(help: "The store (default: as the server would choose).") var backend: BookingCtl.Backend?
        @Option(help: "Only this channel's events (webhook or email).") var channel: Channel?
        @Argument(help: "Event ids; none: every failed event.") var ids: [String] = []
        @OptionGroup var output: OutputOptions

        func run() throws {
            let (_, store) = try BookingCtl.store(backend)
            var rows: [[String]] = []
            for chosen in channel.map({ [$0] }) ?? Channel.allCases {
                let retried = try OutboxDelivery.retry(ids.isEmpty ? nil : ids, of: chosen.outbox, in: store, now: Timestamp.now())
                rows += retried.map { [chosen.rawValue, $0] }
            }
            for id in ids where !rows.contains(where: { $0[1] == id }) { Output.note("not a failed event of the outboxes: \(id)") }
            Output.table(["channel", "event_id"], rows, json: output.json)
        }
    }
}

struct Bookings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, export or cancel bookings.", subcommands: [List.self, Export.self, Cancel.self])

    /// The filters `list` and `export` share, as `GET /bookings` takes them.
    struct Filters: ParsableArguments {
        @Option(help: "The store to read (default: as the server would choose).") var backend: BookingCtl.Backend?
        @Option(name: .customLong("service-id"), help: "Only this service's bookings.") var serviceID: String?
        @Option(help: "Only slots at or after this RFC 3339 date-time.") var from: String?
        @Option(help: "Only slots before this RFC 3339 date-time.") var to: String?
        @Option(help: "Only bookings with this status (confirmed or cancelled).") var status: String?
        @Flag(help: "Print JSON (as GET /bookings answers) instead of a table, for scripts.") var json = false
        @Flag(help: "Print CSV (RFC 4180, with a header row), as GET /bookings answers text/csv.") var csv = false

        func validate() throws {
            guard !(json && csv) else { throw ValidationError("--json and --csv: give one") }
        }

        /// The bookings in the chosen form: a table, JSON or CSV.
        func print(_ page: BookingPage) {
            if csv {
                Output.document(BookingsCSV.document(page.bookings))
            } else if json {
                Output.document(BookingJSON.bookings(page))
            } else {
                Output.table(
                    ["booking_id", "service_id", "slot", "status", "user_name"],
                    page.bookings.map { [$0.id, $0.serviceID, $0.slot.description, $0.status.rawValue, $0.userName] }, json: false)
            }
        }

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
            filters.print(page)
            if let next = page.next { Output.note("next page: --page-token \(next.token)") }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every matching booking in slot order (one read of the store).")
        @OptionGroup var filters: Filters

        func run() throws {
            let bookings = try filters.desk().allBookings(try filters.query(limit: BookingQuery.maximumLimit, after: nil))
            filters.print(BookingPage(bookings: bookings, next: nil))
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a booking as the admin (also once its slot has begun) and print it; a cancelled one is printed as it is.")
        @Option(help: "The store (default: as the server would choose).") var backend: BookingCtl.Backend?
        @Argument(help: "The booking's id.") var bookingID: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let booking = try BookingCtl.desk(backend).cancel(id: bookingID, by: .admin)
            guard !output.json else { return Output.document(BookingJSON.booking(booking, contact: true)) }
            Output.record(
                [
                    ("booking_id", .string(booking.id)), ("service_id", .string(booking.serviceID)), ("slot", .string(booking.slot.description)),
                    ("status", .string(booking.status.rawValue)), ("cancelled_at", .string(booking.cancelledAt?.rfc3339 ?? "")),
                ], json: false)
        }
    }
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
            abstract: "Print every service, hidden ones too: id, free slots, seats, zone, whether hidden, name.")
        @OptionGroup var store: Store
        @Flag(help: "Print the services as GET /services would, hidden ones too, in JSON.") var json = false

        func run() throws {
            let services = try store.desk().services(includingHidden: true)
            guard !json else { return Output.document(ServiceJSON.services(services)) }
            Output.table(
                ["service_id", "free", "seats", "time_zone", "hidden", "service_name"],
                services.map { availability in
                    let service = availability.service
                    return [
                        service.id, String(availability.availableSlots.count), String(service.settings.seats), service.settings.timeZone,
                        service.settings.hidden ? "hidden" : "listed", service.name,
                    ]
                }, json: false)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one service; with --json as GET /services/{id} shows it.")
        @OptionGroup var store: Store
        @OptionGroup var output: OutputOptions
        @Argument(help: "The service's id.") var serviceID: String

        func run() throws {
            let availability = try store.desk().service(id: serviceID)
            guard !output.json else { return Output.document(ServiceJSON.service(availability)) }
            let service = availability.service
            Output.record(
                [
                    ("service_id", .string(service.id)), ("service_name", .string(service.name)),
                    ("time_zone", .string(service.settings.timeZone)), ("seats", .integer(Int64(service.settings.seats))),
                    ("hidden", .bool(service.settings.hidden)), ("free_slots", .integer(Int64(availability.availableSlots.count))),
                    ("next_free_slot", .string(availability.availableSlots.first.map { "\($0)" } ?? "none")),
                ], json: false)
        }
    }

    struct Hide: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hide a service from GET /services and the page (still bookable by id), or list it again with --unhide.")
        @OptionGroup var store: Store
        @Flag(help: "List the service again.") var unhide = false
        @OptionGroup var output: OutputOptions
        @Argument(help: "The service's id.") var serviceID: String

        func run() throws {
            let desk = try store.desk()
            let stored = try desk.storedService(id: serviceID)
            var definition = NewService(stored.service)
            var settings = definition.settings
            settings.hidden = !unhide
            definition = NewService(id: definition.id, name: definition.name, slots: definition.slots, settings: settings)
            _ = try desk.updateService(stored, to: definition, cancellingHeldBookings: false)
            Output.record([("service_id", .string(serviceID)), ("hidden", .bool(!unhide))], json: output.json)
        }
    }

    struct Retire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Retire a service: no longer listed or bookable; its bookings stay. Refused while it has future confirmed bookings, unless --cancel-bookings."
        )
        @OptionGroup var store: Store
        @Flag(name: .customLong("cancel-bookings"), help: "Cancel its confirmed bookings of slots that have not begun.") var cancelBookings = false
        @OptionGroup var output: OutputOptions
        @Argument(help: "The service's id.") var serviceID: String

        func run() throws {
            let desk = try store.desk()
            let change: ServiceChange
            do {
                change = try desk.retireService(try desk.storedService(id: serviceID), cancellingHeldBookings: cancelBookings)
            } catch {
                guard let bookings = Self.heldBookings(in: error) else { throw error }
                Output.note("\(serviceID) has \(bookings.count) confirmed future bookings; nothing changed (--cancel-bookings cancels them):")
                for booking in bookings { Output.note("  \(booking.id) \(booking.slot)") }
                throw ExitCode(1)
            }
            Output.record(
                [
                    ("service_id", .string(serviceID)), ("retired_at", .string(change.retiredAt?.rfc3339 ?? "")),
                    ("cancelled_bookings", .array(change.cancelled.map { .string($0.id) })),
                ], json: output.json)
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
