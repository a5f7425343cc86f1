import Dispatch
import Gzip
import Logging
import PosixThread  // real threads, as the workers run (Dispatch's pool may queue a block)
import Synchronization
import TestSupport
import Testing

@testable import ReadModel

#if canImport(Glibc)
    import Glibc
#endif

/// When a cached body is served and when it is built again, read through the read model's
/// readers as the worker threads read it, on hand-stepped clocks.
@Suite struct ResponseCacheTests {
    let clock = ManualClock()

    func model(lifetime: Double = 1) -> ReadModel {
        ReadModel(settings: ReadModel.Settings(lifetime: lifetime), clock: clock.readClock, logger: Logger(label: "test"))
    }

    func read(_ reader: ReadModel.Reader, _ key: String = "/services", gzip: Bool = false, building text: String) -> String {
        String(decoding: bytes(reader.body(for: key, accepting: Accepted(gzip: gzip, file: true)) { Array(text.utf8) }), as: UTF8.self)
    }

    func bytes(_ delivery: Delivery) -> [UInt8] {
        guard case .inline(let bytes, _, _) = delivery else { return Array("a file".utf8) }
        return bytes
    }

    @Test func aBodyDueForRefreshIsServedWhileOneThreadRebuildsIt() throws {
        let model = model(lifetime: 1)
        #expect(read(model.makeReader(), building: "first") == "first")
        clock.advance(by: 0.85)  // past the refresh age (0.8 s), within the lifetime
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var rebuilt = ""
        let rebuilder = PosixThread.start {
            rebuilt = String(
                decoding: bytes(
                    model.makeReader().body(for: "/services", accepting: Accepted(gzip: false, file: true)) {
                        started.signal()
                        release.wait()
                        return Array("second".utf8)
                    }), as: UTF8.self)
        }
        started.wait()
        // Another thread is rebuilding: this one is served the body it has, without waiting.
        let served = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var meanwhile = ""
        let reader = PosixThread.start {
            meanwhile = read(model.makeReader(), building: "not built while another thread builds")
            served.signal()
        }
        #expect(served.wait(timeout: .now() + 5) == .success, "the read waited for the rebuild")
        release.signal()
        pthread_join(reader, nil)
        #expect(meanwhile == "first")
        pthread_join(rebuilder, nil)
        #expect(rebuilt == "second")
        #expect(read(model.makeReader(), building: "not built: fresh") == "second")
    }

    @Test func theThreadsReadersShareOneBodyPerPathUntilAChangeOrItsAge() throws {
        let model = model(lifetime: 1)
        let reader = model.makeReader(), other = model.makeReader()
        #expect(read(reader, building: "first") == "first")
        #expect(read(reader, building: "not built: cached") == "first")
        #expect(read(other, building: "not built: the cache has it") == "first")
        model.recordChange(.availability)  // a booking: no reader is served the body from before it
        #expect(read(other, building: "after the booking") == "after the booking")
        #expect(read(reader, building: "not built: the cache has it") == "after the booking")
        clock.advance(by: 0.85)  // past the refresh age
        #expect(read(reader, building: "refreshed") == "refreshed")
        #expect(read(other, building: "not built: the cache has it") == "refreshed")
    }

    @Test func readsThatWaitedForARebuildAreServedByOneBuiltAfterTheyBegan() throws {
        let model = model()
        let building = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let builder = PosixThread.start {
            _ = model.makeReader().body(for: "/services", accepting: Accepted(gzip: false, file: true)) {
                building.signal()
                release.wait()
                return Array("before the booking".utf8)
            }
        }
        building.wait()
        model.recordChange(.availability)  // a booking confirmed while the first build runs
        let builds = Mutex(0)
        let served = Mutex<[String]>([])
        let waiting = Mutex(0)
        let readers = (0..<4).map { _ in
            PosixThread.start {
                let reader = model.makeReader()
                waiting.withLock { $0 += 1 }
                let body = reader.body(for: "/services", accepting: Accepted(gzip: false, file: true)) {
                    builds.withLock { $0 += 1 }
                    model.recordChange(.availability)  // bookings go on during every build
                    return Array("after the booking".utf8)
                }
                served.withLock { $0.append(String(decoding: bytes(body), as: UTF8.self)) }
            }
        }
        while waiting.withLock({ $0 }) < 4 { usleep(1000) }  // the readers have begun (and wait for the build, mostly)
        release.signal()
        pthread_join(builder, nil)
        for reader in readers { pthread_join(reader, nil) }
        #expect(served.withLock { $0 } == Array(repeating: "after the booking", count: 4), "none is served the body from before the booking")
        #expect(builds.withLock { $0 } == 1, "one build after they began serves them all")
    }

    @Test(arguments: [0.3, 1.5])
    func aChangeOrTheLifetimeMakesTheNextReadBuild(lifetime: Double) throws {
        let reader = model(lifetime: lifetime).makeReader()
        #expect(read(reader, building: "first") == "first")
        reader.recordChange(.availability)  // a booking: never served from before it
        #expect(read(reader, building: "after the booking") == "after the booking")
        clock.advance(by: lifetime * 0.7)
        #expect(read(reader, building: "not built: within the refresh age") == "after the booking")
        clock.advance(by: lifetime * 0.3)
        #expect(read(reader, building: "after the lifetime") == "after the lifetime")
    }

    @Test func aServiceChangeMakesTheNextReadBuildToo() throws {
        let reader = model().makeReader()
        #expect(read(reader, building: "first") == "first")
        reader.recordChange(.services)
        #expect(read(reader, building: "after the new service") == "after the new service")
    }

    @Test func theGzipFormIsMadeFromTheCachedBodyAndFollowsItsChanges() throws {
        let reader = model().makeReader()
        let first = String(repeating: "first ", count: 300), second = String(repeating: "second ", count: 300)
        #expect(
            reader.body(for: "/services", accepting: Accepted(gzip: false, file: true)) { Array(first.utf8) }
                == .inline(Array(first.utf8), gzip: false, entityTag: ReadModel.entityTag(of: Array(first.utf8))))
        #expect(
            reader.body(for: "/services", accepting: Accepted(gzip: true, file: true)) { Array("not built: fresh".utf8) }
                == .inline(
                    Gzip.compress(Array(first.utf8))!, gzip: true,
                    entityTag: EntityTag.value(
                        contentTime: EntityTag.contentTime(of: Array(first.utf8)), size: Gzip.compress(Array(first.utf8))!.count)))
        reader.recordChange(.availability)
        #expect(
            reader.body(for: "/services", accepting: Accepted(gzip: true, file: true)) { Array(second.utf8) }
                == .inline(
                    Gzip.compress(Array(second.utf8))!, gzip: true,
                    entityTag: EntityTag.value(
                        contentTime: EntityTag.contentTime(of: Array(second.utf8)), size: Gzip.compress(Array(second.utf8))!.count)))
        #expect(
            reader.body(for: "/services/x", accepting: Accepted(gzip: true, file: true)) { Array("[]".utf8) }
                == .inline(Array("[]".utf8), gzip: false, entityTag: ReadModel.entityTag(of: Array("[]".utf8))), "too small to gain")
    }

    @Test func aFailedBuildIsThrownAndCachesNothing() throws {
        struct Refused: Error {}
        let reader = model().makeReader()
        #expect(throws: Refused.self) {
            try reader.body(for: "/services", accepting: Accepted(gzip: false, file: true)) { () throws(Refused) in throw Refused() }
        }
        #expect(read(reader, building: "built") == "built")
    }
}
