import DocumentStore
import DocumentStoreConformance
import Testing

/// The in-memory twin keeps the stores' semantics: the conformance suite, and transactions.
@Suite struct MemoryStoreTests {
    static let database = MemoryDatabase()

    @Test(arguments: DocumentStoreConformance.checks.keys.sorted())
    func conformance(_ check: String) throws {
        try DocumentStoreConformance.checks[check]!({ Self.database.makeStore() })
    }

    @Test func aTransactionWhoseQueryGainedAMatchRunsAgainAndSeesIt() throws {
        let store = MemoryDatabase().makeStore()
        let other = DocumentPath("bookings", "other")
        var attempts = 0
        let found = try store.transaction { reads throws(StoreError) in
            attempts += 1
            let matches = try reads.query(collection: "bookings", where: FieldFilter("slot", equals: "10:00"))
            if attempts == 1 {  // another writer commits a match between this read and the commit
                try store.commit([.create(other, ["slot": .string("10:00")])])
            }
            return (matches.isEmpty ? [.create(DocumentPath("bookings", "mine"), ["slot": .string("10:00")])] : [], matches.count)
        }
        #expect(attempts == 2 && found == 1)
        #expect(try store.get(DocumentPath("bookings", "mine")) == nil)
    }

    @Test func aTransactionWhoseDocumentChangedRunsAgain() throws {
        let store = MemoryDatabase().makeStore()
        let counter = DocumentPath("counters", "c")
        try store.commit([.create(counter, ["n": .integer(1)])])
        var attempts = 0
        try store.transaction { reads throws(StoreError) in
            attempts += 1
            let n = try reads.get(counter)?["n"]
            if attempts == 1 { try store.commit([.set(counter, ["n": .integer(5)], .none)]) }
            guard case .integer(let value)? = n else { return ([], ()) }
            return ([.set(counter, ["n": .integer(value + 1)], .none)], ())
        }
        #expect(attempts == 2)
        #expect(try store.get(counter)?["n"] == .integer(6))
    }

    @Test func commitTimesFollowTheClockAndAlwaysAdvance() throws {
        let database = MemoryDatabase(clock: { Timestamp(seconds: 1_900_000_000) })
        let store = database.makeStore()
        let first = try store.commit([.create(DocumentPath("c", "a"), [:])])
        let second = try store.commit([.create(DocumentPath("c", "b"), [:])])
        #expect(first == Timestamp(seconds: 1_900_000_000))
        #expect(second == Timestamp(microseconds: 1_900_000_000_000_001))
    }
}
