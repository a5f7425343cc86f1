import Synchronization
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// A private folder for the files that a server's processes share and that have no other place
/// (the workers' metrics; the read model's change counters when the socket has no path to sit
/// beside): made by the first process (the supervisor, or the only one), named to the workers in
/// their environment, and removed when the server stops.
public enum ProcessGroupFolder {
    static let variable = "FASTCGI_GROUP_DIR"
    private static let made = Mutex<String?>(nil)

    /// The folder: in a worker, the one its supervisor named; else made now (once) under `TMPDIR`
    /// or /tmp, readable by this user only.
    public static func path() throws(FastCGIError) -> String {
        if ProcessSupervisor.isChild, let named = getenv(variable) {
            return String(decoding: UnsafeRawBufferPointer(start: named, count: strlen(named)), as: UTF8.self)
        }
        return try made.withLock { made throws(FastCGIError) -> String in
            if let made { return made }
            let parent = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            var template = Array("\(parent)/booking-server.XXXXXX".utf8CString)
            guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
                throw .setup("cannot make a private folder in \(parent): \(SystemError.last())")
            }
            let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            setenv(variable, path, 1)
            made = path
            return path
        }
    }

    /// Removes the folder this process made, with everything in it (the supervisor, once its
    /// workers have stopped).
    public static func remove() {
        guard let path = made.withLock({ $0 }) else { return }
        removeTree(path)
    }

    private static func removeTree(_ path: String) {
        for entry in (try? folderEntries(path).get()) ?? [] {
            let child = "\(path)/\(entry.name)"
            if entry.isFolder { removeTree(child) } else { unlink(child) }
        }
        rmdir(path)
    }
}
