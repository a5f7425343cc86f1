import Booking
import TimeZones

/// How the store's data is shared and read, for the server and `bookingctl` alike: whether
/// another application books in it without slot claims, and the zone of slots stored without
/// an offset.
///
public struct DataSettings: Sendable {
    public static let settings = [
        Setting(
            "EXTERNAL_WRITERS",
            "1: another application (the original one) books in the same Firestore database without slot claims; bookings then run in read-write transactions, and listings read every booking",
            default: "0"),
        Setting(
            "LEGACY_SLOT_TIME_ZONE",
            "the IANA zone of slots stored without an offset (2031-03-04T12:00:00); unset: such slots are reported, not served",
            default: "none"),
    ]

    public var externalWriters: Bool
    public var legacySlotTimeZone: (any LocalTimeZone)?

    public init(environment: [String: String], store: StoreConfiguration) throws(StoreConfiguration.Invalid) {
        switch environment["EXTERNAL_WRITERS"] ?? "" {
        case "", "0": externalWriters = false
        case "1": externalWriters = true
        case let other: throw StoreConfiguration.Invalid("EXTERNAL_WRITERS must be 0 or 1, not \(other)")
        }
        if externalWriters && !store.hasTransactions {
            throw StoreConfiguration.Invalid(
                "EXTERNAL_WRITERS=1 needs the Firestore store: only applications on Firestore book without slot claims")
        }
        legacySlotTimeZone = nil
        if let name = environment["LEGACY_SLOT_TIME_ZONE"], !name.isEmpty {
            guard let zone = ZoneDatabaseTimeZone(identifier: name) else {
                throw StoreConfiguration.Invalid("LEGACY_SLOT_TIME_ZONE must be an IANA time zone such as Europe/Berlin, not \(name)")
            }
            legacySlotTimeZone = zone
        }
    }

    /// How documents are read with these settings: services' zones from the system's database.
    public func documentReader(problems: (any DataProblemReporter)?) -> DocumentReader {
        DocumentReader(legacyZone: legacySlotTimeZone, problems: problems, zones: ZoneDatabase())
    }
}
