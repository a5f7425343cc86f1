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
        subcommands: [Migrate.self, Seed.self, Copy.self, PruneClaims.self])

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case postgres, firestore
    }

    /// The store of `backend`, or of the environment's choice when nil.
    static func store(_ backend: Backend?) throws -> (StoreConfiguration, any DocumentStore) {
        var environment = StoreConfiguration.processEnvironment()
        if let backend { environment["STORE_BACKEND"] = backend.rawValue }
        let configuration = try StoreConfiguration(environment: environment)
        return (configuration, configuration.makeFactory()())
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update the PostgreSQL schema (idempotent).")

        func run() throws {
            let (configuration, _) = try BookingCtl.store(.postgres)
            try configuration.prepare()
            print("schema is up to date")
        }
    }

    struct Seed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create sample services with hourly slots over the next days (skips those that exist).")
        @Option(help: "The store to seed (default: as the server would choose).") var backend: Backend?
        @Option(help: "Days of slots to create, starting tomorrow.") var days = 7

        func run() throws {
            let (configuration, store) = try BookingCtl.store(backend)
            try configuration.prepare()
            let desk = BookingDesk(store: store)
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
            try configuration.prepare()
            let cutoff = Timestamp(seconds: Timestamp.now().seconds - Int64(keepHours) * 3600)
            let deleted = try BookingDesk(store: store).pruneClaims(ofSlotsBefore: cutoff)
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
            try targetConfiguration.prepare()
            let counts = try BookingDataCopier.copy(from: source, to: target)
            for collection in BookingDataCopier.collections {
                print("\(collection): \(counts[collection] ?? 0) documents copied from \(from.rawValue) to \(to.rawValue)")
            }
        }
    }
}
