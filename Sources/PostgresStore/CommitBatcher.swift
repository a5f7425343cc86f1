import DocumentStore
import Synchronization
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// Commits from the threads of one process, applied together: while one thread's batch is at
/// PostgreSQL, the commits that arrive wait and then go in the next batch, in one round trip and
/// one transaction (each commit in a subtransaction of its own, so each succeeds or fails alone).
/// A booking then shares its transaction's fixed costs, the WAL flush among them, with the
/// others of its batch: about a third less PostgreSQL CPU per booking at four per batch.
///
/// No thread is dedicated to it: the thread that finds no batch under way leads one, on its own
/// connection, and hands the lead to the longest waiting thread when its own commit is done.
public final class CommitBatcher: Sendable {
    /// One commit waiting for, or in, a batch.
    final class Ticket: Sendable {
        /// The commit's writes, as the JSON array `docstore_commit_batch` takes for one commit.
        let writes: [UInt8]
        /// Batches run in this order: the largest document path the commit writes (by its
        /// UTF-8 bytes, a total order: Swift's string order ties canonically equivalent paths,
        /// which are different rows), so that batches of bookings take their slot claims in one
        /// order and cannot deadlock.
        let order: [UInt8]
        /// When the commit's caller stops waiting (µs since 1970): the batch is not applied after
        /// the earliest of its commits' deadlines.
        let deadline: Int64
        /// Set by the leader of the ticket's batch before it wakes the ticket's thread.
        var outcome: Result<Int64, StoreError>? {
            get { settled.withLock { $0 } }
            set { settled.withLock { $0 = newValue } }
        }
        private let settled = Mutex<Result<Int64, StoreError>?>(nil)
        nonisolated(unsafe) private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)  // sem_t is thread-safe

        init(writes: [UInt8], order: [UInt8], deadline: Int64) {
            self.writes = writes
            self.order = order
            self.deadline = deadline
            sem_init(semaphore, 0, 0)
        }

        deinit {
            sem_destroy(semaphore)
            semaphore.deallocate()
        }

        func wait() { while sem_wait(semaphore) != 0 && SystemError.last().number == EINTR {} }
        func wake() { sem_post(semaphore) }
    }

    private struct State {
        var waiting: [Ticket] = []
        var leading = false
    }

    private let state = Mutex(State())
    /// Each commit is a subtransaction; PostgreSQL tracks up to 64 per transaction cheaply.
    static let maximumBatch = 32

    public init() {}

    /// The commit time (µs) of `ticket`'s commit, or why it failed. `apply` runs a batch on the
    /// calling thread's connection when this thread leads, and sets every ticket's outcome.
    func commit(_ ticket: Ticket, apply: ([Ticket]) -> Void) -> Result<Int64, StoreError> {
        let leads = state.withLock { state in
            state.waiting.append(ticket)
            if state.leading { return false }
            state.leading = true
            return true
        }
        if !leads {
            ticket.wait()
            if let outcome = ticket.outcome { return outcome }
            // Woken without an outcome: this thread leads now.
        }
        while ticket.outcome == nil {
            let batch = state.withLock { state in
                let batch = Array(state.waiting.prefix(Self.maximumBatch))
                state.waiting.removeFirst(batch.count)
                return batch
            }
            apply(batch.sorted { $0.order.lexicographicallyPrecedes($1.order) })
            for waiter in batch where waiter !== ticket { waiter.wake() }
        }
        state.withLock { state in
            if let next = state.waiting.first {
                next.wake()
            } else {
                state.leading = false
            }
        }
        return ticket.outcome!
    }
}
