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
