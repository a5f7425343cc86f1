#if canImport(Glibc)
    import Glibc
#endif

/// One entry of a folder: its name and whether it is a folder itself.
public struct FolderEntry: Sendable {
    public let name: String
    public let isFolder: Bool
}

/// The entries of the folder at `path`, without `.` and `..`, in the order the system gives;
/// nil (with the error) when it cannot be opened. One place for `readdir`, whose `d_name` Swift
/// imports as a tuple.
public func folderEntries(_ path: String) -> Result<[FolderEntry], SystemError> {
    guard let folder = opendir(path) else { return .failure(SystemError.last()) }
    defer { closedir(folder) }
    var entries: [FolderEntry] = []
    while let entry = readdir(folder) {
        // d_name is a C array, which Swift imports as a tuple: read it through its offset instead.
        let name = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
        if name != "." && name != ".." { entries.append(FolderEntry(name: name, isFolder: entry.pointee.d_type == UInt8(DT_DIR))) }
    }
    return .success(entries)
}

private let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
