#if canImport(Glibc)
    import Glibc
#endif

/// Starts POSIX threads: the FastCGI workers' and the metrics' (Foundation's Thread is not
/// needed for this).
///
/// A thread started here takes no asynchronous signal (it starts with every signal blocked): the
/// process's main thread waits for SIGTERM and the others with sigwait, and a signal that the
/// kernel gave another thread would instead take its default action (for SIGTERM, ending the
/// process at once, without finishing the requests in flight).
public enum PosixThread {
    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new thread; join it or detach it.
    public static func start(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
                box.body()
                return nil
            }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        return thread
    }
}
