import Atomics

#if canImport(Glibc)
    import Glibc
#endif

/// The host's change counters: versions of what the reads depend on, counted by
/// `ReadModel.recordChange`, so that one process's cached bodies notice what another process of
/// the host changed. They live in a small memory mapping. Mapped from a file, every process that opens the
/// file (all the worker processes of a host use the one beside their FastCGI socket) sees the
/// others' changes with one atomic load; mapped anonymously, it serves one process only, and other
/// processes' changes show once the caches' lifetime has passed.
final class MappedChangeCounters: Sendable {
    private let page: MappedPage
    private let services: UnsafeAtomic<UInt64>
    private let availability: UnsafeAtomic<UInt64>

    /// Maps `path`, creating it (mode 0600) if needed; nil if that fails.
    convenience init?(path: String) {
        guard let page = MappedPage(path: path) else { return nil }
        self.init(page: page)
    }

    /// Counters for this process alone.
    convenience init() {
        self.init(page: MappedPage())
    }

    private init(page: MappedPage) {
        self.page = page
        services = page.word(0)
        availability = page.word(1)
    }

    var servicesVersion: UInt64 { services.load(ordering: .acquiring) }
    var availabilityVersion: UInt64 { availability.load(ordering: .acquiring) }

    func servicesChanged() {
        services.wrappingIncrement(ordering: .releasing)
        availabilityChanged()
    }

    func availabilityChanged() {
        availability.wrappingIncrement(ordering: .releasing)
    }
}
