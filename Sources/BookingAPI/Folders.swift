import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A folder of files for nginx (`LARGE_BODY_DIR`, `PUBLISH_DIR`) cannot be created or read.
public struct FolderError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Creates `directory` (readable by nginx) unless it exists; `setting` names it in the error.
func createFolder(_ directory: String, setting: String) throws(FolderError) {
    if mkdir(directory, 0o755) != 0 && errno != EEXIST {
        throw FolderError("cannot create \(setting) \(directory): \(String(cString: strerror(errno)))")
    }
}

/// The names in a folder, without `.` and `..`; nil when it cannot be read.
func fileNames(in directory: String) -> [String]? {
    guard let folder = opendir(directory) else { return nil }
    defer { closedir(folder) }
    var names: [String] = []
    while let entry = readdir(folder) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Writes `bytes` to a new file at `path`, readable by nginx (which may run as another user);
/// false, with a warning logged and nothing left behind, when that fails or the file exists.
func writeNewFile(_ path: String, _ bytes: [UInt8], logger: Logger) -> Bool {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
        logger.warning("cannot write a file for nginx", metadata: ["path": "\(path)", "error": "\(String(cString: strerror(errno)))"])
        return false
    }
    var written = fchmod(descriptor, 0o644) == 0  // whatever the umask
    bytes.withUnsafeBytes { bytes in
        var offset = 0
        while written && offset < bytes.count {
            let count = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { written = false } else { offset += count }
        }
    }
    let error = errno
    guard close(descriptor) == 0 && written else {
        logger.warning("cannot write a file for nginx", metadata: ["path": "\(path)", "error": "\(String(cString: strerror(error)))"])
        unlink(path)
        return false
    }
    return true
}
