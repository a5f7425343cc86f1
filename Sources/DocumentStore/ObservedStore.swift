/// A store call's name, for an observer.
public enum StoreOperation: String, CaseIterable, Sendable {
    case get, list, version, versions, written, ids, query, commit, ping, transaction

    /// The operation's place in `allCases`, for per-operation arrays (no hashing per call).
    public var index: Int {
        switch self {
        case .get: 0
        case .list: 1
        case .version: 2
        case .versions: 3
        case .written: 4
        case .ids: 5
        case .query: 6
        case .commit: 7
        case .ping: 8
        case .transaction: 9
        }
    }
}

/// Told of every call an `ObservedStore` forwards, when it has returned: how a server counts and
/// times its store calls without the stores knowing of metrics.
public protocol StoreObserver: AnyObject {
    /// `operation` took `duration` and failed with `failure`, or succeeded when it is nil.
    func observe(_ operation: StoreOperation, took duration: Duration, failure: StoreError?)
}

/// A store that forwards every call to another and tells an observer of each.
public class ObservedStore: DocumentStore {
    private let store: any DocumentStore
    private let observer: any StoreObserver

    /// `store` observed: with transactions when it has them (`ObservedTransactionalStore`).
    public static func observing(_ store: any DocumentStore, with observer: any StoreObserver) -> any DocumentStore {
        if let transactional = store as? any TransactionalDocumentStore { return ObservedTransactionalStore(transactional, observer: observer) }
        return ObservedStore(store, observer: observer)
    }

    init(_ store: any DocumentStore, observer: any StoreObserver) {
        self.store = store
        self.observer = observer
    }

    fileprivate func observed<T>(_ operation: StoreOperation, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        let started = ContinuousClock.now
        do {
            let result = try body()
            observer.observe(operation, took: started.duration(to: .now), failure: nil)
            return result
        } catch {
            observer.observe(operation, took: started.duration(to: .now), failure: error)
            throw error
        }
    }

    public var backendName: String { store.backendName }

    public func get(_ path: DocumentPath) throws(StoreError) -> Document? {
        try observed(.get) { () throws(StoreError) in try store.get(path) }
    }

    public func list(collection: String, pageSize: Int, pageToken: String?) throws(StoreError) -> DocumentPage {
        try observed(.list) { () throws(StoreError) in try store.list(collection: collection, pageSize: pageSize, pageToken: pageToken) }
    }

    public func version(of path: DocumentPath) throws(StoreError) -> DocumentVersion? {
        try observed(.version) { () throws(StoreError) in try store.version(of: path) }
    }

    public func versions(collection: String) throws(StoreError) -> [DocumentVersion] {
        try observed(.versions) { () throws(StoreError) in try store.versions(collection: collection) }
    }

    public func written(collection: String, since: Timestamp) throws(StoreError) -> WrittenDocuments? {
        try observed(.written) { () throws(StoreError) in try store.written(collection: collection, since: since) }
    }

    public func ids(collection: String, in range: DocumentIDRange?) throws(StoreError) -> [String] {
        try observed(.ids) { () throws(StoreError) in try store.ids(collection: collection, in: range) }
    }

    public func query(collection: String, where filter: FieldFilter?, select: [String]?) throws(StoreError) -> [Document] {
        try observed(.query) { () throws(StoreError) in try store.query(collection: collection, where: filter, select: select) }
    }

    @discardableResult
    public func commit(_ writes: [Write]) throws(StoreError) -> Timestamp {
        try observed(.commit) { () throws(StoreError) in try store.commit(writes) }
    }

    public func ping() throws(StoreError) {
        try observed(.ping) { () throws(StoreError) in try store.ping() }
    }
}

/// An observed store with transactions, each observed as one call (however often it ran).
final class ObservedTransactionalStore: ObservedStore, TransactionalDocumentStore {
    private let transactional: any TransactionalDocumentStore

    init(_ store: any TransactionalDocumentStore, observer: any StoreObserver) {
        transactional = store
        super.init(store, observer: observer)
    }

    func transaction<Result>(
        _ body: (any TransactionReads) throws(StoreError) -> (writes: [Write], result: Result)
    ) throws(StoreError) -> Result {
        try observed(.transaction) { () throws(StoreError) in try transactional.transaction(body) }
    }
}

extension StoreError {
    /// The error's kind in Firestore's status vocabulary, as a metric's label.
    public var kind: String {
        switch self {
        case .alreadyExists: "already_exists"
        case .notFound: "not_found"
        case .failedPrecondition: "failed_precondition"
        case .aborted: "aborted"
        case .invalidArgument: "invalid_argument"
        case .unavailable: "unavailable"
        case .internalError: "internal"
        }
    }
}
