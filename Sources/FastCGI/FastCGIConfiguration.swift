#if canImport(Glibc)
    import Glibc
#endif

/// How the responder listens and how much work it takes on at once.
public struct FastCGIConfiguration: Sendable {
    public enum Listener: Sendable, Equatable {
        /// Create a unix socket at `path` with permission bits `mode` (e.g. 0o660, so the web
        /// server's group can connect), replacing a stale socket left by an earlier run.
        case unixSocket(path: String, mode: UInt32)
        /// Listen on TCP at `address` (`host:port`, or `:port` for every address): for web
        /// servers on other hosts. Plain FastCGI has no authentication or encryption; keep it on
        /// a private network, and name the web servers in `allowedPeers`.
        case tcp(address: String)
        /// Use a listening socket already open: on file descriptor 0 as spawn-fcgi and systemd's
        /// `StandardInput=socket` pass it, or on 3 as systemd's socket activation (`LISTEN_FDS`) does.
        case inherited(descriptor: Int32)
    }

    public var listener: Listener

    /// Whether `text` is an IPv4 or IPv6 address, as `allowedPeers` holds them.
    public static func isIPAddress(_ text: String) -> Bool { WebServerAddresses.canonical(text) != nil }
    /// The only addresses a TCP connection is taken from (libfcgi's `FCGI_WEB_SERVER_ADDRS`); nil
    /// takes any. Connections over a unix socket are not checked (its file mode guards it).
    public var allowedPeers: [String]?
    /// Worker processes sharing the socket; above 1, this process supervises them.
    public var processes: Int
    /// Worker threads per process, each with its own request object and responder.
    public var threads: Int
    /// Larger request bodies are refused unread (`Request.Body.tooLarge`).
    public var maximumBodyBytes: Int
    /// Connections the kernel holds for the listening socket until a thread takes one. Threads
    /// accept only when free, so under a crowd the requests nginx has sent wait here; a full
    /// backlog refuses nginx's connect() (EAGAIN: 502). The kernel caps it at
    /// `net.core.somaxconn` (4096 since Linux 5.4).
    public var backlog: Int32
    /// After a stop signal, seconds to go on serving while `FastCGIServer.isDraining` is true
    /// (a readiness check answers 503, so a load balancer stops sending), before stopping.
    public var drainSeconds: Double = 0

    public init(
        listener: Listener, processes: Int = 2, threads: Int = 4,
        maximumBodyBytes: Int = 1 << 20, backlog: Int32 = 4096
    ) {
        self.listener = listener
        self.processes = processes
        self.threads = threads
        self.maximumBodyBytes = maximumBodyBytes
        self.backlog = backlog
    }
}
