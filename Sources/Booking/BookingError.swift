/// Why a booking operation was refused. Each case has a stable `code` that clients see
/// verbatim; the API layer maps codes to HTTP statuses.
public enum BookingError: Error, Equatable, Sendable {
    /// A field is missing, of the wrong kind, or out of bounds.
    case invalidField(String, String)
    case invalidSlot(String)
    case slotNotOffered
    case slotInPast
    /// The slot begins sooner than the service's minimum notice.
    case slotTooSoon
    /// The slot begins further ahead than the service's maximum advance.
    case slotTooFarAhead
    case slotTaken
    case serviceNotFound
    case serviceExists
    case bookingNotFound
    /// The token given is neither the booking's manage token nor the admin's.
    case forbidden
    /// A customer may not change a booking whose slot has begun (the business may).
    case bookingInPast
    /// A cancelled booking cannot be moved.
    case bookingCancelled
    /// The booking kept changing while this change was tried; nothing was written.
    case bookingChanged
    /// A change of a service would leave these confirmed bookings without their slot or seat.
    case slotHasBookings([Booking])
    /// The service changed while this change was made from it; nothing was written.
    case serviceChanged
    /// The store could not be reached; nothing is known to have changed.
    case storeUnavailable
    /// The store failed in a way the client cannot fix.
    case storeFailure(String)

    public var code: String {
        switch self {
        case .invalidField: "invalid_field"
        case .invalidSlot: "invalid_slot"
        case .slotNotOffered: "slot_not_offered"
        case .slotInPast: "slot_in_past"
        case .slotTooSoon: "slot_too_soon"
        case .slotTooFarAhead: "slot_too_far_ahead"
        case .slotTaken: "slot_taken"
        case .serviceNotFound: "service_not_found"
        case .serviceExists: "service_exists"
        case .bookingNotFound: "booking_not_found"
        case .forbidden: "forbidden"
        case .bookingInPast: "booking_in_past"
        case .bookingCancelled: "booking_cancelled"
        case .bookingChanged: "booking_changed"
        case .slotHasBookings: "slot_has_bookings"
        case .serviceChanged: "service_changed"
        case .storeUnavailable: "store_unavailable"
        case .storeFailure: "internal_error"
        }
    }

    public var message: String {
        switch self {
        case .invalidField(let field, let problem): "\(field): \(problem)"
        case .invalidSlot(let problem): problem
        case .slotNotOffered: "the service does not offer this slot"
        case .slotInPast: "the slot has already begun"
        case .slotTooSoon: "the slot begins sooner than the service's minimum notice"
        case .slotTooFarAhead: "the slot begins further ahead than the service takes bookings"
        case .slotTaken: "the slot is already booked"
        case .serviceNotFound: "no service with this id"
        case .serviceExists: "a service with this id already exists"
        case .bookingNotFound: "no booking with this id"
        case .forbidden: "this token may not manage this booking"
        case .bookingInPast: "the booking's slot has begun; only the business can change it now"
        case .bookingCancelled: "the booking is cancelled"
        case .bookingChanged: "the booking changed while this was tried; try again"
        case .slotHasBookings(let bookings):
            "\(bookings.count) confirmed booking\(bookings.count == 1 ? "" : "s") would lose \(bookings.count == 1 ? "its" : "their") slot or seat; "
                + "they are listed in error.bookings; repeat with ?cancel_bookings=true to cancel them"
        case .serviceChanged: "the service changed while this change was made; read it and try again"
        case .storeUnavailable: "the booking store is unavailable; try again shortly"
        case .storeFailure: "the booking store failed"
        }
    }
}

extension BookingError: CustomStringConvertible {
    /// The message, with the store's own words where it failed, on one line.
    public var description: String {
        if case .storeFailure(let reason) = self {
            return "the booking store failed: \(reason.split(whereSeparator: \.isWhitespace).joined(separator: " "))"
        }
        return message
    }
}
