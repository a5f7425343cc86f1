#if canImport(Glibc)
    import Glibc
#endif

/// The listening socket's file as a server found it at start, to notice when another server has
/// put its own socket at the path: a server starts beside a running one by binding its socket
/// under another name and renaming it over the path (`FastCGIServer`), so that the web server's
/// next connections go to it and none is refused meanwhile. The processes of the one replaced,
/// seeing another file at the path (or none), finish what they have and stop, whether or not
/// their supervisor is still there to tell them.
struct SocketFile: Equatable, Sendable {
    let path: String
    let device: UInt64
    let inode: UInt64

    /// How workers learn their supervisor's (a worker started after a replacement would
    /// otherwise take the new file for its own).
    static let variable = "FASTCGI_SOCKET_FILE"

    /// The socket file at `path` now; nil when there is none.
    static func at(_ path: String) -> SocketFile? {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return SocketFile(path: path, device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// Whether another file, or none, is at the path now.
    var isReplaced: Bool { SocketFile.at(path) != self }

    /// `device:inode:path`, for `variable`.
    var environmentValue: String { "\(device):\(inode):\(path)" }

    init(path: String, device: UInt64, inode: UInt64) {
        self.path = path
        self.device = device
        self.inode = inode
    }

    init?(environmentValue text: String) {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let device = UInt64(parts[0]), let inode = UInt64(parts[1]), !parts[2].isEmpty else { return nil }
        self.init(path: String(parts[2]), device: device, inode: inode)
    }
}
