#if canImport(Glibc)
    import Glibc
#endif

/// How the responder listens and how much work it takes on at once.
public struct FastCGIConfiguration: Sendable {
    public enum Listener: Sendable, Equatable {
        /// Create a unix socket at `path` with permission bits `mode` (e.g. 0o660, so the web
        /// server's group can connect), replacing a stale socket left by an earlier run.
        case unixSocket(path: String, mode: UInt32)
        /// Use the listening socket already open on file descriptor 0, as spawn-fcgi and
        /// systemd (`StandardInput=socket`) pass it.
        case inherited
    }

    public var listener: Listener
    /// Worker processes sharing the socket; above 1, this process supervises them.
    public var processes: Int
    /// Worker threads per process, each with its own request object and responder.
    public var threads: Int
    /// Larger request bodies are refused unread (`Request.Body.tooLarge`).
    public var maximumBodyBytes: Int
    public var backlog: Int32
    /// After a stop signal, seconds to go on serving while `FastCGIServer.isDraining` is true
    /// (a readiness check answers 503, so a load balancer stops sending), before stopping.
    public var drainSeconds: Double = 0

    public init(
        listener: Listener, processes: Int = 2, threads: Int = 4,
        maximumBodyBytes: Int = 1 << 20, backlog: Int32 = 1024
    ) {
        self.listener = listener
        self.processes = processes
        self.threads = threads
        self.maximumBodyBytes = maximumBodyBytes
        self.backlog = backlog
    }
}
