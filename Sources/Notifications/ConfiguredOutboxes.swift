import Booking

extension BookingOutbox {
    /// The outboxes whose channels the environment turns on (`WEBHOOK_URL`, `SMTP_URL`): what
    /// `bookingctl`'s changes write to, run with the server's settings, so that a booking the
    /// operator cancels is told of as one cancelled through the API. (The server checks the
    /// settings in full at start; this only asks which channels are on.)
    public static func configured(in environment: [String: String]) -> Set<BookingOutbox> {
        var outboxes: Set<BookingOutbox> = []
        if !(environment["WEBHOOK_URL"] ?? "").isEmpty { outboxes.insert(.webhooks) }
        if !(environment["SMTP_URL"] ?? "").isEmpty { outboxes.insert(.emails) }
        return outboxes
    }
}
