import CoreMetrics
import FastCGI

/// The API's metrics: requests by route and status, their durations by route, and what became of
/// each attempt to book (`booking_bookings_total{outcome}`).
///
/// One per responder, so one per thread: its instruments are kept here once made, and a request
/// looks them up without a lock (swift-metrics' own lookup takes the registry's).
final class RequestMetrics {
    /// By `Route.index`, then the last one for paths no endpoint has: looked up without hashing
    /// the route, and with one small integer-keyed lookup for the status.
    private var requests = [[Int: Counter]](repeating: [:], count: Route.count + 1)
    private let durations = (0...Route.count).map { index in
        Timer(label: "booking_http_request_duration_seconds", dimensions: [("route", RequestMetrics.name(ofIndex: index))])
    }
    private let created = Counter(label: "booking_bookings_total", dimensions: [("outcome", "created")])
    private let conflicts = Counter(label: "booking_bookings_total", dimensions: [("outcome", "conflict")])
    private let rejected = Counter(label: "booking_bookings_total", dimensions: [("outcome", "rejected")])

    /// Counts `response` to a request for `route` (nil: a path no endpoint has) that took `duration`.
    func record(_ route: Route?, _ response: Response, took duration: Duration) {
        let index = route?.index ?? Route.count
        let status = response.status
        if let counter = requests[index][status] {
            counter.increment()
        } else {
            let counter = Counter(
                label: "booking_http_requests_total", dimensions: [("route", Self.name(ofIndex: index)), ("status", String(status))])
            requests[index][status] = counter
            counter.increment()
        }
        let (seconds, attoseconds) = duration.components
        durations[index].recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        if route == .book { countBooking(response) }
    }

    /// The `route` label of the endpoint at `index` (`other` past the last).
    private static func name(ofIndex index: Int) -> String {
        let routes: [Route] = [.health, .readiness, .services, .service(id: ""), .book, .bookings, .booking(id: ""), .reschedule(bookingID: "")]
        return index < routes.count ? routes[index].name : "other"
    }

    /// A booking made (not a repeat answered from its idempotency key), refused because the slot
    /// was taken, or refused as invalid (any other 4xx). A 5xx is none of these: the requests
    /// counter has it.
    private func countBooking(_ response: Response) {
        switch response.status {
        case 201 where response.header("Idempotent-Replayed") == nil: created.increment()
        case 409: conflicts.increment()
        case 400..<500: rejected.increment()
        default: break
        }
    }
}
