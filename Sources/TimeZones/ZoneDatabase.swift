import Booking
import DocumentStore
import Foundation
import Synchronization

/// A time zone of the system's zone database (tzdata), through Foundation's `TimeZone` and
/// Gregorian `Calendar`: the rules, daylight saving and their history are tzdata's, kept up to
/// date by the operating system, not by this project.
public struct ZoneDatabaseTimeZone: LocalTimeZone {
    public let identifier: String
    private let zone: TimeZone
    private let calendar: Calendar

    /// The zone of that IANA name (`Europe/Berlin`), or nil when the database has none.
    public init?(identifier: String) {
        // Foundation also accepts abbreviations ("EST") and offsets ("GMT+1"): only names are zones here.
        guard identifier.contains("/") || identifier == "UTC", let zone = TimeZone(identifier: identifier) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        self.identifier = identifier
        self.zone = zone
        self.calendar = calendar
    }

    public func secondsFromUTC(at instant: Timestamp) -> Int {
        zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant.seconds)))
    }

    /// Foundation gives the first of a repeated time, and moves a skipped one forward by the gap.
    public func instant(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Timestamp? {
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let date = calendar.date(from: components) else { return nil }
        let seconds = date.timeIntervalSince1970.rounded()
        guard seconds.isFinite, abs(seconds) < 1e15 else { return nil }
        return Timestamp(seconds: Int64(seconds))
    }
}

/// The system's zone database as the booking rules look zones up: each zone loaded once per
/// process and kept (services name a handful).
public final class ZoneDatabase: TimeZoneLookup {
    private let zones = Mutex<[String: ZoneDatabaseTimeZone]>([:])

    public init() {}

    public func zone(named name: String) -> (any LocalTimeZone)? {
        if let zone = zones.withLock({ $0[name] }) { return zone }
        guard name.utf8.count <= 64, let zone = ZoneDatabaseTimeZone(identifier: name) else { return nil }
        zones.withLock { $0[name] = zone }
        return zone
    }
}
