import Booking
import DocumentStore
import JSON

/// Bookings as JSON, for the API's responses and `bookingctl`'s listings: written straight to
/// bytes (one per booking), keys in the serializer's sorted order.
public enum BookingJSON {
    /// Written straight to bytes too (one per booking), keys in the serializer's sorted order.
    /// The contact details only when `contact` (the admin and the manage token's holder see
    /// them); the manage token, and whether a confirmation email was queued, only in the answer
    /// to the booking that made it.
    public static func booking(_ booking: Booking, contact: Bool = false, manageToken: String? = nil, emailQueued: Bool? = nil) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(220 + booking.serviceID.utf8.count + booking.userName.utf8.count + (contact ? 64 : 0))
        write(booking, contact: contact, manageToken: manageToken, emailQueued: emailQueued, to: &output)
        return output
    }

    private static func write(_ booking: Booking, contact: Bool, manageToken: String?, emailQueued: Bool? = nil, to output: inout [UInt8]) {
        var dates = RFC3339Dates()
        func optional(_ key: String, _ value: String?) {
            guard let value else { return }
            output.append(contentsOf: ",\"\(key)\":".utf8)
            JSON.writeString(value, to: &output)
        }
        output.append(contentsOf: #"{"booking_id":"#.utf8)
        JSON.writeString(booking.id, to: &output)
        if let cancelledAt = booking.cancelledAt {
            output.append(contentsOf: #","cancelled_at":""#.utf8)
            cancelledAt.appendRFC3339(to: &output, dates: &dates)
            output.append(UInt8(ascii: "\""))
        }
        if let emailQueued { output.append(contentsOf: ",\"confirmation_email_queued\":\(emailQueued)".utf8) }
        if contact { optional("email", booking.contact.email) }
        optional("manage_token", manageToken)
        if contact {
            optional("notes", booking.contact.notes)
            optional("phone", booking.contact.phone)
        }
        output.append(contentsOf: #","service_id":"#.utf8)
        JSON.writeString(booking.serviceID, to: &output)
        output.append(contentsOf: #","slot":""#.utf8)
        booking.slot.appendSpelling(to: &output, dates: &dates)
        output.append(contentsOf: #"","status":""#.utf8)
        output.append(contentsOf: booking.status.rawValue.utf8)
        output.append(contentsOf: #"","timestamp":""#.utf8)
        booking.timestamp.appendRFC3339(to: &output, dates: &dates)  // nothing to escape in either spelling
        output.append(contentsOf: #"","user_name":"#.utf8)
        JSON.writeString(booking.userName, to: &output)
        output.append(UInt8(ascii: "}"))
    }

    /// A page of the bookings listing, with contact details (it is the admin's).
    public static func bookings(_ page: BookingPage) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64 + page.bookings.count * 320)
        output.append(contentsOf: #"{"bookings":"#.utf8)
        JSON.writeArray(page.bookings, to: &output) { booking, output in write(booking, contact: true, manageToken: nil, to: &output) }
        output.append(contentsOf: #","next_page_token":"#.utf8)
        if let next = page.next { JSON.writeString(next.token, to: &output) } else { output.append(contentsOf: "null".utf8) }
        output.append(UInt8(ascii: "}"))
        return output
    }
}
