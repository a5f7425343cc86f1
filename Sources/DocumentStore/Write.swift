/// A condition a write needs to hold at commit time, else the whole commit fails.
public enum Precondition: Equatable, Sendable {
    case none
    /// `exists(false)`: the document must not exist (a failed one is `StoreError.alreadyExists`);
    /// `exists(true)`: it must exist (else `StoreError.notFound`).
    case exists(Bool)
    /// The document must exist with exactly this update time (else `StoreError.failedPrecondition`).
    case updateTime(Timestamp)
}

/// One change in an atomic commit.
public enum Write: Equatable, Sendable {
    /// Replaces the document's fields, creating it if needed.
    case set(DocumentPath, [String: Value], Precondition)
    case delete(DocumentPath, Precondition)

    /// A write that succeeds only if the document does not exist yet.
    public static func create(_ path: DocumentPath, _ fields: [String: Value]) -> Write {
        .set(path, fields, .exists(false))
    }

    public var path: DocumentPath {
        switch self {
        case .set(let path, _, _), .delete(let path, _): return path
        }
    }
}
