import DocumentStore
import DocumentStoreConformance
import PostgresStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The database the test command started (deploy/test sets DATABASE_URL).
let databaseURL = getenv("DATABASE_URL").map { String(cString: $0) } ?? ""

@Suite struct PostgresStoreTests {
    init() throws {
        try PostgresStore(connectionString: databaseURL).migrate()
    }

    @Test(arguments: DocumentStoreConformance.checks.keys.sorted())
    func conformance(_ check: String) throws {
        try DocumentStoreConformance.checks[check]!({ PostgresStore(connectionString: databaseURL) })
    }

    @Test func migratingTwiceIsHarmless() throws {
        let store = PostgresStore(connectionString: databaseURL)
        try store.migrate()
        try store.migrate()
        try store.ping()
    }

    @Test func anUnreachableServerIsUnavailableNotACrash() {
        let store = PostgresStore(connectionString: "postgresql:///booking?host=/nonexistent-socket-dir")
        #expect(throws: StoreError.self) { try store.ping() }
        do {
            try store.commit([.create(DocumentPath("c", "d"), [:])])
            Issue.record("commit succeeded without a server")
        } catch {
            guard case .unavailable = error else { Issue.record("expected unavailable, got \(error)"); return }
        }
    }
}
