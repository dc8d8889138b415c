import Foundation
import Synchronization
public import MeridianConsensusDriver
public import MeridianWorkers
public import MeridianStorage

/// Whether the node can do its job now, component by component (`GET /readyz`): the pattern of
/// Hyperledger Fabric's operations service, whose `/healthz` answers 503 with the failed checks,
/// each naming its component and reason, so that a load balancer stops sending work and the
/// operator's page says what to fix. Liveness (`/health`) only says the process answers.
///
/// Each check is cheap and reads only thread-safe state (the block store, the consensus driver's
/// published status, the worker host's failures, `statvfs`): a check never waits on the chain's
/// executor, so a node whose block execution is stuck still answers, and says so.
public final class NodeReadiness: Sendable {
    /// One component's check: nil when it is fine, else why not (one line, no personal data).
    public struct Check: Sendable {
        public let component: String
        let run: @Sendable () -> String?
        public init(_ component: String, _ run: @escaping @Sendable () -> String?) { self.component = component; self.run = run }
    }

    /// A component's state as `/readyz` and `/metrics` report it.
    public struct Result: Sendable, Encodable, Equatable {
        public let component: String
        public let status: String
        public let reason: String?
    }

    public let checks: [Check]
    /// The data directory whose file system the disk figures describe (nil: none reported).
    public let dataDirectory: String?

    public init(checks: [Check], dataDirectory: String? = nil) {
        self.checks = checks; self.dataDirectory = dataDirectory
    }

    /// Every component's state, in the order of `checks`.
    public func evaluate() -> [Result] {
        checks.map { c in
            let reason = c.run()
            return Result(component: c.component, status: reason == nil ? "ok" : "failing", reason: reason)
        }
    }

    /// Bytes free to the node and the size of the file system holding `path`.
    public static func diskSpace(_ path: String) -> (free: UInt64, total: UInt64)? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return (UInt64(s.f_bavail) * UInt64(s.f_frsize), UInt64(s.f_blocks) * UInt64(s.f_frsize))
    }
}

/// What the node's readiness checks, with their thresholds (`readiness` in node.json).
public struct ReadinessConfig: Codable, Sendable, Hashable {
    /// Seconds without a new block, while blocks are expected, before the chain counts as stalled.
    public var stallSeconds: Int = 60
    /// Free bytes under the data directory below which the node is not ready (RocksDB needs room to
    /// compact; a full disk stops the node at its next synced write).
    public var minimumFreeDiskBytes: UInt64 = 512 << 20

    public init() {}

    enum CodingKeys: String, CodingKey { case stallSeconds, minimumFreeDiskBytes }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ReadinessConfig()
        stallSeconds = try c.decodeIfPresent(Int.self, forKey: .stallSeconds) ?? d.stallSeconds
        minimumFreeDiskBytes = try c.decodeIfPresent(UInt64.self, forKey: .minimumFreeDiskBytes) ?? d.minimumFreeDiskBytes
    }
}

extension NodeReadiness.Check {
    /// The database answers: the head height and its header read back.
    public static func storage(_ store: BlockStore) -> Self {
        .init("storage") {
            do {
                let head = try store.headHeight()
                let header = head == 0 ? nil : try store.header(at: head)
                guard head == 0 || header != nil else { return "the head block \(head) has no header on disk" }
                return nil
            } catch { return "reading the head block failed: \(error)" }
        }
    }

    /// The chain advances: while blocks are expected (`expectsBlocks`: consensus paces empty
    /// blocks; a single proposer without empty blocks only when transactions wait), the head has
    /// moved within `stallAfter`. The first reading starts the clock.
    public static func progress(_ store: BlockStore, stallAfter: Duration, expectsBlocks: @escaping @Sendable () -> Bool) -> Self {
        let seen = Mutex<(height: UInt64, at: ContinuousClock.Instant)?>(nil)
        return .init("chain") {
            guard let head = try? store.headHeight() else { return nil }   // the storage check says why
            let now = ContinuousClock.now
            let since: ContinuousClock.Instant = seen.withLock { s in
                if let s, s.height == head { return s.at }
                s = (head, now)
                return now
            }
            let stalled = now - since
            guard expectsBlocks(), stalled > stallAfter else { return nil }
            return "height \(head) has not advanced for \(stalled.components.seconds) s while blocks are expected"
        }
    }

    /// Validators holding more than two thirds of the voting power are reachable (this node, if it
    /// is one, and its connected peers): below that no block can be finalised from here.
    public static func peers(_ status: @escaping @Sendable () -> ConsensusStatus) -> Self {
        .init("peers") {
            let s = status()
            guard s.totalPower > 0 else { return nil }   // the first height has not begun yet
            if 3 * s.reachablePower > 2 * s.totalPower { return nil }
            return "validators with \(s.reachablePower) of \(s.totalPower) voting power reachable (\(s.peers) peers); a quorum needs more than two thirds"
        }
    }

    /// The node is not catching up from its peers.
    public static func sync(_ status: @escaping @Sendable () -> ConsensusStatus) -> Self {
        .init("sync") {
            let s = status()
            return s.syncing ? "catching up from peers at height \(s.height)" : nil
        }
    }

    /// No off-chain worker is crash-looping.
    public static func workers(_ health: WorkerHealth) -> Self {
        .init("workers") {
            let failing = health.failing()
            guard !failing.isEmpty else { return nil }
            // The errors themselves go to the log and stay there: `/readyz` is open, and a worker's
            // error may name what it was working on.
            return failing.map { "\($0.worker) failed \($0.failures) times in \(WorkerHealth.window.components.seconds) s (its errors are in the node's log)" }
                .joined(separator: "; ")
        }
    }

    /// The data directory's file system has room.
    public static func disk(_ path: String, minimumFreeBytes: UInt64) -> Self {
        .init("disk") {
            guard let space = NodeReadiness.diskSpace(path) else { return "cannot read the data directory's file system" }
            guard space.free < minimumFreeBytes else { return nil }
            return "\(space.free >> 20) MiB free on the data directory's file system; the node needs at least \(minimumFreeBytes >> 20) MiB"
        }
    }
}
