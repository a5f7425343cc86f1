/// Why a store operation failed, in Firestore's status vocabulary.
public enum StoreError: Error, Equatable, Sendable {
    /// A write with `exists(false)` met an existing document (Firestore `ALREADY_EXISTS`).
    case alreadyExists(DocumentPath)
    /// A write with `exists(true)` met no document (Firestore `NOT_FOUND`).
    case notFound(DocumentPath)
    /// A write's update-time precondition did not hold (Firestore `FAILED_PRECONDITION`).
    case failedPrecondition(DocumentPath)
    /// Firestore aborted a read-write transaction because of contention: run it again.
    case aborted(String)
    /// The request itself is not valid for the store, e.g. a forbidden document id.
    case invalidArgument(String)
    /// The store cannot be reached or is overloaded; nothing is known to have changed,
    /// though a commit may have been applied. Callers may retry.
    case unavailable(String)
    /// The store failed in a way no retry will fix.
    case internalError(String)
}
