import Atomics  // for the lock file's shared word only
import Logging
import Synchronization
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// The catalog (`GET /services`) published as files that nginx serves itself, without asking the
/// workers: `services-<second>.json` (and `.json.gz`) holds a body built during that second of
/// the wall clock, and nginx looks only for the file of its current second (see
/// nginx/booking-site.conf). So a published body is served for less than a second after its
/// build began, the bound for changes made on other hosts, even if no worker runs any more.
///
/// `ReadModel.recordChange` withdraws every published file once a change is counted; a body is
/// published only while the counters still show the version it was built from. Both steps hold a
/// lock shared by the host's processes, so a publication never lands after the withdrawal of a
/// change it does not hold. A read that nginx finds withdrawn goes to the workers. A withdrawal
/// takes the lock only when something may have been published since the last one.
final class PublishedBodies: Sendable {
    /// The published paths and the stems of their file names.
    static let stems = ["/services": "services"]
    private static let publishedPrefixes = stems.values.map { $0 + "-" }
    private static let writingPrefix = ".writing-"
    private static let lockName = ".lock"

    let directory: String
    private let counters: MappedChangeCounters
    private let clock: ReadClock
    private let logger: Logger
    /// The body this process was handed last per path (its second and the counters' version it
    /// was built from), and whether it tried to publish it: a body is tried once, so a folder
    /// that cannot be written costs a write per body and second, not one per read.
    private let handed = Mutex<[String: (second: Int, version: UInt64, tried: Bool)]>([:])
    /// Held by the thread of this process that is publishing; the others leave it to that one.
    private let publishing = Mutex<Void>(())
    /// The lock file, opened and mapped by this process at first use (the folder exists once the
    /// server has prepared it). flock(2) on it orders publications and withdrawals between
    /// processes. Its first word (`mayBePublished`), shared by them all, is set by a publisher
    /// before it reads the counters and cleared by a withdrawal once the published files are
    /// gone: a withdrawal that finds it clear after its change was counted has nothing to remove,
    /// since a publisher setting it later reads the counters after that change.
    private let lockFile = AtomicLazyReference<MappedPage>()
    /// Held with the host's lock: flock(2) excludes other open files, not this process's threads.
    private let threads = Mutex<Void>(())

    /// - Parameters:
    ///   - directory: the folder, created by `prepare`; nginx must be able to read it.
    ///   - counters: the host's change counters, the ones every change is counted in.
    ///   - clock: its wall clock names files by the second, as nginx's `$msec` reads it.
    init(directory: String, counters: MappedChangeCounters, clock: ReadClock, logger: Logger) {
        self.directory = directory
        self.counters = counters
        self.clock = clock
        self.logger = logger
    }

    /// Creates the folder if needed and removes every file a process left there. For the process
    /// that starts the server, before its workers run, and after they stopped.
    func prepare() throws(FolderError) {
        try createFolder(directory, setting: "PUBLISH_DIR")
        for name in try fileNames(in: directory, setting: "PUBLISH_DIR") where name != Self.lockName { unlink(directory + "/" + name) }
    }

    /// Called for each read of `path` the workers answer, with the body built from `version` in
    /// `second` (`version` read before the build began). The second read of the same body
    /// publishes it: `forms` gives the body and its gzip form, if any. (Under steady bookings a
    /// body is often replaced before a second read; publishing it, gzip included, would be wasted.)
    /// Nothing is published once the second has passed or a change was counted since `version`.
    /// Failures are logged: nginx then asks the workers, as without publication.
    func offer(_ path: String, version: UInt64, builtIn second: Int, forms: () -> (body: [UInt8], gzip: [UInt8]?, contentTime: Int64)) {
        guard let stem = Self.stems[path], second == clock.second else { return }
        let secondRead = handed.withLock { handed in
            if let last = handed[path], last.second == second && last.version == version { return !last.tried }
            handed[path] = (second, version, false)
            return false
        }
        guard secondRead else { return }
        publishing.withLockIfAvailable { _ in
            handed.withLock { $0[path] = (second, version, true) }
            let (body, gzip, contentTime) = forms()
            publish(stem, body: body, gzip: gzip, contentTime: contentTime, version: version, builtIn: second)
        }
    }

    /// Publishes `stem`'s files for `second` if no change was counted since `version`, both
    /// forms modified at the body's `contentTime` (nginx's ETag for them: see `EntityTag`).
    private func publish(_ stem: String, body: [UInt8], gzip: [UInt8]?, contentTime: Int64, version: UInt64, builtIn second: Int) {
        let name = "\(stem)-\(second).json"
        let scratch = "\(Self.writingPrefix)\(getpid())-\(stem)"
        var files: [(scratch: String, name: String, bytes: [UInt8])] = [(scratch + ".json", name, body)]
        if let gzip { files.insert((scratch + ".json.gz", name + ".gz", gzip), at: 0) }  // in place before its plain form
        guard files.allSatisfy({ writeNewFile(directory + "/" + $0.scratch, $0.bytes, modified: contentTime, logger: logger) }) else {
            for file in files { unlink(directory + "/" + file.scratch) }
            return
        }
        let published = withHostLock { lockFile -> Bool in
            guard let lockFile else { return false }
            // Before the counters are read: a change counted after this read sees it and withdraws.
            Self.mayBePublished(lockFile).store(1, ordering: .sequentiallyConsistent)
            Synchronization.atomicMemoryFence(ordering: .sequentiallyConsistent)
            guard counters.availabilityVersion == version && clock.second == second else { return false }
            for file in files where rename(directory + "/" + file.scratch, directory + "/" + file.name) != 0 {
                logger.warning("cannot publish a body", metadata: ["file": "\(file.name)", "error": "\(SystemError.last())"])
                removePublished { _ in true }
                return false
            }
            removePublished { !$0.contains("-\(second).json") }  // other seconds' files, never served again
            return true
        }
        if !published {
            for file in files { unlink(directory + "/" + file.scratch) }
        }
    }

    /// Removes every published file, so that nginx asks the workers again. Called by
    /// `ReadModel.recordChange` once a change has been counted, before it is confirmed.
    func withdraw() {
        Synchronization.atomicMemoryFence(ordering: .sequentiallyConsistent)  // the change's count comes first
        if let lockFile = mappedLockFile(), Self.mayBePublished(lockFile).load(ordering: .sequentiallyConsistent) == 0 { return }
        withHostLock { lockFile in
            removePublished { _ in true }
            lockFile.map { Self.mayBePublished($0).store(0, ordering: .sequentiallyConsistent) }
        }
    }

    /// Removes the published files whose names `match`.
    private func removePublished(where match: (String) -> Bool) {
        for name in (try? fileNames(in: directory, setting: "PUBLISH_DIR")) ?? []
        where Self.publishedPrefixes.contains(where: name.hasPrefix) && match(name) {
            unlink(directory + "/" + name)
        }
    }

    /// Runs `body` holding the host's lock (the lock file, given to it), or with nil when it
    /// cannot be had (the lock file cannot be opened): then `body` may only remove files.
    private func withHostLock<Result>(_ body: (MappedPage?) -> Result) -> Result {
        threads.withLock { _ in
            let lockFile = mappedLockFile()
            let locked = lockFile.map { flock($0.descriptor, LOCK_EX) == 0 } ?? false
            defer { if locked { flock(lockFile!.descriptor, LOCK_UN) } }
            return body(locked ? lockFile : nil)
        }
    }

    private func mappedLockFile() -> MappedPage? {
        if let page = lockFile.load() { return page }
        return MappedPage(path: directory + "/" + Self.lockName).map { lockFile.storeIfNil($0) }
    }

    private static func mayBePublished(_ lockFile: MappedPage) -> UnsafeAtomic<UInt64> { lockFile.word(0) }
}
