import DocumentStore
import FirestoreStore
import PostgresStore
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// Which document store to use and how to reach it, read from the environment once
/// (`settings` lists the variables).
public enum StoreConfiguration: Sendable {
    case postgres(connectionString: String, timeoutMilliseconds: Int)
    case firestore(FirestoreConfiguration)

    /// The variables the store is chosen and reached by.
    public static let settings = [
        Setting(
            "STORE_BACKEND", "postgres or firestore",
            default: "firestore when FIRESTORE_EMULATOR_HOST or GOOGLE_APPLICATION_CREDENTIALS is set, else postgres"),
        Setting("DATABASE_URL", "PostgreSQL: a postgresql:// URI or key=value libpq settings", default: "libpq's PG* variables"),
        Setting(
            "DATABASE_TIMEOUT_MS", "PostgreSQL: the limit for one call (connecting, statements, retries), in milliseconds",
            default: String(PostgresStore.defaultTimeoutMilliseconds)),
        Setting("FIRESTORE_EMULATOR_HOST", "a Firestore emulator's host:port (plain HTTP, no Google auth)", default: "none"),
        Setting("GOOGLE_APPLICATION_CREDENTIALS", "a service-account key file", default: "the metadata server's token"),
        Setting(
            "GOOGLE_CLOUD_PROJECT", "the Firestore project id (or GCLOUD_PROJECT)",
            default: "the key file's project_id; demo-booking with the emulator",
            requiredWhen: "on Firestore without a key file or emulator"),
        Setting("FIRESTORE_DATABASE", "the Firestore database id", default: "(default)"),
        Setting("FIRESTORE_API_URL", "the Firestore API endpoint", default: "https://firestore.googleapis.com"),
        Setting("FIRESTORE_TIMEOUT_MS", "the limit for one Firestore call, in milliseconds", default: "5000"),
    ]

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public init(environment: [String: String]) throws(Invalid) {
        let emulator = environment["FIRESTORE_EMULATOR_HOST"].flatMap { $0.isEmpty ? nil : $0 }
        let keyFile = environment["GOOGLE_APPLICATION_CREDENTIALS"].flatMap { $0.isEmpty ? nil : $0 }
        let backend = environment["STORE_BACKEND"] ?? ((emulator ?? keyFile) != nil ? "firestore" : "postgres")
        switch backend {
        case "postgres":
            let connectionString = environment["DATABASE_URL"] ?? ""
            if let problem = PostgresStore.connectionStringProblem(connectionString) { throw Invalid("DATABASE_URL \(problem)") }
            var timeout = PostgresStore.defaultTimeoutMilliseconds
            if let text = environment["DATABASE_TIMEOUT_MS"] {
                guard let value = Int(text), (100...120_000).contains(value) else { throw Invalid("DATABASE_TIMEOUT_MS must be 100 to 120000") }
                timeout = value
            }
            self = .postgres(connectionString: connectionString, timeoutMilliseconds: timeout)
        case "firestore":
            self = .firestore(try Self.firestore(environment, emulator: emulator, keyFile: keyFile))
        default:
            throw Invalid("STORE_BACKEND must be postgres or firestore, not \(backend)")
        }
    }

    private static func firestore(_ environment: [String: String], emulator: String?, keyFile: String?) throws(Invalid) -> FirestoreConfiguration {
        var project = environment["GOOGLE_CLOUD_PROJECT"] ?? environment["GCLOUD_PROJECT"]
        let credentials: FirestoreConfiguration.Credentials
        if emulator != nil {
            credentials = .emulator
            project = project ?? "demo-booking"  // the emulator takes any id; "demo-" marks one with no real project
        } else if let keyFile {
            guard case .success(let bytes) = fileContents(keyFile) else { throw Invalid("cannot read GOOGLE_APPLICATION_CREDENTIALS \(keyFile)") }
            guard let key = ServiceAccountKey(json: bytes) else { throw Invalid("\(keyFile) is not a service-account key file") }
            project = project ?? key.projectID
            credentials = .serviceAccount(key)
        } else {
            credentials = .metadataServer(host: environment["GCE_METADATA_HOST"] ?? "metadata.google.internal")
        }
        guard let project, !project.isEmpty else { throw Invalid("set GOOGLE_CLOUD_PROJECT to the Firestore project id") }
        let endpoint = environment["FIRESTORE_API_URL"] ?? emulator.map { "http://\($0)" } ?? FirestoreConfiguration.productionEndpoint
        var configuration = FirestoreConfiguration(
            projectID: project, databaseID: environment["FIRESTORE_DATABASE"] ?? "(default)",
            endpoint: endpoint, credentials: credentials)
        if let text = environment["FIRESTORE_TIMEOUT_MS"] {
            guard let timeout = Int(text), (100...120_000).contains(timeout) else { throw Invalid("FIRESTORE_TIMEOUT_MS must be 100 to 120000") }
            configuration.timeoutMilliseconds = timeout
        }
        return configuration
    }

    /// Makes one store per call; stores made by one factory share what may be shared (access
    /// tokens, commit batches). `fieldIndexes` are the fields documents are looked up by.
    public func makeFactory(fieldIndexes: [FieldIndex] = []) -> DocumentStoreFactory {
        switch self {
        case .postgres(let connectionString, let timeout):
            let batcher = CommitBatcher()  // one per process, shared by its threads' stores
            return {
                PostgresStore(connectionString: connectionString, batcher: batcher, fieldIndexes: fieldIndexes, timeoutMilliseconds: timeout)
            }
        case .firestore(let configuration):
            let tokens = FirestoreStore.TokenCache(credentials: configuration.credentials)
            return { FirestoreStore(configuration: configuration, tokens: tokens) }
        }
    }

    /// For logs: the backend and where it is, without secrets.
    public var summary: String {
        switch self {
        case .postgres: return "postgres"
        case .firestore(let configuration):
            return "firestore project=\(configuration.projectID) database=\(configuration.databaseID) endpoint=\(configuration.endpoint)"
        }
    }

    /// Prepares the store for use: PostgreSQL's schema migration, with the lookups of
    /// `fieldIndexes`; nothing for Firestore, which indexes every field by itself.
    public func prepare(fieldIndexes: [FieldIndex] = []) throws(StoreError) {
        if case .postgres(let connectionString, let timeout) = self {
            try PostgresStore(connectionString: connectionString, fieldIndexes: fieldIndexes, timeoutMilliseconds: timeout).migrate()
        }
    }

    /// Whether the store has serializable read-write transactions, which `EXTERNAL_WRITERS` needs.
    public var hasTransactions: Bool {
        if case .firestore = self { return true }
        return false
    }

    /// The process environment as a dictionary.
    public static func processEnvironment() -> [String: String] {
        var variables: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let pair = String(cString: entry)
            if let equals = pair.firstIndex(of: "=") {
                variables[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            pointer += 1
        }
        return variables
    }
}
