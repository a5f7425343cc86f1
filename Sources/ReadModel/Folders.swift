import Logging
import SystemError

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
    if mkdir(directory, 0o755) != 0, case let error = SystemError.last(), error.number != EEXIST {
        throw FolderError("cannot create \(setting) \(directory): \(error)")
    }
}

/// The names in a folder, without `.` and `..`; `setting` names the folder in the error.
func fileNames(in directory: String, setting: String) throws(FolderError) -> [String] {
    switch folderEntries(directory) {
    case .success(let entries): return entries.map(\.name)
    case .failure(let error): throw FolderError("cannot read \(setting) \(directory): \(error)")
    }
}

/// Writes `bytes` to a new file at `path`, readable by nginx (which may run as another user) and
/// modified at `modified` (seconds since 1970: nginx tags files by it, see `EntityTag`);
/// false, with a warning logged and nothing left behind, when that fails or the file exists.
func writeNewFile(_ path: String, _ bytes: [UInt8], modified: Int64, logger: Logger) -> Bool {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
        logger.warning("cannot write a file for nginx", metadata: ["path": "\(path)", "error": "\(SystemError.last())"])
        return false
    }
    var failure: SystemError? = fchmod(descriptor, 0o644) == 0 ? nil : .last()  // whatever the umask
    bytes.withUnsafeBytes { bytes in
        var offset = 0
        while failure == nil && offset < bytes.count {
            let count = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            let error: SystemError? = count < 0 ? .last() : nil
            if count > 0 {
                offset += count
            } else if error?.number != EINTR {
                failure = error ?? SystemError(number: EIO)  // nothing written: no progress to wait for
            }
        }
    }
    if failure == nil {
        var times = [timespec(tv_sec: time_t(modified), tv_nsec: 0), timespec(tv_sec: time_t(modified), tv_nsec: 0)]
        if futimens(descriptor, &times) != 0 { failure = .last() }
    }
    if close(descriptor) != 0 && failure == nil { failure = .last() }
    if let failure {
        logger.warning("cannot write a file for nginx", metadata: ["path": "\(path)", "error": "\(failure)"])
        unlink(path)
        return false
    }
    return true
}
