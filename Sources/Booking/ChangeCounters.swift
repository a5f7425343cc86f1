/// Versions of the data the booking service's reads depend on, shared by every process of a
/// host, so that one process's caches notice what another process changed. A change is counted
/// after it is committed and before it is confirmed to the client.
public protocol ChangeCounters: Sendable {
    /// Grows whenever a service is created.
    var servicesVersion: UInt64 { get }
    /// Grows whenever a booking is made or a service is created.
    var availabilityVersion: UInt64 { get }
    func servicesChanged()
    func availabilityChanged()
}

/// How long a cached read may be served at most by default, whatever the counters say: writes
/// made on another host, or by another program, show after at most this long (`READ_CACHE_SECONDS`).
public let defaultReadCacheLifetime: Double = 1.0

/// Seconds on a clock that never goes back, for cache ages.
public func monotonicSeconds() -> Double { seconds(on: CLOCK_MONOTONIC) }

/// Seconds since the epoch on the wall clock, as nginx's `$msec` reads them.
public func wallClockSeconds() -> Double { seconds(on: CLOCK_REALTIME) }

private func seconds(on clock: clockid_t) -> Double {
    var spec = timespec()
    clock_gettime(clock, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

#if canImport(Glibc)
import Glibc
#endif
