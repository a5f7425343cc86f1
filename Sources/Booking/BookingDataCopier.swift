import DocumentStore

/// Copies the booking service's data (services, bookings, slot claims) from one store to
/// another, to move between PostgreSQL and Firestore. Each document is written with a plain
/// set, so running it again changes nothing; documents only in the target are left alone.
public enum BookingDataCopier {
    public static let collections = [Collections.services, Collections.bookings, Collections.slotClaims, Collections.slotReleases]

    /// Copies every document, in commits of at most `maximumWritesPerCommit` writes, and
    /// returns how many documents each collection had; `progress` is told a collection's count
    /// so far after each commit.
    public static func copy(
        from source: any DocumentStore, to target: any DocumentStore,
        pageSize: Int = 500, progress: (_ collection: String, _ copied: Int) -> Void = { _, _ in }
    ) throws(StoreError) -> [String: Int] {
        var counts: [String: Int] = [:]
        for collection in collections {
            var token: String? = nil
            counts[collection] = 0
            repeat {
                let page = try source.list(collection: collection, pageSize: min(pageSize, maximumWritesPerCommit), pageToken: token)
                if !page.documents.isEmpty {
                    try target.commit(page.documents.map { .set($0.path, $0.fields, .none) })
                }
                counts[collection, default: 0] += page.documents.count
                progress(collection, counts[collection, default: 0])
                token = page.nextPageToken
            } while token != nil
        }
        return counts
    }
}
