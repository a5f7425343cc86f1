import DocumentStore
import Logging
import TestSupport
import Testing

@testable import ReadModel

#if canImport(Glibc)
    import Glibc
#endif

/// Large bodies as files for nginx: written once per body, kept while a response may name them,
/// removed afterwards, and never left behind by a server that stops.
@Suite final class LargeBodyFilesTests {
    let directory = uniqueFolder("large-bodies")
    let counters = MappedChangeCounters()
    let clock = ManualClock()
    let large = Array(String(repeating: "{\"slot\":\"2031-01-01T00:00:00Z\"},", count: 9000).utf8)

    deinit { removeFolder(directory) }

    func files(retention: Double = 5) throws -> LargeBodyFiles {
        let files = LargeBodyFiles(directory: directory, retention: retention, clock: clock.readClock, logger: Logger(label: "test"))
        try files.prepare()
        return files
    }

    func names() -> [String] { namesOfFiles(in: directory).sorted() }

    func contents(_ file: LargeBodyFiles.File) -> [UInt8]? { contentsOfFile(file.path) }

    func name(_ file: LargeBodyFiles.File) -> String { String(file.path.split(separator: "/").last!) }

    @Test func aFileHoldsTheBodyReadableByAllAtAnInternalURI() throws {
        let file = try #require(try files().write(large, modified: 1_000_000_000))
        #expect(contents(file) == large)
        #expect(file.path == directory + "/" + name(file) && file.uri == "/_large/" + name(file))
        var status = stat()
        #expect(stat(file.path, &status) == 0 && status.st_mode & 0o777 == 0o644, "nginx may run as another user")
    }

    @Test func aRetiredFileStaysForTheRetentionThenGoes() throws {
        let files = try files(retention: 0.3)
        let first = try #require(files.write(large, modified: 1_000_000_000))
        files.retire(first)
        #expect(contents(first) == large, "a response may have named it a moment ago")
        clock.advance(by: 0.3)
        let second = try #require(files.write(large, modified: 1_000_000_000))
        #expect(contents(first) == nil)
        #expect(names() == [name(second)])
    }

    /// The files of processes no longer running go; those of a running one stay (a server
    /// starting beside the one it replaces leaves the old one's files, which nginx may be
    /// sending), and so do files of other names.
    @Test func preparingRemovesTheFilesOfProcessesNoLongerRunningOnly() throws {
        var child: pid_t = 0
        #expect(posix_spawn(&child, "/bin/true", nil, nil, [nil], nil) == 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)  // a process id that no process has now
        let files = try files()
        let running = try #require(files.write(large, modified: 1_000_000_000))
        close(open(directory + "/booking-body-\(child)-1.json", O_WRONLY | O_CREAT, 0o644))
        close(open(directory + "/notes.json", O_WRONLY | O_CREAT, 0o644))
        try files.prepare()
        #expect(names() == [name(running), "notes.json"].sorted())
    }

    @Test func theFilesOfAProcessThatDiedGoAtTheNextWrite() throws {
        var child: pid_t = 0
        #expect(posix_spawn(&child, "/bin/true", nil, nil, [nil], nil) == 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)  // a process id that no process has now
        let files = try files()
        let orphan = directory + "/booking-body-\(child)-1.json"
        close(open(orphan, O_WRONLY | O_CREAT, 0o644))
        let alive = try #require(files.write(large, modified: 1_000_000_000))
        #expect(access(orphan, F_OK) != 0)
        #expect(names() == [name(alive)], "this process's own file stays")
    }

    @Test func aFolderThatCannotBeMadeIsAnError() throws {
        let blocked = LargeBodyFiles(directory: "/proc/large-bodies", clock: clock.readClock, logger: Logger(label: "test"))
        #expect(throws: FolderError.self) { try blocked.prepare() }
        let unwritable = LargeBodyFiles(directory: "/proc", clock: clock.readClock, logger: Logger(label: "test"))
        #expect(unwritable.write(large, modified: 1_000_000_000) == nil, "the body then goes through FastCGI")
    }

    func cache(files: LargeBodyFiles) -> ResponseCache {
        ResponseCache(counters: counters, clock: clock.readClock, lifetime: 1, largeBodyFiles: files)
    }

    /// The body of a read of `key` from `cache`, built as `bytes` if need be, in gzip or not.
    func body(_ cache: ResponseCache, key: String = "/services", gzip: Bool = false, _ bytes: [UInt8]) -> EncodedBody {
        cache.entry(for: ExactString(key)) { bytes }.body.encoded(gzip: gzip)
    }

    /// The file the cache names for a read without gzip of `bytes` at `/services`.
    func file(_ cache: ResponseCache, _ bytes: [UInt8]) throws -> LargeBodyFiles.File? {
        body(cache, bytes).file
    }

    @Test func theCacheWritesALargeBodysFileOnceAtItsSecondReadWithoutGzip() throws {
        let cache = cache(files: try files(retention: 0.2))
        let compressed = body(cache, gzip: true, large)
        #expect(compressed.isGzip && compressed.file == nil && names().isEmpty)
        let firstRead = body(cache, large)
        #expect(firstRead.file == nil && firstRead.bytes == large && names().isEmpty, "one read: through FastCGI")
        let written = try #require(try file(cache, large))
        #expect(contents(written) == large)
        #expect(try file(cache, large) == written)
        for _ in 0..<2 {
            let small = body(cache, key: "/services/one", Array("{}".utf8))
            #expect(small.file == nil && small.bytes == Array("{}".utf8))
        }
        #expect(names().count == 1)
    }

    @Test func aRebuildKeepsTheFileOfAnUnchangedBodyAndRetiresAChangedOnes() throws {
        let cache = cache(files: try files(retention: 0.2))
        _ = try file(cache, large)
        let first = try #require(try file(cache, large))
        counters.availabilityChanged()
        #expect(try file(cache, large) == first, "rebuilt, the same bytes")
        counters.availabilityChanged()
        let changed = large + Array(" ".utf8)
        #expect(try file(cache, changed) == nil)
        let second = try #require(try file(cache, changed))
        #expect(second != first && contents(second) == changed)
        #expect(contents(first) == large, "kept for the responses that named it")
        clock.advance(by: 0.2)
        counters.availabilityChanged()
        _ = try file(cache, changed + Array(" ".utf8))
        #expect(contents(first) == nil)
    }

    @Test func aFileRemovedByHandIsWrittenAgainAtTheNextRebuild() throws {
        let cache = cache(files: try files())
        _ = try file(cache, large)
        let first = try #require(try file(cache, large))
        unlink(first.path)
        #expect(try file(cache, large) == first, "served until the next rebuild")
        counters.availabilityChanged()
        #expect(try file(cache, large) == nil)
        let second = try #require(try file(cache, large))
        #expect(second != first && contents(second) == large)
    }

    @Test func aBodyReplacedAfterOneReadNeverGetsAFile() throws {
        let cache = cache(files: try files())
        for round in 0..<5 {  // as under steady bookings: every read finds a new body
            counters.availabilityChanged()
            #expect(try file(cache, large + Array(repeating: UInt8(ascii: " "), count: round)) == nil)
        }
        #expect(names().isEmpty)
    }
}
