public import MeridianCore
public import MeridianModules

/// The anchoring worker: every interval it takes the results queued since the last anchor (up to
/// `maxPerAnchor`), computes their RFC 9162 root and submits a signed anchor transaction with the
/// node's worker key; once the anchor is on chain it marks the batch anchored. A crash at any point
/// leaves the batch queued: the same leaves give the same root, and a root already on chain is
/// recognised and marked without a second transaction.
public final class AnchorWorker: Worker, Sendable {
    public let name = "anchor"
    let store: AnchorStore
    let kinds: [AnchorKind]
    let producer: @Sendable (AnchorKind) -> Bytes32
    /// Submits the anchor (signed by the worker key); returns false if it could not be admitted.
    let submit: @Sendable (AnchorSubmission) async -> Bool
    /// The committed anchor of a root, if any.
    let committed: @Sendable (Bytes32) -> AnchorRecord?
    let interval: Duration
    public static let maxPerAnchor = 100_000
    /// How long to wait for an anchor transaction to commit before trying again.
    let commitDeadline: Duration

    public init(store: AnchorStore, kinds: [AnchorKind] = [.readings], interval: Duration, commitDeadline: Duration = .seconds(60),
                producer: @escaping @Sendable (AnchorKind) -> Bytes32, submit: @escaping @Sendable (AnchorSubmission) async -> Bool,
                committed: @escaping @Sendable (Bytes32) -> AnchorRecord?) {
        self.store = store; self.kinds = kinds; self.interval = interval; self.commitDeadline = commitDeadline
        self.producer = producer; self.submit = submit; self.committed = committed
    }

    public func run(metrics: WorkerMetrics) async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            for kind in kinds { try await anchorOnce(kind, metrics: metrics) }
        }
    }

    /// Anchors what is queued for `kind` now (one batch). Returns the anchored root, if any.
    @discardableResult
    public func anchorOnce(_ kind: AnchorKind, metrics: WorkerMetrics? = nil) async throws -> Bytes32? {
        guard let p = try store.pending(kind, limit: Self.maxPerAnchor) else { return nil }
        metrics?.queueDepth.set(Double(try store.queued(kind)))
        let root = p.root
        if committed(root) == nil {
            let anchor = AnchorSubmission(kind: kind, root: root, count: UInt32(p.leafHashes.count), from: p.from, to: p.to, producer: producer(kind))
            guard await submit(anchor) else { metrics?.refused.increment(); return nil }
            let clock = ContinuousClock(), deadline = clock.now.advanced(by: commitDeadline)
            while committed(root) == nil {
                guard clock.now < deadline else { return nil }   // not committed in time: the batch stays queued
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try store.markAnchored(p)
        metrics?.processed.increment(by: Int64(p.leafHashes.count))
        return root
    }
}
