#if canImport(Glibc)
    import Glibc
#endif

/// Process-wide signal set-up, done before any thread starts so that every thread inherits it.
enum Signals {
    static let stopSignals: [Int32] = [SIGTERM, SIGINT]

    /// Ignores SIGPIPE and blocks the stop signals (they are taken by `waitForStop` alone, not
    /// by libfcgi's own handlers).
    static func prepareProcess() {
        signal(SIGPIPE, SIG_IGN)
        var set = stopSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    static func stopSet(adding extra: [Int32] = []) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in stopSignals + extra { sigaddset(&set, signal) }
        return set
    }

    /// Blocks until SIGTERM or SIGINT arrives (returned) or `seconds` have passed (nil).
    @discardableResult
    static func waitForStop(atMost seconds: Double) -> Int32? {
        var set = stopSet()
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Double(deadline.tv_sec) + Double(deadline.tv_nsec) / 1e9 + seconds
        while true {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = end - (Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
            guard left > 0 else { return nil }
            var timeout = timespec(tv_sec: Int(left), tv_nsec: Int((left - left.rounded(.down)) * 1e9))
            let received = sigtimedwait(&set, nil, &timeout)
            if received > 0 { return received }
        }
    }
}
