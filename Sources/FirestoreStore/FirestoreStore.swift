import CurlClients
import DocumentStore
import JSON
import TextEncodings

#if canImport(Glibc)
    import Glibc
#endif

/// `DocumentStore` on the Cloud Firestore REST API v1 (or its emulator), through libcurl.
///
/// Errors are classified on the `status` of Google's error body, not on the HTTP code (over
/// REST both ALREADY_EXISTS and ABORTED arrive as 409). Transient statuses and calls that got
/// no answer are retried with jittered exponential backoff, up to `maximumAttempts` calls, and
/// then reported as `StoreError.unavailable`. A retried commit may already have been applied:
/// its must-not-exist preconditions then fail, and callers read back what they wrote.
public final class FirestoreStore: TransactionalDocumentStore {
    public var backendName: String {
        if case .emulator = configuration.credentials { return "firestore-emulator" }
        return "firestore"
    }

    private let configuration: FirestoreConfiguration
    private let tokens: AccessTokens
    private let client: HTTPClient

    /// - Parameter tokens: shared by every store of the process; make it with `makeTokenCache`.
    public init(configuration: FirestoreConfiguration, tokens: TokenCache) {
        self.configuration = configuration
        self.tokens = tokens.tokens
        self.client = HTTPClient(
            timeoutMilliseconds: configuration.timeoutMilliseconds,
            connectTimeoutMilliseconds: min(configuration.timeoutMilliseconds, 3000))
    }

    /// The access-token cache the stores of one process share.
    public struct TokenCache: Sendable {
        fileprivate let tokens: AccessTokens
        public init(credentials: FirestoreConfiguration.Credentials) { tokens = AccessTokens(credentials: credentials) }
    }

    // MARK: - DocumentStore

    public func get(_ path: DocumentPath) throws(StoreError) -> Document? {
        try validate(path)
        do {
            return try document(from: call("GET", url(for: path)), fallbackPath: path)
        } catch .notFound {
            return nil
        }
    }

    public func list(collection: String, pageSize: Int, pageToken: String?) throws(StoreError) -> DocumentPage {
        guard pageSize > 0 else { throw .invalidArgument("page size must be positive") }
        try validateCollection(collection)
        var url = "\(documentsURL)/\(PercentEncoding.encode(collection))?pageSize=\(pageSize)&orderBy=__name__"
        if let pageToken { url += "&pageToken=\(PercentEncoding.encode(pageToken))" }
        let json = try call("GET", url)
        var documents: [Document] = []
        for encoded in json["documents"]?.arrayValue ?? [] {
            documents.append(try document(from: encoded, fallbackPath: nil))
        }
        let token = json["nextPageToken"]?.stringValue
        return DocumentPage(documents: documents, nextPageToken: token?.isEmpty == false ? token : nil)
    }

    /// A keys-only query (below) for the one name.
    public func version(of path: DocumentPath) throws(StoreError) -> DocumentVersion? {
        try validate(path)
        return try keysOnly(path.collection, where: nameFilter("EQUAL", path)).first
    }

    /// A keys-only query (below).
    public func versions(collection: String) throws(StoreError) -> [DocumentVersion] {
        try validateCollection(collection)
        return try keysOnly(collection, where: nil)
    }

    /// A keys-only query (below); a range is a pair of `__name__` filters (Firestore orders
    /// names by their UTF-8 bytes).
    /// Firestore cannot filter by a document's update time (it is not a field), so it cannot tell.
    public func written(collection: String, since: Timestamp) throws(StoreError) -> WrittenDocuments? {
        nil
    }

    public func ids(collection: String, in range: DocumentIDRange?) throws(StoreError) -> [String] {
        try validateCollection(collection)
        guard let range else { return try keysOnly(collection, where: nil).map(\.id) }
        try range.validate()
        return try keysOnly(
            collection,
            where: .object([
                "compositeFilter": .object([
                    "op": .string("AND"),
                    "filters": .array([
                        nameFilter("GREATER_THAN_OR_EQUAL", DocumentPath(collection, range.lowerBound)),
                        nameFilter("LESS_THAN", DocumentPath(collection, range.upperBound)),
                    ]),
                ])
            ])
        ).map(\.id)
    }

    /// A structured query with an equality filter on the field (Firestore keeps a single-field
    /// index on every field unless told otherwise), in id order.
    public func query(collection: String, where filter: FieldFilter?, select: [String]?) throws(StoreError) -> [Document] {
        try query(collection: collection, where: filter, select: select, transaction: nil)
    }

    private func query(
        collection: String, where filter: FieldFilter?, select: [String]?,
        transaction: String?
    ) throws(StoreError) -> [Document] {
        try validateCollection(collection)
        var structured: [String: JSON] = ["from": .array([.object(["collectionId": .string(collection)])]), "orderBy": Self.byName]
        if let filter {
            structured["where"] = .object([
                "fieldFilter": .object([
                    "field": .object(["fieldPath": .string(Self.fieldPath(filter.field))]), "op": .string("EQUAL"),
                    "value": .object(["stringValue": .string(filter.value)]),
                ])
            ])
        }
        if let select {
            // An empty selection would return every field: name the document's name alone instead.
            let paths = select.isEmpty ? ["__name__"] : select.map(Self.fieldPath)
            structured["select"] = .object(["fields": .array(paths.map { .object(["fieldPath": .string($0)]) })])
        }
        return try runQuery(structured, transaction: transaction)
    }

    /// A field path for a top-level field: plain names as they are, others quoted in backticks.
    private static func fieldPath(_ field: String) -> String {
        let plain =
            field.utf8.first.map { !(48...57).contains($0) } ?? false
            && field.utf8.allSatisfy { (97...122).contains($0) || (65...90).contains($0) || (48...57).contains($0) || $0 == 95 }
        if plain { return field }
        var quoted = "`"
        for character in field {
            if character == "`" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "`"
    }

    /// The ids and update times of the documents of `collection` that `filter` selects, in id
    /// order: the projection `__name__` returns documents without their fields.
    private func keysOnly(_ collection: String, where filter: JSON?) throws(StoreError) -> [DocumentVersion] {
        var structured: [String: JSON] = [
            "from": .array([.object(["collectionId": .string(collection)])]),
            "select": .object(["fields": .array([.object(["fieldPath": .string("__name__")])])]),
            "orderBy": Self.byName,
        ]
        structured["where"] = filter
        return try runQuery(structured).map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) }
    }

    /// A filter comparing documents' names with the name of `path`.
    private func nameFilter(_ op: String, _ path: DocumentPath) -> JSON {
        .object([
            "fieldFilter": .object([
                "field": .object(["fieldPath": .string("__name__")]), "op": .string(op),
                "value": .object(["referenceValue": .string(name(of: path))]),
            ])
        ])
    }

    private static let byName: JSON = .array([.object(["field": .object(["fieldPath": .string("__name__")]), "direction": .string("ASCENDING")])])

    private func runQuery(_ structured: [String: JSON], transaction: String? = nil) throws(StoreError) -> [Document] {
        var request: [String: JSON] = ["structuredQuery": .object(structured)]
        request["transaction"] = transaction.map(JSON.string)
        let results = try call("POST", "\(documentsURL):runQuery", body: .object(request))
        var documents: [Document] = []
        for result in results.arrayValue ?? [] {
            if let encoded = result["document"] { documents.append(try document(from: encoded, fallbackPath: nil)) }
        }
        return documents
    }

    @discardableResult
    public func commit(_ writes: [Write]) throws(StoreError) -> Timestamp {
        try commit(writes, transaction: nil)
    }

    private func commit(_ writes: [Write], transaction: String?) throws(StoreError) -> Timestamp {
        for write in writes { try validate(write.path) }
        var body = Array(#"{"writes":"#.utf8)
        JSON.writeArray(writes, to: &body, writeElement: encode)
        if let transaction {
            body.append(contentsOf: #","transaction":"#.utf8)
            JSON.writeString(transaction, to: &body)
        }
        body.append(UInt8(ascii: "}"))
        // A transaction that Firestore aborted is over: it is begun again, not its commit sent again.
        let response = try call("POST", "\(documentsURL):commit", body: body, retryingAborted: transaction == nil)
        guard let text = response["commitTime"]?.stringValue, let time = Timestamp(rfc3339: text) else {
            throw .internalError("commit answered without a commit time")
        }
        return time
    }

    /// How many times a transaction is begun when Firestore keeps aborting it (Google's client
    /// libraries try five times too).
    static let maximumTransactionAttempts = 5

    /// `beginTransaction`, the reads with its id, then `commit` with it (or `rollback` when there
    /// is nothing to write). Firestore aborts the transaction when a document it read, or the
    /// result of a query it ran, changed before its commit, and then it runs again.
    public func transaction<Result>(
        _ body: (any TransactionReads) throws(StoreError) -> (writes: [Write], result: Result)
    ) throws(StoreError) -> Result {
        var attempt = 0
        while true {
            attempt += 1
            let begun = try call(
                "POST", "\(documentsURL):beginTransaction",
                body: .object(["options": .object(["readWrite": .object([:])])]))
            guard let id = begun["transaction"]?.stringValue else { throw .internalError("beginTransaction answered without an id") }
            let reads = Reads(store: self, transaction: id)
            do {
                let (writes, result) = try body(reads)
                if writes.isEmpty {
                    rollBack(id)
                } else {
                    _ = try commit(writes, transaction: id)
                }
                return result
            } catch .aborted where attempt < Self.maximumTransactionAttempts {
                rollBack(id)
                backOff(attempt: attempt)
            } catch .aborted {
                rollBack(id)
                throw .unavailable("Firestore aborted the transaction \(attempt) times (contention)")
            } catch {
                rollBack(id)
                throw error
            }
        }
    }

    /// Ends a transaction without writing; a failure leaves it to expire, as Firestore does.
    private func rollBack(_ transaction: String) {
        _ = try? call("POST", "\(documentsURL):rollback", body: .object(["transaction": .string(transaction)]))
    }

    /// The reads of one transaction.
    private struct Reads: TransactionReads {
        let store: FirestoreStore
        let transaction: String

        func get(_ path: DocumentPath) throws(StoreError) -> Document? {
            try store.validate(path)
            let url = store.url(for: path) + "?transaction=" + PercentEncoding.encode(transaction)
            do {
                return try store.document(from: store.call("GET", url), fallbackPath: path)
            } catch .notFound {
                return nil
            }
        }

        func query(collection: String, where filter: FieldFilter) throws(StoreError) -> [Document] {
            try store.query(collection: collection, where: filter, select: nil, transaction: transaction)
        }
    }

    public func ping() throws(StoreError) {
        _ = try list(collection: "services", pageSize: 1, pageToken: nil)
    }

    // MARK: - Requests

    private var documentsURL: String {
        "\(configuration.endpoint)/v1/projects/\(PercentEncoding.encode(configuration.projectID))/databases/\(PercentEncoding.encode(configuration.databaseID))/documents"
    }

    private func url(for path: DocumentPath) -> String {
        "\(documentsURL)/\(PercentEncoding.encode(path.collection))/\(PercentEncoding.encode(path.id))"
    }

    private func name(of path: DocumentPath) -> String {
        "\(configuration.documentsName)/\(path.collection)/\(path.id)"
    }

    /// `call` with a JSON body.
    private func call(_ method: String, _ url: String, body: JSON) throws(StoreError) -> JSON {
        try call(method, url, body: body.serialized())
    }

    /// One API call with retries; returns the response's JSON or throws the classified error.
    private func call(_ method: String, _ url: String, body bytes: [UInt8]? = nil, retryingAborted: Bool = true) throws(StoreError) -> JSON {
        var attempt = 0
        var retriedInternal = false
        var refreshedToken = false
        while true {
            attempt += 1
            let response: HTTPClient.Response
            do {
                let token = try tokens.token(using: client)
                response = try send(method, url, token: token, body: bytes)
            } catch {
                // No answer (a timeout, a refused connection) or no token: transient.
                let failure = (error as? StoreError) ?? .unavailable("Firestore: \(error)")
                guard case .unavailable = failure, attempt < configuration.maximumAttempts else { throw failure }
                backOff(attempt: attempt)
                continue
            }
            if (200..<300).contains(response.status) {
                guard let json = try? JSONParser.parse(response.body.isEmpty ? Array("{}".utf8) : response.body) else {
                    throw .internalError("Firestore answered with malformed JSON")
                }
                return json
            }
            let error = GoogleError(response)
            switch error.status {
            case "UNAUTHENTICATED" where !refreshedToken:
                tokens.invalidate()
                refreshedToken = true
                attempt -= 1
                continue
            case "INTERNAL" where !retriedInternal:
                retriedInternal = true
            case "ABORTED" where !retryingAborted:
                throw .aborted(error.message)
            case "ABORTED", "UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED":
                break
            default:
                throw error.storeError
            }
            guard attempt < configuration.maximumAttempts else { throw error.storeError }
            backOff(attempt: attempt)
        }
    }

    private func send(_ method: String, _ url: String, token: String, body: [UInt8]?) throws(HTTPClient.TransportError) -> HTTPClient.Response {
        var headers = ["Authorization: Bearer \(token)", "Accept: application/json"]
        if body != nil { headers.append("Content-Type: application/json") }
        return try client.send(method, url, headers: headers, body: body)
    }

    /// Sleeps a random time up to 100 ms × 2^(attempt−1), at most 2 s ("full jitter").
    private func backOff(attempt: Int) {
        let ceiling = min(2_000_000, 100_000 << min(attempt - 1, 10))
        usleep(UInt32.random(in: UInt32(ceiling / 4)...UInt32(ceiling)))
    }

    // MARK: - Encoding

    /// Appends a write as the Write message of the REST API.
    private func encode(_ write: Write, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "{"))
        let precondition: Precondition
        switch write {
        case .set(let path, let fields, let condition):
            output.append(contentsOf: #""update":{"fields":"#.utf8)
            Value.writeFirestoreJSON(fields, to: &output)
            output.append(contentsOf: #","name":"#.utf8)
            JSON.writeString(name(of: path), to: &output)
            output.append(UInt8(ascii: "}"))
            precondition = condition
        case .delete(let path, let condition):
            output.append(contentsOf: #""delete":"#.utf8)
            JSON.writeString(name(of: path), to: &output)
            precondition = condition
        }
        switch precondition {
        case .none: break
        case .exists(let exists):
            output.append(contentsOf: (exists ? #","currentDocument":{"exists":true}"# : #","currentDocument":{"exists":false}"#).utf8)
        case .updateTime(let time):
            output.append(contentsOf: #","currentDocument":{"updateTime":"#.utf8)
            JSON.writeString(time.rfc3339, to: &output)
            output.append(UInt8(ascii: "}"))
        }
        output.append(UInt8(ascii: "}"))
    }

    private func document(from json: JSON, fallbackPath: DocumentPath?) throws(StoreError) -> Document {
        guard let name = json["name"]?.stringValue, let path = DocumentPath(name: name, under: configuration.documentsName) ?? fallbackPath,
            let created = json["createTime"]?.stringValue.flatMap(Timestamp.init(rfc3339:)),
            let updated = json["updateTime"]?.stringValue.flatMap(Timestamp.init(rfc3339:)),
            let fields = Value.fields(firestoreJSON: json["fields"] ?? .object([:]))
        else { throw .internalError("Firestore answered with a malformed document") }
        return Document(path: path, fields: fields, createTime: created, updateTime: updated)
    }

    private func validate(_ path: DocumentPath) throws(StoreError) {
        try validateCollection(path.collection)
        guard DocumentPath.isValidID(path.id) else { throw .invalidArgument("Firestore does not allow the document id \"\(path.id.prefix(40))\"") }
    }

    private func validateCollection(_ collection: String) throws(StoreError) {
        guard DocumentPath.isValidID(collection) else { throw .invalidArgument("invalid collection id \"\(collection.prefix(40))\"") }
    }
}

extension DocumentPath {
    /// The path of a full document name (`projects/p/databases/d/documents/c/id`) under `parent`.
    init?(name: String, under parent: String) {
        guard name.hasPrefix(parent + "/") else { return nil }
        let rest = name.dropFirst(parent.count + 1)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let id = rest[rest.index(after: slash)...]
        guard !id.contains("/") else { return nil }
        self.init(String(rest[..<slash]), String(id))
    }
}
