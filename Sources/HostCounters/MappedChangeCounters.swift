import Atomics
import Booking

#if canImport(Glibc)
import Glibc
#endif

/// `ChangeCounters` in a small file mapped into every process that opens it, so that all the
/// worker processes of a host (they use the same file, next to their FastCGI socket) see each
/// other's changes with one atomic load.
public final class MappedChangeCounters: ChangeCounters {
    private let services: UnsafeAtomic<UInt64>
    private let availability: UnsafeAtomic<UInt64>

    /// Maps `path`, creating it (mode 0600) if needed; nil if that fails.
    public init?(path: String) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let size = 4096
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size >= size || ftruncate(descriptor, off_t(size)) == 0,
              let memory = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), memory != MAP_FAILED
        else { return nil }
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

/// `ChangeCounters` for one process only, when no file can be shared: other processes' changes
/// then show after `readCacheLifetime` at most.
public final class ProcessChangeCounters: ChangeCounters {
    private let services = ManagedAtomic<UInt64>(0)
    private let availability = ManagedAtomic<UInt64>(0)

    public init() {}

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
