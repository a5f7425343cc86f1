import DocumentStore
import ReadModel
import Synchronization

/// Clocks a test steps by hand, so that nothing waits on the real clock: the monotonic clock and
/// the wall clock move together.
public final class ManualClock: Sendable {
    private let seconds: Mutex<(monotonic: Double, wall: Double)>

    /// Starts at `wall` seconds since the epoch (by default 2030-03-17, before the tests' slots).
    public init(wall: Double = 1_900_000_000.25) {
        seconds = Mutex((monotonic: 1_000, wall: wall))
    }

    /// Moves both clocks forward.
    public func advance(by interval: Double) {
        seconds.withLock { $0 = ($0.monotonic + interval, $0.wall + interval) }
    }

    /// The wall clock's seconds since the epoch.
    public var wallSeconds: Double { seconds.withLock { $0.wall } }

    /// The read model's view of these clocks.
    public var readClock: ReadClock {
        ReadClock(monotonic: { self.seconds.withLock { $0.monotonic } }, wall: { self.wallSeconds })
    }

    /// The wall clock as the booking rules and stores read it.
    public func now() -> Timestamp {
        Timestamp(microseconds: Int64((wallSeconds * 1_000_000).rounded(.down)))
    }
}
