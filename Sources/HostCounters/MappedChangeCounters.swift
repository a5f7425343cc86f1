import Atomics
import Booking

#if canImport(Glibc)
import Glibc
#endif

/// `ChangeCounters` in a small memory mapping. Mapped from a file, every process that opens the
/// file (all the worker processes of a host use the one beside their FastCGI socket) sees the
/// others' changes with one atomic load; mapped anonymously, it serves one process only, and other
/// processes' changes show once the caches' lifetime has passed.
public final class MappedChangeCounters: ChangeCounters {
    private static let size = 4096
    private let services: UnsafeAtomic<UInt64>
    private let availability: UnsafeAtomic<UInt64>

    /// Maps `path`, creating it (mode 0600) if needed; nil if that fails.
    public convenience init?(path: String) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size >= Self.size || ftruncate(descriptor, off_t(Self.size)) == 0,
              let memory = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), memory != MAP_FAILED
        else { return nil }
        self.init(memory: memory)
    }

    /// Counters for this process alone.
    public convenience init() {
        let memory = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(memory != MAP_FAILED, "cannot map a page of memory")
        self.init(memory: memory!)
    }

    private init(memory: UnsafeMutableRawPointer) {
        let words = memory.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: 2)
        services = UnsafeAtomic(at: words)
        availability = UnsafeAtomic(at: words + 1)
    }

    public var servicesVersion: UInt64 { services.load(ordering: .acquiring) }
    public var availabilityVersion: UInt64 { availability.load(ordering: .acquiring) }

    public func servicesChanged() {
        services.wrappingIncrement(ordering: .releasing)
        availabilityChanged()
    }

    public func availabilityChanged() {
        availability.wrappingIncrement(ordering: .releasing)
    }
}
