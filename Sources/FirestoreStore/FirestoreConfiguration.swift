/// Where the Firestore database is and how to authenticate to it.
public struct FirestoreConfiguration: Sendable {
    public enum Credentials: Sendable {
        /// The emulator: plain HTTP and `Authorization: Bearer owner`, as Google's SDKs send it.
        case emulator
        /// A service-account key file, signed into a JWT and exchanged at its `token_uri`.
        case serviceAccount(ServiceAccountKey)
        /// The metadata server of a Google Cloud host (`GCE_METADATA_HOST` or metadata.google.internal).
        case metadataServer(host: String)
    }

    public var projectID: String
    public var databaseID: String
    /// Scheme, host and port of the REST API, without a trailing slash.
    public var endpoint: String
    public var credentials: Credentials
    /// Limit for one HTTP call, connection included.
    public var timeoutMilliseconds: Int
    /// Calls made for one operation at most, the first included, when Firestore answers with
    /// a transient status (ABORTED, UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, once
    /// INTERNAL) or does not answer.
    public var maximumAttempts: Int

    public init(
        projectID: String, databaseID: String = "(default)", endpoint: String, credentials: Credentials,
        timeoutMilliseconds: Int = 5000, maximumAttempts: Int = 3
    ) {
        self.projectID = projectID
        self.databaseID = databaseID
        self.endpoint = endpoint
        self.credentials = credentials
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maximumAttempts = maximumAttempts
    }

    /// The emulator at `host` (`FIRESTORE_EMULATOR_HOST`, e.g. `127.0.0.1:8080`).
    public static func emulator(host: String, projectID: String, databaseID: String = "(default)") -> FirestoreConfiguration {
        FirestoreConfiguration(projectID: projectID, databaseID: databaseID, endpoint: "http://\(host)", credentials: .emulator)
    }

    public static let productionEndpoint = "https://firestore.googleapis.com"

    /// `projects/{project}/databases/{database}/documents`, the parent of every document name.
    var documentsName: String { "projects/\(projectID)/databases/\(databaseID)/documents" }
}
