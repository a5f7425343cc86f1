import Logging
import Synchronization
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// Large response bodies as files that nginx sends itself: the response names the file in an
/// `X-Accel-Redirect` header instead of carrying megabytes through the FastCGI socket, and nginx
/// serves it as it serves a static file. Each cached body is written once, to a file of its own
/// that never changes; the file is removed `retention` seconds after its body was replaced,
/// since nginx may not have opened it yet. The folder belongs to one server (its processes
/// name their files by process id), on the host where its nginx runs.
final class LargeBodyFiles: Sendable {
    /// A body's file: where it is, and the URI nginx serves it at (an `internal` location).
    struct File: Sendable, Equatable {
        let path: String
        let uri: String
    }

    /// The nginx location that serves the folder (see nginx/booking-site.conf).
    static let uriPrefix = "/_large/"
    private static let namePrefix = "booking-body-"

    let directory: String
    private let retention: Double
    private let clock: ReadClock
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var written = 0
        var retired: [(path: String, at: Double)] = []
    }

    /// - Parameters:
    ///   - directory: the folder, created if missing; nginx must be able to read it.
    ///   - retention: seconds a replaced body's file is kept for the responses that named it.
    init(directory: String, retention: Double = 2, clock: ReadClock, logger: Logger) {
        self.directory = directory
        self.retention = retention
        self.clock = clock
        self.logger = logger
    }

    /// Creates the folder if needed and removes the files that processes no longer running left
    /// there. For the process that starts the server, before its workers run, and after they
    /// stopped; the files of a server still running beside it (the one it replaces, or the one
    /// replacing it) stay, as nginx may be sending them.
    func prepare() throws(FolderError) {
        try createFolder(directory, setting: "LARGE_BODY_DIR")
        try removeFiles(writtenBy: { writer in kill(writer, 0) != 0 && errno == ESRCH })
    }

    /// Removes this server's files (`booking-body-<process id>-<number>.json`) whose writer
    /// `matches`.
    private func removeFiles(writtenBy matches: (pid_t) -> Bool) throws(FolderError) {
        for name in try fileNames(in: directory, setting: "LARGE_BODY_DIR") where name.hasPrefix(Self.namePrefix) && name.hasSuffix(".json") {
            if let writer = pid_t(name.dropFirst(Self.namePrefix.count).prefix { $0 != "-" }), matches(writer) {
                unlink(directory + "/" + name)
            }
        }
    }

    /// Writes `body` to a new file, readable by nginx, modified at `modified` (seconds since
    /// 1970: see `EntityTag`). Nil when it cannot be written (the body is then sent through
    /// FastCGI as usual).
    func write(_ body: [UInt8], modified: Int64) -> File? {
        let number = state.withLock { state in
            state.written += 1
            return state.written
        }
        removeExpired()
        let name = "\(Self.namePrefix)\(getpid())-\(number).json"
        let path = directory + "/" + name
        guard writeNewFile(path, body, modified: modified, logger: logger) else { return nil }
        // A worker that died (and was replaced) could not remove its files: its successors do.
        try? removeFiles { kill($0, 0) != 0 && SystemError.last().number == ESRCH }
        return File(path: path, uri: Self.uriPrefix + name)
    }

    /// Marks `file` for removal once `retention` has passed.
    func retire(_ file: File) {
        let now = clock.monotonic()
        state.withLock { $0.retired.append((file.path, now)) }
        removeExpired()
    }

    /// Removes the retired files whose time is up.
    private func removeExpired() {
        let deadline = clock.monotonic() - retention
        let expired = state.withLock { state in
            let count = state.retired.prefix { $0.at <= deadline }.count
            defer { state.retired.removeFirst(count) }
            return state.retired.prefix(count).map(\.path)
        }
        for path in expired { unlink(path) }
    }
}
