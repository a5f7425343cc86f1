import DocumentStore
import TextEncodings

/// An interval of time, either end open: `from` included, `to` excluded.
public struct TimeRange: Equatable, Sendable {
    public let from: Timestamp?
    public let to: Timestamp?

    public init(from: Timestamp? = nil, to: Timestamp? = nil) {
        self.from = from
        self.to = to
    }

    public func contains(_ slot: Slot) -> Bool {
        (from.map { slot.instant >= $0 } ?? true) && (to.map { slot.instant < $0 } ?? true)
    }
}

/// Which bookings to list, and where the page starts.
public struct BookingQuery: Sendable {
    public let serviceID: String?
    public let slots: TimeRange
    public let status: BookingStatus?
    public let limit: Int
    /// The page starts after this booking (in the listing's order); nil: at the start.
    public let after: BookingCursor?

    public static let defaultLimit = 100
    public static let maximumLimit = 1000

    public init(
        serviceID: String? = nil, slots: TimeRange = TimeRange(), status: BookingStatus? = nil, limit: Int = defaultLimit, after: BookingCursor? = nil
    ) {
        self.serviceID = serviceID
        self.slots = slots
        self.status = status
        self.limit = limit
        self.after = after
    }
}

/// A place in the listing's order (slot, then booking id by its bytes), as an opaque token:
/// the next page holds the bookings after it, so a page stays correct while bookings are made,
/// cancelled or moved (each booking appears where it is when its page is read).
public struct BookingCursor: Equatable, Sendable {
    public let slot: Slot
    public let bookingID: String

    /// `v1.{slot's Unix seconds}.{booking id in base64url}`, itself in base64url.
    public var token: String {
        Base64URL.encode(Array("v1.\(slot.instant.seconds).\(Base64URL.encode(Array(bookingID.utf8)))".utf8))
    }

    public init(slot: Slot, bookingID: String) {
        self.slot = slot
        self.bookingID = bookingID
    }

    public init(token: String) throws(BookingError) {
        let problem = BookingError.invalidField("page_token", "is not a token this listing gave")
        guard token.utf8.count <= 4096, let decoded = Base64URL.decode(token) else { throw problem }
        let parts = String(decoding: decoded, as: UTF8.self).split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let seconds = Int64(parts[1]), let id = Base64URL.decode(String(parts[2])),
            let bookingID = String(validating: id, as: UTF8.self)
        else { throw problem }
        self.init(slot: Slot(Timestamp(seconds: seconds)), bookingID: bookingID)
    }

    /// Whether `booking` comes after this place in the listing's order.
    func precedes(_ booking: Booking) -> Bool {
        slot != booking.slot ? slot < booking.slot : bookingID.utf8.lexicographicallyPrecedes(booking.id.utf8)
    }
}

/// One page of a listing, with where the next one starts (nil on the last page).
public struct BookingPage: Equatable, Sendable {
    public let bookings: [Booking]
    public let next: BookingCursor?

    public init(bookings: [Booking], next: BookingCursor?) {
        self.bookings = bookings
        self.next = next
    }
}

extension BookingDesk {
    /// The bookings that match `query`, in slot order then by id, with their contact details
    /// (for the admin). Reads the bookings of the service (a query on `service_id`) or every
    /// booking, and sorts them here: slots are stored in several spellings, so the stores
    /// cannot order them.
    public func bookings(_ query: BookingQuery) throws(BookingError) -> BookingPage {
        guard (1...BookingQuery.maximumLimit).contains(query.limit) else {
            throw .invalidField("limit", "must be from 1 to \(BookingQuery.maximumLimit)")
        }
        let matching = try allBookings(query)
        let page = Array(matching.prefix(query.limit))
        let next = matching.count > query.limit ? page.last.map { BookingCursor(slot: $0.slot, bookingID: $0.id) } : nil
        return BookingPage(bookings: page, next: next)
    }

    /// Every booking that matches `query` (its limit aside), in the listing's order, from one
    /// read of the store: what an export takes, where paging would read the bookings once a page.
    public func allBookings(_ query: BookingQuery) throws(BookingError) -> [Booking] {
        if let serviceID = query.serviceID { _ = try Validation.id(serviceID, field: "service_id") }
        let documents = try storeCall { () throws(StoreError) in
            try store.query(collection: Collections.bookings, where: query.serviceID.map { FieldFilter("service_id", equals: $0) }, select: nil)
        }
        var matching: [Booking] = []
        for document in documents {
            guard let booking = reader.booking(from: document), query.slots.contains(booking.slot),
                query.status.map({ $0 == booking.status }) ?? true, query.after.map({ $0.precedes(booking) }) ?? true,
                query.serviceID.map({ ExactString($0) == ExactString(booking.serviceID) }) ?? true
            else { continue }
            matching.append(booking)
        }
        matching.sort { $0.slot != $1.slot ? $0.slot < $1.slot : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        return matching
    }
}
