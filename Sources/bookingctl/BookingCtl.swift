import ArgumentParser
import Booking
import DocumentStore
import PostgresStore
import StoreConfiguration

/// The operator's command line: schema, sample data, moving data between stores, and pruning
/// the slot claims of past slots.
/// Stores are configured by the same environment variables as the server (see README).
@main
struct BookingCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookingctl",
        abstract: "Operate the booking service's store.",
        subcommands: [Migrate.self, Seed.self, Copy.self, PruneClaims.self, Check.self])

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case postgres, firestore
    }

    /// The store of `backend`, or of the environment's choice when nil.
    static func store(_ backend: Backend?) throws -> (StoreConfiguration, any DocumentStore) {
        let configuration = try StoreConfiguration(environment: environment(backend))
        return (configuration, configuration.makeFactory(fieldIndexes: BookingDesk.fieldIndexes)())
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

    /// How the store's documents are read, as the server reads them, reporting to `problems`.
    static func reader(_ backend: Backend?, _ configuration: StoreConfiguration, problems: (any DataProblemReporter)? = nil) throws -> DocumentReader
    {
        let settings = try DataSettings(environment: environment(backend), store: configuration)
        return DocumentReader(legacyZone: settings.legacySlotTimeZone, problems: problems)
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

    struct PruneClaims: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune-claims",
            abstract: "Delete the slot claims of slots that began more than --keep-hours ago (the bookings stay).")
        @Option(help: "The store to prune (default: as the server would choose).") var backend: Backend?
        @Option(help: "Hours since a slot began during which its claim is kept.") var keepHours = 24

        func validate() throws {
            guard keepHours >= 1 else { throw ValidationError("--keep-hours must be at least 1") }
        }

        func run() throws {
            let (configuration, store) = try BookingCtl.store(backend)
            try configuration.prepare(fieldIndexes: BookingDesk.fieldIndexes)
            let cutoff = Timestamp(seconds: Timestamp.now().seconds - Int64(keepHours) * 3600)
            let deleted = try BookingDesk(store: store, now: Timestamp.now).pruneClaims(ofSlotsBefore: cutoff)
            print("deleted \(deleted) slot claims of slots that began before \(cutoff.rfc3339)")
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

extension DataProblem {
    /// Whether `check` fails for it: data that is wrong, not merely left unserved.
    var failsCheck: Bool {
        switch self {
        case .doubleBooking, .unreadableDocument: true
        default: false
        }
    }
}
