import CPostgres
import DocumentStore
import DocumentStoreConformance
import Synchronization
import TestSupport
import Testing

@testable import PostgresStore

#if canImport(Glibc)
    import Glibc
#endif

/// The database the test command started (deploy/test sets DATABASE_URL).
let databaseURL = TestEnvironment.databaseURL ?? ""

@Suite(.enabled(if: TestEnvironment.databaseURL != nil, Comment(rawValue: TestEnvironment.noPostgres)))
struct PostgresStoreTests {
    init() throws {
        try PostgresStore(connectionString: databaseURL).migrate()
    }

    @Test(arguments: DocumentStoreConformance.checks.keys.sorted())
    func conformance(_ check: String) throws {
        try DocumentStoreConformance.checks[check]!({ PostgresStore(connectionString: databaseURL) })
    }

    /// The same checks with every store of a check sharing one batcher, as a server's threads do:
    /// concurrent commits then go to PostgreSQL in batches.
    @Test(arguments: DocumentStoreConformance.checks.keys.sorted())
    func conformanceWithSharedBatches(_ check: String) throws {
        let batcher = CommitBatcher()
        try DocumentStoreConformance.checks[check]!({ PostgresStore(connectionString: databaseURL, batcher: batcher) })
    }

    @Test func concurrentCommitsAreBatchedAndEachGetsItsOwnOutcome() {
        let batcher = CommitBatcher()
        let batchSizes = Mutex<[Int]>([])
        let unsortedBatches = Mutex(0)
        let failures = race(64) { thread in
            for round in 0..<20 {
                let number = thread * 100 + round
                let ticket = CommitBatcher.Ticket(writes: Array("\(number)".utf8), order: Array(String(1000 - number % 1000).utf8), deadline: .max)
                let outcome = batcher.commit(ticket) { batch in
                    batchSizes.withLock { $0.append(batch.count) }
                    if batch.map(\.order) != batch.map(\.order).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                        unsortedBatches.withLock { $0 += 1 }
                    }
                    usleep(200)  // a round trip, during which other commits queue up
                    for ticket in batch {
                        let text = String(decoding: ticket.writes, as: UTF8.self)
                        let number = Int64(text)!
                        ticket.outcome = number % 7 == 0 ? .failure(.notFound(DocumentPath("c", text))) : .success(number)
                    }
                }
                switch outcome {
                case .success(let value) where value == Int64(number) && number % 7 != 0: continue
                case .failure(.notFound(let path)) where path.id == "\(number)" && number % 7 == 0: continue
                default: return "commit \(number) got \(outcome)"
                }
            }
            return "ok"
        }
        #expect(failures == ["ok": 64])
        let sizes = batchSizes.withLock { $0 }
        #expect(sizes.reduce(0, +) == 64 * 20, "every commit in exactly one batch")
        #expect(sizes.contains { $0 > 1 }, "commits that arrive during a batch wait for the next")
        #expect(sizes.allSatisfy { $0 <= CommitBatcher.maximumBatch })
        #expect(unsortedBatches.withLock { $0 } == 0, "batches run in the commits' order")
    }

    @Test func migratingTwiceIsHarmless() throws {
        let store = PostgresStore(connectionString: databaseURL)
        try store.migrate()
        try store.migrate()
        try store.ping()
    }

    @Test func migratingADatabaseOfAnEarlierVersionDropsWhatItNoLongerUses() throws {
        let connection = PQconnectdb(databaseURL)
        defer { PQfinish(connection) }
        func scalar(_ sql: String) -> String? {
            let result = PQexec(connection, sql)
            defer { PQclear(result) }
            return PQntuples(result) > 0 ? String(cString: PQgetvalue(result, 0, 0)) : nil
        }
        let indexExists = "SELECT count(*) FROM pg_class WHERE relname = 'documents_fields_idx'"
        let commitFunctionExists = "SELECT count(*) FROM pg_proc WHERE proname = 'docstore_commit'"
        // Under the migration's own lock: other tests migrate in parallel.
        _ = scalar("BEGIN")
        _ = scalar("SELECT pg_advisory_xact_lock(7262031001)")
        _ = scalar("CREATE INDEX IF NOT EXISTS documents_fields_idx ON documents USING gin (fields jsonb_path_ops)")
        _ = scalar("CREATE OR REPLACE FUNCTION docstore_commit(writes jsonb) RETURNS int8 LANGUAGE sql AS 'SELECT 0::int8'")
        #expect(scalar(indexExists) == "1")
        #expect(scalar(commitFunctionExists) == "1")
        _ = scalar("COMMIT")
        try PostgresStore(connectionString: databaseURL).migrate()
        #expect(scalar(indexExists) == "0")
        #expect(scalar(commitFunctionExists) == "0")
    }

    @Test func lookupsUseThePrimaryKeyEvenOnASmallAnalysedTable() throws {
        /// The plan of a primary-key lookup on a one-row table, in a session with `options`
        /// (`-c name=value` settings, as the store passes them) applied by SET.
        func plan(options: String) -> String {
            let connection = PQconnectdb(databaseURL)
            defer { PQfinish(connection) }
            let settings = options.split(separator: " ").filter { $0 != "-c" }.map { setting in
                "SET \(setting.prefix { $0 != "=" }) = '\(setting.drop { $0 != "=" }.dropFirst())'"
            }
            for statement in settings + [
                #"CREATE TEMP TABLE t (collection text COLLATE "C", id text COLLATE "C", PRIMARY KEY (collection, id))"#,
                "INSERT INTO t VALUES ('services', 'a')", "ANALYZE t",
            ] {
                PQclear(PQexec(connection, statement))
            }
            let result = PQexec(connection, "EXPLAIN SELECT id FROM t WHERE collection = 'services' AND id = 'a'")
            defer { PQclear(result) }
            return PQntuples(result) > 0 ? String(cString: PQgetvalue(result, 0, 0)) : ""
        }
        #expect(plan(options: "").hasPrefix("Seq Scan"), "the planner's own choice on a one-row table")
        #expect(plan(options: PostgresStore.plannerOptions).contains("Index"))
    }

    @Test func aLookedUpFieldFindsDocumentsThroughAliasesThatOnlyDocumentsWithAnotherIDGet() throws {
        let collection = "aliases_\(UInt32.random(in: 0...UInt32.max))"
        let store = PostgresStore(connectionString: databaseURL, fieldIndexes: [FieldIndex(collection: collection, field: "owner")])
        try store.migrate()
        func ids(_ owner: String) throws -> [String] {
            try store.query(collection: collection, where: FieldFilter("owner", equals: owner), select: nil).map(\.path.id)
        }
        func aliases() -> String {
            let connection = PQconnectdb(databaseURL)
            defer { PQfinish(connection) }
            let result = PQexec(
                connection, "SELECT string_agg(id || '=' || value, ',' ORDER BY id) FROM document_aliases WHERE collection = '\(collection)'")
            defer { PQclear(result) }
            return PQgetisnull(result, 0, 0) == 0 ? String(cString: PQgetvalue(result, 0, 0)) : ""
        }
        try store.commit([
            .create(DocumentPath(collection, "ann"), ["owner": .string("ann")]),
            .create(DocumentPath(collection, "x1"), ["owner": .string("ann")]),
            .create(DocumentPath(collection, "x2"), ["owner": .string("bob")]),
            .create(DocumentPath(collection, "x3"), ["owner": .integer(7)]),
        ])
        #expect(try ids("ann") == ["ann", "x1"] && ids("bob") == ["x2"])
        #expect(aliases() == "x1=ann,x2=bob", "a document that holds its own id has no alias")
        try store.commit([
            .set(DocumentPath(collection, "x1"), ["owner": .string("carol")], .exists(true)), .delete(DocumentPath(collection, "x2"), .none),
        ])
        #expect(try ids("ann") == ["ann"] && ids("carol") == ["x1"] && ids("bob").isEmpty)
        #expect(aliases() == "x1=carol")

        // A document written without aliases (by an earlier version) gets one at the next migration.
        let connection = PQconnectdb(databaseURL)
        defer { PQfinish(connection) }
        PQclear(PQexec(connection, "INSERT INTO documents VALUES ('\(collection)', 'old', '{\"owner\": {\"stringValue\": \"dan\"}}', now(), now())"))
        try store.migrate()
        #expect(try ids("dan") == ["old"])

        // Both parts of the lookup use primary keys, whatever the collection's size.
        PQclear(PQexec(connection, "SET enable_seqscan = off"))
        let sql = Schema.statements.first { $0.name == "query_aliased" }!.sql
        let literal = sql.replacing(["$1": "'\(collection)'", "$2": "'owner'", "$3": "'dan'"])
        let result = PQexec(connection, "EXPLAIN " + literal)
        defer { PQclear(result) }
        let plan = (0..<PQntuples(result)).map { String(cString: PQgetvalue(result, $0, 0)) }.joined(separator: "\n")
        #expect(plan.contains("document_aliases_pkey") && plan.contains("documents_pkey"), "\(plan)")
        #expect(throws: StoreError.self) { try Schema.migration(fieldIndexes: [FieldIndex(collection: "bookings'; --", field: "owner")]) }
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

/// Calls to a server that never answers, and to one that makes them wait, end within the
/// store's timeout; a commit that reaches the server after its deadline is not applied.
@Suite struct PostgresStoreTimeoutTests {
    /// Seconds `body` took.
    func seconds(_ body: () -> Void) -> Double {
        let start = Timestamp.now().microseconds
        body()
        return Double(Timestamp.now().microseconds - start) / 1_000_000
    }

    @Test func aServerThatAcceptsAndNeverAnswersIsUnavailableWithinTheTimeout() throws {
        // A listening socket nobody accepts on: the kernel completes the connection, as for a
        // stopped (SIGSTOP) postmaster, and libpq waits for the server's first answer.
        var template = Array("/tmp/pg-silent-XXXXXX".utf8CString)
        let folder = try #require(mkdtemp(&template).map { String(cString: $0) })
        let path = folder + "/.s.PGSQL.5432"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer {
            close(listener)
            unlink(path)
            rmdir(folder)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0 && listen(listener, 16) == 0)
        let store = PostgresStore(connectionString: "postgresql:///booking?host=\(folder)", timeoutMilliseconds: 300)
        let took = seconds {
            #expect(throws: StoreError.unavailable("PostgreSQL did not answer within 300 ms (nothing was sent)")) { try store.ping() }
        }
        #expect(took >= 0.3 && took < 0.3 + 0.5 + 0.3, "took \(took) s")
        let commitTook = seconds {
            #expect(throws: StoreError.self) { try store.commit([.create(DocumentPath("c", "d"), [:])]) }
        }
        #expect(commitTook < 0.3 + 0.5 + 0.3, "took \(commitTook) s")
    }

    @Test(.enabled(if: TestEnvironment.databaseURL != nil, Comment(rawValue: TestEnvironment.noPostgres)))
    func aCommitWaitingOnALockEndsWithinTheTimeoutAndIsNotAppliedAfterwards() throws {
        try PostgresStore(connectionString: databaseURL).migrate()
        let id = "held-\(Timestamp.now().microseconds)"
        let holder = PQconnectdb(databaseURL)
        defer { PQfinish(holder) }
        // Another session inserts the same document and keeps its transaction open: the store's
        // insert waits for that row lock.
        for statement in ["BEGIN", "INSERT INTO documents VALUES ('timeouts', '\(id)', '{}', now(), now())"] {
            let result = PQexec(holder, statement)
            #expect(PQresultStatus(result) == PGRES_COMMAND_OK, "\(String(cString: PQerrorMessage(holder)))")
            PQclear(result)
        }
        let store = PostgresStore(connectionString: databaseURL, timeoutMilliseconds: 400)
        try store.ping()
        let took = seconds {
            do {
                try store.commit([.create(DocumentPath("timeouts", id), ["by": .string("store")])])
                Issue.record("the commit went through a held lock")
            } catch StoreError.unavailable {
            } catch {
                Issue.record("expected unavailable, got \(error)")
            }
        }
        #expect(took >= 0.35 && took < 0.4 + 0.5 + 0.3, "took \(took) s")
        PQclear(PQexec(holder, "ROLLBACK"))
        #expect(try store.get(DocumentPath("timeouts", id)) == nil, "applied after its caller was told it failed")
        try store.commit([.create(DocumentPath("timeouts", id), ["by": .string("store")])])
    }

    @Test(.enabled(if: TestEnvironment.databaseURL != nil, Comment(rawValue: TestEnvironment.noPostgres)))
    func aBatchPastItsDeadlineIsRefusedByTheServerWithNothingApplied() throws {
        try PostgresStore(connectionString: databaseURL).migrate()
        let connection = PQconnectdb(databaseURL)
        defer { PQfinish(connection) }
        let id = "late-\(Timestamp.now().microseconds)"
        let batch = #"[[{"collection":"timeouts","id":"\#(id)","op":"set","fields":{},"exists":false}]]"#
        let past = Timestamp.now().microseconds - 1
        let late = PQexec(connection, "SELECT * FROM docstore_commit_batch('\(batch)'::jsonb, \(past))")
        #expect(String(cString: PQresultErrorField(late, Int32(UInt8(ascii: "C")))) == "DS504")
        PQclear(late)
        let store = PostgresStore(connectionString: databaseURL)
        #expect(try store.get(DocumentPath("timeouts", id)) == nil)
        // Without a deadline (hosts of an earlier version), and with one ahead: applied.
        let plain = PQexec(connection, "SELECT commit_time IS NOT NULL FROM docstore_commit_batch('\(batch)'::jsonb)")
        #expect(PQresultStatus(plain) == PGRES_TUPLES_OK && String(cString: PQgetvalue(plain, 0, 0)) == "t")
        PQclear(plain)
        #expect(try store.get(DocumentPath("timeouts", id)) != nil)
    }
}

extension String {
    /// The SQL with its parameters written in.
    fileprivate func replacing(_ parameters: [String: String]) -> String {
        parameters.reduce(self) { sql, parameter in
            sql.split(separator: parameter.key, omittingEmptySubsequences: false).joined(separator: parameter.value)
        }
    }
}
