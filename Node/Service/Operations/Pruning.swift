import Foundation
public import Logging
public import ServiceLifecycle
import MeridianCore
public import MeridianStorage
import MeridianModules
import MeridianRuntime

/// What `pruning` in node.json says: how many recent state versions to keep, and how often to prune.
public struct PruningConfig: Codable, Sendable, Hashable {
    /// State versions (heights) kept below the head: proofs at older heights answer 410. 0 keeps
    /// every version (and every body). Block bodies and receipts are kept besides for the chain's
    /// audit retention (`auditRetentionDays`, at least three years, a genesis parameter).
    public var keepRecentHeights: UInt64 = 100_000
    /// Seconds between two pruning passes.
    public var intervalSeconds: Int = 3600

    public init() {}

    enum CodingKeys: String, CodingKey { case keepRecentHeights, intervalSeconds }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PruningConfig()
        keepRecentHeights = try c.decodeIfPresent(UInt64.self, forKey: .keepRecentHeights) ?? d.keepRecentHeights
        intervalSeconds = try c.decodeIfPresent(Int.self, forKey: .intervalSeconds) ?? d.intervalSeconds
    }
}

/// One pruning pass over a node's store, and the heights it prunes below.
public enum Pruning {
    /// The retain heights for a head: state below `head - keep` (at least 1 version kept), bodies
    /// below that and below the first block within the audit retention of the head's time.
    public static func plan(store: BlockStore, keepRecentHeights: UInt64, retentionDays: UInt32) throws -> (stateBelow: UInt64, bodiesBelow: UInt64)? {
        guard keepRecentHeights > 0 else { return nil }
        let head = try store.headHeight()
        guard head > keepRecentHeights, let headHeader = try store.header(at: head) else { return nil }
        let stateBelow = head - keepRecentHeights
        let retentionMilliseconds = UInt64(retentionDays) * 86_400_000
        let oldestKept = headHeader.time.unixMilliseconds >= retentionMilliseconds ? headHeader.time.unixMilliseconds - retentionMilliseconds : 0
        // The first height whose block time is within the retention (block times only grow).
        var lo = try store.bodiesKeptFrom(), hi = stateBelow
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            guard let h = try store.header(at: mid) else { throw StorePruner.PruneError(message: "no header at \(mid)") }
            if h.time.unixMilliseconds < oldestKept { lo = mid + 1 } else { hi = mid }
        }
        return (stateBelow, lo)
    }

    /// Prunes the chain's store now (state prepared beside commits, applied between two writes),
    /// then compacts; returns what it did (nil: nothing to prune).
    public static func run(chain: ChainService, keepRecentHeights: UInt64) async throws -> StorePruner.Outcome? {
        let store = chain.store
        let retention = try chain.query.reader.read(ChainParameters.self, ChainState.parametersKey)?.auditRetentionDays ?? ChainParameters().auditRetentionDays
        guard let (stateBelow, bodiesBelow) = try plan(store: store, keepRecentHeights: keepRecentHeights, retentionDays: retention) else { return nil }
        let pruner = StorePruner(store: store)
        guard let prepared = try pruner.prepare(stateBelow: stateBelow) else { return nil }
        let outcome = try await chain.betweenWrites { try pruner.apply(prepared, bodiesBelow: bodiesBelow) }
        pruner.compact()
        return outcome
    }
}

/// Prunes every `intervalSeconds` while the node runs (`pruning` in node.json); a failed pass is
/// logged and tried again at the next interval (what it deleted was unneeded; the rest stays).
struct PruningService: Service {
    let chain: ChainService
    let config: PruningConfig
    let logger: Logger

    func run() async throws {
        guard config.keepRecentHeights > 0 else { return }
        try await untilGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(config.intervalSeconds))
                let started = ContinuousClock.now
                do {
                    // Off the event loops: the walk reads every record of the kept state.
                    let chain = self.chain, keep = config.keepRecentHeights
                    let outcome = try await Task.detached(priority: .background) { try await Pruning.run(chain: chain, keepRecentHeights: keep) }.value
                    if let o = outcome {
                        logger.notice("pruned", metadata: ["stateKeptFrom": "\(o.stateKeptFrom)", "bodiesKeptFrom": "\(o.bodiesKeptFrom)",
                                                           "recordsDeleted": "\(o.recordsDeleted)", "bodiesPruned": "\(o.bodiesPruned)",
                                                           "seconds": "\((ContinuousClock.now - started).components.seconds)"])
                    }
                } catch {
                    logger.error("pruning failed; tried again at the next interval", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
