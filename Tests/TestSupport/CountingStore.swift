import DocumentStore
import Synchronization

/// A store that forwards every call to another and counts the calls by name, for tests of what
/// a cache spares the store.
public final class CountingStore: DocumentStore {
    private let store: any DocumentStore
    private let counts = Mutex<[String: Int]>([:])
    private let writtenAsked = Mutex<[(collection: String, since: Timestamp)]>([])

    private let tellsWritten: Bool

    /// - Parameter tellsWritten: false answers `written` with nil, as Firestore does.
    public init(_ store: any DocumentStore, tellsWritten: Bool = true) {
        self.store = store
        self.tellsWritten = tellsWritten
    }

    /// How many times `call` ("get", "version", "list", "versions", "written", "ids", "query", "commit") ran.
    public func count(_ call: String) -> Int { counts.withLock { $0[call] ?? 0 } }

    /// The `since` of every call of `written` for `collection`, in order.
    public func writtenSince(in collection: String) -> [Timestamp] {
        writtenAsked.withLock { $0.filter { $0.collection == collection }.map(\.since) }
    }

    private func counted<T>(_ call: String, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        counts.withLock { $0[call, default: 0] += 1 }
        return try body()
    }

    public var backendName: String { store.backendName }

    public func get(_ path: DocumentPath) throws(StoreError) -> Document? {
        try counted("get") { () throws(StoreError) in try store.get(path) }
    }

    public func list(collection: String, pageSize: Int, pageToken: String?) throws(StoreError) -> DocumentPage {
        try counted("list") { () throws(StoreError) in try store.list(collection: collection, pageSize: pageSize, pageToken: pageToken) }
    }

    public func version(of path: DocumentPath) throws(StoreError) -> DocumentVersion? {
        try counted("version") { () throws(StoreError) in try store.version(of: path) }
    }

    public func versions(collection: String) throws(StoreError) -> [DocumentVersion] {
        try counted("versions") { () throws(StoreError) in try store.versions(collection: collection) }
    }

    public func written(collection: String, since: Timestamp) throws(StoreError) -> WrittenDocuments? {
        writtenAsked.withLock { $0.append((collection, since)) }
        return try counted("written") { () throws(StoreError) in tellsWritten ? try store.written(collection: collection, since: since) : nil }
    }

    public func ids(collection: String, in range: DocumentIDRange?) throws(StoreError) -> [String] {
        try counted("ids") { () throws(StoreError) in try store.ids(collection: collection, in: range) }
    }

    public func query(collection: String, where filter: FieldFilter?, select: [String]?) throws(StoreError) -> [Document] {
        try counted("query") { () throws(StoreError) in try store.query(collection: collection, where: filter, select: select) }
    }

    @discardableResult
    public func commit(_ writes: [Write]) throws(StoreError) -> Timestamp {
        try counted("commit") { () throws(StoreError) in try store.commit(writes) }
    }

    public func ping() throws(StoreError) {
        try counted("ping") { () throws(StoreError) in try store.ping() }
    }
}
