import DocumentStore

/// A time zone's rules: the offset clocks show at an instant, and the instant a wall clock
/// shows. The booking rules ask only these; the zone database lives behind this protocol,
/// outside the rules (the TimeZones module).
public protocol LocalTimeZone: Sendable {
    /// The IANA name, e.g. `Europe/Berlin`.
    var identifier: String { get }
    /// Seconds clocks in the zone are ahead of UTC at `instant` (negative: behind).
    func secondsFromUTC(at instant: Timestamp) -> Int
    /// The instant at which clocks in the zone show this date and time: of a time that occurs
    /// twice (clocks going back), the first; of one that is skipped (clocks going forward), the
    /// instant as many seconds after the gap's start as the time lies after it. For reading
    /// the local date-times other applications stored as slots (`2031-03-04T12:00:00`).
    func instant(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Timestamp?
}

/// Finds zones by IANA name: services name the zone their hours are in.
public protocol TimeZoneLookup: Sendable {
    /// The zone of that name, or nil when there is none.
    func zone(named name: String) -> (any LocalTimeZone)?
}

/// UTC: no offset, ever. The zone of services that name none.
public struct UTCZone: LocalTimeZone {
    public init() {}

    public var identifier: String { "UTC" }

    public func secondsFromUTC(at instant: Timestamp) -> Int { 0 }

    public func instant(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Timestamp? {
        guard (0..<24).contains(hour), (0..<60).contains(minute), (0..<60).contains(second),
            let civil = CivilDate(year: year, month: month, day: day)
        else { return nil }
        return Timestamp(seconds: Int64(civil.daysSinceEpoch) * 86400 + Int64(hour * 3600 + minute * 60 + second))
    }
}

/// A lookup that knows only UTC: for hosts and tests that do not load the zone database.
public struct UTCOnlyZones: TimeZoneLookup {
    public init() {}

    public func zone(named name: String) -> (any LocalTimeZone)? { name == "UTC" ? UTCZone() : nil }
}
