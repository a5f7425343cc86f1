import CFastCGI
import Synchronization
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// Hands one worker process's threads the FastCGI connections that have a request waiting, each
/// to one thread: new connections on the listening socket, and connections the web server keeps
/// open between requests (nginx `fastcgi_keep_conn on`) once it sends another request on them.
///
/// An idle kept connection waits here, in epoll, not in a thread: threads serve whichever
/// connection is ready, so however many connections nginx keeps, none of them holds a thread
/// and new connections are never left waiting behind them. Connections are registered
/// one-shot, so each readiness goes to exactly one thread, which re-arms it when done; the
/// listening socket is level-triggered and exclusive (one process woken per new connection).
///
/// A connection belongs either to the queue (idle, its byte in `held` set) or to the one thread
/// serving it; whoever clears a held byte takes the connection (a thread to serve it, or
/// `closeIdle`, which closes the queue's own at shutdown). No lock is taken per request.
final class ConnectionQueue: Sendable {
    enum Next: Equatable {
        /// A connection to read a request from (or to find closed by the web server).
        case connection(Int32)
        /// `wakeOne` (at shutdown) or a signal interrupted the wait.
        case interrupted
        /// Nothing is ready (only when not waiting).
        case empty
        /// Accepting failed (for example with EMFILE); the caller pauses.
        case failed(SystemError)
    }

    /// How long a thread waits for the bytes of a request on a connection before giving it up.
    /// nginx sends a request (body included, buffered by nginx) at once, so only a stuck or
    /// foreign client ever meets it.
    static let requestReadTimeoutSeconds = 10

    private let epoll: Int32
    private let listener: Int32
    private let peers: WebServerAddresses
    /// Always readable; registered with no events until `wakeOne` arms it for one waiter.
    private let wakeUp: Int32
    /// One byte per descriptor number: 1 while the queue holds that connection.
    nonisolated(unsafe) private let held: UnsafeMutablePointer<Atomic<UInt8>>  // read and written atomically only
    /// Descriptor numbers stay below this (see `keepDescriptorsSelectable`).
    private static let capacity = Int(FD_SETSIZE)
    private let closed = Atomic(false)
    private static let listenerKey = UInt64.max
    private static let wakeUpKey = UInt64.max - 1
    private static let oneShotRead = EPOLLIN.rawValue | EPOLLONESHOT.rawValue

    /// - Parameter allowedPeers: the only addresses TCP connections are taken from; nil: any.
    init(listener: Int32, allowedPeers: [String]? = nil) throws(FastCGIError) {
        let flags = fcntl(listener, F_GETFL)
        guard flags >= 0, fcntl(listener, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw .setup("cannot make the listening socket non-blocking: \(SystemError.last())")
        }
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw .setup("epoll_create1 failed: \(SystemError.last())") }
        self.listener = listener
        peers = WebServerAddresses(allowed: allowedPeers, listener: listener)
        Self.keepDescriptorsSelectable()
        held = .allocate(capacity: Self.capacity)
        for number in 0..<Self.capacity { (held + number).initialize(to: Atomic(0)) }
        wakeUp = eventfd(1, Int32(EFD_CLOEXEC))
        var dormant = epoll_event()
        dormant.data.u64 = Self.wakeUpKey
        guard wakeUp >= 0, epoll_ctl(epoll, EPOLL_CTL_ADD, wakeUp, &dormant) == 0,
            Self.watch(epoll, listener)
        else {
            let reason = SystemError.last()
            close(epoll)
            if wakeUp >= 0 { close(wakeUp) }
            held.deinitialize(count: Self.capacity)
            held.deallocate()
            throw .setup("cannot watch the listening socket: \(reason)")
        }
    }

    deinit {
        close(epoll)
        close(wakeUp)
        held.deinitialize(count: Self.capacity)
        held.deallocate()
    }

    /// Wakes one thread waiting in `next` (or the next one to wait) with `.interrupted`.
    func wakeOne() { _ = Self.arm(epoll, EPOLL_CTL_MOD, wakeUp, key: Self.wakeUpKey) }

    /// Stops taking new connections (at shutdown, before the listening socket is closed).
    func stopAccepting() { epoll_ctl(epoll, EPOLL_CTL_DEL, listener, nil) }

    /// The next connection with a request waiting. With `wait`, blocks until there is one (or
    /// `wakeOne`); without (draining at shutdown), returns `.empty` at once when none is ready.
    func next(wait: Bool) -> Next {
        while true {
            var event = epoll_event()
            let count = epoll_wait(epoll, &event, 1, wait ? -1 : 0)
            if count < 0, case let error = SystemError.last() { return error.number == EINTR ? .interrupted : .failed(error) }
            if count == 0 { return .empty }
            let key = event.data.u64
            if key == Self.wakeUpKey { return .interrupted }
            if key != Self.listenerKey {
                let connection = Int32(truncatingIfNeeded: key)
                // Taken from the queue; one that `closeIdle` has just closed is skipped.
                if take(connection) { return .connection(connection) }
                continue
            }
            let connection = accept(listener, nil, nil)
            guard connection < 0 else {
                guard peers.admit(connection) else {
                    close(connection)  // not one of the web servers
                    continue
                }
                Self.limitReadWait(connection)
                return .connection(connection)
            }
            let error = SystemError.last()
            switch error.number {
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO: continue  // another process took it, or the peer left
            default: return .failed(error)
            }
        }
    }

    /// Waits for the next request on a connection the web server keeps open; after
    /// `closeIdle`, closes it instead (its response has been sent in full).
    func keep(_ connection: Int32) {
        guard !closed.load(ordering: .sequentiallyConsistent), isHoldable(connection) else {
            close(connection)  // nginx sees it closed and opens another when it needs one
            return
        }
        held[Int(connection)].store(1, ordering: .sequentiallyConsistent)
        let key = UInt64(UInt32(bitPattern: connection))
        let armed =
            Self.arm(epoll, EPOLL_CTL_MOD, connection, key: key)
            || (SystemError.last().number == ENOENT && Self.arm(epoll, EPOLL_CTL_ADD, connection, key: key))
        // Not watched, or `closeIdle` began meanwhile and may have missed it: close it, unless
        // a thread or `closeIdle` has taken it already.
        if (!armed || closed.load(ordering: .sequentiallyConsistent)) && take(connection) { close(connection) }
    }

    /// Closes every idle kept connection, and every one handed back from now on: at shutdown,
    /// once nothing more is ready, so that nginx sends no further requests to this process.
    func closeIdle() {
        closed.store(true, ordering: .sequentiallyConsistent)
        for number in 0..<Self.capacity where take(Int32(number)) { close(Int32(number)) }
    }

    /// Whether the queue has a byte for this descriptor number.
    private func isHoldable(_ connection: Int32) -> Bool {
        connection >= 0 && Int(connection) < Self.capacity
    }

    /// Takes a connection the queue holds (true), or finds it taken already (false).
    private func take(_ connection: Int32) -> Bool {
        isHoldable(connection) && held[Int(connection)].compareExchange(expected: 1, desired: 0, ordering: .sequentiallyConsistent).exchanged
    }

    /// libfcgi waits on a connection it closes with select(), which cannot take a descriptor
    /// above FD_SETSIZE - 1 (glibc aborts), so the process's descriptor limit is lowered to
    /// FD_SETSIZE where it is higher. Accepting beyond it fails with EMFILE, which the workers
    /// wait out.
    private static func keepDescriptorsSelectable() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur > rlim_t(capacity) else { return }
        limit.rlim_cur = rlim_t(capacity)
        setrlimit(resource, &limit)
    }

    private static func watch(_ epoll: Int32, _ listener: Int32) -> Bool {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue
        event.data.u64 = listenerKey
        return epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event) == 0
    }

    private static func arm(_ epoll: Int32, _ operation: Int32, _ descriptor: Int32, key: UInt64) -> Bool {
        var event = epoll_event()
        event.events = oneShotRead
        event.data.u64 = key
        return epoll_ctl(epoll, operation, descriptor, &event) == 0
    }

    private static func limitReadWait(_ connection: Int32) {
        var timeout = timeval(tv_sec: requestReadTimeoutSeconds, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}
