import CoreMetrics
import DocumentStore

/// Store calls as metrics: `booking_store_calls_total{operation}`,
/// `booking_store_errors_total{operation,kind}` and `booking_store_call_duration_seconds{operation}`.
///
/// One per store connection, so one per thread: its instruments are made once and used without a
/// lock. A conflict the booking rules expect (a slot taken: `already_exists`) counts as an error of
/// its kind too; `unavailable` is the one to alert on.
final class StoreMetrics: StoreObserver {
    /// By `StoreOperation.index`: looked up without hashing, once per store call.
    private let calls: [Counter]
    private let durations: [Timer]
    private var errors: [String: Counter] = [:]

    init() {
        calls = StoreOperation.allCases.map { Counter(label: "booking_store_calls_total", dimensions: [("operation", $0.rawValue)]) }
        durations = StoreOperation.allCases.map { Timer(label: "booking_store_call_duration_seconds", dimensions: [("operation", $0.rawValue)]) }
    }

    func observe(_ operation: StoreOperation, took duration: Duration, failure: StoreError?) {
        calls[operation.index].increment()
        let (seconds, attoseconds) = duration.components
        durations[operation.index].recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        guard let failure else { return }
        let key = "\(operation.rawValue) \(failure.kind)"
        let counter =
            errors[key] ?? Counter(label: "booking_store_errors_total", dimensions: [("operation", operation.rawValue), ("kind", failure.kind)])
        errors[key] = counter
        counter.increment()
    }
}
