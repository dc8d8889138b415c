public import Prometheus
public import MeridianConsensusDriver
public import MeridianMempool
import Synchronization

/// The node's Prometheus metrics (served at `/metrics`).
///
/// Straight on swift-prometheus's registry, not through swift-metrics' `MetricsSystem`: that is
/// bootstrapped once per process, and the test suite runs several nodes in one process, each with
/// its own `/metrics`; a registry per node keeps them apart. So the node does not depend on
/// swift-metrics itself (swift-prometheus still builds on it).
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

    /// Consensus series, refreshed from the driver's status at each scrape.
    public func refresh(from c: ConsensusDriver.Status) {
        registry.makeGauge(name: "meridian_consensus_height", help: "Height consensus is working on").set(Double(c.height))
        registry.makeGauge(name: "meridian_consensus_round", help: "Current round").set(Double(c.round))
        let steps = ["starting", "propose", "prevote", "precommit", "commit"]
        registry.makeGauge(name: "meridian_consensus_step", help: "Current step: 0 starting, 1 propose, 2 prevote, 3 precommit, 4 commit")
            .set(Double(steps.firstIndex(of: c.step) ?? 0))
        registry.makeGauge(name: "meridian_p2p_peers", help: "Connected, authenticated peers").set(Double(c.peers))
        registry.makeGauge(name: "meridian_consensus_reachable_power", help: "Voting power of the validators this node reaches (itself and its connected peers)")
            .set(Double(c.reachablePower))
        registry.makeGauge(name: "meridian_consensus_total_power", help: "Voting power of the whole validator set").set(Double(c.totalPower))
        registry.makeGauge(name: "meridian_consensus_evidence", help: "Equivocations this node saw").set(Double(c.evidence))
        registry.makeGauge(name: "meridian_consensus_signer_failures", help: "Votes and proposals the validator key's signer did not sign (meridian-signer unreachable or refusing)").set(Double(c.signerFailures))
        registry.makeGauge(name: "meridian_consensus_syncing", help: "1 while catching up from peers").set(Double(c.syncing ? 1 : 0))
        registry.makeGauge(name: "meridian_consensus_heights_decided", help: "Heights finalised by consensus").set(Double(c.heightsDecided))
        registry.makeGauge(name: "meridian_consensus_rounds_per_height", help: "Mean rounds per finalised height")
            .set(c.heightsDecided == 0 ? 0 : Double(c.roundsTotal) / Double(c.heightsDecided))
        registry.makeGauge(name: "meridian_consensus_compact_proposals", labels: [("outcome", "rebuilt")],
                           help: "Compact proposals rebuilt from the mempool, or whose whole block was fetched").set(Double(c.compactProposalsAssembled))
        registry.makeGauge(name: "meridian_consensus_compact_proposals", labels: [("outcome", "fetched")],
                           help: "Compact proposals rebuilt from the mempool, or whose whole block was fetched").set(Double(c.compactProposalsFetched))
        for (step, seconds) in c.stepSeconds {
            registry.makeGauge(name: "meridian_consensus_step_seconds", labels: [("step", step)], help: "Seconds spent in each step, all heights").set(seconds)
        }
        for (validator, missed) in c.missedPrecommits {
            registry.makeGauge(name: "meridian_consensus_missed_precommits", labels: [("validator", validator)],
                               help: "Finalised blocks whose certificate lacks this validator's precommit").set(Double(missed))
        }
        for (reason, n) in c.connectionRefusals {
            registry.makeGauge(name: "meridian_p2p_connections_closed", labels: [("reason", reason)], help: "P2P connections refused or closed, by reason").set(Double(n))
        }
    }

    /// The mempool's fill against its limits (for the mempool-full alert).
    public func refresh(mempool: Mempool) {
        mempoolSize.set(Double(mempool.count))
        registry.makeGauge(name: "meridian_mempool_bytes", help: "Bytes of pending transactions").set(Double(mempool.bytes))
        registry.makeGauge(name: "meridian_mempool_capacity_transactions", help: "Pending transactions the mempool holds at most")
            .set(Double(mempool.limits.maxTransactions))
        registry.makeGauge(name: "meridian_mempool_capacity_bytes", help: "Bytes of pending transactions the mempool holds at most")
            .set(Double(mempool.limits.maxBytes))
    }

    /// Readiness by component, and the data directory's file system.
    public func refresh(from readiness: NodeReadiness) {
        let results = readiness.evaluate()
        registry.makeGauge(name: "meridian_ready", help: "1 when every readiness check passes (GET /readyz)")
            .set(results.allSatisfy { $0.reason == nil } ? 1.0 : 0.0)
        for r in results {
            registry.makeGauge(name: "meridian_component_ready", labels: [("component", r.component)],
                               help: "1 when this component's readiness check passes (GET /readyz names the reason when not)")
                .set(r.reason == nil ? 1.0 : 0.0)
        }
        if let dir = readiness.dataDirectory, let space = NodeReadiness.diskSpace(dir) {
            registry.makeGauge(name: "meridian_data_dir_free_bytes", help: "Bytes free to the node on the data directory's file system").set(Double(space.free))
            registry.makeGauge(name: "meridian_data_dir_size_bytes", help: "Size of the data directory's file system").set(Double(space.total))
        }
    }

    func recordBlock(height h: UInt64, transactions: Int, seconds: Double) {
        height.set(Double(h))
        blockSeconds.record(seconds)
        blockTransactions.increment(by: Int64(transactions))
    }
}
