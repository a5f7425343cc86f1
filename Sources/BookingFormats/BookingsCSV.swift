import Booking
import DocumentStore

/// The bookings listing as CSV (RFC 4180): a header row, CRLF line ends, fields quoted where
/// they hold a comma, a quote or a line break. A cell that a spreadsheet would take for a
/// formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`,
/// as OWASP advises against CSV injection: names and notes come from customers.
public enum BookingsCSV {
    public static let columns = [
        "booking_id", "service_id", "slot", "status", "user_name", "email", "phone", "notes", "timestamp", "cancelled_at",
    ]

    public static func document(_ bookings: [Booking]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(128 + bookings.count * 200)
        row(columns, to: &output)
        for booking in bookings {
            row(
                [
                    booking.id, booking.serviceID, booking.slot.description, booking.status.rawValue, booking.userName,
                    booking.contact.email ?? "", booking.contact.phone ?? "", booking.contact.notes ?? "", booking.timestamp.rfc3339,
                    booking.cancelledAt?.rfc3339 ?? "",
                ], to: &output)
        }
        return output
    }

    private static func row(_ cells: [String], to output: inout [UInt8]) {
        for (index, cell) in cells.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            field(cell, to: &output)
        }
        output.append(contentsOf: [13, 10])
    }

    static func field(_ cell: String, to output: inout [UInt8]) {
        var bytes = Array(cell.utf8)
        if let first = bytes.first, "=+-@\t\r".utf8.contains(first) { bytes.insert(UInt8(ascii: "'"), at: 0) }
        guard bytes.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }) else {
            output.append(contentsOf: bytes)
            return
        }
        output.append(UInt8(ascii: "\""))
        for byte in bytes {
            if byte == UInt8(ascii: "\"") { output.append(byte) }
            output.append(byte)
        }
        output.append(UInt8(ascii: "\""))
    }
}
