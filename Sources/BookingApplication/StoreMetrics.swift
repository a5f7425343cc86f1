import CoreMetrics
import DocumentStore

/// Store calls as metrics: `booking_store_calls_total{operation}`,
/// `booking_store_errors_total{operation,kind}` and `booking_store_call_duration_seconds{operation}`.
///
/// One per store connection, so one per thread: its instruments are made once and used without a
/// lock. A conflict the booking rules expect (a slot taken: `already_exists`) counts as an error of
/// its kind too; `unavailable` is the one to alert on.
final class StoreMetrics: StoreObserver {
    private let calls: [StoreOperation: Counter]
    private let durations: [StoreOperation: Timer]
    private var errors: [String: Counter] = [:]

    init() {
        var calls: [StoreOperation: Counter] = [:]
        var durations: [StoreOperation: Timer] = [:]
        for operation in StoreOperation.allCases {
            calls[operation] = Counter(label: "booking_store_calls_total", dimensions: [("operation", operation.rawValue)])
            durations[operation] = Timer(label: "booking_store_call_duration_seconds", dimensions: [("operation", operation.rawValue)])
        }
        self.calls = calls
        self.durations = durations
    }

    func observe(_ operation: StoreOperation, took duration: Duration, failure: StoreError?) {
        calls[operation]!.increment()
        let (seconds, attoseconds) = duration.components
        durations[operation]!.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        guard let failure else { return }
        let key = "\(operation.rawValue) \(failure.kind)"
        let counter =
            errors[key] ?? Counter(label: "booking_store_errors_total", dimensions: [("operation", operation.rawValue), ("kind", failure.kind)])
        errors[key] = counter
        counter.increment()
    }
}
