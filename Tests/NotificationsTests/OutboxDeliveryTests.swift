import Booking
import Crypto
import DocumentStore
import DocumentStoreConformance
import Logging
import Notifications
import Synchronization
import TestSupport
import Testing

/// What the tests' senders saw, shared with their closures.
final class Seen: Sendable {
    let sent = Mutex<[String]>([])
    let answers: Mutex<[OutboxDelivery.SendResult]>
    init(answers: [OutboxDelivery.SendResult] = []) { self.answers = Mutex(answers) }
    var all: [String] { sent.withLock { $0 } }
}

/// The outbox's delivery on the in-memory store, with events the booking rules wrote, a
/// hand-stepped clock and receivers that answer as each test says.
@Suite struct OutboxDeliveryTests {
    let clock = ManualClock()
    let database: MemoryDatabase
    let desk: BookingDesk
    let slots = ["2031-03-01T09:00:00Z", "2031-03-01T10:00:00Z", "2031-03-01T11:00:00Z"]

    init() throws {
        let clock = clock
        database = MemoryDatabase(clock: { clock.now() })
        desk = BookingDesk(store: database.makeStore(), now: { clock.now() }, outboxes: [.webhooks])
        _ = try desk.createService(NewService(id: "cut", name: "Haircut", slots: slots))
    }

    func delivery(_ send: @escaping (Document) -> OutboxDelivery.SendResult) -> OutboxDelivery {
        let clock = clock
        return OutboxDelivery(
            outbox: .webhooks, store: database.makeStore(), send: send, now: { clock.now() }, jitter: { 1 }, logger: Logger(label: "test"))
    }

    func outbox() throws -> [String] { try database.makeStore().ids(collection: BookingOutbox.webhooks.collection, in: nil) }
    func delivered() throws -> [String] { try database.makeStore().ids(collection: BookingOutbox.webhooks.deliveredCollection, in: nil) }

    /// Books slot `slot`, moves it to `slot + 1` and cancels it: three events of one booking.
    func bookMoveAndCancel(_ slot: Int, _ name: String) throws -> String {
        let made = try desk.book(BookingRequest(serviceID: "cut", slot: slots[slot], userName: name))
        _ = try desk.reschedule(id: made.booking.id, to: slots[slot + 1], by: .admin)
        _ = try desk.cancel(id: made.booking.id, by: .admin)
        return made.booking.id
    }

    @Test func eachEventIsSentOnceAndABookingsEventsInOrder() throws {
        let ann = try bookMoveAndCancel(0, "Ann")
        let bob = try bookMoveAndCancel(0, "Bob")
        let seen = Seen()
        let sender = delivery { event in
            seen.sent.withLock { $0.append("\(event.path.id) \(event["type"]!.stringValue!)") }
            return .delivered
        }
        #expect(sender.deliverDue().delivered == 2, "one per booking: each booking's first")
        #expect(sender.deliverDue().delivered == 2)
        #expect(sender.deliverDue().delivered == 2)
        #expect(sender.deliverDue() == OutboxDelivery.Pass())
        let expected = [ann, bob].flatMap { id in
            ["booking.created", "booking.rescheduled", "booking.cancelled"].enumerated().map { "\(id).00000\($0) \($1)" }
        }
        #expect(seen.all.sorted() == expected.sorted())
        for id in [ann, bob] {
            #expect(seen.all.filter { $0.hasPrefix(id) } == expected.filter { $0.hasPrefix(id) }, "in the order they happened")
        }
        #expect(try outbox().isEmpty)
        #expect(try delivered().count == 6)
    }

    @Test func aReceiverThatFailsIsTriedAgainWithBackoffUntilItAnswers() throws {
        _ = try desk.book(BookingRequest(serviceID: "cut", slot: slots[0], userName: "Ann"))
        let seen = Seen(answers: [.failed("502"), .failed("timeout"), .delivered])
        let sender = delivery { event in
            seen.sent.withLock { $0.append(event.path.id) }
            return seen.answers.withLock { $0.removeFirst() }
        }
        #expect(sender.deliverDue().retried == 1)
        #expect(sender.deliverDue() == OutboxDelivery.Pass(), "not due again for a second")
        clock.advance(by: 1)
        #expect(sender.deliverDue().retried == 1)
        clock.advance(by: 1.5)
        #expect(sender.deliverDue() == OutboxDelivery.Pass(), "then two seconds")
        clock.advance(by: 0.5)
        #expect(sender.deliverDue().delivered == 1)
        #expect(seen.all.count == 3)
        let kept = try #require(try database.makeStore().get(DocumentPath(BookingOutbox.webhooks.deliveredCollection, try delivered()[0])))
        #expect(kept["attempts"] == .integer(3) && kept["state"] == .string("delivered") && kept["last_error"] == .string("timeout"))
    }

    @Test func anEventFailingFor24HoursIsGivenUpAndTheBookingsNextGoes() throws {
        let made = try desk.book(BookingRequest(serviceID: "cut", slot: slots[0], userName: "Ann"))
        let sender = delivery { event in event.path.id.hasSuffix(".000000") ? .failed("410 Gone") : .delivered }
        #expect(sender.deliverDue().retried == 1)
        _ = try desk.cancel(id: made.booking.id, by: .admin)
        clock.advance(by: 24 * 3600)
        #expect(sender.deliverDue().failed == 1)
        #expect(sender.deliverDue().delivered == 1, "the cancellation, after its booking's creation was given up")
        let failed = try #require(try database.makeStore().get(DocumentPath(BookingOutbox.webhooks.collection, "\(made.booking.id).000000")))
        #expect(failed["state"] == .string("failed") && failed["last_error"] == .string("410 Gone"))
        #expect(sender.deliverDue() == OutboxDelivery.Pass(), "a failed event is not tried again by itself")
    }

    @Test func theOperatorPutsAFailedEventBackAndPrunesOldDeliveredOnes() throws {
        let made = try desk.book(BookingRequest(serviceID: "cut", slot: slots[0], userName: "Ann"))
        let failing = delivery { _ in .failed("HTTP 500") }
        failing.deliverDue()
        clock.advance(by: 24 * 3600)
        #expect(failing.deliverDue().failed == 1)
        let store = database.makeStore()
        #expect(try OutboxDelivery.events(of: .webhooks, in: store, includingDelivered: false).map { $0["state"] } == [.string("failed")])
        #expect(try OutboxDelivery.retry(["no-such-event"], of: .webhooks, in: store, now: clock.now()).isEmpty)
        #expect(try OutboxDelivery.retry(nil, of: .webhooks, in: store, now: clock.now()) == ["\(made.booking.id).000000"])
        #expect(failing.deliverDue().retried == 1, "a day of retries again from now, not given up at once")
        let working = delivery { _ in .delivered }
        clock.advance(by: 2)
        #expect(working.deliverDue().delivered == 1)
        #expect(try OutboxDelivery.events(of: .webhooks, in: store, includingDelivered: true).map { $0["state"] } == [.string("delivered")])
        #expect(try OutboxDelivery.pruneDelivered(of: .webhooks, before: clock.now(), in: store) == 0, "delivered just now")
        clock.advance(by: 8 * 24 * 3600)
        #expect(try OutboxDelivery.pruneDelivered(of: .webhooks, before: Timestamp(seconds: clock.now().seconds - 7 * 24 * 3600), in: store) == 1)
        #expect(try OutboxDelivery.events(of: .webhooks, in: store, includingDelivered: true).isEmpty)
    }

    @Test func aBacklogWaitingForItsRetryIsNotReadAgainUntilDue() throws {
        for (index, name) in ["Ann", "Bob", "Cy"].enumerated() {
            _ = try desk.book(BookingRequest(serviceID: "cut", slot: slots[index], userName: name))
        }
        let counted = CountingStore(database.makeStore())
        let clock = clock
        let sender = OutboxDelivery(
            outbox: .webhooks, store: counted, send: { _ in .failed("503") }, now: { clock.now() }, jitter: { 1 }, logger: Logger(label: "test"))
        #expect(sender.deliverDue().retried == 3)
        let reads = counted.count("get")
        #expect(sender.deliverDue() == OutboxDelivery.Pass() && sender.deliverDue() == OutboxDelivery.Pass())
        #expect(counted.count("get") == reads, "nothing due for a second: only the ids listed")
        clock.advance(by: 1)
        #expect(sender.deliverDue().retried == 3, "each due again after its backoff")
        #expect(counted.count("get") == reads + 3)
    }

    @Test func concurrentSendersSendEachEventOnce() throws {
        for (index, name) in ["Ann", "Bob", "Cy"].enumerated() {
            _ = try desk.book(BookingRequest(serviceID: "cut", slot: slots[index], userName: name))
        }
        let seen = Seen()
        let (database, clock) = (database, clock)
        let outcomes = race(8) { _ in
            let sender = OutboxDelivery(
                outbox: .webhooks, store: database.makeStore(),
                send: { event in
                    seen.sent.withLock { $0.append(event.path.id) }
                    return .delivered
                }, now: { clock.now() }, jitter: { 1 }, logger: Logger(label: "test"))
            return "\(sender.deliverDue().delivered)"
        }
        #expect(outcomes.values.reduce(0, +) == 8)
        #expect(seen.all.count == 3 && Set(seen.all).count == 3, "\(seen.all)")
        #expect(try outbox().isEmpty)
    }

    @Test func aWebhookBodyIsSignedAndLeavesOutContactDetailsUnlessAsked() throws {
        let made = try desk.book(
            BookingRequest(serviceID: "cut", slot: slots[0], userName: "Ann", contact: Contact(email: "ann@example.com", phone: "+1 555")))
        let event = try #require(try database.makeStore().get(DocumentPath(BookingOutbox.webhooks.collection, "\(made.booking.id).000000")))
        let secret = Array("a shared secret of the business".utf8)
        let message = try #require(WebhookMessage(event: event, secret: secret, includeContact: false))
        let body = String(decoding: message.body, as: UTF8.self)
        #expect(body.hasPrefix(#"{"booking":{"booking_id":"\#(made.booking.id)","service_id":"cut","slot":"2031-03-01T09:00:00Z","#))
        #expect(body.contains(#""id":"\#(made.booking.id).000000""#) && body.contains(#""type":"booking.created""#))
        #expect(!body.contains("ann@example.com") && !body.contains("manage"))
        let code = HMAC<SHA256>.authenticationCode(for: message.body, using: SymmetricKey(data: secret))
        let hex = code.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(message.headers.contains("X-Booking-Signature: sha256=\(hex)"))
        #expect(message.headers.contains("X-Booking-Event-Id: \(made.booking.id).000000"))
        let withContact = try #require(WebhookMessage(event: event, secret: secret, includeContact: true))
        #expect(String(decoding: withContact.body, as: UTF8.self).contains(#""email":"ann@example.com""#))
    }
}
