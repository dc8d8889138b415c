public import MeridianCore
public import MeridianModules

/// Puts each alert delivery on the patient's audit trail: takes the deliveries the dispatcher
/// queued (in the same write as the alert) and submits one `audit.alert_delivery` transaction each,
/// signed with the node's worker key, removing a delivery from the queue once the transaction is
/// admitted. A crash before that leaves it queued, so it is submitted after the restart.
public final class AlertDeliveryRecorder: Worker, Sendable {
    public let name = "alert-audit"
    let store: AssessmentStore
    let submit: @Sendable (AlertDelivery) async -> Bool
    let doorbell: AsyncStream<Void>
    let ring: AsyncStream<Void>.Continuation
    /// How long to wait before retrying when the mempool refused a transaction.
    let retry: Duration

    public init(store: AssessmentStore, retry: Duration = .seconds(1), submit: @escaping @Sendable (AlertDelivery) async -> Bool) {
        self.store = store; self.submit = submit; self.retry = retry
        (doorbell, ring) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        ring.yield()   // whatever a previous run left queued
    }

    /// Tells the recorder there is work.
    public func wake() { ring.yield() }

    public func run(metrics: WorkerMetrics) async throws {
        for await _ in doorbell {
            while !Task.isCancelled {
                let pending = try store.pendingDeliveries(limit: 256)
                metrics.queueDepth.set(Double(pending.count))
                if pending.isEmpty { break }
                var refused = false
                for (key, delivery) in pending {
                    if await submit(delivery) {
                        try store.deliveryRecorded(key)
                        metrics.processed.increment()
                    } else {
                        metrics.refused.increment()
                        refused = true
                        break
                    }
                }
                if refused { try await Task.sleep(for: retry) }
            }
            if Task.isCancelled { return }
        }
    }
}
