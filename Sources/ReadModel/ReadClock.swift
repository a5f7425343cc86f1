#if canImport(Glibc)
    import Glibc
#endif

/// The read model's clocks: how old a cached body is, and which second nginx is in.
///
/// Injected, so that tests step time by hand instead of sleeping.
public struct ReadClock: Sendable {
    /// Seconds on a clock that never goes back, for the age of what is cached.
    public let monotonic: @Sendable () -> Double
    /// Seconds since the epoch on the wall clock, as nginx's `$msec` reads them: published files
    /// are named by its second.
    public let wall: @Sendable () -> Double

    public init(monotonic: @escaping @Sendable () -> Double, wall: @escaping @Sendable () -> Double) {
        self.monotonic = monotonic
        self.wall = wall
    }

    /// The system's clocks.
    public static let system = ReadClock(monotonic: { seconds(on: CLOCK_MONOTONIC) }, wall: { seconds(on: CLOCK_REALTIME) })

    /// The current second of the wall clock.
    var second: Int { Int(wall().rounded(.down)) }
}

private func seconds(on clock: clockid_t) -> Double {
    var spec = timespec()
    clock_gettime(clock, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
