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

extension StoreError: CustomStringConvertible {
    /// The error as one sentence for an operator (a log line, bookingctl's message), on one line
    /// whatever the store's own words held (libpq's have line breaks and tabs).
    public var description: String {
        switch self {
        case .alreadyExists(let path): "\(path) already exists"
        case .notFound(let path): "\(path) does not exist"
        case .failedPrecondition(let path): "\(path) was changed by someone else meanwhile"
        case .aborted(let reason): "the store gave up on a transaction that met another: \(Self.oneLine(reason))"
        case .invalidArgument(let reason): "the store refused the request: \(Self.oneLine(reason))"
        case .unavailable(let reason): "the store cannot be reached: \(Self.oneLine(reason))"
        case .internalError(let reason): "the store failed: \(Self.oneLine(reason))"
        }
    }

    /// `text` with each run of whitespace (line breaks and tabs included) as one space.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
