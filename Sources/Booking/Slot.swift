import DocumentStore

/// A bookable instant, kept in one canonical spelling: UTC, whole seconds
/// (`2026-12-01T09:30:00Z`), so one instant written two ways is the same slot.
///
/// Only the instant is kept (16 bytes): a large catalog holds 100,000 slots per process, and a
/// stored spelling tripled that memory. The spelling is written when needed.
public struct Slot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let instant: Timestamp

    public init(_ instant: Timestamp) {
        self.instant = instant.wholeSeconds
    }

    /// The canonical spelling.
    public var description: String { instant.rfc3339 }

    /// Appends the canonical spelling's bytes (no string made: catalogs write many), the date
    /// from `dates` when it is the day last spelled there.
    public func appendSpelling(to bytes: inout [UInt8], dates: inout RFC3339Dates) {
        instant.appendRFC3339(to: &bytes, dates: &dates)
    }

    /// Parses an RFC 3339 instant with any offset; a fraction of a second must be zero.
    public init(parsing text: some StringProtocol) throws(BookingError) {
        guard let instant = Timestamp(rfc3339: text) else {
            throw .invalidSlot("\"\(text.prefix(64))\" is not an RFC 3339 date-time such as 2026-12-01T09:30:00Z")
        }
        guard instant.nanos == 0 else {
            throw .invalidSlot("\"\(text.prefix(64))\" is not on a whole second")
        }
        // An offset can carry a four-digit year past 9999 (or before 0001) in UTC, where slots
        // are kept and spelled: such a slot could be stored and never be spelled back as RFC 3339.
        guard Self.representable.contains(instant) else {
            throw .invalidSlot("\"\(text.prefix(64))\" is outside the years 0001 to 9999 in UTC")
        }
        self.init(instant)
    }

    /// The instants RFC 3339's four-digit years spell in UTC.
    static let representable =
        Timestamp(rfc3339: "0001-01-01T00:00:00Z")!...Timestamp(rfc3339: "9999-12-31T23:59:59Z")!

    /// Whether `text`, an RFC 3339 instant, is spelled canonically: of what the parser accepts,
    /// only the canonical spelling has 20 bytes with `T` and `Z` (no fraction, no offset, upper
    /// case). Checked without making the canonical string: a catalog reads many slots.
    static func isCanonical(_ text: String) -> Bool {
        let bytes = text.utf8
        guard bytes.count == 20 else { return false }
        return bytes[bytes.index(bytes.startIndex, offsetBy: 10)] == UInt8(ascii: "T") && bytes.last == UInt8(ascii: "Z")
    }

    /// The slot an RFC 3339 spelling's UTF-8 bytes name, or nil when they name none on a whole
    /// second (for ids read back from a store, where no error message is wanted).
    init?(spelling bytes: UnsafeBufferPointer<UInt8>) {
        guard let instant = Timestamp(rfc3339: bytes), instant.nanos == 0 else { return nil }
        self.init(instant)
    }

    public static func < (lhs: Slot, rhs: Slot) -> Bool { lhs.instant < rhs.instant }
    public static func == (lhs: Slot, rhs: Slot) -> Bool { lhs.instant == rhs.instant }
    public func hash(into hasher: inout Hasher) { hasher.combine(instant) }
}
