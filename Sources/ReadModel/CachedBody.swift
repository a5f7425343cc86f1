import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One cached body and the forms it is sent in, each made once: gzip by the first read that
/// accepts it, and for a large body, a file that nginx sends to the others, by the second read
/// that does not (under steady bookings a body is replaced before a second read, and writing
/// megabytes for one read would cost more than it saves). A cache entry rebuilt with the same
/// bytes keeps its `CachedBody`, so those forms are not made again; the file is retired when the
/// last entry holding it goes.
final class CachedBody: Sendable {
    let bytes: [UInt8]
    /// The modification time its files get and its tags name (see `EntityTag`).
    let contentTime: Int64
    /// Read without a lock once made (every read of a gzip client asks for it), made under one.
    private let gzipped = AtomicLazyReference<Made>()
    private let makingGzip = Mutex<Void>(())
    /// Where the file goes, for a large body when there are files.
    private let files: LargeBodyFiles?
    private let file = Mutex<FileState>(.unread)

    private enum FileState {
        case unread, readOnce, written(LargeBodyFiles.File), failed
    }

    init(_ bytes: [UInt8], files: LargeBodyFiles?) {
        self.bytes = bytes
        contentTime = EntityTag.contentTime(of: bytes)
        self.files = bytes.count >= ResponseCache.largeBodyBytes ? files : nil
    }

    deinit {
        if case .written(let written) = file.withLock({ $0 }) { files?.retire(written) }
    }

    /// Whether its file was written and is gone since (removed by hand): a rebuild with the same
    /// bytes then starts afresh instead of keeping it.
    var lostItsFile: Bool {
        guard case .written(let written) = file.withLock({ $0 }) else { return false }
        return access(written.path, F_OK) != 0
    }

    func encoded(gzip: Bool) -> EncodedBody {
        guard gzip else { return EncodedBody(bytes, gzip: false, contentTime: contentTime, file: writtenFile()) }
        if let made = gzipped.load() { return made.body }
        return makingGzip.withLock { _ in
            gzipped.load()?.body ?? gzipped.storeIfNil(Made(EncodedBody(bytes, gzip: true, contentTime: contentTime))).body
        }
    }

    /// A made form, as the atomic reference holds it.
    private final class Made: Sendable {
        let body: EncodedBody
        init(_ body: EncodedBody) { self.body = body }
    }

    /// The body's file, written now if this is the second read to want it; nil for the first,
    /// without files, or when writing failed (the body then goes through FastCGI).
    private func writtenFile() -> LargeBodyFiles.File? {
        guard let files else { return nil }
        return file.withLock { state in
            switch state {
            case .unread:
                state = .readOnce
                return nil
            case .readOnce:
                let written = files.write(bytes, modified: contentTime)
                state = written.map { .written($0) } ?? .failed
                return written
            case .written(let written):
                return written
            case .failed:
                return nil
            }
        }
    }
}
