import Synchronization
public import MeridianVitals

/// The risk worker's input: a `ScoringQueue` behind a lock, with one waiting consumer. Producers
/// (ingestion) never block: a full queue says so and the caller answers "busy" to the sender,
/// whose gateway retries later (store and forward).
public final class ScoringInbox: Sendable {
    private struct State: ~Copyable {
        var queue: ScoringQueue
        var waiter: CheckedContinuation<ReadingBatch?, Never>?
        /// Places in the critical lane promised to batches being written to disk.
        var reservedCritical = 0
    }
    private let state: Mutex<State>
    public let capacity: Int

    public init(capacity: Int) { self.capacity = capacity; state = Mutex(State(queue: ScoringQueue(capacity: capacity))) }

    public var count: Int { state.withLock { $0.queue.count } }

    /// Queues a batch (or hands it straight to a waiting consumer).
    @discardableResult
    public func push(_ b: ReadingBatch) -> ScoringQueue.Admission {
        let (admission, waiter): (ScoringQueue.Admission, CheckedContinuation<ReadingBatch?, Never>?) = state.withLock { s in
            if let w = s.waiter { s.waiter = nil; return (.queued, w) }
            return (s.queue.push(b), nil)
        }
        waiter?.resume(returning: b)
        return admission
    }

    /// Promises places in the critical lane to up to `n` batches about to be stored, so that each
    /// one acknowledged as stored is then queued for scoring (never stored and silently unscored);
    /// returns how many places were promised (the rest are answered "busy" before anything is written).
    public func reserveCritical(_ n: Int) -> Int {
        state.withLock { s in
            let grant = min(n, max(0, capacity - s.queue.criticalCount - s.reservedCritical))
            s.reservedCritical += grant
            return grant
        }
    }

    /// Gives back promised places whose batches were not stored (duplicates, conflicts, a failed write).
    public func releaseCritical(_ n: Int) { state.withLock { $0.reservedCritical = max(0, $0.reservedCritical - n) } }

    /// Queues a stored critical batch into its promised place (which `reserveCritical` guarantees).
    public func pushReserved(_ b: ReadingBatch) {
        let (admission, waiter): (ScoringQueue.Admission, CheckedContinuation<ReadingBatch?, Never>?) = state.withLock { s in
            s.reservedCritical = max(0, s.reservedCritical - 1)
            if let w = s.waiter { s.waiter = nil; return (.queued, w) }
            return (s.queue.push(b), nil)
        }
        // The promise holds by construction: only pushes of reserved batches fill the critical lane.
        precondition(admission != .full, "scoring inbox: a reserved critical place was gone")
        waiter?.resume(returning: b)
    }

    /// The next batch, critical ones first; waits while the queue is empty. Returns nil when the
    /// waiting task is cancelled (node shutdown), so a worker never holds the node up.
    public func next() async -> ReadingBatch? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<ReadingBatch?, Never>) in
                let ready: (ReadingBatch?, Bool) = state.withLock { s in
                    if let b = s.queue.pop() { return (b, true) }
                    if Task.isCancelled { return (nil, true) }
                    s.waiter = c
                    return (nil, false)
                }
                if ready.1 { c.resume(returning: ready.0) }
            }
        } onCancel: {
            let waiter = state.withLock { s in defer { s.waiter = nil }; return s.waiter }
            waiter?.resume(returning: nil)
        }
    }
}
