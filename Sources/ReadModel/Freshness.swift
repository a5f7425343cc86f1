/// When a cached body may be served, and when it must be built again: a pure decision on when
/// the body was built, from which version of the host's changes, and the time of the read.
///
/// A body built from the version a read began with, or a later one, holds every change confirmed
/// before the read began (a change is counted before it is confirmed, and the version is read
/// before the build). It is served for `lifetime` at most (the bound for changes made on other
/// hosts, which no counter here sees); from `refreshAge` on, one thread rebuilds it while the
/// others go on serving it, so a body that expires only by age never makes readers wait.
struct Freshness: Sendable {
    /// What a read does with the body it found.
    enum Decision: Equatable {
        /// Serve it.
        case serve
        /// Serve it, and let one thread rebuild it meanwhile.
        case serveAndRebuild
        /// Build it again and serve the new one: it lacks a change, is too old, or there is none.
        case rebuild
    }

    /// When and from what a body was built.
    struct Stamp: Equatable {
        /// The host's change version read before the build began.
        let version: UInt64
        /// The monotonic clock when the build began.
        let builtAt: Double
        /// The wall clock's second when the build began.
        let second: Int
    }

    /// Seconds a body is served at most.
    let lifetime: Double
    /// Seconds after which a body is rebuilt while it is still served.
    let refreshAge: Double
    /// Whether a body is also rebuilt in each new second in which it is read (published bodies
    /// are named by the second they were built in).
    let rebuildsEachSecond: Bool

    init(lifetime: Double, rebuildsEachSecond: Bool) {
        self.lifetime = lifetime
        refreshAge = lifetime * 0.8
        self.rebuildsEachSecond = rebuildsEachSecond
    }

    /// The decision for a read that began at `now` (monotonic), in `second` (wall), when the
    /// host's change version was `version`, and found the body `stamp` describes (nil: none).
    func read(_ stamp: Stamp?, now: Double, version: UInt64, second: Int) -> Decision {
        guard let stamp, stamp.version >= version, now - stamp.builtAt < lifetime else { return .rebuild }
        if now - stamp.builtAt >= refreshAge || (rebuildsEachSecond && stamp.second != second) { return .serveAndRebuild }
        return .serve
    }
}
