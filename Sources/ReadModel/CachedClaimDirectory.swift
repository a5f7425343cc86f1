import Booking
import DocumentStore
import Synchronization

/// The claimed slots of every service, kept per process and brought up to date from what the
/// store says was written since it last looked: the booking rules' `ClaimDirectory` when the host
/// caches reads.
///
/// Reading every claim for each catalog build made a read cost more with every booking ever made.
/// Here every claim is read once (and again every `fullReadInterval`), and otherwise only the
/// claims and releases written from a second before the store's time at its last look: when this
/// host recorded a change since, or when half the lifetime has passed (the bound for other hosts'
/// changes). So a catalog build costs in proportion to the recent writes, not to the history.
/// A deleted claim leaves nothing to find; the release written in the same commit (a booking
/// cancelled or moved) is what says that its slot is free again.
///
/// A commit takes its update time before it becomes visible; one that becomes visible more than
/// the overlap (1 s) later is found by the next full read, which also drops the claims pruned
/// since (of slots that have begun, which no catalog lists). A store that cannot say what was
/// written (Firestore) is read in full after each change here and at most once per lifetime
/// otherwise.
public final class CachedClaimDirectory: ClaimDirectory {
    private struct State {
        var claimed: [ExactString: [SeatClaim]] = [:]
        /// Where the next look at recent writes begins (the store's clock); nil: read them all.
        var nextSince: Timestamp?
        var fullReadAt = -Double.infinity
        var checkedAt = -Double.infinity
        /// The host's availability version when the store was last asked.
        var checkedVersion: UInt64 = 0
    }

    private let counters: MappedChangeCounters
    private let clock: ReadClock
    private let lifetime: Double
    /// Held while the store is asked too, so that one thread asks for the process.
    private let state = Mutex(State())
    /// How far before the store's time at the last look the next look begins.
    static let overlapMicroseconds: Int64 = 1_000_000
    /// How often every claim is read again.
    static let fullReadInterval = 60.0
    /// A time no write has: asking for the writes since then gives only the store's time.
    private static let farFuture = Timestamp(seconds: Int64(Int32.max))

    init(counters: MappedChangeCounters, clock: ReadClock, lifetime: Double) {
        self.counters = counters
        self.clock = clock
        self.lifetime = lifetime
    }

    public func allClaimedSeats(from source: CatalogSource) throws(BookingError) -> [ExactString: [SeatClaim]] {
        try state.withLock { state throws(BookingError) in
            let version = counters.availabilityVersion
            let now = clock.monotonic()
            let changedHere = version != state.checkedVersion
            let fullReadDue = now - state.fullReadAt >= Self.fullReadInterval
            guard fullReadDue || changedHere || now - state.checkedAt >= lifetime / 2 else { return state.claimed }
            if !fullReadDue, let since = state.nextSince, let written = try source.slotsWritten(since: since) {
                Self.add(written, into: &state)
            } else if fullReadDue || changedHere || now - state.fullReadAt >= lifetime {
                try Self.readAll(from: source, into: &state, at: now)  // also where the store cannot say what was written
            }
            (state.checkedAt, state.checkedVersion) = (now, version)
            return state.claimed
        }
    }

    /// Reads every claim id (an index-only scan on PostgreSQL). Where the store can say what was
    /// written, it is first asked for the writes from the far future on: none, but the time it
    /// looked, from which the next look at recent writes begins.
    private static func readAll(from source: CatalogSource, into state: inout State, at now: Double) throws(BookingError) {
        let asOf = try source.slotsWritten(since: farFuture)?.asOf
        state.claimed = try source.allClaimedSeats()
        state.nextSince = asOf.map(lookingBack(from:))
        state.fullReadAt = now
    }

    /// Takes out the seats released lately, then adds those claimed lately (some of which it
    /// holds already; a seat released and claimed again ends claimed).
    private static func add(_ written: WrittenSlots, into state: inout State) {
        for release in written.released {
            guard let (serviceID, claim) = CatalogSource.claim(id: release.id) else { continue }
            state.claimed[serviceID]?.removeSorted(claim)
        }
        for written in written.claimed {
            guard let (serviceID, claim) = CatalogSource.claim(id: written.id) else { continue }
            state.claimed[serviceID, default: []].insertSorted(claim)
        }
        state.nextSince = lookingBack(from: written.asOf)
    }

    private static func lookingBack(from asOf: Timestamp) -> Timestamp {
        Timestamp(microseconds: asOf.microseconds - overlapMicroseconds)
    }
}

extension Array where Element == SeatClaim {
    /// Removes `claim` from the ordered array, if it holds it.
    mutating func removeSorted(_ claim: SeatClaim) {
        let index = firstIndex(notBefore: claim)
        if index < endIndex && self[index] == claim { remove(at: index) }
    }

    /// Inserts `claim` where it keeps the array in order, unless it holds it already.
    mutating func insertSorted(_ claim: SeatClaim) {
        let index = firstIndex(notBefore: claim)
        if index == endIndex || self[index] != claim { insert(claim, at: index) }
    }

    /// The index of the first claim not before `claim` in the ordered array (binary search).
    private func firstIndex(notBefore claim: SeatClaim) -> Int {
        var low = startIndex, high = endIndex
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < claim { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
