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

    /// Blocks until SIGTERM or SIGINT arrives and returns it.
    static func waitForStop() -> Int32 {
        var set = stopSet()
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }
}
