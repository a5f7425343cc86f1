/// A string field's required value: how a query selects documents by what they hold rather
/// than by their ids.
public struct FieldFilter: Equatable, Sendable {
    public let field: String
    public let value: String

    public init(_ field: String, equals value: String) {
        self.field = field
        self.value = value
    }
}

/// A field that documents of one collection are looked up by, so that each store finds them
/// without reading the collection: Firestore indexes every field by itself; the PostgreSQL
/// store keeps the few documents whose id is not the field's value in a table of aliases.
public struct FieldIndex: Hashable, Sendable {
    public let collection: String
    public let field: String

    public init(collection: String, field: String) {
        self.collection = collection
        self.field = field
    }
}

/// The reads a read-write transaction makes: each is isolated, and the transaction commits only
/// if nothing they saw (documents, or what a query would now return) changed meanwhile.
public protocol TransactionReads {
    func get(_ path: DocumentPath) throws(StoreError) -> Document?
    func query(collection: String, where filter: FieldFilter) throws(StoreError) -> [Document]
}

/// A store with serializable read-write transactions (Firestore's): a check made by reading and
/// the writes that depend on it commit together or not at all, also against other programs that
/// write the same database in transactions of their own.
public protocol TransactionalDocumentStore: DocumentStore {
    /// Runs `body` in a new transaction, commits the writes it returns (nothing to commit: the
    /// transaction is rolled back) and returns its result. When the store aborts the transaction
    /// because of contention, `body` runs again in a new one, a few times at most.
    func transaction<Result>(
        _ body: (any TransactionReads) throws(StoreError) -> (writes: [Write], result: Result)
    ) throws(StoreError) -> Result
}
