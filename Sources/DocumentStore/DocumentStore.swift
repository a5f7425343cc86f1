/// A document database in Firestore's vocabulary: top-level collections of documents
/// with typed fields, read by path, by page or by id range, and changed only through
/// atomic commits whose writes carry preconditions. Documents are found by id, and by
/// the few string fields each store was prepared to index (`FieldIndex`).
///
/// An instance is used by one thread at a time (it holds a connection); make one per
/// worker thread with a `DocumentStoreFactory`.
public protocol DocumentStore: AnyObject {
    /// A short name for logs and health checks, e.g. "postgres".
    var backendName: String { get }

    /// The document at `path`, or nil when there is none.
    func get(_ path: DocumentPath) throws(StoreError) -> Document?

    /// One page of `collection` in document-id order, after `pageToken` when given.
    func list(collection: String, pageSize: Int, pageToken: String?) throws(StoreError) -> DocumentPage

    /// The update time of the document at `path`, without its fields, or nil when there is none:
    /// how a cache confirms cheaply that a document has not changed.
    func version(of path: DocumentPath) throws(StoreError) -> DocumentVersion?

    /// Every document of `collection` as its id and update time, in document-id order, without
    /// its fields: how a cache learns cheaply which documents changed.
    func versions(collection: String) throws(StoreError) -> [DocumentVersion]

    /// The id and update time of every document of `collection` created or updated at or after
    /// `since` (by the store's clock), in document-id order, and the store's time when it looked;
    /// nil when the store cannot tell without reading the whole collection (callers then read it
    /// all). Deletions are not reported. How a cache learns what was written since it last
    /// looked, at a cost that follows the writes, not the collection's size.
    func written(collection: String, since: Timestamp) throws(StoreError) -> WrittenDocuments?

    /// The ids of the documents of `collection` that lie in `range` (every one when nil), in
    /// document-id order: how documents whose ids carry their meaning are found, without reading
    /// the documents (PostgreSQL answers from its primary-key index alone).
    func ids(collection: String, in range: DocumentIDRange?) throws(StoreError) -> [String]

    /// The documents of `collection` whose string field `filter.field` holds `filter.value` (every
    /// document when nil), in id order, with only the fields named in `select` when it is given.
    /// How documents are found by a field when their ids are not what they are known by; a
    /// filter's field should be one of the `FieldIndex`es the store was prepared with.
    func query(collection: String, where filter: FieldFilter?, select: [String]?) throws(StoreError) -> [Document]

    /// Applies all `writes` or none of them, and returns the commit time.
    @discardableResult
    func commit(_ writes: [Write]) throws(StoreError) -> Timestamp

    /// Succeeds when the store answers.
    func ping() throws(StoreError)
}

/// The most writes one commit may hold: Firestore's limit, which callers keep to on every store.
public let maximumWritesPerCommit = 500

extension DocumentStore {
    /// Every document of `collection`, fetched page by page.
    public func listAll(collection: String, pageSize: Int = 500) throws(StoreError) -> [Document] {
        var documents: [Document] = []
        var token: String? = nil
        repeat {
            let page = try list(collection: collection, pageSize: pageSize, pageToken: token)
            documents += page.documents
            token = page.nextPageToken
        } while token != nil
        return documents
    }
}

extension DocumentStore {
    /// Applies `writes` in commits of at most `maximumWritesPerCommit`, in order: for work of
    /// many independent writes (pruning), which need not be atomic as a whole. `progress` is told
    /// how many writes are committed after each commit.
    public func commit(inChunks writes: [Write], progress: (Int) -> Void = { _ in }) throws(StoreError) {
        for start in stride(from: 0, to: writes.count, by: maximumWritesPerCommit) {
            let end = min(start + maximumWritesPerCommit, writes.count)
            try commit(Array(writes[start..<end]))
            progress(end)
        }
    }
}

/// Makes store instances, one per worker thread; safe to share between threads.
public typealias DocumentStoreFactory = @Sendable () -> any DocumentStore
