/// A string that is equal to another only when their UTF-8 bytes are, as stores compare ids.
/// Swift's `String` equality holds canonically equivalent spellings equal ("é" as one scalar,
/// or "e" and a combining accent), and those are different ids, documents and URLs: caches
/// keyed by ids or paths use this, so that one never answers for the other.
public struct ExactString: Hashable, Sendable {
    public let string: String

    public init(_ string: String) {
        self.string = string
    }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        sameBytes(lhs.string[...], rhs.string[...])
    }

    public func hash(into hasher: inout Hasher) {
        let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            for byte in string.utf8 { hasher.combine(byte) }
        }
    }
}

/// Whether two strings have the same UTF-8 bytes: compared as memory where both are stored
/// contiguously (native strings and their slices are), not byte by byte through their views.
public func sameBytes(_ lhs: Substring, _ rhs: Substring) -> Bool {
    guard lhs.utf8.count == rhs.utf8.count else { return false }
    let compared = lhs.utf8.withContiguousStorageIfAvailable { left in
        rhs.utf8.withContiguousStorageIfAvailable { right in sameBytes(left, right) }
    }
    return (compared ?? nil) ?? lhs.utf8.elementsEqual(rhs.utf8)
}

/// Whether two buffers hold the same bytes (compared as memory).
public func sameBytes(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: UnsafeBufferPointer<UInt8>) -> Bool {
    lhs.count == rhs.count && (lhs.count == 0 || memcmp(lhs.baseAddress!, rhs.baseAddress!, lhs.count) == 0)
}

#if canImport(Glibc)
    import Glibc
#endif
