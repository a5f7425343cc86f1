import Booking
import DocumentStore
import Logging
import TestSupport
import Testing

@testable import ReadModel

/// The read model's claimed slots: read in full once, then only what the store says was written
/// since, when this host recorded a change or half the lifetime passed; so a catalog build costs
/// in proportion to the recent writes, not to every booking ever made.
@Suite struct CachedClaimDirectoryTests {
    let clock = ManualClock()
    /// The store's clock: it passes apart from the read model's.
    let storeClock = ManualClock()
    let model: ReadModel
    let store: CountingStore
    let source: CatalogSource

    init() {
        let storeClock = storeClock
        model = ReadModel(settings: ReadModel.Settings(lifetime: 1), clock: clock.readClock, logger: Logger(label: "test"))
        store = CountingStore(MemoryDatabase(clock: { storeClock.now() }).makeStore())
        source = CatalogSource(store: store, reader: DocumentReader())
    }

    var directory: CachedClaimDirectory { model.claimDirectory }

    /// How many times every claim was read, and how many times only the recent writes (a full
    /// read first asks for the writes from the far future on, for the store's time). Each look
    /// at the recent writes asks for the releases first, then the claims.
    func reads() -> (all: Int, recent: Int) {
        let all = store.count("ids")
        #expect(store.writtenSince(in: "slot_claims") == store.writtenSince(in: "slot_releases"))
        return (all, store.writtenSince(in: "slot_releases").count - all)
    }

    func claim(_ serviceID: String, _ slot: String) throws {
        storeClock.advance(by: 0.001)
        try store.commit([.create(DocumentPath("slot_claims", "\(serviceID)@\(slot)"), ["service_id": .string(serviceID)])])
    }

    /// The claimed slots per service, as text.
    func claimed() throws -> [String: [String]] {
        Dictionary(uniqueKeysWithValues: try directory.allClaimedSeats(from: source).map { ($0.key.string, $0.value.map(\.slot.description)) })
    }

    @Test func afterOneFullReadOnlyRecentWritesAreRead() throws {
        try claim("a", "2031-01-01T10:00:00Z")
        try claim("b", "2031-01-01T09:00:00Z")
        #expect(try claimed() == ["a": ["2031-01-01T10:00:00Z"], "b": ["2031-01-01T09:00:00Z"]])
        #expect(reads() == (1, 0), "the first build reads every claim")
        #expect(try claimed().count == 2 && reads() == (1, 0), "nothing changed here and within half the lifetime: no read")

        clock.advance(by: 10)
        storeClock.advance(by: 10)  // far beyond the overlap: the old claims are not read again
        try claim("a", "2031-01-01T09:00:00Z")
        model.recordChange(.availability)
        #expect(try claimed() == ["a": ["2031-01-01T09:00:00Z", "2031-01-01T10:00:00Z"], "b": ["2031-01-01T09:00:00Z"]])
        #expect(reads() == (1, 1), "a change here: what was written since")
        #expect(
            store.writtenSince(in: "slot_releases").last == Timestamp(microseconds: storeClock.now().microseconds - 10_001_000 - 1_000_000),
            "from a second before the store's time at the last look")

        clock.advance(by: 10)
        storeClock.advance(by: 10)
        #expect(try claimed()["c"] == nil && reads() == (1, 2), "half the lifetime on: what was written since (nothing)")
        try claim("c", "2031-01-01T08:00:00Z")  // on another host: no change recorded here
        #expect(try claimed()["c"] == nil && reads() == (1, 2), "within half the lifetime of the last look: no read")
        clock.advance(by: 0.5)
        #expect(try claimed()["c"] == ["2031-01-01T08:00:00Z"], "half the lifetime on: what was written since")
        #expect(reads() == (1, 3))
    }

    @Test func everyClaimIsReadAgainAfterTheFullReadInterval() throws {
        try claim("a", "2031-01-01T10:00:00Z")
        _ = try claimed()
        try store.commit([.delete(DocumentPath("slot_claims", "a@2031-01-01T10:00:00Z"), .none)])  // deletions are not seen...
        clock.advance(by: 1)
        #expect(try claimed() == ["a": ["2031-01-01T10:00:00Z"]])
        clock.advance(by: CachedClaimDirectory.fullReadInterval)
        #expect(try claimed().isEmpty, "...until the next full read")
        #expect(reads().all == 2)
    }

    @Test func aReleaseWrittenWithTheClaimsDeletionFreesTheSlotAtTheNextLook() throws {
        try claim("a", "2031-01-01T10:00:00Z")
        try claim("a", "2031-01-01T11:00:00Z")
        _ = try claimed()
        storeClock.advance(by: 0.001)
        try store.commit([  // a cancellation
            .delete(DocumentPath("slot_claims", "a@2031-01-01T10:00:00Z"), .none),
            .set(DocumentPath("slot_releases", "a@2031-01-01T10:00:00Z"), ["service_id": .string("a")], .none),
        ])
        model.recordChange(.availability)
        #expect(try claimed() == ["a": ["2031-01-01T11:00:00Z"]], "freed at the next look, without a full read")
        #expect(reads() == (1, 1))

        clock.advance(by: 0.1)
        try claim("a", "2031-01-01T10:00:00Z")  // booked again: the release stays, older than the claim
        model.recordChange(.availability)
        #expect(try claimed() == ["a": ["2031-01-01T10:00:00Z", "2031-01-01T11:00:00Z"]], "a claim after the release wins")
        #expect(reads() == (1, 2))
    }

    @Test func aReleasedSeatFreesThatSeatOnlyAndASeatSeenTwiceCountsOnce() throws {
        try claim("a", "2031-01-01T10:00:00Z")
        try claim("a", "2031-01-01T10:00:00Z#2")
        try claim("a", "2031-01-01T10:00:00Z#3")
        _ = try claimed()
        storeClock.advance(by: 0.001)
        try store.commit([
            .delete(DocumentPath("slot_claims", "a@2031-01-01T10:00:00Z#2"), .none),
            .set(DocumentPath("slot_releases", "a@2031-01-01T10:00:00Z#2"), ["service_id": .string("a")], .none),
        ])
        model.recordChange(.availability)
        #expect(try directory.allClaimedSeats(from: source)[ExactString("a")]?.map(\.seat) == [1, 3])
        // The next look begins a second back: the claims seen before are seen again, and held once.
        clock.advance(by: 0.1)
        try claim("a", "2031-01-01T10:00:00Z#2")
        model.recordChange(.availability)
        #expect(try directory.allClaimedSeats(from: source)[ExactString("a")]?.map(\.seat) == [1, 2, 3])
        #expect(reads() == (1, 2))
    }

    @Test func removingKeepsTheOrderAndIgnoresSlotsNotHeld() throws {
        var claims = try ["08", "09", "10"].map { SeatClaim(slot: try Slot(parsing: "2031-01-01T\($0):00:00Z")) }
        claims.insertSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T09:00:00Z"), seat: 2))
        claims.removeSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T09:00:00Z")))
        claims.removeSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T11:00:00Z")))
        claims.removeSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T10:00:00Z"), seat: 3))
        #expect(claims.map { "\($0.slot)#\($0.seat)" } == ["2031-01-01T08:00:00Z#1", "2031-01-01T09:00:00Z#2", "2031-01-01T10:00:00Z#1"])
    }

    @Test func aStoreThatCannotSayWhatWasWrittenIsReadInFullAfterAChangeAndOncePerLifetime() throws {
        let firestoreLike = CountingStore(store, tellsWritten: false)
        let source = CatalogSource(store: firestoreLike, reader: DocumentReader())
        try claim("a", "2031-01-01T10:00:00Z")
        #expect(try directory.allClaimedSeats(from: source).count == 1 && firestoreLike.count("ids") == 1)
        try claim("b", "2031-01-01T10:00:00Z")
        clock.advance(by: 0.6)
        #expect(try directory.allClaimedSeats(from: source).count == 1 && firestoreLike.count("ids") == 1, "within the lifetime")
        model.recordChange(.availability)
        #expect(try directory.allClaimedSeats(from: source).count == 2 && firestoreLike.count("ids") == 2, "a change here")
        try claim("c", "2031-01-01T10:00:00Z")
        clock.advance(by: 1)
        #expect(try directory.allClaimedSeats(from: source).count == 3 && firestoreLike.count("ids") == 3, "the lifetime on")
    }

    @Test func insertingKeepsEachServicesSlotsInOrderOnce() throws {
        var claims = try ["10", "08", "12"].map { SeatClaim(slot: try Slot(parsing: "2031-01-01T\($0):00:00Z")) }.sorted()
        claims.insertSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T09:00:00Z")))
        claims.insertSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T12:00:00Z")))
        claims.insertSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T13:00:00Z")))
        claims.insertSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T12:00:00Z"), seat: 3))
        claims.insertSorted(SeatClaim(slot: try Slot(parsing: "2031-01-01T12:00:00Z"), seat: 2))
        #expect(
            claims.map { "\($0.slot.description.dropFirst(11).prefix(2))#\($0.seat)" } == ["08#1", "09#1", "10#1", "12#1", "12#2", "12#3", "13#1"])
    }
}
