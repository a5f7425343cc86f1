import CFastCGI
import Logging
import PosixThread
import Synchronization
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// A libfcgi responder: a pool of worker threads per process, each with its own
/// `FCGX_Request` and responder, serving the connections a `ConnectionQueue` hands them.
///
/// Connections may be kept open between requests (nginx `fastcgi_keep_conn on` with an
/// upstream `keepalive`): an idle kept connection waits in the queue, not in a thread, so kept
/// connections never pin threads and new connections are never starved behind idle ones.
///
/// Signals are handled in one place: SIGTERM or SIGINT stops accepting, lets requests in
/// flight (and those already sent on kept connections) finish, and returns from `run`.
/// SIGPIPE is ignored, so a client that disconnects mid-response only ends its own request.
public final class FastCGIServer: Sendable {
    private let configuration: FastCGIConfiguration
    private let makeResponder: @Sendable () -> any Responder
    private let logger: Logger

    public init(configuration: FastCGIConfiguration, logger: Logger, makeResponder: @escaping @Sendable () -> any Responder) {
        self.configuration = configuration
        self.logger = logger
        self.makeResponder = makeResponder
    }

    /// Whether this process got its stop signal and is serving on for `drainSeconds` before it
    /// stops: a readiness check answers 503 meanwhile.
    public static var isDraining: Bool { drainingFlag.load(ordering: .relaxed) }

    /// Whether this process is a worker started by a supervising process (which prepares
    /// shared resources, such as the database schema, once for all of them).
    public static var isWorkerProcess: Bool { ProcessSupervisor.isChild }

    /// The filesystem path of the unix socket the workers listen on (for `.inherited`, what its
    /// descriptor is bound to), or nil when it has none (TCP).
    public static func socketPath(of listener: FastCGIConfiguration.Listener) -> String? {
        let descriptor: Int32
        switch listener {
        case .unixSocket(let path, _): return path
        case .tcp: return nil
        case .inherited(let inherited): descriptor = ProcessSupervisor.isChild ? 0 : inherited  // a worker has it on 0
        }
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard bound == 0, address.sun_family == sa_family_t(AF_UNIX) else { return nil }
        // sun_path is a C array, which Swift imports as a tuple: read it through its offset instead.
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        let path = withUnsafeBytes(of: &address) { String(decoding: $0[pathOffset...].prefix { $0 != 0 }, as: UTF8.self) }
        return path.isEmpty ? nil : path
    }

    /// Serves until SIGTERM or SIGINT. With `processes` above 1, supervises that many copies
    /// of this program instead (see `ProcessSupervisor`).
    public func run() throws(FastCGIError) {
        Signals.prepareProcess()
        let socket = try openListener()
        let socketFile =
            ProcessSupervisor.isChild
            ? getenv(SocketFile.variable).flatMap { SocketFile(environmentValue: String(cString: $0)) }
            : Self.socketPath(of: configuration.listener).flatMap(SocketFile.at)
        if configuration.processes > 1 && !ProcessSupervisor.isChild {
            try ProcessSupervisor(socket: socket, socketFile: socketFile, processes: configuration.processes, logger: logger).run()
        } else {
            try serve(on: socket, socketFile: socketFile)
        }
    }

    private func openListener() throws(FastCGIError) -> Int32 {
        if ProcessSupervisor.isChild { return 0 }
        guard FCGX_Init() == 0 else { throw .setup("FCGX_Init failed") }
        switch configuration.listener {
        case .inherited(let descriptor):
            var listening: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0, listening == 1 else {
                throw .setup("file descriptor \(descriptor) is not a listening socket; give a socket path instead")
            }
            // systemd's socket activation names the socket to this process only, not to its workers.
            for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(variable) }
            return descriptor
        case .tcp(let address):
            let descriptor = FCGX_OpenSocket(address, configuration.backlog)
            guard descriptor >= 0 else { throw .setup("cannot listen on \(address): \(SystemError.last())") }
            return descriptor
        case .unixSocket(let path, let mode):
            var status = stat()
            if lstat(path, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFSOCK else { throw .setup("\(path) exists and is not a socket") }
            }
            // Made under another name and renamed over the path: a server running there (being
            // replaced) keeps taking connections until this one's socket takes its place, so
            // none is refused in between; it then sees the new file and stops (`SocketFile`).
            let beside = "\(path).\(getpid())"
            unlink(beside)
            let descriptor = FCGX_OpenSocket(beside, configuration.backlog)
            guard descriptor >= 0 else { throw .setup("cannot listen on \(beside): \(SystemError.last())") }
            guard chmod(beside, mode_t(mode)) == 0 else {
                unlink(beside)
                throw .setup("cannot set the mode of \(beside)")
            }
            guard rename(beside, path) == 0 else {
                let error = SystemError.last()
                unlink(beside)
                throw .setup("cannot put the socket at \(path): \(error)")
            }
            return descriptor
        }
    }

    /// Runs the worker threads on `socket` until a stop signal, or until another server's socket
    /// replaces `socketFile` (checked each second), then stops them.
    private func serve(on socket: Int32, socketFile: SocketFile?) throws(FastCGIError) {
        let workers = try WorkerThreads(socket: socket, configuration: configuration, logger: logger, makeResponder: makeResponder)
        logger.info("serving FastCGI", metadata: ["pid": "\(getpid())", "threads": "\(configuration.threads)"])
        var signal: Int32 = 0
        while true {
            if let received = Signals.waitForStop(atMost: 1) {
                signal = received
                break
            }
            if socketFile?.isReplaced == true {
                logger.info("another server's socket is at \(socketFile!.path) now: stopping", metadata: ["pid": "\(getpid())"])
                break
            }
        }
        if configuration.drainSeconds > 0 && signal != 0 {
            drainingFlag.store(true, ordering: .relaxed)
            logger.info(
                "draining: serving on while readiness answers 503", metadata: ["seconds": "\(configuration.drainSeconds)", "pid": "\(getpid())"])
            Signals.waitForStop(atMost: configuration.drainSeconds)  // a second signal stops at once
        }
        logger.info("stopping: finishing requests in flight", metadata: ["signal": "\(signal)", "pid": "\(getpid())"])
        workers.stop()
        logger.info("stopped", metadata: ["pid": "\(getpid())"])
    }
}

/// Set once this process drains (see `FastCGIServer.isDraining`).
private let drainingFlag = Atomic(false)

/// One process's worker threads, serving the connections of a listening socket.
final class WorkerThreads {
    private let socket: Int32
    private let queue: ConnectionQueue
    private let pool: WorkerPool
    private var threads: [pthread_t] = []

    init(
        socket: Int32, configuration: FastCGIConfiguration, logger: Logger,
        makeResponder: @escaping @Sendable () -> any Responder
    ) throws(FastCGIError) {
        guard FCGX_Init() == 0 else { throw .setup("FCGX_Init failed") }
        self.socket = socket
        queue = try ConnectionQueue(listener: socket, allowedPeers: configuration.allowedPeers)
        pool = WorkerPool(count: configuration.threads)
        for _ in 0..<configuration.threads {
            let worker = Worker(
                queue: queue, pool: pool, maximumBodyBytes: configuration.maximumBodyBytes,
                makeResponder: makeResponder, logger: logger)
            threads.append(PosixThread.start { worker.run() })
        }
    }

    /// Lets the threads finish what they have, the connections already waiting in the listen
    /// backlog (for up to a second) and what nginx has already sent on kept connections, and
    /// waits for them. A server replaced by another (whose socket is at the path now) gets no new
    /// connections, so its backlog empties and none that nginx has sent it is dropped. The
    /// listening socket is then closed, so that once every process has, new connections are
    /// refused at once instead of waiting in the backlog.
    func stop() {
        pool.stop()
        let stopping = Self.monotonicSeconds()
        var accepting = true
        var listening = true
        while !pool.allStopped {
            if accepting && Self.monotonicSeconds() - stopping > Self.backlogDrainSeconds {
                queue.stopAccepting()
                accepting = false
            }
            if pool.anyWaiting {
                queue.wakeOne()
            } else if listening && !accepting {
                close(socket)
                listening = false
            }
            usleep(1_000)
        }
        if accepting { queue.stopAccepting() }
        if listening { close(socket) }
        for thread in threads { pthread_join(thread, nil) }
    }

    /// How long a stopping process goes on taking connections from the listen backlog: those of
    /// a crowd still arriving (the socket being still at its path) are left to the next server.
    static let backlogDrainSeconds = 1.0

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// Why the server could not start.
public enum FastCGIError: Error, CustomStringConvertible {
    case setup(String)

    public var description: String {
        switch self {
        case .setup(let reason): reason
        }
    }
}

/// Shared state of a process's worker threads: whether to stop, how many wait for a
/// connection, how many still run, and when a failure to accept was last logged.
final class WorkerPool: Sendable {
    private let stopping = Atomic(false)
    private let waiting = Atomic(0)
    private let running: Atomic<Int>
    private let lastFailureLogSecond = Atomic(Int.min)

    init(count: Int) { running = Atomic(count) }

    var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) }
    var anyWaiting: Bool { waiting.load(ordering: .sequentiallyConsistent) > 0 }
    var allStopped: Bool { running.load(ordering: .sequentiallyConsistent) == 0 }
    func stop() { stopping.store(true, ordering: .sequentiallyConsistent) }

    /// Counts the worker as waiting for a connection, unless the pool is stopping. (Counted
    /// before `stopping` is read, so `stop` either sees it waiting or it sees `stopping`.)
    func beginWaiting() -> Bool {
        waiting.add(1, ordering: .sequentiallyConsistent)
        guard !isStopping else {
            endWaiting()
            return false
        }
        return true
    }

    func endWaiting() { waiting.subtract(1, ordering: .sequentiallyConsistent) }
    func workerExited() { running.subtract(1, ordering: .sequentiallyConsistent) }

    /// True for the first failure to accept in each second of `second` (a monotonic clock's),
    /// for one thread: out of descriptors, every waiting thread fails every 100 ms, and the
    /// process logs it once a second instead of up to 80 times.
    func shouldLogFailure(atSecond second: Int) -> Bool {
        let last = lastFailureLogSecond.load(ordering: .relaxed)
        return second > last && lastFailureLogSecond.compareExchange(expected: last, desired: second, ordering: .relaxed).exchanged
    }
}
