import CoreMetrics
import Prometheus

/// This process's metrics: swift-metrics bootstrapped onto a swift-prometheus registry, with
/// histogram buckets fit for requests that take a fraction of a millisecond.
public enum ProcessMetrics {
    /// The registry every swift-metrics instrument of this process records into.
    public static let registry = PrometheusCollectorRegistry()

    /// Request and store-call times: from a quarter of a millisecond (an answer from the read
    /// cache) to 10 s (a store that hangs until its timeout).
    static let durationBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// Makes swift-metrics record into `registry`. Call once, before any instrument is made.
    public static func bootstrap() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        MetricsSystem.bootstrap(factory)
    }

    /// This process's metrics in the text format.
    public static func text() -> String { registry.emitToString() }
}
