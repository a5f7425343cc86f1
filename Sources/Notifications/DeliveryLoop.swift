import Booking
import DocumentStore
import Logging
import PosixThread

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one outbox's delivery (`OutboxDelivery`) on a thread of each worker process: a pass
/// every half second, on a store connection and a client of its own, so that nothing of it
/// runs in a request's time.
enum DeliveryLoop {
    static let passInterval: UInt32 = 500_000

    /// Starts the thread; it runs until the process exits. `makeSend` is called on the thread,
    /// so that the client it makes belongs to it.
    static func start(
        _ outbox: BookingOutbox, makeStore: @escaping @Sendable () -> any DocumentStore, logger: Logger,
        makeSend: @escaping @Sendable () -> (Document) -> OutboxDelivery.SendResult
    ) {
        pthread_detach(
            PosixThread.start {
                let delivery = OutboxDelivery(outbox: outbox, store: makeStore(), send: makeSend(), now: Timestamp.now, logger: logger)
                while true {
                    delivery.deliverDue()
                    usleep(passInterval)
                }
            })
    }
}

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
