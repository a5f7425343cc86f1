import CFastCGI
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A libfcgi responder: a pool of worker threads, each with its own `FCGX_Request` and
/// responder, each blocked in `FCGX_Accept_r` on the shared listening socket.
///
/// libfcgi's examples serialise accept with a mutex because "some platforms require accept()
/// serialization"; Linux does not (accept wakes one waiter, and this libfcgi build takes no lock
/// of its own), so there is none: one part less, and no lock handed over on every request.
///
/// Connections are not kept open between requests (nginx's default `fastcgi_keep_conn off`):
/// a kept connection would pin a thread until nginx closes it, and with more upstream
/// connections than threads the extra ones would wait unaccepted.
///
/// Signals are handled in one place: SIGTERM or SIGINT stops accepting, lets requests in
/// flight finish, and returns from `run`. SIGPIPE is ignored, so a client that disconnects
/// mid-response only ends its own request.
public final class FastCGIServer: Sendable {
    private let configuration: FastCGIConfiguration
    private let makeResponder: @Sendable () -> any Responder
    private let logger: Logger

    public init(configuration: FastCGIConfiguration, logger: Logger, makeResponder: @escaping @Sendable () -> any Responder) {
        self.configuration = configuration
        self.logger = logger
        self.makeResponder = makeResponder
    }

    /// Whether this process is a worker started by a supervising process (which prepares
    /// shared resources, such as the database schema, once for all of them).
    public static var isWorkerProcess: Bool { ProcessSupervisor.isChild }

    /// The filesystem path of the unix socket the workers listen on (for `.inherited`, what fd 0
    /// is bound to), or nil when it has none.
    public static func socketPath(of listener: FastCGIConfiguration.Listener) -> String? {
        if case .unixSocket(let path, _) = listener { return path }
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(0, $0, &length) }
        }
        guard bound == 0, address.sun_family == sa_family_t(AF_UNIX) else { return nil }
        let path = withUnsafeBytes(of: address.sun_path) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return path.isEmpty ? nil : path
    }

    /// Serves until SIGTERM or SIGINT. With `processes` above 1, supervises that many copies
    /// of this program instead (see `ProcessSupervisor`).
    public func run() throws(FastCGIError) {
        Signals.prepareProcess()
        let socket = try openListener()
        if configuration.processes > 1 && !ProcessSupervisor.isChild {
            try ProcessSupervisor(socket: socket, processes: configuration.processes, logger: logger).run()
        } else {
            ProcessSupervisor.exitWithParent()
            serve(on: socket)
        }
    }

    private func openListener() throws(FastCGIError) -> Int32 {
        if ProcessSupervisor.isChild { return 0 }
        guard FCGX_Init() == 0 else { throw .setup("FCGX_Init failed") }
        switch configuration.listener {
        case .inherited:
            var type: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else {
                throw .setup("file descriptor 0 is not a listening socket; give a socket path instead")
            }
            return 0
        case .unixSocket(let path, let mode):
            var status = stat()
            if lstat(path, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFSOCK else { throw .setup("\(path) exists and is not a socket") }
                unlink(path)
            }
            let descriptor = FCGX_OpenSocket(path, configuration.backlog)
            guard descriptor >= 0 else { throw .setup("cannot listen on \(path): \(String(cString: strerror(errno)))") }
            guard chmod(path, mode_t(mode)) == 0 else { throw .setup("cannot set the mode of \(path)") }
            return descriptor
        }
    }

    /// Runs the worker threads on `socket` until a stop signal, then waits for them.
    private func serve(on socket: Int32) {
        if ProcessSupervisor.isChild { guard FCGX_Init() == 0 else { return } }
        let pool = WorkerPool(count: configuration.threads)
        var threads: [pthread_t] = []
        for index in 0..<configuration.threads {
            let worker = Worker(index: index, socket: socket, pool: pool, maximumBodyBytes: configuration.maximumBodyBytes,
                                makeResponder: makeResponder, logger: logger)
            threads.append(Thread.start { worker.run() })
        }
        logger.info("serving FastCGI", metadata: ["pid": "\(getpid())", "threads": "\(configuration.threads)"])
        let signal = Signals.waitForStop()
        logger.info("stopping: finishing requests in flight", metadata: ["signal": "\(signal)", "pid": "\(getpid())"])
        pool.stop()
        FCGX_ShutdownPending()
        // A thread blocked in accept() wakes only on a signal: nudge until none is accepting.
        // Then close this process's copy of the listening socket, so that once every process
        // has, new connections are refused at once instead of waiting in the backlog.
        var listening = true
        while !pool.allStopped {
            var accepting = false
            for (index, thread) in threads.enumerated() where pool.isAccepting(index) {
                pthread_kill(thread, SIGUSR1)
                accepting = true
            }
            if listening && !accepting {
                close(socket)
                listening = false
            }
            usleep(20_000)
        }
        if listening { close(socket) }
        for thread in threads { pthread_join(thread, nil) }
        logger.info("stopped", metadata: ["pid": "\(getpid())"])
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

/// Shared state of a process's worker threads: whether to stop, and who is blocked in accept.
final class WorkerPool: Sendable {
    private struct State {
        var stopping = false
        var accepting: [Bool]
        var running: Int
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(accepting: Array(repeating: false, count: count), running: count))
    }

    var isStopping: Bool { state.withLock { $0.stopping } }
    var allStopped: Bool { state.withLock { $0.running == 0 } }
    func stop() { state.withLock { $0.stopping = true } }
    func isAccepting(_ index: Int) -> Bool { state.withLock { $0.accepting[index] } }

    /// Marks the worker as about to accept, unless the pool is stopping.
    func beginAccept(_ index: Int) -> Bool {
        state.withLock {
            guard !$0.stopping else { return false }
            $0.accepting[index] = true
            return true
        }
    }

    func endAccept(_ index: Int) { state.withLock { $0.accepting[index] = false } }
    func workerExited() { state.withLock { $0.running -= 1 } }
}
