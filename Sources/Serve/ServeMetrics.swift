// /metrics in Prometheus's text format: request counts by route and status, latency histograms by route,
// queue depth, requests in flight, batch sizes and refusals.

import Foundation
import Prometheus

/// The server's counters (swift-prometheus). Route labels are a fixed set, so their number stays bounded.
public final class ServeMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// The routes counted by name; every other path is "other".
    public static let routes: Set<String> = ["/", "/health", "/metrics", "/indices-list", "/knn-service", "/metadata", "/image", "/info"]
    private let queueDepth: Gauge
    private let inFlightGauge: Gauge
    private let batchSize: ValueHistogram
    private let lock = NSLock()
    private var inFlight = 0

    public init() {
        queueDepth = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "clipserve", metricName: "queue", unitName: "depth",
                                                                         helpText: "Queries waiting for the model worker."))
        inFlightGauge = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "clipserve", metricName: "requests", unitName: "in_flight",
                                                                            helpText: "Requests being handled."))
        batchSize = registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(namespace: "clipserve", metricName: "batch", unitName: "size", helpText: "Queries per model-worker batch."),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128])
    }

    public static func route(_ path: String) -> String { routes.contains(path) ? path : "other" }

    /// Counts one answered request.
    public func record(route: String, status: Int, seconds: Double) {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "clipserve", metricName: "requests", unitName: "total",
                                                              helpText: "Requests answered, by route and status."),
                             labels: [("route", route), ("status", String(status))]).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "clipserve", metricName: "request_duration", unitName: "seconds",
                                             helpText: "Time to answer a request, by route."),
            labels: [("route", route)],
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
                      .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5)]
        ).recordNanoseconds(Int64(seconds * 1e9))
    }

    /// Counts a request refused for load (`reason`: in_flight, queue, body).
    public func refused(_ reason: String) {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "clipserve", metricName: "refused", unitName: "total",
                                                              helpText: "Requests refused by a limit, by reason."),
                             labels: [("reason", reason)]).increment()
    }

    public func batch(_ n: Int) { batchSize.record(Double(n)) }

    /// Takes a request slot; false (and nothing taken) when `limit` are in flight.
    public func enter(limit: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard inFlight < limit else { return false }
        inFlight += 1
        inFlightGauge.set(Double(inFlight))
        return true
    }

    public func leave() {
        lock.lock()
        inFlight -= 1
        inFlightGauge.set(Double(inFlight))
        lock.unlock()
    }

    /// The exposition text, with the queue depth read now.
    public func text(queueDepth depth: Int) -> String {
        queueDepth.set(Double(depth))
        return registry.emitToString()
    }
}
