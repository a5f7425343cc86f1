@testable import BookingAPI
import HostCounters
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The catalog published for nginx: at its second read, for the second its build began in, only
/// while no change was counted since, and withdrawn by every change counted afterwards.
@Suite final class PublishedBodiesTests {
    let directory = "/tmp/published-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let counters = MappedChangeCounters()
    let clock = Clock()
    let body = Array("{\"services\":[]}".utf8)
    let compressed = Array("gzip form".utf8)

    /// A wall clock the test sets.
    final class Clock: Sendable {
        let now = Mutex<Double>(1_000.5)
        func set(_ seconds: Double) { now.withLock { $0 = seconds } }
    }

    deinit { removeFolder(directory) }

    func published() throws -> PublishedBodies {
        let clock = clock
        let published = PublishedBodies(directory: directory, counters: counters, clock: { clock.now.withLock { $0 } },
                                        logger: Logger(label: "test"))
        try published.prepare()
        return published
    }

    /// The files nginx may serve (the lock file aside).
    func names() -> [String] { (fileNames(in: directory) ?? []).filter { $0 != ".lock" }.sorted() }

    func offer(_ published: PublishedBodies, _ path: String = "/services", version: UInt64? = nil, builtIn second: Int = 1_000,
               times: Int = 2) {
        for _ in 0..<times {
            published.offer(path, version: version ?? counters.availabilityVersion, builtIn: second) { (body, compressed) }
        }
    }

    @Test func theSecondReadOfABodyPublishesItForTheSecondItsBuildBeganIn() throws {
        let published = try published()
        offer(published, times: 1)
        #expect(names().isEmpty, "one read: it may be replaced before another")
        offer(published, times: 1)
        #expect(names() == ["services-1000.json", "services-1000.json.gz"])
        #expect(contentsOfFile(directory + "/services-1000.json") == body)
        #expect(contentsOfFile(directory + "/services-1000.json.gz") == compressed)
        var status = stat()
        #expect(stat(directory + "/services-1000.json", &status) == 0 && status.st_mode & 0o777 == 0o644, "nginx may run as another user")
    }

    @Test func aBodyWithoutAGzipFormIsPublishedWithoutOne() throws {
        let published = try published()
        for _ in 0..<2 { published.offer("/services", version: counters.availabilityVersion, builtIn: 1_000) { (body, nil) } }
        #expect(names() == ["services-1000.json"])
    }

    @Test func aBodyBuiltBeforeAChangeIsNeverPublished() throws {
        let published = try published()
        let version = counters.availabilityVersion
        counters.availabilityChanged()
        offer(published, version: version)
        #expect(names().isEmpty)
        #expect((fileNames(in: directory) ?? []) == [".lock"], "no scratch file left")
    }

    @Test func aBodyIsNotPublishedOnceItsSecondHasPassed() throws {
        let published = try published()
        clock.set(1_001.01)
        offer(published, builtIn: 1_000)
        #expect(names().isEmpty, "nginx would serve it until 1002, up to 2 s after its build began")
    }

    @Test func aFolderThatCannotBeWrittenCostsOneAttemptPerBodyNotOnePerRead() throws {
        let clock = clock
        let published = PublishedBodies(directory: "/proc/published", counters: counters, clock: { clock.now.withLock { $0 } },
                                        logger: Logger(label: "test"))
        #expect(throws: FolderError.self) { try published.prepare() }
        var attempts = 0
        for _ in 0..<4 {
            published.offer("/services", version: counters.availabilityVersion, builtIn: 1_000) {
                attempts += 1
                return (body, compressed)
            }
        }
        #expect(attempts == 1, "the second read tries; the later ones find it tried")
    }

    @Test func onlyTheCatalogIsPublished() throws {
        let published = try published()
        offer(published, "/services/one")
        #expect(names().isEmpty)
    }

    @Test func everyChangeCountedWithdrawsThePublishedFiles() throws {
        let published = try published()
        let changes = WithdrawingChangeCounters(counters, withdrawing: published)
        offer(published)
        #expect(names().count == 2)
        let version = changes.availabilityVersion
        changes.availabilityChanged()
        #expect(names().isEmpty && changes.availabilityVersion == version + 1)
        offer(published)
        #expect(names().count == 2)
        let services = changes.servicesVersion
        changes.servicesChanged()
        #expect(names().isEmpty && changes.servicesVersion == services + 1)
    }

    @Test func publishingInANewSecondRemovesTheFilesOfEarlierOnes() throws {
        let published = try published()
        offer(published, builtIn: 1_000)
        clock.set(1_001.2)
        offer(published, builtIn: 1_001)
        #expect(names() == ["services-1001.json", "services-1001.json.gz"])
    }

    @Test func preparingRemovesWhatAnEarlierServerLeft() throws {
        let published = try published()
        offer(published)
        close(open(directory + "/.writing-1-services.json", O_WRONLY | O_CREAT, 0o644))
        try published.prepare()
        #expect((fileNames(in: directory) ?? []).filter { $0 != ".lock" }.isEmpty)
    }

    @Test func theCacheRebuildsInEachNewSecondAndPublishesTheCatalog() throws {
        let cache = ResponseCache(counters: counters, published: try published())
        let builds = Mutex(0)
        func read() throws -> [UInt8] {
            try cache.body(for: "/services") {
                builds.withLock { $0 += 1 }
                return body
            }.bytes
        }
        #expect(try read() == body && read() == body)
        #expect(builds.withLock { $0 } == 1 && names() == ["services-1000.json"], "too small for a gzip form")
        clock.set(1_001.3)
        #expect(try read() == body)
        #expect(builds.withLock { $0 } == 2, "a body built in an earlier second is rebuilt")
        #expect(try read() == body)
        #expect(builds.withLock { $0 } == 2 && names() == ["services-1001.json"])
        for _ in 0..<2 { _ = try cache.body(for: "/services/one") { body } }
        #expect(names() == ["services-1001.json"])
    }
}
