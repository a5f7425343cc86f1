import Booking
import DocumentStore
import Synchronization

/// Each service's object in the catalog body, as last written, with the availability it was
/// written from: kept per process, so that a catalog rebuild writes again only the services
/// whose free slots or definition changed and copies the others.
///
/// The catalog is rebuilt at least once a second (slots begin; other hosts book), and with 200
/// services of 640 generated slots each, writing its 12.6 MB of JSON was most of the workers'
/// CPU; comparing a service's availability with the one its bytes were written from costs a
/// small part of writing them.
final class CatalogFragments: Sendable {
    private struct Fragment {
        let availability: ServiceAvailability
        let bytes: [UInt8]
    }

    private let fragments = Mutex<[ExactString: Fragment]>([:])
    /// Services kept at most; past it, all are dropped (services that no longer exist leave
    /// their fragments until then).
    private let capacity: Int

    init(capacity: Int = 20_000) {
        self.capacity = capacity
    }

    /// The bytes `write` makes for `availability`: those kept for its service when they were
    /// written from an equal availability, else written now and kept.
    func bytes(of availability: ServiceAvailability, write: () -> [UInt8]) -> [UInt8] {
        let key = ExactString(availability.service.id)
        if let kept = fragments.withLock({ $0[key] }), kept.availability == availability { return kept.bytes }
        let bytes = write()
        fragments.withLock {
            if $0.count >= capacity && $0[key] == nil { $0.removeAll(keepingCapacity: true) }
            $0[key] = Fragment(availability: availability, bytes: bytes)
        }
        return bytes
    }
}
