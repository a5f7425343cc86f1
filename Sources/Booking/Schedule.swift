import DocumentStore

/// A service's weekly opening hours in its own time zone, from which its slots are generated
/// for the days from today to the end of its horizon.
///
/// Slots start at the opening time and every `slotMinutes` after it, on the wall clock, while
/// a slot's length (the service's duration, else `slotMinutes`) still ends by the closing time.
/// On the nights clocks change, a local time that does not exist (spring forward) gives no slot,
/// and one that occurs twice (fall back) gives one slot, at its first occurrence: a customer
/// books "01:30" once, and the business's wall clock decides which hour is meant, as
/// Cal.com's and Google's schedules do.
public struct WeeklySchedule: Equatable, Sendable {
    /// The opening hours of each weekday, Monday first, in time order without overlaps.
    public let hours: [[OpeningHours]]
    public let slotMinutes: Int
    /// How many days, from today in the service's zone, the schedule offers slots for.
    public let horizonDays: Int
    /// Days without slots from the schedule, in order.
    public let closedDates: [CivilDate]

    public static let weekdayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    public static let defaultHorizonDays = 56
    public static let defaultSlotMinutes = 30

    init(hours: [[OpeningHours]], slotMinutes: Int, horizonDays: Int, closedDates: [CivilDate]) {
        precondition(hours.count == 7)
        self.hours = hours
        self.slotMinutes = slotMinutes
        self.horizonDays = horizonDays
        self.closedDates = closedDates
    }

    /// The opening hours of each weekday that has any, as requests and responses spell them:
    /// `["mon": [["09:00", "12:00"], ...]]`.
    public var spelledHours: [String: [[String]]] {
        var weekly: [String: [[String]]] = [:]
        for (day, ranges) in zip(Self.weekdayNames, hours) where !ranges.isEmpty {
            weekly[day] = ranges.map { [OpeningHours.spelling(ofMinute: $0.start), OpeningHours.spelling(ofMinute: $0.end)] }
        }
        return weekly
    }

    /// How many slots a day of each weekday has for slots of `length` minutes.
    func slotsPerWeekday(length: Int) -> [Int] {
        hours.map { ranges in ranges.reduce(0) { $0 + ($1.minutes >= length ? ($1.minutes - length) / slotMinutes + 1 : 0) } }
    }

    /// At most how many slots the schedule generates over its horizon.
    func maximumSlots(length: Int) -> Int {
        slotsPerWeekday(length: length).reduce(0, +) * ((horizonDays + 6) / 7)
    }

    /// The slots of the days `firstDay` (days since 1970-01-01, a date in `zone`) through the end
    /// of the horizon, in time order, for slots of `length` minutes.
    func slots(from firstDay: Int, length: Int, in zone: any LocalTimeZone) -> [Slot] {
        let closed = Set(closedDates.map(\.daysSinceEpoch))
        var slots: [Slot] = []
        for day in firstDay..<(firstDay + horizonDays) where !closed.contains(day) {
            let ranges = hours[CivilDate.weekdayIndex(ofDay: day)]
            guard !ranges.isEmpty else { continue }
            let resolver = LocalTimeResolver(day: day, zone: zone)
            for range in ranges {
                var minute = range.start
                while minute + length <= range.end {
                    if let instant = resolver.instant(atMinute: minute) { slots.append(Slot(instant)) }
                    minute += slotMinutes
                }
            }
        }
        // Wall-clock order is time order when a repeated time maps to its first occurrence; a
        // zone that changed its offset twice within three days could break that, and is sorted.
        return zip(slots, slots.dropFirst()).allSatisfy { $0 < $1 } ? slots : Array(Set(slots)).sorted()
    }
}

/// One opening range of a day, in minutes after midnight: `start` included, `end` (at most
/// 24:00) excluded.
public struct OpeningHours: Equatable, Sendable {
    public let start: Int
    public let end: Int

    var minutes: Int { end - start }

    /// `HH:MM`, as written in schedules.
    public static func spelling(ofMinute minute: Int) -> String {
        let hour = minute / 60, rest = minute % 60
        return "\(hour < 10 ? "0" : "")\(hour):\(rest < 10 ? "0" : "")\(rest)"
    }

    /// The minute after midnight `HH:MM` names (00:00 to 24:00), or nil.
    static func minute(parsing text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 5, bytes[2] == UInt8(ascii: ":"),
            bytes.enumerated().allSatisfy({ $0.offset == 2 || (48...57).contains($0.element) })
        else { return nil }
        let hour = Int(bytes[0] - 48) * 10 + Int(bytes[1] - 48), minute = Int(bytes[3] - 48) * 10 + Int(bytes[4] - 48)
        guard minute < 60, hour < 24 || (hour == 24 && minute == 0) else { return nil }
        return hour * 60 + minute
    }
}

/// A date of the proleptic Gregorian calendar, without a zone.
public struct CivilDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int, month: Int, day: Int

    /// The date `YYYY-MM-DD` names, or nil when it names none (2031-02-30).
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes.enumerated().allSatisfy({ $0.offset == 4 || $0.offset == 7 || (48...57).contains($0.element) })
        else { return nil }
        func number(_ range: Range<Int>) -> Int { bytes[range].reduce(0) { $0 * 10 + Int($1 - 48) } }
        self.init(year: number(0..<4), month: number(5..<7), day: number(8..<10))
    }

    /// That date, or nil when it does not exist.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= Timestamp.daysIn(month: Int64(month), year: Int64(year)) else { return nil }
        (self.year, self.month, self.day) = (year, month, day)
    }

    /// The date that many days after 1970-01-01.
    public init(daysSinceEpoch days: Int) {
        let (year, month, day) = Timestamp.civilDate(fromDays: Int64(days))
        (self.year, self.month, self.day) = (Int(year), Int(month), Int(day))
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int { Int(Timestamp.days(fromCivilYear: Int64(year), month: Int64(month), day: Int64(day))) }

    /// Monday 0 to Sunday 6 (1970-01-01 was a Thursday).
    static func weekdayIndex(ofDay days: Int) -> Int { ((days + 3) % 7 + 7) % 7 }

    /// The date clocks in `zone` show at `instant`, as days since 1970-01-01.
    static func day(of instant: Timestamp, in zone: any LocalTimeZone) -> Int {
        let local = instant.seconds + Int64(zone.secondsFromUTC(at: instant))
        return Int(local >= 0 ? local / 86400 : (local - 86399) / 86400)
    }

    public var description: String {
        func padded(_ value: Int, _ width: Int) -> String { String(repeating: "0", count: max(0, width - String(value).count)) + String(value) }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
    }

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }
}

/// The instants of one local day's wall-clock times in a zone.
///
/// The zone's offsets a day before and two days after the local date bound every instant of
/// that day; real zones change their offset at most once in three days, so a local time is
/// one of the two offsets' instants whose own offset is that one: both (a repeated time: the
/// earlier is taken), one, or none (a skipped time). On most days the two are equal and each
/// time costs no lookup.
struct LocalTimeResolver {
    private let midnight: Int64
    private let before: Int
    private let after: Int
    private let zone: any LocalTimeZone

    init(day: Int, zone: any LocalTimeZone) {
        midnight = Int64(day) * 86400
        self.zone = zone
        before = zone.secondsFromUTC(at: Timestamp(seconds: midnight - 86400))
        after = zone.secondsFromUTC(at: Timestamp(seconds: midnight + 2 * 86400))
    }

    /// The instant clocks show `minute` minutes after this day's midnight; nil when they never do.
    func instant(atMinute minute: Int) -> Timestamp? {
        let local = midnight + Int64(minute) * 60
        guard before != after else { return Timestamp(seconds: local - Int64(before)) }
        // The larger offset gives the earlier instant: the first occurrence of a repeated time.
        for offset in [max(before, after), min(before, after)] {
            let instant = Timestamp(seconds: local - Int64(offset))
            if zone.secondsFromUTC(at: instant) == offset { return instant }
        }
        return nil
    }
}
