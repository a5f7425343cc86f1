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
        lhs.string.utf8.elementsEqual(rhs.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            for byte in string.utf8 { hasher.combine(byte) }
        }
    }
}
