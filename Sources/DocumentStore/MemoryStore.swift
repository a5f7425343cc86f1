import Synchronization

/// A document database in this process's memory: the twin of the PostgreSQL and Firestore
/// stores that the booking rules' unit tests run on, in microseconds and with no server.
///
/// It keeps the other stores' semantics, which the conformance suite holds it to: atomic
/// commits with preconditions, ids in UTF-8 byte order, update times that advance with every
/// commit, and serializable transactions (one commits only if every document it read, and the
/// result of every query it ran, is as it was). Commit times come from `clock`, so a test's
/// manual clock decides them too (a commit at the same instant as the last gets one microsecond more).
public final class MemoryDatabase: Sendable {
    fileprivate struct Stored {
        var fields: [String: Value]
        var createTime: Timestamp
        var updateTime: Timestamp
    }

    fileprivate struct State {
        var collections: [ExactString: [ExactString: Stored]] = [:]
        var lastCommit = Timestamp(seconds: 0)
    }

    fileprivate let state = Mutex(State())
    let clock: @Sendable () -> Timestamp

    public init(clock: @escaping @Sendable () -> Timestamp = Timestamp.now) {
        self.clock = clock
    }

    /// A store on this database; like the other stores', one per thread (they are cheap).
    public func makeStore() -> MemoryStore { MemoryStore(database: self) }

    /// The next commit's time: the clock's, at microsecond precision as the other stores keep
    /// it, and after the last commit's.
    fileprivate func nextCommitTime(after last: Timestamp) -> Timestamp {
        let now = Timestamp(microseconds: clock().microseconds)
        return now > last ? now : Timestamp(microseconds: last.microseconds + 1)
    }
}

/// `DocumentStore` on a `MemoryDatabase`.
public final class MemoryStore: TransactionalDocumentStore {
    public let backendName = "memory"
    private let database: MemoryDatabase

    fileprivate init(database: MemoryDatabase) {
        self.database = database
    }

    public func get(_ path: DocumentPath) throws(StoreError) -> Document? {
        try Self.validate(path)
        return database.state.withLock { $0.document(at: path) }
    }

    public func list(collection: String, pageSize: Int, pageToken: String?) throws(StoreError) -> DocumentPage {
        guard pageSize > 0 else { throw .invalidArgument("page size must be positive") }
        let documents = database.state.withLock { state in
            state.documents(in: collection).filter { pageToken == nil || Self.precedes(pageToken!, $0.path.id) }
        }
        guard documents.count > pageSize else { return DocumentPage(documents: documents, nextPageToken: nil) }
        let page = Array(documents.prefix(pageSize))
        return DocumentPage(documents: page, nextPageToken: page.last!.path.id)
    }

    public func version(of path: DocumentPath) throws(StoreError) -> DocumentVersion? {
        try get(path).map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) }
    }

    public func versions(collection: String) throws(StoreError) -> [DocumentVersion] {
        database.state.withLock { $0.documents(in: collection) }.map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) }
    }

    public func written(collection: String, since: Timestamp) throws(StoreError) -> WrittenDocuments? {
        let (documents, asOf) = database.state.withLock { ($0.documents(in: collection), database.clock()) }
        return WrittenDocuments(
            documents: documents.lazy.filter { $0.updateTime >= since }.map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) },
            asOf: asOf)
    }

    public func ids(collection: String, in range: DocumentIDRange?) throws(StoreError) -> [String] {
        try range?.validate()
        let ids = database.state.withLock { $0.documents(in: collection) }.map(\.path.id)
        guard let range else { return ids }
        return ids.filter { !Self.precedes($0, range.lowerBound) && Self.precedes($0, range.upperBound) }
    }

    public func query(collection: String, where filter: FieldFilter?, select: [String]?) throws(StoreError) -> [Document] {
        database.state.withLock { $0.query(collection: collection, where: filter, select: select) }
    }

    @discardableResult
    public func commit(_ writes: [Write]) throws(StoreError) -> Timestamp {
        try commit(writes, unlessChanged: nil)
    }

    public func ping() throws(StoreError) {}

    /// Reads record what they saw; the commit checks it under the database's lock.
    public func transaction<Result>(
        _ body: (any TransactionReads) throws(StoreError) -> (writes: [Write], result: Result)
    ) throws(StoreError) -> Result {
        for _ in 1...5 {
            let reads = Reads(store: self)
            let (writes, result) = try body(reads)
            guard !writes.isEmpty else { return result }
            do {
                _ = try commit(writes, unlessChanged: reads)
                return result
            } catch .aborted {
                continue
            }
        }
        throw .unavailable("the transaction was aborted 5 times (contention)")
    }

    /// Applies `writes` atomically; with `reads`, only if what they saw is unchanged.
    private func commit(_ writes: [Write], unlessChanged reads: Reads?) throws(StoreError) -> Timestamp {
        for write in writes { try Self.validate(write.path) }
        return try database.state.withLock { (state: inout MemoryDatabase.State) throws(StoreError) -> Timestamp in
            if let reads, !reads.stillHold(in: state) { throw .aborted("a document or query this transaction read has changed") }
            var staged = state
            let time = database.nextCommitTime(after: state.lastCommit)
            for write in writes {
                let current = staged.collections[ExactString(write.path.collection)]?[ExactString(write.path.id)]
                let precondition: Precondition
                switch write {
                case .set(_, _, let condition), .delete(_, let condition): precondition = condition
                }
                switch precondition {
                case .none: break
                case .exists(false) where current != nil: throw .alreadyExists(write.path)
                case .exists(true) where current == nil: throw .notFound(write.path)
                case .exists: break
                case .updateTime(let expected): guard current?.updateTime == expected else { throw .failedPrecondition(write.path) }
                }
                switch write {
                case .set(let path, let fields, _):
                    staged.collections[ExactString(path.collection), default: [:]][ExactString(path.id)] =
                        MemoryDatabase.Stored(fields: fields, createTime: current?.createTime ?? time, updateTime: time)
                case .delete(let path, _):
                    staged.collections[ExactString(path.collection)]?[ExactString(path.id)] = nil
                }
            }
            staged.lastCommit = time
            state = staged
            return time
        }
    }

    /// What one transaction read: each document's update time (nil: none), and each query's result.
    private final class Reads: TransactionReads {
        let store: MemoryStore
        private let seen = Mutex<(documents: [DocumentPath: Timestamp?], queries: [(String, FieldFilter, [DocumentVersion])])>(([:], []))

        init(store: MemoryStore) {
            self.store = store
        }

        func get(_ path: DocumentPath) throws(StoreError) -> Document? {
            try MemoryStore.validate(path)
            let document = store.database.state.withLock { $0.document(at: path) }
            seen.withLock { _ = $0.documents.updateValue(document?.updateTime, forKey: path) }
            return document
        }

        func query(collection: String, where filter: FieldFilter) throws(StoreError) -> [Document] {
            let documents = store.database.state.withLock { $0.query(collection: collection, where: filter, select: nil) }
            let versions = documents.map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) }
            seen.withLock { $0.queries.append((collection, filter, versions)) }
            return documents
        }

        fileprivate func stillHold(in state: MemoryDatabase.State) -> Bool {
            seen.withLock { seen in
                seen.documents.allSatisfy { path, time in state.document(at: path)?.updateTime == time }
                    && seen.queries.allSatisfy { collection, filter, versions in
                        state.query(collection: collection, where: filter, select: nil).map {
                            DocumentVersion(id: $0.path.id, updateTime: $0.updateTime)
                        } == versions
                    }
            }
        }
    }

    private static func validate(_ path: DocumentPath) throws(StoreError) {
        guard DocumentPath.isValidID(path.collection), DocumentPath.isValidID(path.id) else {
            throw .invalidArgument("invalid document path \(path)")
        }
    }

    /// Whether `lhs` sorts before `rhs` by UTF-8 bytes, as every store orders ids.
    fileprivate static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}

extension MemoryDatabase.State {
    func document(at path: DocumentPath) -> Document? {
        collections[ExactString(path.collection)]?[ExactString(path.id)].map { stored in
            Document(path: path, fields: stored.fields, createTime: stored.createTime, updateTime: stored.updateTime)
        }
    }

    /// Every document of the collection, in id order.
    func documents(in collection: String) -> [Document] {
        (collections[ExactString(collection)] ?? [:])
            .sorted { MemoryStore.precedes($0.key.string, $1.key.string) }
            .map { id, stored in
                Document(
                    path: DocumentPath(collection, id.string), fields: stored.fields, createTime: stored.createTime, updateTime: stored.updateTime)
            }
    }

    func query(collection: String, where filter: FieldFilter?, select: [String]?) -> [Document] {
        documents(in: collection).compactMap { document in
            if let filter, document[filter.field] != .string(filter.value) { return nil }
            guard let select else { return document }
            return Document(
                path: document.path, fields: document.fields.filter { select.contains($0.key) },
                createTime: document.createTime, updateTime: document.updateTime)
        }
    }
}
