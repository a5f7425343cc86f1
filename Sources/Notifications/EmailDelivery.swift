import Booking
import CurlClients
import DocumentStore
import Logging

/// Where customers' emails go out and what they say they are from (`SMTP_URL`, `MAIL_FROM`,
/// `PUBLIC_URL`, `SMTP_CA_FILE`).
public struct EmailSettings: Sendable {
    /// The mail server (relay): `smtp://[user:password@]host[:port]` or `smtps://...`.
    public let smtpURL: String
    /// The `From` header as configured: `bookings@example.com` or `Example Bookings <bookings@example.com>`.
    public let from: String
    /// The bare address of `from`: the envelope sender and the invitation's organizer.
    public let senderAddress: String
    /// Where the booking page is, for the manage link: `https://booking.example.com`.
    public let publicURL: String
    /// Certificates to trust for the mail server instead of the system's.
    public let caFile: String?
    /// How long a mail server may take to accept one message.
    public static let timeoutMilliseconds = 30_000

    /// The part of the sender's address after `@`: the domain of invitation UIDs and message ids.
    var domain: String { String(senderAddress[senderAddress.index(after: senderAddress.lastIndex(of: "@")!)...]) }

    /// nil when `from` holds no address (`local@domain`, alone or in angle brackets after a name
    /// of printable ASCII) or `publicURL` is not an http(s) URL.
    public init?(smtpURL: String, from: String, publicURL: String, caFile: String?) {
        guard let address = Self.address(in: from), publicURL.hasPrefix("https://") || publicURL.hasPrefix("http://") else { return nil }
        self.smtpURL = smtpURL
        self.from = from
        senderAddress = address
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.caFile = caFile
    }

    /// The address of a `From` value: `a@b.c` or `Name <a@b.c>`; nil for anything else.
    static func address(in from: String) -> String? {
        guard from.unicodeScalars.allSatisfy({ (0x20..<0x7F).contains($0.value) }) else { return nil }
        var candidate = Substring(from)
        if let open = from.lastIndex(of: "<") {
            guard from.hasSuffix(">") else { return nil }
            candidate = from[from.index(after: open)..<from.index(before: from.endIndex)]
        }
        let parts = candidate.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            !candidate.contains(where: { $0 == " " || $0 == "<" || $0 == ">" || $0 == "\"" })
        else { return nil }
        return String(candidate)
    }
}

/// Sends the email outbox's events to customers through the mail server, from a thread of each
/// worker process (`DeliveryLoop`): the booking as the event holds it, the service as it is now.
public final class EmailDelivery: Sendable {
    private let settings: EmailSettings
    private let makeStore: @Sendable () -> any DocumentStore
    private let reader: DocumentReader
    private let logger: Logger

    /// - Parameter reader: reads the event's booking and its service (their zones).
    public init(settings: EmailSettings, makeStore: @escaping @Sendable () -> any DocumentStore, reader: DocumentReader, logger: Logger) {
        self.settings = settings
        self.makeStore = makeStore
        self.reader = reader
        self.logger = logger
    }

    /// Starts the thread; it runs until the process exits.
    public func start() {
        DeliveryLoop.start(.emails, makeStore: makeStore, logger: logger) { [self] in
            let client = MailClient(url: settings.smtpURL, caFile: settings.caFile, timeoutMilliseconds: EmailSettings.timeoutMilliseconds)
            let store = makeStore()
            return { event in self.send(event, with: client, services: store) }
        }
    }

    /// The email of an event, its service read from `store`; nil when the event is not one.
    func email(of event: Document, services store: any DocumentStore) throws(StoreError) -> BookingEmail? {
        guard let booking = reader.booking(ofEvent: event) else { return nil }
        let service = try reader.service(id: booking.serviceID, in: store)
        return BookingEmail(event: event, booking: booking, service: service, settings: settings)
    }

    /// One message to the mail server: its acceptance is delivery; a 5xx refusal is final.
    func send(_ event: Document, with client: MailClient, services store: any DocumentStore) -> OutboxDelivery.SendResult {
        let email: BookingEmail?
        do {
            email = try self.email(of: event, services: store)
        } catch {
            return .failed("the service could not be read: \(error)")
        }
        guard let email else { return .refused("not an email event of a booking with an address") }
        do {
            try client.send(from: settings.senderAddress, to: email.recipient, message: email.message)
            logger.info("email sent", metadata: ["event_id": "\(event.path.id)"])
            return .delivered
        } catch {
            logger.warning("email not sent", metadata: ["event_id": "\(event.path.id)", "reason": "\(error.description)"])
            return error.permanent ? .refused(error.description) : .failed(error.description)
        }
    }
}
