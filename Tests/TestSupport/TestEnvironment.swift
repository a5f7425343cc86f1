#if canImport(Glibc)
    import Glibc
#endif

/// The servers the test command (`deploy/test`) starts, found through the environment it sets.
/// Suites that need one are skipped, with the reason given, when it is not set.
public enum TestEnvironment {
    /// `DATABASE_URL`: the test command's PostgreSQL; nil when unset.
    public static let databaseURL = variable("DATABASE_URL")
    /// `FIRESTORE_EMULATOR_HOST`: the Firestore test server; nil when unset.
    public static let firestoreHost = variable("FIRESTORE_EMULATOR_HOST")

    public static let noPostgres = "DATABASE_URL is not set: the PostgreSQL suites run under deploy/test"
    public static let noFirestore = "FIRESTORE_EMULATOR_HOST is not set: the Firestore suites run under deploy/test"

    private static func variable(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }
}
