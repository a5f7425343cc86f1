import DocumentStore
import Logging
import Synchronization
import TestSupport
import Testing

@testable import ReadModel

#if canImport(Glibc)
    import Glibc
#endif

/// The catalog published for nginx: at its second read, for the second its build began in, only
/// while no change was counted since, and withdrawn by every change counted afterwards.
@Suite final class PublishedBodiesTests {
    let directory = uniqueFolder("published")
    let counters = MappedChangeCounters()
    let clock = ManualClock(wall: 1_000.5)
    let body = Array("{\"services\":[]}".utf8)
    let compressed = Array("gzip form".utf8)

    deinit { removeFolder(directory) }

    func published() throws -> PublishedBodies {
        let published = PublishedBodies(directory: directory, counters: counters, clock: clock.readClock, logger: Logger(label: "test"))
        try published.prepare()
        return published
    }

    /// The files nginx may serve (the lock file aside).
    func names() -> [String] { namesOfFiles(in: directory).filter { $0 != ".lock" }.sorted() }

    func offer(
        _ published: PublishedBodies, _ path: String = "/services", version: UInt64? = nil, builtIn second: Int = 1_000,
        times: Int = 2
    ) {
        for _ in 0..<times {
            published.offer(path, version: version ?? counters.availabilityVersion, builtIn: second) { (body, compressed, 1_000_000_000) }
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
        for _ in 0..<2 { published.offer("/services", version: counters.availabilityVersion, builtIn: 1_000) { (body, nil, 1_000_000_000) } }
        #expect(names() == ["services-1000.json"])
    }

    @Test func aBodyBuiltBeforeAChangeIsNeverPublished() throws {
        let published = try published()
        let version = counters.availabilityVersion
        counters.availabilityChanged()
        offer(published, version: version)
        #expect(names().isEmpty)
        #expect(namesOfFiles(in: directory) == [".lock"], "no scratch file left")
    }

    @Test func aBodyIsNotPublishedOnceItsSecondHasPassed() throws {
        let published = try published()
        clock.advance(by: 0.51)
        offer(published, builtIn: 1_000)
        #expect(names().isEmpty, "nginx would serve it until 1002, up to 2 s after its build began")
    }

    @Test func aFolderThatCannotBeWrittenCostsOneAttemptPerBodyNotOnePerRead() throws {
        let published = PublishedBodies(directory: "/proc/published", counters: counters, clock: clock.readClock, logger: Logger(label: "test"))
        #expect(throws: FolderError.self) { try published.prepare() }
        var attempts = 0
        for _ in 0..<4 {
            published.offer("/services", version: counters.availabilityVersion, builtIn: 1_000) {
                attempts += 1
                return (body, compressed, 1_000_000_000)
            }
        }
        #expect(attempts == 1, "the second read tries; the later ones find it tried")
    }

    @Test func onlyTheCatalogIsPublished() throws {
        let published = try published()
        offer(published, "/services/one")
        #expect(names().isEmpty)
    }

    /// `recordChange` counts the change and withdraws what nginx may serve: dropping either step
    /// turns this red.
    @Test(arguments: [ReadModel.Change.availability, .services])
    func everyRecordedChangeIsCountedAndWithdrawsThePublishedCatalog(change: ReadModel.Change) throws {
        let model = ReadModel(settings: ReadModel.Settings(publishDirectory: directory), clock: clock.readClock, logger: Logger(label: "test"))
        try model.prepareFolders()
        let reader = model.makeReader()
        func read(_ text: String) -> [UInt8] {
            guard
                case .inline(let bytes, _, _) = reader.body(
                    for: "/services", accepting: Accepted(gzip: false, file: true), build: { Array(text.utf8) })
            else { return [] }
            return bytes
        }
        #expect(read("before") == Array("before".utf8) && read("not built") == Array("before".utf8))
        #expect(names() == ["services-1000.json"] && contentsOfFile(directory + "/services-1000.json") == Array("before".utf8))
        model.recordChange(change)
        #expect(names().isEmpty, "withdrawn: nginx asks the workers")
        #expect(read("after") == Array("after".utf8), "counted: the workers build it again")
        #expect(read("not built") == Array("after".utf8))
        #expect(names() == ["services-1000.json"] && contentsOfFile(directory + "/services-1000.json") == Array("after".utf8))
    }

    @Test func publishingInANewSecondRemovesTheFilesOfEarlierOnes() throws {
        let published = try published()
        offer(published, builtIn: 1_000)
        clock.advance(by: 0.7)
        offer(published, builtIn: 1_001)
        #expect(names() == ["services-1001.json", "services-1001.json.gz"])
    }

    @Test func preparingRemovesWhatAnEarlierServerLeft() throws {
        let published = try published()
        offer(published)
        close(open(directory + "/.writing-1-services.json", O_WRONLY | O_CREAT, 0o644))
        try published.prepare()
        #expect(names().isEmpty)
    }

    @Test func theCacheRebuildsInEachNewSecondAndPublishesTheCatalog() throws {
        let cache = ResponseCache(counters: counters, clock: clock.readClock, lifetime: 1, published: try published())
        let builds = Mutex(0)
        func read(_ key: String = "/services") throws -> [UInt8] {
            let entry = cache.entry(for: ExactString(key)) {
                builds.withLock { $0 += 1 }
                return body
            }
            cache.offer(ExactString(key), entry)
            return entry.body.bytes
        }
        #expect(try read() == body && read() == body)
        #expect(builds.withLock { $0 } == 1 && names() == ["services-1000.json"], "too small for a gzip form")
        clock.advance(by: 0.6)  // into the next second, younger than the refresh age
        #expect(try read() == body)
        #expect(builds.withLock { $0 } == 2, "a body built in an earlier second is rebuilt")
        #expect(try read() == body)
        #expect(builds.withLock { $0 } == 2 && names() == ["services-1001.json"])
        for _ in 0..<2 { _ = try read("/services/one") }
        #expect(names() == ["services-1001.json"])
    }
}
