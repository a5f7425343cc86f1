import DocumentStore
import Idempotency
import SystemError
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Claims of idempotency keys between requests of processes that may die: a repeat takes over
/// a key whose holder has ended at once, waits for one whose holder runs, and the request that
/// lost its key learns so when it gives it up.
@Suite struct IdempotencyKeysTests {
    let database = MemoryDatabase()
    let now = Timestamp(seconds: 1_900_000_000, nanos: 0)

    /// Keys of a process named `name`, which sees the holders in `ended` as gone, and counts the
    /// seconds it paused while waiting.
    final class Process {
        final class Pauses { var seconds = 0.0 }

        let keys: IdempotencyKeys
        private let pauses: Pauses
        var waited: Double { pauses.seconds }

        init(_ name: String, ended: Set<String>, store: any DocumentStore, now: Timestamp) {
            let pauses = Pauses()
            self.pauses = pauses
            keys = IdempotencyKeys(
                store: store, now: { now }, pause: { pauses.seconds += $0 }, holders: KeyHolders(current: name) { ended.contains($0) })
        }
    }

    func claim(_ start: IdempotencyKeys.Start) -> IdempotencyKeys.Claim? {
        if case .execute(let claim) = start { return claim }
        return nil
    }

    @Test func aRepeatTakesOverAtOnceTheKeyOfAHolderThatHasEnded() throws {
        let first = Process("worker-a", ended: [], store: database.makeStore(), now: now)
        let retry = Process("worker-b", ended: ["worker-a"], store: database.makeStore(), now: now)
        let lost = try #require(claim(try first.keys.start(key: "k", caller: "", request: [1])))
        let taken = try #require(claim(try retry.keys.start(key: "k", caller: "", request: [1])), "taken over, not replayed")
        #expect(retry.waited == 0, "no wait for the lease")
        // The first request's writes, under its claim's update time, are refused now.
        #expect(throws: StoreError.self) {
            try database.makeStore().commit([first.keys.completion(of: lost, with: KeptResponse(status: 201, location: nil, body: [1]))])
        }
        #expect(first.keys.abandon(lost) == false, "the first request learns that its key was taken over")
        try database.makeStore().commit([retry.keys.completion(of: taken, with: KeptResponse(status: 201, location: nil, body: [2]))])
        guard case .replay(let kept) = try first.keys.start(key: "k", caller: "", request: [1]) else {
            Issue.record("the repeat's response is kept")
            return
        }
        #expect(kept.body == [2])
    }

    @Test func aRepeatWaitsForAHolderThatRunsAndThenSaysItIsInProgress() throws {
        let first = Process("worker-a", ended: [], store: database.makeStore(), now: now)
        let retry = Process("worker-b", ended: ["worker-c"], store: database.makeStore(), now: now)
        let held = try #require(claim(try first.keys.start(key: "k", caller: "", request: [1])))
        #expect(throws: IdempotencyError.inProgress) { try retry.keys.start(key: "k", caller: "", request: [1]) }
        #expect(retry.waited >= IdempotencyKeys.maximumWait)
        #expect(first.keys.abandon(held) == true, "its own key is given up")
        #expect(claim(try retry.keys.start(key: "k", caller: "", request: [1])) != nil, "and a repeat runs again")
    }

    @Test func aKeyOfAnUnnamedHolderWaitsForItsLease() throws {
        let store = database.makeStore()
        _ = try IdempotencyKeys(store: store, now: { now }, pause: { _ in }).start(key: "k", caller: "", request: [1])
        let retry = Process("worker-b", ended: [""], store: database.makeStore(), now: now)
        #expect(throws: IdempotencyError.inProgress) { try retry.keys.start(key: "k", caller: "", request: [1]) }
    }
}

/// This host's processes named so that others can tell whether they still run.
@Suite struct ProcessIdentityTests {
    @Test func thisProcessRunsAndIsNamedTheSameWayTwice() throws {
        let current = try #require(ProcessIdentity.current())
        #expect(ProcessIdentity(current.description) == current)
        #expect(ProcessIdentity.current() == current)
        #expect(!current.hasEnded(seenFrom: current))
    }

    @Test func aChildThatExitedHasEndedAndAnotherHostsProcessCannotBeTold() throws {
        let current = try #require(ProcessIdentity.current())
        var pid: pid_t = 0
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { arguments.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/true", nil, nil, arguments, nil) == 0)
        // Exited and not yet reaped: a zombie, which has ended too.
        var info = siginfo_t()
        #expect(waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == 0)
        let child = ProcessIdentity(boot: current.boot, pidNamespace: current.pidNamespace, pid: pid, startTime: 0)
        #expect(child.hasEnded(seenFrom: current), "a zombie has ended")
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(child.hasEnded(seenFrom: current), "no process of that pid is left")
        let reused = ProcessIdentity(boot: current.boot, pidNamespace: current.pidNamespace, pid: current.pid, startTime: current.startTime + 1)
        #expect(reused.hasEnded(seenFrom: current), "a pid now taken by another process")
        let elsewhere = ProcessIdentity(boot: "another-boot", pidNamespace: current.pidNamespace, pid: 999_999, startTime: 1)
        #expect(!elsewhere.hasEnded(seenFrom: current), "another host's process: unknown, so not ended")
        #expect(ProcessIdentity("not an identity") == nil)
    }
}
