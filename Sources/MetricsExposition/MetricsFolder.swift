import Logging
import PosixThread
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// A private folder where each worker process writes its metrics once a second, and from which
/// the supervising process sums them for a scrape: the workers' registries are in their own
/// memory, and a scrape must see the whole host whichever worker served which request.
///
/// A worker's file is named by its process id and start time, so that a new worker never takes
/// the name of one that exited; the files of workers that exited are summed into `retired` and
/// removed, so that their counts stay in the totals and the folder does not grow with restarts.
public final class MetricsFolder: @unchecked Sendable {
    public let path: String
    private var retired = ""  // touched by the scraping thread only

    /// The folder at `path`, which the supervising process makes (`create`) and its workers write in.
    public init(path: String) { self.path = path }

    /// Makes the folder at `path`, readable by this user only.
    public static func create(at path: String) throws(MetricsError) -> MetricsFolder {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw MetricsError("cannot make a folder for the workers' metrics at \(path): \(SystemError.last())")
        }
        return MetricsFolder(path: path)
    }

    /// Writes this process's metrics every second on a thread of its own, for as long as the
    /// process runs (and once more at `writeNow`, when it stops).
    public func startWriting(logger: Logger) {
        let name = "\(path)/\(getpid())-\(Self.monotonicNanoseconds()).prom"
        let writer = Writer(name: name, logger: logger)
        writerBox = writer
        pthread_detach(
            PosixThread.start {
                while true {
                    writer.write()
                    sleep(1)
                }
            })
    }

    private var writerBox: Writer?

    /// Writes this process's metrics now (a worker that stops writes its last counts).
    public func writeNow() { writerBox?.write() }

    /// The workers' texts: those of running workers as they last wrote them, and the sum of those
    /// that exited.
    public func workerTexts() -> [String] {
        guard case .success(let entries) = folderEntries(path) else { return [retired] }
        var texts: [String] = []
        var exited: [String] = []
        for name in entries.map(\.name) {
            guard name.hasSuffix(".prom"), let pid = Int32(name.prefix { $0 != "-" }) else { continue }
            guard let text = Self.read("\(path)/\(name)") else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                exited.append(text)
                unlink("\(path)/\(name)")
            } else {
                texts.append(text)
            }
        }
        if !exited.isEmpty { retired = Exposition.sum([retired] + exited) }
        return texts + [retired]
    }

    private static func read(_ file: String) -> String? {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(descriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func monotonicNanoseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1_000_000_000 + now.tv_nsec
    }

    /// Writes the registry to a file of the worker's own, whole (a new file renamed over the old),
    /// so that the scraping process never reads half of one.
    private final class Writer: @unchecked Sendable {
        let name: String
        let logger: Logger
        private var failed = false
        private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

        init(name: String, logger: Logger) {
            self.name = name
            self.logger = logger
            pthread_mutex_init(lock, nil)
        }

        func write() {
            pthread_mutex_lock(lock)
            defer { pthread_mutex_unlock(lock) }
            let bytes = ProcessMetrics.registry.emitToBuffer()
            let temporary = name + ".new"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            var written = descriptor >= 0
            if descriptor >= 0 {
                written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) } == bytes.count
                close(descriptor)
            }
            if written && rename(temporary, name) == 0 {
                failed = false
            } else if !failed {
                failed = true  // logged once until it works again
                logger.error("cannot write this worker's metrics", metadata: ["file": "\(name)", "error": "\(SystemError.last())"])
            }
        }
    }
}

/// Why metrics cannot be served, in words for the operator.
public struct MetricsError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
