/// An instant with nanosecond precision, as Firestore stores time.
///
/// Parsing and formatting follow RFC 3339 strictly and without Foundation, because slots
/// are parsed on every booking and Foundation's date formatters are slow and lenient.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// Nanoseconds within the second, 0 ..< 1_000_000_000.
    public var nanos: Int32

    public init(seconds: Int64, nanos: Int32 = 0) {
        self.seconds = seconds
        self.nanos = nanos
    }

    public init(microseconds: Int64) {
        let (quotient, remainder) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        self =
            remainder < 0
            ? Timestamp(seconds: quotient - 1, nanos: Int32(remainder + 1_000_000) * 1000)
            : Timestamp(seconds: quotient, nanos: Int32(remainder) * 1000)
    }

    /// The current time from the system's real-time clock.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(seconds: Int64(spec.tv_sec), nanos: Int32(spec.tv_nsec))
    }

    public var microseconds: Int64 { seconds * 1_000_000 + Int64(nanos / 1000) }

    /// The same instant without its fraction of a second.
    public var wholeSeconds: Timestamp { Timestamp(seconds: seconds) }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        (lhs.seconds, lhs.nanos) < (rhs.seconds, rhs.nanos)
    }

    /// RFC 3339 in UTC with a `Z`, the fraction only when there is one (trailing zeros dropped
    /// to millisecond, microsecond or nanosecond precision, as Google's clients write it).
    public var rfc3339: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(30)
        appendRFC3339(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the `rfc3339` spelling's UTF-8 bytes, without making a string.
    public func appendRFC3339(to bytes: inout [UInt8]) {
        var dates = RFC3339Dates()
        appendRFC3339(to: &bytes, dates: &dates)
    }

    /// The same, with the date taken from `dates` when it is the day `dates` last spelled: a
    /// catalog writes its slots in time order, mostly many on one day, and working out the date
    /// was the costliest part of a spelling. The usual year (0–9999) goes as one fixed field.
    public func appendRFC3339(to bytes: inout [UInt8], dates: inout RFC3339Dates) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let hour = secondOfDay / 3600, minute = secondOfDay / 60 % 60, second = secondOfDay % 60
        if let (dateStart, dateEnd) = dates.date(ofDay: days) {
            // HH:MM:SS in one word, the first byte lowest, then the 20 bytes in three words, stored
            // in little-endian byte order whatever the host's.
            let time =
                RFC3339Dates.twoDigits(hour) | UInt64(UInt8(ascii: ":")) << 16 | RFC3339Dates.twoDigits(minute) << 24
                | UInt64(UInt8(ascii: ":")) << 40 | RFC3339Dates.twoDigits(second) << 48
            appendBytes(of: dateStart.littleEndian, count: 8, to: &bytes)
            appendBytes(of: (dateEnd | time << 24).littleEndian, count: 8, to: &bytes)
            let last = (UInt32(truncatingIfNeeded: time >> 40) | UInt32(UInt8(ascii: "Z")) << 24).littleEndian
            appendBytes(of: last, count: nanos == 0 ? 4 : 3, to: &bytes)  // with a fraction, the Z comes after it
            if nanos == 0 { return }
        } else {  // a year outside RFC 3339's four digits (never parsed from text): all its digits
            let (year, month, day) = Timestamp.civilDate(fromDays: days)
            func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
            bytes.append(contentsOf: "\(year)-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))".utf8)
        }
        if nanos != 0 {
            let (fraction, width) = nanos % 1_000_000 == 0 ? (nanos / 1_000_000, 3) : nanos % 1000 == 0 ? (nanos / 1000, 6) : (nanos, 9)
            let text = String(fraction)
            bytes.append(UInt8(ascii: "."))
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }
        bytes.append(UInt8(ascii: "Z"))
    }

    public var description: String { rfc3339 }

    /// Parses an RFC 3339 `date-time` (`2026-12-01T09:30:00Z`, `2026-12-01t10:30:00.5+01:00`):
    /// a full date, a time with seconds, an optional fraction of up to nine digits, and `Z` or
    /// a numeric offset. Returns nil for anything else, including impossible dates and leap seconds.
    public init?(rfc3339 text: some StringProtocol) {
        // On the string's own UTF-8 storage where it has one (native strings and their slices do).
        let parsed =
            text.utf8.withContiguousStorageIfAvailable(Self.parse(rfc3339:))
            ?? Array(text.utf8).withUnsafeBufferPointer(Self.parse(rfc3339:))
        guard let parsed else { return nil }
        self = parsed
    }

    /// As `init?(rfc3339:)`, from the spelling's UTF-8 bytes.
    public init?(rfc3339 bytes: UnsafeBufferPointer<UInt8>) {
        guard let parsed = Self.parse(rfc3339: bytes) else { return nil }
        self = parsed
    }

    private static func parse(rfc3339 bytes: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        var index = 0

        func number(_ width: Int) -> Int64? {
            guard index + width <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + width] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += width
            return value
        }
        /// One byte that is one of `characters` (a static string: no String made per call).
        func expect(_ characters: StaticString) -> Bool {
            guard index < bytes.count, characters.withUTF8Buffer({ $0.contains(bytes[index]) }) else { return false }
            index += 1
            return true
        }

        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("Tt "), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= Timestamp.daysIn(month: month, year: year),
            hour < 24, minute < 60, second < 60
        else { return nil }

        var nanos: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                guard digits < 9 else { return nil }
                nanos = nanos * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { nanos *= 10 }
        }

        var offsetSeconds: Int64 = 0
        if expect("Zz") {
            offsetSeconds = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let offsetHours = number(2), expect(":"), let offsetMinutes = number(2),
                offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }

        let days = Timestamp.days(fromCivilYear: year, month: month, day: day)
        return Timestamp(seconds: days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds, nanos: Int32(nanos))
    }

    /// The days of a month of the proleptic Gregorian calendar.
    public static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func days(fromCivilYear year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date (year, month, day) that many days after 1970-01-01 (Howard
    /// Hinnant's algorithm).
    public static func civilDate(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// Appends the first `count` bytes of `word` as memory holds them.
@inline(__always)
private func appendBytes<Word: FixedWidthInteger>(of word: Word, count: Int, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: word) { bytes.append(contentsOf: $0.prefix(count)) }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The date part of RFC 3339 spellings (`2026-12-01T`), kept for the day last spelled, as two
/// words whose lowest byte comes first (values: no reference counting per slot, and no bytes
/// written one by one).
public struct RFC3339Dates {
    private var day = Int64.min
    private var start: UInt64 = 0  // YYYY-MM-
    private var end: UInt64 = 0  // DDT, in the three lowest bytes

    public init() {}

    /// `YYYY-MM-` and `DDT` for the day `days` after 1970-01-01; nil for a year outside RFC
    /// 3339's four digits.
    mutating func date(ofDay days: Int64) -> (UInt64, UInt64)? {
        if days != day {
            let (year, month, dayOfMonth) = Timestamp.civilDate(fromDays: days)
            guard (0...9999).contains(year) else { return nil }
            day = days
            start =
                Self.twoDigits(year / 100) | Self.twoDigits(year % 100) << 16 | UInt64(UInt8(ascii: "-")) << 32
                | Self.twoDigits(month) << 40 | UInt64(UInt8(ascii: "-")) << 56
            end = Self.twoDigits(dayOfMonth) | UInt64(UInt8(ascii: "T")) << 16
        }
        return (start, end)
    }

    /// A value from 0 to 99 as two ASCII digits, the first in the lowest byte.
    static func twoDigits(_ value: Int64) -> UInt64 {
        UInt64(truncatingIfNeeded: 48 + value / 10) | UInt64(truncatingIfNeeded: 48 + value % 10) << 8
    }
}
