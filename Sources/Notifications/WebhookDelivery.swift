import CurlClients
import DocumentStore
import Logging

/// Where the business's webhook receiver is and how its messages are signed (`WEBHOOK_URL`,
/// `WEBHOOK_SECRET`, `WEBHOOK_INCLUDE_CONTACT`).
public struct WebhookSettings: Sendable {
    public let url: String
    public let secret: [UInt8]
    public let includeContact: Bool
    /// How long a receiver may take to answer.
    public static let timeoutMilliseconds = 10_000
    /// The shortest secret taken: a guessable one would let anyone sign messages.
    public static let minimumSecretLength = 16

    public init(url: String, secret: [UInt8], includeContact: Bool) {
        self.url = url
        self.secret = secret
        self.includeContact = includeContact
    }
}

/// Sends the webhook outbox's events to the business's receiver, from a thread of each
/// worker process (`DeliveryLoop`).
public final class WebhookDelivery: Sendable {
    private let settings: WebhookSettings
    private let makeStore: @Sendable () -> any DocumentStore
    private let logger: Logger

    public init(settings: WebhookSettings, makeStore: @escaping @Sendable () -> any DocumentStore, logger: Logger) {
        self.settings = settings
        self.makeStore = makeStore
        self.logger = logger
    }

    /// Starts the thread; it runs until the process exits.
    public func start() {
        DeliveryLoop.start(.webhooks, makeStore: makeStore, logger: logger) { [self] in
            let client = HTTPClient(
                timeoutMilliseconds: WebhookSettings.timeoutMilliseconds, connectTimeoutMilliseconds: 5000, userAgent: "booking-webhooks/1")
            return { event in self.send(event, with: client) }
        }
    }

    /// One POST of one event: a 2xx is delivery.
    func send(_ event: Document, with client: HTTPClient) -> OutboxDelivery.SendResult {
        guard let message = WebhookMessage(event: event, secret: settings.secret, includeContact: settings.includeContact) else {
            return .failed("not an event document")
        }
        do {
            let response = try client.send("POST", settings.url, headers: message.headers, body: message.body)
            guard (200..<300).contains(response.status) else {
                logger.warning("webhook refused", metadata: ["event_id": "\(message.eventID)", "status": "\(response.status)"])
                return .failed("HTTP \(response.status)")
            }
            logger.info("webhook delivered", metadata: ["event_id": "\(message.eventID)"])
            return .delivered
        } catch {
            logger.warning("webhook not delivered", metadata: ["event_id": "\(message.eventID)", "reason": "\(error.description)"])
            return .failed(error.description)
        }
    }
}
