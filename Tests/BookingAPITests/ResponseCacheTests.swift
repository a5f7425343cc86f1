@testable import BookingAPI
import Booking
import Dispatch
@testable import FastCGI  // its Thread: real threads, as the workers run (Dispatch's pool may queue a block)
import Gzip
import HostCounters
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// When a cached body is served and when it is built again.
@Suite struct ResponseCacheTests {
    let counters = MappedChangeCounters()

    func read(_ cache: ResponseCache, building text: String) throws -> String {
        String(decoding: try cache.body(for: "services") { Array(text.utf8) }.bytes, as: UTF8.self)
    }

    func sleep(seconds: Double) { usleep(UInt32(seconds * 1_000_000)) }

    @Test func aBodyDueForRefreshIsServedWhileOneThreadRebuildsIt() throws {
        let cache = ResponseCache(counters: counters, lifetime: 0.3)
        #expect(try read(cache, building: "first") == "first")
        sleep(seconds: cache.refreshAge + 0.02)
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var rebuilt = ""
        let rebuilder = Thread.start {
            rebuilt = String(decoding: try! cache.body(for: "services") {
                started.signal()
                release.wait()
                return Array("second".utf8)
            }.bytes, as: UTF8.self)
        }
        started.wait()
        // Another thread is rebuilding: this one is served the body it has, without waiting.
        let served = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var meanwhile = ""
        let reader = Thread.start {
            meanwhile = try! read(cache, building: "not built while another thread builds")
            served.signal()
        }
        #expect(served.wait(timeout: .now() + 0.5) == .success, "the read waited for the rebuild")
        release.signal()
        pthread_join(reader, nil)
        #expect(meanwhile == "first")
        pthread_join(rebuilder, nil)
        #expect(rebuilt == "second")
        #expect(try read(cache, building: "not built: fresh") == "second")
    }

    @Test func aThreadsReaderServesWhatItKeptOnlyWhileTheCacheWould() throws {
        let cache = ResponseCache(counters: counters, lifetime: 0.3)
        let reader = cache.makeReader(), other = cache.makeReader()
        func read(_ reader: ResponseCache.Reader, building text: String) throws -> String {
            String(decoding: try reader.body(for: "services") { Array(text.utf8) }.bytes, as: UTF8.self)
        }
        #expect(try read(reader, building: "first") == "first")
        #expect(try read(reader, building: "not built: kept") == "first")
        #expect(try read(other, building: "not built: the cache has it") == "first")
        counters.availabilityChanged()  // a booking: no reader serves what it kept from before it
        #expect(try read(other, building: "after the booking") == "after the booking")
        #expect(try read(reader, building: "not built: the cache has it") == "after the booking")
        sleep(seconds: cache.refreshAge + 0.02)
        #expect(try read(reader, building: "refreshed") == "refreshed")
        #expect(try read(other, building: "not built: the cache has it") == "refreshed")
    }

    @Test func readsThatWaitedForARebuildAreServedByOneBuiltAfterTheyBegan() throws {
        let cache = ResponseCache(counters: counters)
        let building = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let builder = Thread.start {
            _ = try! cache.body(for: "services") {
                building.signal()
                release.wait()
                return Array("before the booking".utf8)
            }
        }
        building.wait()
        counters.availabilityChanged()  // a booking confirmed while the first build runs
        let builds = Mutex(0)
        nonisolated(unsafe) var served: [String] = []
        let servedLock = Mutex(())
        let readers = (0..<4).map { _ in
            Thread.start {
                let body = try! cache.body(for: "services") {
                    builds.withLock { $0 += 1 }
                    counters.availabilityChanged()  // bookings go on during every build
                    return Array("after the booking".utf8)
                }
                servedLock.withLock { _ in served.append(String(decoding: body.bytes, as: UTF8.self)) }
            }
        }
        sleep(seconds: 0.1)  // the readers have begun and wait for the first build
        release.signal()
        pthread_join(builder, nil)
        for reader in readers { pthread_join(reader, nil) }
        #expect(served == Array(repeating: "after the booking", count: 4), "none is served the body from before the booking")
        #expect(builds.withLock { $0 } == 1, "one build after they began serves them all")
    }

    @Test(arguments: [0.3, 1.5])
    func aChangeOrTheLifetimeMakesTheNextReadBuild(lifetime: Double) throws {
        let cache = ResponseCache(counters: counters, lifetime: lifetime)
        #expect(try read(cache, building: "first") == "first")
        counters.availabilityChanged()  // a booking: never served from before it
        #expect(try read(cache, building: "after the booking") == "after the booking")
        sleep(seconds: lifetime * 0.7)
        #expect(try read(cache, building: "not built: within the lifetime") == "after the booking")
        sleep(seconds: lifetime * 0.3 + 0.05)
        #expect(try read(cache, building: "after the lifetime") == "after the lifetime")
    }

    @Test func theGzipFormIsMadeFromTheCachedBodyAndFollowsItsChanges() throws {
        let cache = ResponseCache(counters: counters)
        let first = Array(String(repeating: "first ", count: 300).utf8), second = Array(String(repeating: "second ", count: 300).utf8)
        let plain = try cache.body(for: "services") { first }
        #expect(!plain.isGzip && plain.bytes == first)
        let compressed = try cache.body(for: "services", gzip: true) { Array("not built: the body is fresh".utf8) }
        #expect(compressed.isGzip && compressed.bytes == Gzip.compress(first))
        counters.availabilityChanged()
        let afterTheBooking = try cache.body(for: "services", gzip: true) { second }
        #expect(afterTheBooking.isGzip && afterTheBooking.bytes == Gzip.compress(second))
        let small = try cache.body(for: "services/x", gzip: true) { Array("[]".utf8) }
        #expect(!small.isGzip && small.bytes == Array("[]".utf8), "too small to gain")
    }
}
