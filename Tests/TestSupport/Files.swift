@testable import ReadModel

#if canImport(Glibc)
    import Glibc
#endif

/// The bytes of the file at `path`; nil when it cannot be opened.
public func contentsOfFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
    while case let count = read(descriptor, &buffer, buffer.count), count > 0 { bytes += buffer[..<count] }
    return bytes
}

/// The names of the files in a folder; empty when it cannot be read.
public func namesOfFiles(in directory: String) -> [String] {
    (try? fileNames(in: directory, setting: "the test's folder")) ?? []
}

/// Removes a folder and the files in it.
public func removeFolder(_ directory: String) {
    for name in namesOfFiles(in: directory) { unlink(directory + "/" + name) }
    rmdir(directory)
}

/// A folder name under /tmp that no other test or run uses.
public func uniqueFolder(_ stem: String) -> String {
    "/tmp/\(stem)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}
