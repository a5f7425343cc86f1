import CPostgres
import DocumentStore
import JSON

/// `DocumentStore` on PostgreSQL JSONB through libpq: one connection, prepared statements,
/// and commits applied by the `docstore_commit_batch` function, together with the concurrent
/// commits of the other stores that share its `CommitBatcher` (one round trip and one
/// transaction per batch, each commit succeeding or failing alone).
///
/// The connection is opened lazily and reopened after it breaks (a server restart, say). A call
/// that meets a broken connection, a lock or statement timeout or a serialization failure is
/// tried up to three times (after 50 and 200 ms), then throws `StoreError.unavailable`. A retried
/// commit may have been applied by the first try: its must-not-exist preconditions then fail,
/// and callers read back what they wrote.
///
/// Every call ends within its timeout (and half a second of grace), whatever the server does:
/// connecting, sending and waiting for answers are non-blocking with a deadline, since a server
/// that is stopped or cut off (no answer, no error, no closed connection) would otherwise hold a
/// thread for minutes. A commit carries its deadline to the server, which refuses to apply it
/// later: a commit whose caller gave up is never applied afterwards, so only a commit answered
/// within the grace, and the answer lost, has an outcome the caller cannot know.
public final class PostgresStore: DocumentStore {
    public let backendName = "postgres"

    private let connectionString: String
    private let batcher: CommitBatcher
    private var connection: OpaquePointer?
    /// The fields documents are looked up by, per collection: their writes carry aliases.
    private let indexedFields: [String: [String]]
    /// How long one call may take, retries included, in microseconds.
    private let timeoutMicroseconds: Int64
    /// The deadline of the call under way (µs since 1970; set by `retrying` and `apply`).
    private var deadline: Int64 = 0
    /// How long past its deadline a call still waits for an answer: a commit the server applied
    /// just before the deadline (it refuses to after) is still heard of.
    static let graceMicroseconds: Int64 = 500_000

    /// - Parameters:
    ///   - connectionString: a libpq URL or key=value string; empty to use libpq's environment
    ///     (`PGHOST`, `PGDATABASE`, ...).
    ///   - batcher: shared by the stores of a process's threads so that their commits are batched.
    ///   - fieldIndexes: the fields `query` finds documents by through `document_aliases` (every
    ///     store of a database should be told the same); other fields are found by a scan.
    ///   - timeoutMilliseconds: how long one call may take, retries included; also the server's
    ///     `statement_timeout`, so that a statement waiting for a lock ends on the server too.
    public init(
        connectionString: String, batcher: CommitBatcher = CommitBatcher(), fieldIndexes: [FieldIndex] = [],
        timeoutMilliseconds: Int = PostgresStore.defaultTimeoutMilliseconds
    ) {
        self.connectionString = connectionString
        self.batcher = batcher
        self.indexedFields = Dictionary(grouping: fieldIndexes, by: \.collection).mapValues { $0.map(\.field) }
        self.timeoutMicroseconds = Int64(timeoutMilliseconds) * 1000
    }

    public static let defaultTimeoutMilliseconds = 5000

    deinit {
        if let connection { PQfinish(connection) }
    }

    /// Creates or updates the schema, and the aliases of stored documents for the fields this
    /// store was told of. Idempotent; safe to run from many processes at once.
    public func migrate() throws(StoreError) {
        // Adding the aliases of a large table may take a while: the timeout bounds the connecting.
        deadline = Timestamp.now().microseconds + timeoutMicroseconds
        let connection = try openConnection()
        defer { PQfinish(connection) }
        let fieldIndexes = indexedFields.sorted { $0.key < $1.key }.flatMap { collection, fields in
            fields.map { FieldIndex(collection: collection, field: $0) }
        }
        let result = PQexec(connection, try Schema.migration(fieldIndexes: fieldIndexes))
        defer { PQclear(result) }
        try check(result, on: connection)
    }

    public func get(_ path: DocumentPath) throws(StoreError) -> Document? {
        try retrying { () throws(StoreError) in
            try documents(from: execute("get", [path.collection, path.id]), collection: path.collection).first
        }
    }

    public func list(collection: String, pageSize: Int, pageToken: String?) throws(StoreError) -> DocumentPage {
        guard pageSize > 0 else { throw .invalidArgument("page size must be positive") }
        return try retrying { () throws(StoreError) in
            // Ask for one more row than the page holds to know whether another page follows.
            let rows = try documents(from: execute("list", [collection, pageToken ?? "", String(pageSize + 1)]), collection: collection)
            guard rows.count > pageSize else { return DocumentPage(documents: rows, nextPageToken: nil) }
            let page = Array(rows.prefix(pageSize))
            return DocumentPage(documents: page, nextPageToken: page.last!.path.id)
        }
    }

    public func version(of path: DocumentPath) throws(StoreError) -> DocumentVersion? {
        try retrying { () throws(StoreError) in
            try versions(from: execute("version", [path.collection, path.id]), collection: path.collection).first
        }
    }

    public func versions(collection: String) throws(StoreError) -> [DocumentVersion] {
        try retrying { () throws(StoreError) in
            try versions(from: execute("versions", [collection]), collection: collection)
        }
    }

    /// Found through a BRIN index on the update time: rows are appended in about the order they
    /// are written, so only the block ranges written lately are read.
    public func written(collection: String, since: Timestamp) throws(StoreError) -> WrittenDocuments? {
        try retrying { () throws(StoreError) in
            let result = try execute("written", [collection, String(since.microseconds)])
            defer { PQclear(result) }
            var documents: [DocumentVersion] = []
            var asOf: Int64?
            for row in 0..<PQntuples(result) {
                asOf = Int64(text(result, row, 0) ?? "")
                guard asOf != nil else { throw .internalError("malformed written row in \(collection)") }
                guard PQgetisnull(result, row, 1) == 0 else { continue }  // the row of the time alone
                guard let id = text(result, row, 1), let updated = Int64(text(result, row, 2) ?? "") else {
                    throw .internalError("malformed written row in \(collection)")
                }
                documents.append(DocumentVersion(id: id, updateTime: Timestamp(microseconds: updated)))
            }
            guard let asOf else { throw .internalError("the written query answered no row in \(collection)") }
            return WrittenDocuments(documents: documents, asOf: Timestamp(microseconds: asOf))
        }
    }

    /// An index-only scan of the primary key where the table's visibility map allows (pages
    /// not changed since the last vacuum): no row is read.
    public func ids(collection: String, in range: DocumentIDRange?) throws(StoreError) -> [String] {
        try range?.validate()
        return try retrying { () throws(StoreError) in
            let result =
                if let range { try execute("ids_in", [collection, range.lowerBound, range.upperBound]) } else { try execute("ids", [collection]) }
            defer { PQclear(result) }
            var ids: [String] = []
            ids.reserveCapacity(Int(PQntuples(result)))
            for row in 0..<PQntuples(result) {
                guard let id = text(result, row, 0) else { throw .internalError("malformed id row in \(collection)") }
                ids.append(id)
            }
            return ids
        }
    }

    /// A field this store was told of is found through `document_aliases` and the primary key;
    /// any other by reading the collection's range. `select` is applied here: rows are small,
    /// and PostgreSQL bills nothing per field.
    public func query(collection: String, where filter: FieldFilter?, select: [String]?) throws(StoreError) -> [Document] {
        let documents: [Document]
        if let filter {
            let statement = indexedFields[collection]?.contains(filter.field) == true ? "query_aliased" : "query_scan"
            documents = try retrying { () throws(StoreError) in
                try self.documents(from: execute(statement, [collection, filter.field, filter.value]), collection: collection)
            }
        } else {
            documents = try listAll(collection: collection)
        }
        guard let select else { return documents }
        return documents.map { document in
            Document(
                path: document.path, fields: document.fields.filter { select.contains($0.key) },
                createTime: document.createTime, updateTime: document.updateTime)
        }
    }

    /// The rows of a `version` or `versions` result (which this clears).
    private func versions(from result: OpaquePointer, collection: String) throws(StoreError) -> [DocumentVersion] {
        defer { PQclear(result) }
        var versions: [DocumentVersion] = []
        versions.reserveCapacity(Int(PQntuples(result)))
        for row in 0..<PQntuples(result) {
            guard let id = text(result, row, 0), let updated = Int64(text(result, row, 1) ?? "") else {
                throw .internalError("malformed version row in \(collection)")
            }
            versions.append(DocumentVersion(id: id, updateTime: Timestamp(microseconds: updated)))
        }
        return versions
    }

    @discardableResult
    public func commit(_ writes: [Write]) throws(StoreError) -> Timestamp {
        for write in writes {
            guard DocumentPath.isValidID(write.path.id), DocumentPath.isValidID(write.path.collection) else {
                throw .invalidArgument("invalid document path \(write.path)")
            }
        }
        var parameter: [UInt8] = []
        parameter.reserveCapacity(512)
        JSON.writeArray(writes, to: &parameter, writeElement: encode)
        let order = writes.map { Array("\($0.path.collection)/\($0.path.id)".utf8) }.max { $0.lexicographicallyPrecedes($1) } ?? []
        return try retrying { () throws(StoreError) in
            let ticket = CommitBatcher.Ticket(writes: parameter, order: order, deadline: deadline)
            return Timestamp(microseconds: try batcher.commit(ticket, apply: apply).get())
        }
    }

    /// Applies a batch of commits in one call and sets each ticket's outcome. The batch's
    /// deadline is its earliest commit's; a commit whose deadline passed while it waited for the
    /// batch fails without being sent.
    private func apply(_ batch: [CommitBatcher.Ticket]) {
        let now = Timestamp.now().microseconds
        let (late, timely) = (batch.filter { $0.deadline <= now }, batch.filter { $0.deadline > now })
        for ticket in late { ticket.outcome = .failure(timedOut(sent: false)) }
        guard let batchDeadline = timely.map(\.deadline).min() else { return }
        let callDeadline = deadline
        deadline = batchDeadline
        defer { deadline = callDeadline }

        var parameter: [UInt8] = []
        parameter.reserveCapacity(timely.reduce(3) { $0 + $1.writes.count + 1 })
        JSON.writeArray(timely, to: &parameter) { ticket, output in output.append(contentsOf: ticket.writes) }
        parameter.append(0)
        let result: OpaquePointer
        do {
            result = try executeBatch(parameter)
        } catch {
            for ticket in timely { ticket.outcome = .failure(error) }
            return
        }
        defer { PQclear(result) }
        guard PQntuples(result) == Int32(timely.count) else {
            for ticket in timely {
                ticket.outcome = .failure(.internalError("the commit batch answered \(PQntuples(result)) rows for \(timely.count)"))
            }
            return
        }
        for (row, ticket) in timely.enumerated() {
            let row = Int32(row)
            if let micros = text(result, row, 0).flatMap({ Int64($0) }) {
                ticket.outcome = .success(micros)
            } else {
                ticket.outcome = .failure(
                    Self.error(
                        state: text(result, row, 1) ?? "", message: text(result, row, 2) ?? "",
                        detail: text(result, row, 3) ?? ""))
            }
        }
    }

    /// Runs `commit_batch`, once more on a new connection when this thread's connection turns out
    /// broken (after a server restart, say, a connection idle since then fails its first use): the
    /// batch holds the commits of other threads too, which would otherwise all fail with it.
    /// (As with any retry, the first try may have been applied; callers read back what they wrote.)
    private func executeBatch(_ parameter: [UInt8]) throws(StoreError) -> OpaquePointer {
        let wasConnected = connection != nil
        do {
            return try execute("commit_batch", text: parameter)
        } catch .unavailable(let reason) {
            // Only for an open connection that was dropped, not a server that cannot be reached
            // or does not answer.
            guard wasConnected, connection == nil, Timestamp.now().microseconds < deadline else { throw .unavailable(reason) }
            return try execute("commit_batch", text: parameter)
        }
    }

    public func ping() throws(StoreError) {
        try retrying { () throws(StoreError) in PQclear(try execute("ping", [])) }
    }

    // MARK: - Encoding

    /// Appends a write as the object `docstore_commit_batch` reads. A write in a collection with
    /// looked-up fields is marked `aliased`, and a set carries the `aliases` of each such field
    /// whose value is not the document's id (none for documents that carry their own id).
    private func encode(_ write: Write, to output: inout [UInt8]) {
        output.append(contentsOf: #"{"collection":"#.utf8)
        JSON.writeString(write.path.collection, to: &output)
        output.append(contentsOf: #","id":"#.utf8)
        JSON.writeString(write.path.id, to: &output)
        let precondition: Precondition
        switch write {
        case .set(let path, let fields, let condition):
            output.append(contentsOf: #","op":"set","fields":"#.utf8)
            Value.writeFirestoreJSON(fields, to: &output)
            precondition = condition
            let aliases = (indexedFields[path.collection] ?? []).compactMap { field -> JSON? in
                guard let value = fields[field]?.stringValue, !sameBytes(value[...], path.id[...]) else { return nil }
                return .object(["field": .string(field), "value": .string(value)])
            }
            if !aliases.isEmpty {
                output.append(contentsOf: #","aliases":"#.utf8)
                JSON.array(aliases).write(to: &output)
            }
        case .delete(_, let condition):
            output.append(contentsOf: #","op":"delete""#.utf8)
            precondition = condition
        }
        switch precondition {
        case .none: break
        case .exists(let exists): output.append(contentsOf: (exists ? #","exists":true"# : #","exists":false"#).utf8)
        case .updateTime(let time): output.append(contentsOf: #","update_time":\#(time.microseconds)"#.utf8)
        }
        if indexedFields[write.path.collection] != nil { output.append(contentsOf: #","aliased":true"#.utf8) }
        output.append(UInt8(ascii: "}"))
    }

    private func documents(from result: OpaquePointer, collection: String) throws(StoreError) -> [Document] {
        defer { PQclear(result) }
        var documents: [Document] = []
        for row in 0..<PQntuples(result) {
            guard let id = text(result, row, 0), let fieldsText = text(result, row, 1),
                let created = Int64(text(result, row, 2) ?? ""), let updated = Int64(text(result, row, 3) ?? ""),
                let json = try? JSONParser.parse(fieldsText), let fields = Value.fields(firestoreJSON: json)
            else { throw .internalError("malformed document row in \(collection)") }
            documents.append(
                Document(
                    path: DocumentPath(collection, id), fields: fields,
                    createTime: Timestamp(microseconds: created), updateTime: Timestamp(microseconds: updated)))
        }
        return documents
    }

    private func text(_ result: OpaquePointer, _ row: Int32, _ column: Int32) -> String? {
        guard PQgetisnull(result, row, column) == 0, let value = PQgetvalue(result, row, column) else { return nil }
        return String(cString: value)
    }

    // MARK: - Connection

    private static let retryDelays: [UInt32] = [50_000, 200_000]

    /// Runs `operation` under a deadline of the store's timeout from now, again after each delay
    /// while it fails with `unavailable` and the delay leaves time before the deadline.
    private func retrying<T>(_ operation: () throws(StoreError) -> T) throws(StoreError) -> T {
        deadline = Timestamp.now().microseconds + timeoutMicroseconds
        var attempt = 0
        while true {
            do {
                return try operation()
            } catch .unavailable(let reason) {
                guard attempt < Self.retryDelays.count, Timestamp.now().microseconds + Int64(Self.retryDelays[attempt]) < deadline else {
                    throw .unavailable(reason)
                }
                usleep(Self.retryDelays[attempt])
                attempt += 1
            }
        }
    }

    /// The open connection, connecting (and preparing the statements) first if needed. Its
    /// socket is non-blocking: `answer` waits for it, up to the deadline.
    private func connected() throws(StoreError) -> OpaquePointer {
        if let connection, PQstatus(connection) == CONNECTION_OK { return connection }
        disconnect()
        let connection = try openConnection()
        self.connection = connection
        // libpq prints the server's notices to stderr, where the server's log lines are JSON; the
        // only ones a session gets (client_min_messages=warning) come before it is cut off
        // ("terminating connection due to immediate shutdown"), whose error the call reports.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        guard PQsetnonblocking(connection, 1) == 0 else {
            defer { disconnect() }
            throw .unavailable("PostgreSQL: \(String(cString: PQerrorMessage(connection)).trimmingWhitespace)")
        }
        for statement in Schema.statements {
            do {
                PQclear(try answer(sent: PQsendPrepare(connection, statement.name, statement.sql, 0, nil), on: connection))
            } catch {
                disconnect()  // not kept half prepared (a database without the schema yet: its function is missing)
                throw error
            }
        }
        return connection
    }

    /// Settings of the planner for the store's sessions. Every statement finds its rows by the primary key (or a
    /// range of it), so sequential scans are ruled out: on a small table that has been analysed,
    /// the planner chose them, and each failed claim insert leaves a dead row behind, so under a
    /// burst of conflicting bookings every lookup read ever more of them (PostgreSQL's CPU per
    /// 409 doubled: 0.37–0.47 ms against 0.18–0.19 with index scans, 2,263–2,720 against
    /// 3,846–3,910 requests/s with 64 connections on 10 slots).
    static let plannerOptions = "-c client_min_messages=warning -c enable_seqscan=off"

    /// The planner's options and the store's timeout as the statement timeout: a statement
    /// waiting on a lock ends on the server as its caller stops waiting.
    private var sessionOptions: String { "-c statement_timeout=\(timeoutMicroseconds / 1000) " + Self.plannerOptions }

    /// Why `text` is no connection string libpq takes as one, or nil when it is one (or empty:
    /// libpq's `PG*` variables). A bare word would be taken as a database name, so only a
    /// `postgresql://` URI or `key=value` settings are accepted, and libpq must parse them.
    public static func connectionStringProblem(_ text: String) -> String? {
        guard !text.isEmpty else { return nil }
        guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") || text.contains("=") else {
            return "must be a postgresql:// URI or key=value settings such as host=/run/postgresql dbname=booking"
        }
        var error: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(text, &error) else {
            defer { if let error { PQfreemem(error) } }
            return "cannot be read: " + (error.map { String(cString: $0).trimmingWhitespace } ?? "out of memory")
        }
        PQconninfoFree(options)
        return nil
    }

    /// Connects without blocking past the deadline (libpq's own connect_timeout counts whole
    /// seconds, per address tried). Over TCP, keepalives find a connection whose peer vanished
    /// while it was idle, and unacknowledged data fails it after the timeout. The connection
    /// string's own settings (last, expanded) override these.
    private func openConnection() throws(StoreError) -> OpaquePointer {
        let keys = [
            "application_name", "options", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "tcp_user_timeout", "dbname",
        ]
        let values = ["booking", sessionOptions, "1", "10", "5", "3", String(timeoutMicroseconds / 1000), connectionString]
        let started = withCStrings(keys) { keyPointers in
            withCStrings(values) { valuePointers in PQconnectStartParams(keyPointers, valuePointers, 1) }
        }
        guard let connection = started else { throw .unavailable("PostgreSQL: out of memory") }
        var polling = PGRES_POLLING_WRITING  // as libpq's documentation says to begin
        while PQstatus(connection) != CONNECTION_BAD && polling != PGRES_POLLING_FAILED {
            if polling == PGRES_POLLING_OK { return connection }
            guard waitFor(polling == PGRES_POLLING_READING ? Int16(POLLIN) : Int16(POLLOUT), on: connection) else {
                PQfinish(connection)
                throw timedOut(sent: false)
            }
            polling = PQconnectPoll(connection)
        }
        let reason = String(cString: PQerrorMessage(connection))
        PQfinish(connection)
        throw .unavailable("PostgreSQL: \(reason.trimmingWhitespace)")
    }

    private func disconnect() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    /// Whether the connection's socket became ready for `events` before the deadline and its grace.
    private func waitFor(_ events: Int16, on connection: OpaquePointer) -> Bool {
        while true {
            let remaining = deadline + Self.graceMicroseconds - Timestamp.now().microseconds
            guard remaining > 0 else { return false }
            var descriptor = pollfd(fd: PQsocket(connection), events: events, revents: 0)
            let ready = poll(&descriptor, 1, Int32(clamping: (remaining + 999) / 1000))
            if ready != 0 { return true }  // ready, or an error that the next libpq call reports
        }
    }

    /// The error of a call that got no answer in time, having given up its connection.
    private func timedOut(sent: Bool) -> StoreError {
        .unavailable("PostgreSQL did not answer within \(timeoutMicroseconds / 1000) ms\(sent ? "" : " (nothing was sent)")")
    }

    /// Executes a prepared statement and returns its result, which the caller must clear.
    private func execute(_ statement: String, _ parameters: [String]) throws(StoreError) -> OpaquePointer {
        let connection = try connected()
        let sent = withCStrings(parameters) { pointers in
            PQsendQueryPrepared(connection, statement, Int32(parameters.count), pointers, nil, nil, 0)
        }
        return try answer(sent: sent, on: connection)
    }

    /// `execute` for a statement whose first parameter is `text`, a NUL-terminated UTF-8 buffer
    /// (a batch's JSON goes to libpq without being copied into a String first), and whose second
    /// is the call's deadline.
    private func execute(_ statement: String, text: [UInt8]) throws(StoreError) -> OpaquePointer {
        precondition(text.last == 0, "the parameter must end in NUL")
        let connection = try connected()
        let sent = String(deadline).withCString { deadlineText in
            text.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { characters in
                    var pointers: [UnsafePointer<CChar>?] = [characters.baseAddress, deadlineText, nil]
                    return PQsendQueryPrepared(connection, statement, 2, &pointers, nil, nil, 0)
                }
            }
        }
        return try answer(sent: sent, on: connection)
    }

    /// Sends what a `PQsend...` call (which returned `sent`) queued, waits for its answer up to
    /// the deadline and its grace, and returns the result (the caller clears it) or its error.
    /// A connection that breaks or does not answer in time is given up.
    private func answer(sent: Int32, on connection: OpaquePointer) throws(StoreError) -> OpaquePointer {
        func broken() -> StoreError {
            let reason = String(cString: PQerrorMessage(connection)).trimmingWhitespace
            disconnect()
            return .unavailable("PostgreSQL: \(reason.isEmpty ? "the connection broke" : reason)")
        }
        guard sent == 1 else { throw broken() }
        while true {
            let flushed = PQflush(connection)
            if flushed == 0 { break }
            guard flushed == 1, waitFor(Int16(POLLIN | POLLOUT), on: connection) else {
                if flushed == 1 { disconnect(); throw timedOut(sent: false) }
                throw broken()
            }
            guard PQconsumeInput(connection) == 1 else { throw broken() }
        }
        var first: OpaquePointer? = nil
        while true {
            if PQisBusy(connection) == 0 {
                guard let next = PQgetResult(connection) else { break }
                if first == nil { first = next } else { PQclear(next) }
                continue
            }
            guard waitFor(Int16(POLLIN), on: connection) else {
                PQclear(first)
                disconnect()
                throw timedOut(sent: true)
            }
            guard PQconsumeInput(connection) == 1 else {
                PQclear(first)
                throw broken()
            }
        }
        return try checked(first, on: connection)
    }

    /// The result, or the error it reports (having cleared it).
    private func checked(_ result: OpaquePointer?, on connection: OpaquePointer) throws(StoreError) -> OpaquePointer {
        do {
            try check(result, on: connection)
        } catch {
            PQclear(result)
            throw error
        }
        return result!
    }

    /// Turns a failed result into a `StoreError`, dropping the connection when it broke. An error
    /// without a SQLSTATE is libpq's own, not the server's: the connection is lost, even when
    /// `PQstatus` still says it is fine (as after "server closed the connection unexpectedly").
    private func check(_ result: OpaquePointer?, on connection: OpaquePointer) throws(StoreError) {
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return }
        let message = result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? String(cString: PQerrorMessage(connection))
        let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        let detail = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "D"))) }.map { String(cString: $0) } ?? ""
        if state.isEmpty || PQstatus(connection) != CONNECTION_OK || state.hasPrefix("08") || state.hasPrefix("57P") {
            if connection == self.connection { disconnect() }
            throw .unavailable("PostgreSQL: \(message.trimmingWhitespace)")
        }
        throw Self.error(state: state, message: message, detail: detail)
    }

    /// The `StoreError` for a statement's (or a batched commit's) failure on a working connection.
    private static func error(state: String, message: String, detail: String) -> StoreError {
        let path = path(fromDetail: detail)
        switch state {
        case "DS409": return .alreadyExists(path)
        case "DS404": return .notFound(path)
        case "DS412": return .failedPrecondition(path)
        case "57014", "40001", "40P01", "53300", "55P03", "DS504": return .unavailable("PostgreSQL: \(message.trimmingWhitespace)")
        default: return .internalError("PostgreSQL \(state): \(message.trimmingWhitespace)")
        }
    }

    private static func path(fromDetail detail: String) -> DocumentPath {
        guard let slash = detail.firstIndex(of: "/") else { return DocumentPath("", detail) }
        return DocumentPath(String(detail[..<slash]), String(detail[detail.index(after: slash)...]))
    }
}

/// Calls `body` with `strings` as C strings and a trailing nil, valid for the duration of the
/// call: each string's own NUL-terminated storage, not a copy.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafePointer<CChar>?] = []
    pointers.reserveCapacity(strings.count + 1)
    func pass(from index: Int) -> R {
        guard index < strings.count else {
            pointers.append(nil)
            return body(pointers)
        }
        return strings[index].withCString { pointer in
            pointers.append(pointer)
            return pass(from: index + 1)
        }
    }
    return pass(from: 0)
}

extension String {
    /// libpq's messages end in a newline; logs and errors want one line.
    var trimmingWhitespace: String {
        String(self.reversed().drop(while: \.isWhitespace).reversed())
    }
}

#if canImport(Glibc)
    import Glibc
#endif
