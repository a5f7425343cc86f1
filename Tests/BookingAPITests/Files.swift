@testable import BookingAPI

#if canImport(Glibc)
import Glibc
#endif

/// The bytes of the file at `path`; nil when it cannot be opened.
func contentsOfFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
    while case let count = read(descriptor, &buffer, buffer.count), count > 0 { bytes += buffer[..<count] }
    return bytes
}

/// Removes a folder and the files in it.
func removeFolder(_ directory: String) {
    for name in fileNames(in: directory) ?? [] { unlink(directory + "/" + name) }
    rmdir(directory)
}
