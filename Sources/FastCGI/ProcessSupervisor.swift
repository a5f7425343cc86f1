import CFastCGI
import CoreMetrics
import Logging
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// Runs several worker processes on one listening socket, as a pre-forking FastCGI server does.
///
/// Each worker is this same program started again (posix_spawn, not fork, so no thread state is
/// copied) with the socket on file descriptor 0 and `FASTCGI_WORKER_PROCESS=1` in its
/// environment. The supervisor restarts a worker that dies, forwards SIGTERM/SIGINT to all of
/// them, waits for them to finish their requests, and then returns; it does the same when
/// another server's socket replaces its own (see `SocketFile`). A worker whose supervisor is
/// killed outright serves on (nothing restarts it if it dies) until it is stopped or replaced:
/// a supervisor that dies alone is no outage, and the next start replaces its workers.
struct ProcessSupervisor {
    static let childVariable = "FASTCGI_WORKER_PROCESS"
    static var isChild: Bool { getenv(childVariable) != nil }

    /// The listening socket, close-on-exec: workers get it as fd 0 and no other copy, which
    /// would keep it listening after they close fd 0 on shutdown.
    private let socket: Int32
    private let socketFile: SocketFile?
    let processes: Int
    let logger: Logger
    private let restarts = Counter(label: "fastcgi_worker_restarts_total")

    init(socket: Int32, socketFile: SocketFile?, processes: Int, logger: Logger) throws(FastCGIError) {
        self.socketFile = socketFile
        self.socket = fcntl(socket, F_DUPFD_CLOEXEC, 3)
        guard self.socket >= 0 else { throw .setup("cannot keep the listening socket: \(SystemError.last())") }
        close(socket)
        if socket == 0 { _ = open("/dev/null", O_RDONLY) }  // keep fd 0 taken
        self.processes = processes
        self.logger = logger
    }

    func run() throws(FastCGIError) {
        var set = Signals.stopSet(adding: [SIGCHLD])
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var children: Set<pid_t> = []
        var recentRestarts: [time_t] = []
        for _ in 0..<processes { children.insert(try spawn()) }
        logger.info("supervising worker processes", metadata: ["pid": "\(getpid())", "workers": "\(children.sorted())"])

        var stopping = false
        func stop(_ signal: Int32) {
            stopping = true
            logger.info("stopping worker processes", metadata: ["signal": "\(signal)"])
            close(socket)  // the workers close theirs once no thread accepts; then connects are refused
            for child in children { kill(child, SIGTERM) }
        }
        while !children.isEmpty {
            var second = timespec(tv_sec: 1, tv_nsec: 0)
            let received = sigtimedwait(&set, nil, &second)  // -1: a second without a signal
            if received > 0 && received != SIGCHLD && !stopping { stop(received) }
            if received < 0 && !stopping, let socketFile, socketFile.isReplaced {
                logger.info("another server's socket is at \(socketFile.path) now: stopping", metadata: ["pid": "\(getpid())"])
                stop(SIGTERM)
            }
            var status: Int32 = 0
            while case let pid = waitpid(-1, &status, WNOHANG), pid > 0 {
                children.remove(pid)
                guard !stopping else { continue }
                logger.error("worker process exited; starting another", metadata: ["pid": "\(pid)", "status": "\(status)"])
                restarts.increment()
                let now = time(nil)
                recentRestarts = recentRestarts.filter { now - $0 < 10 } + [now]
                // Crashing at start-up: do not spin, and take a stop signal meanwhile (a worker that
                // dies again within the pause would otherwise keep this loop from sigwait for good).
                if recentRestarts.count > processes * 3 && Signals.waitForStop(atMost: 1) != nil {
                    stop(SIGTERM)
                    continue
                }
                children.insert(try spawn())
            }
        }
        logger.info("all worker processes stopped")
    }

    private func spawn() throws(FastCGIError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, socket, 0)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let arguments = CommandLine.arguments
        var environment = ProcessEnvironment.current().filter {
            !$0.hasPrefix("\(Self.childVariable)=") && !$0.hasPrefix("\(SocketFile.variable)=")
        }
        environment.append("\(Self.childVariable)=1")
        if let socketFile { environment.append("\(SocketFile.variable)=\(socketFile.environmentValue)") }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, envp)
        guard result == 0 else { throw .setup("cannot start a worker process: \(SystemError(number: result))") }
        return pid
    }
}

/// The process's environment as `NAME=value` strings.
enum ProcessEnvironment {
    static func current() -> [String] {
        var entries: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            entries.append(String(cString: entry))
            pointer += 1
        }
        return entries
    }
}
