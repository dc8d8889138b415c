import Synchronization
public import MeridianVitals

/// The risk worker's input: a `ScoringQueue` behind a lock, with one waiting consumer. Producers
/// (ingestion) never block: a full queue says so and the caller answers "busy" to the sender,
/// whose gateway retries later (store and forward).
public final class ScoringInbox: Sendable {
    private struct State: ~Copyable {
        var queue: ScoringQueue
        var waiter: CheckedContinuation<ReadingBatch?, Never>?
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
