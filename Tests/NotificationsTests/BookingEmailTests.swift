import Booking
import DocumentStore
import DocumentStoreConformance
import Foundation
import Logging
import TestSupport
import Testing
import TextEncodings
import TimeZones

@testable import CurlClients
@testable import Notifications

/// The customer's email of each booking change: written by the booking rules to the email
/// outbox (with the manage token where the change knows it), turned into a MIME message with
/// an iCalendar invitation, the token dropped once delivered.
@Suite struct BookingEmailTests {
    let clock = ManualClock(wall: 1_772_366_400)  // 2026-03-01T12:00:00Z
    let database: MemoryDatabase
    let desk: BookingDesk
    let reader = DocumentReader(zones: ZoneDatabase())
    let settings = EmailSettings(
        smtpURL: "smtp://127.0.0.1:2525", from: "Salon Bookings <bookings@salon.example>", publicURL: "https://book.salon.example/",
        caFile: nil)!
    /// Berlin's clocks went forward at 01:00 UTC on 29 March 2026: 08:00 UTC is 10:00 there.
    let afterTheChange = "2026-03-29T10:00:00+02:00"
    let beforeTheChange = "2026-03-28T10:00:00+01:00"

    init() throws {
        let clock = clock
        database = MemoryDatabase(clock: { clock.now() })
        desk = BookingDesk(store: database.makeStore(), now: { clock.now() }, reader: reader, outboxes: [.emails])
        var settings = ServiceSettingsInput()
        settings.timeZone = "Europe/Berlin"
        settings.durationMinutes = 45
        _ = try desk.createService(NewService(id: "cut", name: "Haircut & Beard", slots: [beforeTheChange, afterTheChange], settings: settings))
    }

    func events() throws -> [Document] { try database.makeStore().listAll(collection: BookingOutbox.emails.collection) }

    func email(_ event: Document) throws -> (text: String, calendar: String, headers: String) {
        let database = database
        let delivery = EmailDelivery(settings: settings, makeStore: { database.makeStore() }, reader: reader, logger: Logger(label: "test"))
        let email = try #require(try delivery.email(of: event, services: database.makeStore()))
        let message = String(decoding: email.message, as: UTF8.self)
        let parts = message.components(separatedBy: "\r\n\r\n")
        func decoded(_ part: String) -> String {
            let body = part.components(separatedBy: "\r\n--")[0].replacingOccurrences(of: "\r\n", with: "")
            return String(decoding: Data(base64Encoded: body) ?? Data(), as: UTF8.self)
        }
        #expect(!message.contains("\n\n") && !message.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CRLF line ends only")
        let long = message.split(separator: "\r\n", omittingEmptySubsequences: false).filter { $0.utf8.count > 78 }
        #expect(long.isEmpty, "lines of at most 78 characters: \(long)")
        return (decoded(parts[2]), decoded(parts[3]), parts[0])
    }

    @Test func aConfirmationHasTheLocalTimeTheManageLinkAndAnInvitationInUTC() throws {
        let made = try desk.book(
            BookingRequest(serviceID: "cut", slot: afterTheChange, userName: "Zoë Ünal", contact: Contact(email: "zoe@example.org")))
        let event = try #require(try events().first)
        #expect(event.path.id == "\(made.booking.id).000000" && event["manage_token"]?.stringValue == made.manageToken)
        let (text, calendar, headers) = try email(event)
        #expect(text.contains("Sunday 29 March 2026, 10:00 (Europe/Berlin, UTC+02:00)"), "\(text)")
        #expect(text.contains("Booking \(made.booking.id)"))
        #expect(text.contains("https://book.salon.example/#manage/\(made.booking.id)/\(made.manageToken)"))
        #expect(calendar.contains("METHOD:REQUEST\r\n") && calendar.contains("STATUS:CONFIRMED\r\n"))
        #expect(calendar.contains("DTSTART:20260329T080000Z\r\nDTEND:20260329T084500Z\r\n"), "\(calendar)")
        #expect(calendar.contains("UID:\(made.booking.id)@salon.example\r\nSEQUENCE:0\r\n"))
        #expect(calendar.contains("SUMMARY:Haircut & Beard\r\n"))
        #expect(calendar.contains("ORGANIZER:mailto:bookings@salon.example\r\n"))
        #expect(headers.contains("From: Salon Bookings <bookings@salon.example>\r\n"))
        #expect(headers.contains("To: =?UTF-8?B?\(Base64.encode(Array("Zoë Ünal".utf8)))?= <zoe@example.org>\r\n"), "\(headers)")
        #expect(headers.contains("Subject: Booking confirmed: Haircut & Beard, Sun 29 Mar 2026, 10:00\r\n"))
        #expect(headers.contains("Message-ID: <\(made.booking.id).000000.booking.created@salon.example>"))
    }

    @Test func aMoveRaisesTheSequenceAndACancellationCancelsTheSameEvent() throws {
        let made = try desk.book(BookingRequest(serviceID: "cut", slot: afterTheChange, userName: "Ann", contact: Contact(email: "ann@example.org")))
        _ = try desk.reschedule(id: made.booking.id, to: beforeTheChange, by: .manageToken(made.manageToken))
        _ = try desk.cancel(id: made.booking.id, by: .admin)
        let all = try events()
        #expect(all.map(\.path.id) == ["000000", "000001", "000002"].map { "\(made.booking.id).\($0)" })
        let moved = try email(all[1])
        #expect(moved.calendar.contains("METHOD:REQUEST\r\n") && moved.calendar.contains("SEQUENCE:1\r\n"))
        #expect(moved.calendar.contains("DTSTART:20260328T090000Z\r\n"), "before the change Berlin is UTC+1")
        #expect(moved.text.contains("Saturday 28 March 2026, 10:00 (Europe/Berlin, UTC+01:00)"))
        #expect(moved.text.contains("#manage/\(made.booking.id)/\(made.manageToken)"), "moved with the token: the link again")
        let cancelled = try email(all[2])
        #expect(cancelled.calendar.contains("METHOD:CANCEL\r\n") && cancelled.calendar.contains("STATUS:CANCELLED\r\n"))
        #expect(cancelled.calendar.contains("UID:\(made.booking.id)@salon.example\r\nSEQUENCE:2\r\n"))
        #expect(!cancelled.text.contains("#manage/") && all[2]["manage_token"] == nil)
        #expect(cancelled.headers.contains("Subject: Booking cancelled: "))
    }

    @Test func bookingsWithoutAnAddressWriteNoEmailEventAndDeliveryDropsTheToken() throws {
        _ = try desk.book(BookingRequest(serviceID: "cut", slot: beforeTheChange, userName: "No Mail"))
        #expect(try events().isEmpty)
        let made = try desk.book(BookingRequest(serviceID: "cut", slot: afterTheChange, userName: "Ann", contact: Contact(email: "ann@example.org")))
        #expect(desk.emailsCustomer(of: made.booking))
        let clock = clock
        let sender = OutboxDelivery(
            outbox: .emails, store: database.makeStore(), send: { _ in .delivered }, now: { clock.now() }, logger: Logger(label: "test"))
        #expect(sender.deliverDue().delivered == 1)
        let kept = try #require(try database.makeStore().get(DocumentPath(BookingOutbox.emails.deliveredCollection, "\(made.booking.id).000000")))
        #expect(kept["manage_token"] == nil && kept["state"]?.stringValue == "delivered")
    }

    @Test func aRefusalForGoodIsGivenUpAtOnce() throws {
        _ = try desk.book(BookingRequest(serviceID: "cut", slot: afterTheChange, userName: "Ann", contact: Contact(email: "nobody@example.org")))
        let clock = clock
        let sender = OutboxDelivery(
            outbox: .emails, store: database.makeStore(), send: { _ in .refused("550 no such user") }, now: { clock.now() },
            logger: Logger(label: "test"))
        #expect(sender.deliverDue().failed == 1)
        #expect(try events().map { $0["state"]?.stringValue } == ["failed"])
    }

    @Test func headersNeverBreakAndLongLinesFold() {
        #expect(MIMEHeader.field("Subject", MIMEHeader.words("Plain name")) == "Subject: Plain name")
        #expect(!MIMEHeader.field("To", MIMEHeader.words("Eve\r\nBcc: all@example.org")).contains("\r\nBcc"))
        let long = MIMEHeader.field("Subject", MIMEHeader.words(String(repeating: "é", count: 60)))
        #expect(long.components(separatedBy: "\r\n").allSatisfy { $0.count <= 78 }, "\(long)")
        #expect(long.components(separatedBy: "\r\n").dropFirst().allSatisfy { $0.hasPrefix(" =?UTF-8?B?") })
        let wordy = MIMEHeader.field("Subject", MIMEHeader.words(String(repeating: "word ", count: 40)))
        #expect(wordy.components(separatedBy: "\r\n").allSatisfy { $0.count <= 78 })
        #expect(wordy.replacingOccurrences(of: "\r\n", with: "") == "Subject: " + String(repeating: "word ", count: 40).dropLast())
        let folded = CalendarInvitation.folded("DESCRIPTION:" + String(repeating: "ü", count: 100))
        #expect(folded.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 75 })
        #expect(folded.replacingOccurrences(of: "\r\n ", with: "") == "DESCRIPTION:" + String(repeating: "ü", count: 100))
        #expect(CalendarInvitation.escaped("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne")
    }

    @Test func settingsTakeAnAddressAloneOrAfterAName() {
        #expect(EmailSettings.address(in: "bookings@example.com") == "bookings@example.com")
        #expect(EmailSettings.address(in: "Example Bookings <bookings@example.com>") == "bookings@example.com")
        for bad in ["", "bookings", "Name <bookings@example.com", "a b@example.com", "bookings@localhost", "Zoë <z@example.com>"] {
            #expect(EmailSettings.address(in: bad) == nil, "\(bad)")
        }
        #expect(MailClient.hasCredentials("smtp://user:secret@mail.example:587"))
        #expect(!MailClient.hasCredentials("smtp://mail.example:25/path@x"))
    }
}
