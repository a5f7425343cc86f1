import Atomics

#if canImport(Glibc)
    import Glibc
#endif

/// A page of memory that every process mapping the same file shares, read and written as atomic
/// words; the file stays open, for flock(2). Mapped anonymously, it serves one process only.
final class MappedPage: Sendable {
    private static let size = 4096
    /// The open file; -1 for an anonymous page.
    let descriptor: Int32
    nonisolated(unsafe) private let memory: UnsafeMutableRawPointer  // unmapped in deinit only

    /// Maps `path`, creating it (mode 0600) if needed; nil if that fails.
    init?(path: String) {
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size >= Self.size || ftruncate(descriptor, off_t(Self.size)) == 0,
            let memory = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), memory != MAP_FAILED
        else {
            close(descriptor)
            return nil
        }
        self.memory = memory
    }

    /// A page for this process alone.
    init() {
        let memory = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(memory != MAP_FAILED, "cannot map a page of memory")
        self.memory = memory!
        descriptor = -1
    }

    deinit {
        munmap(memory, Self.size)
        if descriptor >= 0 { close(descriptor) }
    }

    /// The word at `index` (0 up to 511), valid while the page lives.
    func word(_ index: Int) -> UnsafeAtomic<UInt64> {
        precondition((0..<Self.size / 8).contains(index), "a word beyond the page")
        return UnsafeAtomic(at: memory.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: Self.size / 8) + index)
    }
}
