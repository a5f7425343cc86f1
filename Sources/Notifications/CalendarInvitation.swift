import DocumentStore

/// A booking as an iCalendar (RFC 5545) invitation: one `VEVENT` that calendar programs add,
/// move and remove by its `UID`.
///
/// Times are in UTC (`DTSTART:20260329T080000Z`): the instant is then exact whatever zone the
/// reader's calendar is in, across daylight-saving changes, without a `VTIMEZONE` whose rules
/// could disagree with the reader's. The local time in the service's zone is in the email's text.
/// A booking keeps its `UID` for life; each change raises `SEQUENCE` (the event's number), so a
/// calendar applies a reschedule over the earlier version and `METHOD:CANCEL` removes it.
struct CalendarInvitation {
    enum Method: String {
        case request = "REQUEST"
        case cancel = "CANCEL"
    }

    var method: Method
    /// Stable per booking: `{booking_id}@{the sender's domain}`.
    var uid: String
    var sequence: Int64
    /// When this version was made (the change's time).
    var stamp: Timestamp
    var start: Timestamp
    var end: Timestamp
    var summary: String
    var description: String
    var organizer: String
    var attendee: String
    var attendeeName: String
    var url: String?

    /// The `.ics` text: CRLF line ends, lines folded at 75 octets.
    var text: String {
        var lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//booking backend//booking//EN", "CALSCALE:GREGORIAN", "METHOD:\(method.rawValue)",
            "BEGIN:VEVENT",
            "UID:\(uid)",
            "SEQUENCE:\(sequence)",
            "DTSTAMP:\(Self.utc(stamp))",
            "DTSTART:\(Self.utc(start))",
            "DTEND:\(Self.utc(end))",
            "SUMMARY:\(Self.escaped(summary))",
            "DESCRIPTION:\(Self.escaped(description))",
            "ORGANIZER:mailto:\(organizer)",
            "ATTENDEE;CN=\(Self.quotedParameter(attendeeName));ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:\(attendee)",
            "STATUS:\(method == .cancel ? "CANCELLED" : "CONFIRMED")",
            "TRANSP:OPAQUE",
        ]
        if let url { lines.append("URL:\(url)") }
        lines += ["END:VEVENT", "END:VCALENDAR"]
        return lines.map(Self.folded).joined(separator: "\r\n") + "\r\n"
    }

    /// `YYYYMMDDTHHMMSSZ`.
    static func utc(_ time: Timestamp) -> String {
        let parts = LocalTimeText.Parts(time, offset: 0)
        let year = String(parts.year)
        return String(repeating: "0", count: max(0, 4 - year.count)) + year + parts.two(parts.month) + parts.two(parts.day) + "T"
            + parts.two(parts.hour) + parts.two(parts.minute) + parts.two(parts.second) + "Z"
    }

    /// A TEXT value: backslash, semicolon, comma and newline escaped (RFC 5545 3.3.11).
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\\\"
            case ";": result += "\\;"
            case ",": result += "\\,"
            case "\n", "\r\n": result += "\\n"
            case "\r": continue
            default: result.append(character)
            }
        }
        return result
    }

    /// A parameter value in double quotes, without the characters it cannot hold.
    static func quotedParameter(_ text: String) -> String {
        "\"" + text.filter { $0 != "\"" && !$0.isNewline } + "\""
    }

    /// The line split into lines of at most 75 octets, continuation lines starting with a
    /// space, never inside a UTF-8 sequence (RFC 5545 3.1).
    static func folded(_ line: String) -> String {
        var result = ""
        var width = 0
        for scalar in line.unicodeScalars {
            let size = String(scalar).utf8.count
            if width + size > 75 {
                result += "\r\n "
                width = 1
            }
            result.unicodeScalars.append(scalar)
            width += size
        }
        return result
    }
}
