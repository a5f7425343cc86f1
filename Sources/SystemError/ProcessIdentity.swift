#if canImport(Glibc)
    import Glibc
#endif

/// A process named so that another process can tell, later, whether it still runs: its host's
/// boot, its PID namespace, its PID and its start time. A PID alone is reused; with the start
/// time it names one process, and the boot and namespace say whose PIDs they are (a process in
/// another container of the same host, or on another host, cannot be looked up here).
public struct ProcessIdentity: Equatable, Sendable, CustomStringConvertible {
    public let boot: String
    public let pidNamespace: String
    public let pid: Int32
    public let startTime: UInt64

    /// This process; nil where `/proc` does not tell (not Linux, or not mounted).
    public static func current() -> ProcessIdentity? {
        guard case .success(let bootBytes) = fileContents("/proc/sys/kernel/random/boot_id"),
            let namespace = linkTarget("/proc/self/ns/pid"), let startTime = startTime(of: getpid())
        else { return nil }
        let boot = String(decoding: bootBytes.filter { $0 != 10 }, as: UTF8.self)
        return ProcessIdentity(boot: boot, pidNamespace: namespace, pid: getpid(), startTime: startTime)
    }

    /// The form `description` writes.
    public init?(_ text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 4, let pid = Int32(parts[2]), let startTime = UInt64(parts[3]) else { return nil }
        self.init(boot: String(parts[0]), pidNamespace: String(parts[1]), pid: pid, startTime: startTime)
    }

    public init(boot: String, pidNamespace: String, pid: Int32, startTime: UInt64) {
        self.boot = boot
        self.pidNamespace = pidNamespace
        self.pid = pid
        self.startTime = startTime
    }

    /// `{boot} {pid namespace} {pid} {start time}`.
    public var description: String { "\(boot) \(pidNamespace) \(pid) \(startTime)" }

    /// Whether this process is known to have ended, as seen from `observer`: true only when
    /// both share a boot and a PID namespace and no process of this PID has this start time;
    /// false when it runs or cannot be told.
    public func hasEnded(seenFrom observer: ProcessIdentity) -> Bool {
        guard boot == observer.boot, pidNamespace == observer.pidNamespace else { return false }
        return Self.startTime(of: pid) != startTime
    }

    /// The start time (clock ticks after boot) of the process `pid`, field 22 of its
    /// `/proc/{pid}/stat`; nil when there is no such process, or only its exit status is left
    /// for its parent (a zombie: it has ended).
    static func startTime(of pid: Int32) -> UInt64? {
        guard case .success(let stat) = fileContents("/proc/\(pid)/stat"),
            let nameEnd = stat.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        // After the name (which may hold spaces and parentheses): field 3, the state, onwards.
        let fields = stat[(nameEnd + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 19, fields[0] != [UInt8(ascii: "Z")], fields[0] != [UInt8(ascii: "X")] else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    private static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
