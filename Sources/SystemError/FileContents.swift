#if canImport(Glibc)
    import Glibc
#endif

/// The bytes of the file at `path`, read whole; the error when it cannot be opened or read. One
/// place for reading small files (settings, `/proc`), which `/proc`'s files, of size 0 to
/// `stat`, need read to their end.
public func fileContents(_ path: String) -> Result<[UInt8], SystemError> {
    guard let file = fopen(path, "rb") else { return .failure(SystemError.last()) }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return ferror(file) == 0 ? .success(bytes) : .failure(SystemError.last())
}
