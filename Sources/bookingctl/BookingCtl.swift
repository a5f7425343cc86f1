import ArgumentParser
import Booking
import DocumentStore
import PostgresStore

/// The operator's command line: schema and sample data.
@main
struct BookingCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookingctl",
        abstract: "Operate the booking service's store.",
        subcommands: [Migrate.self, Seed.self])

    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: "libpq connection string (default: $DATABASE_URL, else libpq's PG* variables).")
        var databaseURL: String?

        func makeStore() -> PostgresStore {
            PostgresStore(connectionString: databaseURL ?? (getenv("DATABASE_URL").map { String(cString: $0) } ?? ""))
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update the schema (idempotent).")
        @OptionGroup var store: StoreOptions

        func run() throws {
            try store.makeStore().migrate()
            print("schema is up to date")
        }
    }

    struct Seed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create sample services with hourly slots over the next days (skips those that exist).")
        @OptionGroup var store: StoreOptions
        @Option(help: "Days of slots to create, starting tomorrow.") var days = 7

        func run() throws {
            let postgres = store.makeStore()
            try postgres.migrate()
            let desk = BookingDesk(store: postgres)
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
}

#if canImport(Glibc)
import Glibc
#endif
