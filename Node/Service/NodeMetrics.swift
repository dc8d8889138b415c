public import Prometheus

/// The node's Prometheus metrics (served at `/metrics`).
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let height: Gauge
    public let blockSeconds: ValueHistogram
    public let blockTransactions: Counter
    public let mempoolSize: Gauge
    public let admitted: Counter
    public let refused: Counter
    public let apiSeconds: ValueHistogram

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        height = registry.makeGauge(name: "meridian_height", help: "Height of the last committed block")
        blockSeconds = registry.makeValueHistogram(name: "meridian_block_seconds", buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
                                                   help: "Time to execute, sign and commit a block")
        blockTransactions = registry.makeCounter(name: "meridian_committed_transactions_total", help: "Transactions committed in blocks")
        mempoolSize = registry.makeGauge(name: "meridian_mempool_transactions", help: "Pending transactions")
        admitted = registry.makeCounter(name: "meridian_mempool_admitted_total", help: "Transactions admitted to the mempool")
        refused = registry.makeCounter(name: "meridian_mempool_refused_total", help: "Transactions refused at admission")
        apiSeconds = registry.makeValueHistogram(name: "meridian_api_request_seconds",
                                                 buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
                                                 help: "API request latency")
    }

    func recordBlock(height h: UInt64, transactions: Int, seconds: Double) {
        height.set(Double(h))
        blockSeconds.record(seconds)
        blockTransactions.increment(by: Int64(transactions))
    }
}
