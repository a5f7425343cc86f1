import Booking
import CoreMetrics
import DocumentStore
import Logging

/// Delivers one outbox's events (`booking_events` to the webhook receiver, `booking_emails` to
/// customers), at least once, in order per booking, one sender at a time per event across every
/// process and host.
///
/// Each pass lists the outbox's ids (sorted, so each booking's events come in the order they
/// happened) and takes, per booking, its first event not given up: a later one waits until the
/// earlier is delivered or given up. An event due (its `next_attempt_at` passed) is leased first, by a
/// commit under its update time (`state: delivering`, `lease_expires_at`, one more `attempts`):
/// of several workers that find it, one wins, and one whose sender died leaves a lease that runs
/// out. A 2xx from the receiver (a mail server's acceptance) is delivery: the event moves to the
/// outbox's delivered collection (its deletion and the copy in one commit, under the lease's
/// update time), without the manage token an email's event held. Anything else is retried
/// with exponential backoff and jitter (1 s doubling to 10 minutes) until 24 hours after the
/// change, then the event is marked `failed`, logged and counted, and stays for `bookingctl`.
/// Sending never holds a request: it runs on a thread of its own.
public final class OutboxDelivery {
    /// How long a lease holds an event for its sender.
    public static let leaseSeconds: Int64 = 30
    /// How long after its change an event is retried before it is given up.
    public static let retrySeconds: Int64 = 24 * 3600

    /// What a send came to: delivered (a 2xx, a mail server's acceptance); not, with the
    /// reason (tried again later); or refused for good (a mail server's 5xx: given up at once).
    public enum SendResult: Sendable, Equatable {
        case delivered
        case failed(String)
        case refused(String)
    }

    /// What one pass did.
    public struct Pass: Equatable, Sendable {
        public var delivered = 0
        public var retried = 0
        public var failed = 0

        public init() {}
    }

    private let outbox: BookingOutbox
    private let store: any DocumentStore
    private let send: (Document) -> SendResult
    private let now: () -> Timestamp
    private let jitter: () -> Double
    private let logger: Logger
    private let outcomes: [Counter]

    /// - Parameters:
    ///   - outbox: the outbox whose events this delivers.
    ///   - send: sends one event document to its receiver.
    ///   - jitter: a factor in 0.5..<1.5 for each backoff (random; fixed in tests).
    public init(
        outbox: BookingOutbox, store: any DocumentStore, send: @escaping (Document) -> SendResult, now: @escaping () -> Timestamp,
        jitter: @escaping () -> Double = { Double.random(in: 0.5..<1.5) }, logger: Logger
    ) {
        self.outbox = outbox
        outcomes = ["delivered", "retried", "failed"].map {
            Counter(label: "booking_event_deliveries_total", dimensions: [("channel", outbox.channel), ("outcome", $0)])
        }
        self.store = store
        self.send = send
        self.now = now
        self.jitter = jitter
        self.logger = logger
    }

    /// When each event this sender last read is due again (its next try, or the end of another
    /// sender's lease): until then a pass skips it without reading it, so that a backlog waiting
    /// for a receiver that is down costs one listing of ids a pass, not a read per event.
    private var notDueBefore: [String: Timestamp] = [:]

    /// Delivers what is due now; a store that cannot be reached ends the pass (the next tries again).
    @discardableResult
    public func deliverDue() -> Pass {
        var pass = Pass()
        guard let ids = try? store.ids(collection: outbox.collection, in: nil) else { return pass }
        let listed = Set(ids)
        notDueBefore = notDueBefore.filter { listed.contains($0.key) }
        let passTime = now()
        var seen = Set<String>()
        for id in ids {
            let booking = String(id[..<(id.lastIndex(of: ".") ?? id.endIndex)])
            guard !seen.contains(booking) else { continue }
            if let due = notDueBefore[id], due > passTime {
                seen.insert(booking)  // its later events wait for this one
                continue
            }
            guard let event = try? store.get(DocumentPath(outbox.collection, id)) else { continue }
            guard event["state"]?.stringValue != "failed" else { continue }  // given up: the booking's next may go
            seen.insert(booking)  // its later events wait for this one
            guard let leased = lease(event) else {
                notDueBefore[id] = Self.dueTime(of: event)
                continue
            }
            switch send(leased) {
            case .delivered:
                if settle(leased, as: .delivered) != nil { pass.delivered += 1 }
            case .refused(let reason):
                if settle(leased, as: .failed(reason)) != nil { pass.failed += 1 }
                logger.error("event refused by its receiver", metadata: ["channel": "\(outbox.channel)", "event_id": "\(id)", "reason": "\(reason)"])
            case .failed(let reason):
                // From the change, or from the operator's `bookingctl events retry`.
                let since = Self.time(leased["retried_at"]) ?? Self.time(leased["created_at"]) ?? leased.createTime
                if now().seconds - since.seconds >= Self.retrySeconds {
                    if settle(leased, as: .failed(reason)) != nil { pass.failed += 1 }
                    logger.error(
                        "event given up after 24 hours of retries",
                        metadata: ["channel": "\(outbox.channel)", "event_id": "\(id)", "reason": "\(reason)"])
                } else if let retried = settle(leased, as: .retry(reason)) {
                    pass.retried += 1
                    notDueBefore[id] = Self.dueTime(of: retried)
                }
            }
        }
        outcomes[0].increment(by: Int64(pass.delivered))
        outcomes[1].increment(by: Int64(pass.retried))
        outcomes[2].increment(by: Int64(pass.failed))
        return pass
    }

    /// When an event not leased now may be: its next try, or the end of the lease another holds
    /// (now, when neither is set: it was changed meanwhile, read it again next pass).
    private static func dueTime(of event: Document) -> Timestamp? {
        let next = time(event["next_attempt_at"])
        let leaseEnd = event["state"]?.stringValue == "delivering" ? time(event["lease_expires_at"]) : nil
        return [next, leaseEnd].compactMap { $0 }.max()
    }

    /// The event leased for this sender, or nil when it is not due, failed, or another holds it.
    private func lease(_ event: Document) -> Document? {
        let time = now()
        let state = event["state"]?.stringValue ?? "pending"
        if state == "delivering", let expires = Self.time(event["lease_expires_at"]), expires > time { return nil }
        if let next = Self.time(event["next_attempt_at"]), next > time { return nil }
        var fields = event.fields
        fields["state"] = .string("delivering")
        fields["lease_expires_at"] = .timestamp(Timestamp(seconds: time.seconds + Self.leaseSeconds, nanos: time.nanos))
        if case .integer(let attempts)? = event["attempts"] { fields["attempts"] = .integer(attempts + 1) } else { fields["attempts"] = .integer(1) }
        guard let leasedAt = try? store.commit([.set(event.path, fields, .updateTime(event.updateTime))]) else { return nil }
        return Document(path: event.path, fields: fields, createTime: event.createTime, updateTime: leasedAt)
    }

    private enum Settlement {
        case delivered
        case retry(String)
        case failed(String)
    }

    /// Records what came of a send, under the lease's update time: the event as recorded, or
    /// nil when the lease was lost (another sender has the event now).
    private func settle(_ event: Document, as settlement: Settlement) -> Document? {
        let time = now()
        var fields = event.fields
        fields["lease_expires_at"] = nil
        let writes: [Write]
        switch settlement {
        case .delivered:
            fields["state"] = .string("delivered")
            fields["delivered_at"] = .timestamp(time)
            fields[BookingOutbox.manageTokenField] = nil  // sent: no longer kept in the clear
            writes = [
                .delete(event.path, .updateTime(event.updateTime)),
                .set(DocumentPath(outbox.deliveredCollection, event.path.id), fields, .none),
            ]
        case .retry(let reason):
            var attempts = 1
            if case .integer(let made)? = event["attempts"] { attempts = Int(made) }
            let delay = min(pow2(attempts - 1), 600) * jitter()
            fields["state"] = .string("pending")
            fields["last_error"] = .string(String(reason.prefix(500)))
            fields["next_attempt_at"] = .timestamp(Timestamp(microseconds: time.microseconds + Int64(delay * 1_000_000)))
            writes = [.set(event.path, fields, .updateTime(event.updateTime))]
        case .failed(let reason):
            fields["state"] = .string("failed")
            fields["last_error"] = .string(String(reason.prefix(500)))
            fields["failed_at"] = .timestamp(time)
            writes = [.set(event.path, fields, .updateTime(event.updateTime))]
        }
        guard let updated = try? store.commit(writes) else { return nil }
        return Document(path: event.path, fields: fields, createTime: event.createTime, updateTime: updated)
    }

    // MARK: - The operator's view (bookingctl events)

    /// An outbox's events (pending, being sent, failed) in id order, and those delivered too
    /// when asked.
    public static func events(of outbox: BookingOutbox, in store: any DocumentStore, includingDelivered: Bool) throws(StoreError) -> [Document] {
        var events = try store.listAll(collection: outbox.collection)
        if includingDelivered { events += try store.listAll(collection: outbox.deliveredCollection) }
        return events
    }

    /// Puts failed events (`ids`, or every failed one when nil) back to be sent at once, with
    /// another 24 hours of retries from now; the ids of those put back. An id not in the outbox,
    /// or not failed, is left as it is.
    public static func retry(_ ids: [String]?, of outbox: BookingOutbox, in store: any DocumentStore, now: Timestamp) throws(StoreError)
        -> [String]
    {
        var retried: [String] = []
        for event in try store.listAll(collection: outbox.collection) where event["state"]?.stringValue == "failed" {
            guard ids?.contains(event.path.id) ?? true else { continue }
            var fields = event.fields
            fields["state"] = .string("pending")
            fields["attempts"] = .integer(0)
            fields["next_attempt_at"] = .timestamp(now)
            fields["retried_at"] = .timestamp(now)
            fields["failed_at"] = nil
            do {
                try store.commit([.set(event.path, fields, .updateTime(event.updateTime))])
                retried.append(event.path.id)
            } catch .failedPrecondition, .notFound {
                continue  // changed meanwhile
            }
        }
        return retried
    }

    /// Deletes an outbox's events delivered before `cutoff`; how many.
    public static func pruneDelivered(of outbox: BookingOutbox, before cutoff: Timestamp, in store: any DocumentStore) throws(StoreError) -> Int {
        let old = try store.listAll(collection: outbox.deliveredCollection).filter { (time($0["delivered_at"]) ?? $0.updateTime) < cutoff }
        for chunk in stride(from: 0, to: old.count, by: 100) {
            try store.commit(old[chunk..<min(chunk + 100, old.count)].map { .delete($0.path, .none) })
        }
        return old.count
    }

    private static func time(_ value: Value?) -> Timestamp? {
        if case .timestamp(let time)? = value { return time }
        return nil
    }
}

/// 2 to the power `exponent` (0 and below: 1), in seconds, without overflow for large ones.
private func pow2(_ exponent: Int) -> Double {
    exponent <= 0 ? 1 : Double(1 << min(exponent, 30))
}
