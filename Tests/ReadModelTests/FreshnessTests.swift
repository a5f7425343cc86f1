import Testing

@testable import ReadModel

/// The decision on a cached body, as a table: no clock, no threads.
@Suite struct FreshnessTests {
    let plain = Freshness(lifetime: 1, rebuildsEachSecond: false)
    let published = Freshness(lifetime: 1, rebuildsEachSecond: true)
    let stamp = Freshness.Stamp(version: 7, builtAt: 0, second: 1_000)

    @Test func aBodyBuiltFromTheReadsVersionIsServedUntilItsRefreshAge() {
        #expect(plain.read(stamp, now: 0, version: 7, second: 1_000) == .serve)
        #expect(plain.read(stamp, now: 0.79, version: 7, second: 1_000) == .serve)
        #expect(plain.read(stamp, now: 0.8, version: 7, second: 1_000) == .serveAndRebuild)
        #expect(plain.read(stamp, now: 0.99, version: 7, second: 1_000) == .serveAndRebuild)
        #expect(plain.read(stamp, now: 1, version: 7, second: 1_000) == .rebuild, "the lifetime is the bound")
    }

    @Test func aChangeCountedSinceTheBuildMakesTheReadRebuild() {
        #expect(plain.read(stamp, now: 0, version: 8, second: 1_000) == .rebuild)
        #expect(published.read(stamp, now: 0, version: 8, second: 1_000) == .rebuild)
        #expect(plain.read(stamp, now: 0, version: 6, second: 1_000) == .serve, "built after the read began: it holds more")
    }

    @Test func noBodyIsBuilt() {
        #expect(plain.read(nil, now: 0, version: 0, second: 1_000) == .rebuild)
    }

    @Test func aPublishedBodyIsRebuiltInEachNewSecondWhileServed() {
        #expect(published.read(stamp, now: 0.5, version: 7, second: 1_000) == .serve)
        #expect(published.read(stamp, now: 0.5, version: 7, second: 1_001) == .serveAndRebuild)
        #expect(plain.read(stamp, now: 0.5, version: 7, second: 1_001) == .serve, "unpublished bodies ignore the wall clock")
    }
}
