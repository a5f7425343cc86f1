import Booking
import DocumentStore
import TextEncodings

/// The email a customer gets for one event of the email outbox: a short plain-text note (the
/// service, the local date and time in the service's zone, the booking id, the manage link
/// when the event holds the token) with the calendar invitation attached.
///
/// MIME (RFC 2045-2049): `multipart/mixed` of a `text/plain` part and a `text/calendar;
/// method=REQUEST` (or `CANCEL`) attachment, both UTF-8 in base64, so that no line is too long
/// and no byte is changed on the way; headers with non-ASCII text as RFC 2047 encoded words.
/// The `Message-ID` is the event's, so a message sent twice (delivery is at least once) is
/// one message to mail programs that drop duplicates.
struct BookingEmail {
    let recipient: String
    let message: [UInt8]

    /// The email of an event document, or nil when it is not one with an address.
    /// - Parameters:
    ///   - booking: the booking as the event holds it (`DocumentReader.booking(from:)` of its map).
    ///   - service: the booking's service as it is now (its name, zone and slot length); nil
    ///     when it is gone: then its id, UTC and the default length.
    init?(event: Document, booking: Booking, service: Service?, settings: EmailSettings) {
        guard let type = event["type"]?.stringValue.flatMap(BookingEventType.init(rawValue:)), let address = booking.contact.email,
            case .timestamp(let changedAt)? = event["created_at"]
        else { return nil }
        var sequence: Int64 = 0
        if case .integer(let number)? = event["sequence"] { sequence = number }
        let serviceName = service?.name ?? booking.serviceID
        let zone: any LocalTimeZone = service?.zone ?? UTCZone()
        let minutes = service?.settings.slotLength ?? ServiceSettings().slotLength
        let when = LocalTimeText.describe(booking.slot.instant, in: zone)
        let link = event[BookingOutbox.manageTokenField]?.stringValue.map {
            "\(settings.publicURL)/#manage/\(PercentEncoding.encode(booking.id))/\($0)"
        }

        let (subject, opening): (String, String)
        switch type {
        case .created: (subject, opening) = ("Booking confirmed: \(serviceName), \(when.short)", "your booking is confirmed.")
        case .rescheduled: (subject, opening) = ("Booking moved: \(serviceName), \(when.short)", "your booking has been moved to a new time.")
        case .cancelled: (subject, opening) = ("Booking cancelled: \(serviceName), \(when.short)", "your booking has been cancelled.")
        }
        var text = "Hello \(booking.userName),\n\n\(opening.prefix(1).uppercased() + opening.dropFirst())\n\n"
        text += "  \(serviceName)\n  \(when.long)\n  Booking \(booking.id)\n\n"
        if type != .cancelled, let link { text += "To see, move or cancel it:\n\(link)\n\n" }
        text +=
            type == .cancelled
            ? "The attached invitation removes it from your calendar.\n" : "The attached invitation adds it to your calendar.\n"

        let invitation = CalendarInvitation(
            method: type == .cancelled ? .cancel : .request, uid: "\(booking.id)@\(settings.domain)", sequence: sequence, stamp: changedAt,
            start: booking.slot.instant,
            end: Timestamp(seconds: booking.slot.instant.seconds + Int64(minutes) * 60, nanos: booking.slot.instant.nanos),
            summary: serviceName, description: "Booking \(booking.id) for \(booking.userName)", organizer: settings.senderAddress,
            attendee: address, attendeeName: booking.userName, url: type == .cancelled ? nil : link)

        let boundary = "=_booking_\(Hex.encode(Array(event.path.id.utf8)).prefix(40))"
        let method = type == .cancelled ? "CANCEL" : "REQUEST"
        let headers = [
            MIMEHeader.field("From", MIMEHeader.words(settings.from)),
            MIMEHeader.field("To", MIMEHeader.words(booking.userName) + ["<\(address)>"]),
            MIMEHeader.field("Subject", MIMEHeader.words(subject)),
            "Date: \(MIMEHeader.date(changedAt))",
            "Message-ID: <\(event.path.id).\(type.rawValue)@\(settings.domain)>",
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed;\r\n boundary=\"\(boundary)\"",
        ]
        var lines = headers + ["", "This is a MIME message.", "--\(boundary)"]
        lines += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", ""]
        lines += MIMEHeader.base64Lines(Array(text.replacingNewlines().utf8))
        lines += ["--\(boundary)"]
        lines += [
            "Content-Type: text/calendar; charset=utf-8; method=\(method);\r\n name=\"invitation.ics\"",
            "Content-Disposition: attachment; filename=\"invitation.ics\"", "Content-Transfer-Encoding: base64", "",
        ]
        lines += MIMEHeader.base64Lines(Array(invitation.text.utf8))
        lines += ["--\(boundary)--", ""]
        recipient = address
        message = Array(lines.joined(separator: "\r\n").utf8)
    }
}

extension String {
    /// The text with CRLF line ends, as email wants them.
    fileprivate func replacingNewlines() -> String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
    }
}

/// Header values and bodies in the forms email allows.
enum MIMEHeader {
    /// A header field of `words`, folded onto continuation lines so that lines keep within 78
    /// characters where the words allow.
    static func field(_ name: String, _ words: [String]) -> String {
        var text = name + ":"
        var width = text.count
        for word in words {
            if width + 1 + word.count > 78 && width > name.count + 1 {
                text += "\r\n"
                width = 0
            }
            text += " " + word
            width += 1 + word.count
        }
        return text
    }

    /// The text's words for a header: as they are when the text is printable ASCII, else RFC
    /// 2047 encoded words (`=?UTF-8?B?...?=`, 64 characters at most, which decoders join without
    /// the space between them). Line breaks never pass: a header cannot be made to end early.
    static func words(_ text: String) -> [String] {
        let oneLine = String(text.unicodeScalars.filter { $0 != "\r" && $0 != "\n" })
        if oneLine.unicodeScalars.allSatisfy({ (0x20..<0x7F).contains($0.value) }) && !oneLine.contains("=?") {
            return oneLine.split(separator: " ").map(String.init)
        }
        var words: [String] = []
        var chunk: [UInt8] = []
        for scalar in oneLine.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > 39 {  // 52 base64 characters, 64 with the markers
                words.append("=?UTF-8?B?\(Base64.encode(chunk))?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Base64.encode(chunk))?=") }
        return words
    }

    /// `bytes` in base64, 76 characters a line.
    static func base64Lines(_ bytes: [UInt8]) -> [String] {
        let text = Array(Base64.encode(bytes).utf8)
        return stride(from: 0, to: text.count, by: 76).map { String(decoding: text[$0..<min($0 + 76, text.count)], as: UTF8.self) }
    }

    /// An RFC 5322 date in UTC: `Thu, 03 Dec 2026 08:00:00 +0000`.
    static func date(_ time: Timestamp) -> String {
        let local = LocalTimeText.Parts(time, offset: 0)
        return
            "\(local.weekday.prefix(3)), \(local.two(local.day)) \(local.monthName.prefix(3)) \(local.year) \(local.clock):\(local.two(local.second)) +0000"
    }
}

/// A date and time as clocks in a zone show it, in words.
enum LocalTimeText {
    /// The parts of the date and time `offset` seconds ahead of UTC.
    struct Parts {
        let year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekdayIndex: Int

        init(_ time: Timestamp, offset: Int) {
            let local = time.seconds + Int64(offset)
            let days = local >= 0 ? local / 86400 : (local - 86399) / 86400
            let (year, month, day) = Timestamp.civilDate(fromDays: days)
            let second = Int(local - days * 86400)
            (self.year, self.month, self.day) = (Int(year), Int(month), Int(day))
            (hour, minute, self.second) = (second / 3600, second / 60 % 60, second % 60)
            weekdayIndex = Int(((days + 3) % 7 + 7) % 7)  // 1970-01-01 was a Thursday; 0 is Monday
        }

        static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        static let months = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
        ]
        var weekday: String { Self.weekdays[weekdayIndex] }
        var monthName: String { Self.months[month - 1] }
        var clock: String { "\(two(hour)):\(two(minute))" }
        func two(_ number: Int) -> String { number < 10 ? "0\(number)" : "\(number)" }
    }

    /// `short`: `Sun 29 Mar 2026, 10:00`; `long`: `Sunday 29 March 2026, 10:00 (Europe/Berlin, UTC+02:00)`.
    static func describe(_ time: Timestamp, in zone: any LocalTimeZone) -> (short: String, long: String) {
        let offset = zone.secondsFromUTC(at: time)
        let parts = Parts(time, offset: offset)
        let sign = offset < 0 ? "-" : "+"
        let offsetText = "UTC\(sign)\(parts.two(abs(offset) / 3600)):\(parts.two(abs(offset) / 60 % 60))"
        let date = "\(parts.day) \(parts.monthName) \(parts.year)"
        return (
            "\(parts.weekday.prefix(3)) \(parts.day) \(parts.monthName.prefix(3)) \(parts.year), \(parts.clock)",
            "\(parts.weekday) \(date), \(parts.clock) (\(zone.identifier), \(offsetText))"
        )
    }
}
