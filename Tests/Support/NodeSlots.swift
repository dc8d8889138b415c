public import Foundation
import Synchronization

/// The bound on node processes the suite runs at once. Each test reserves, in one step, as many
/// slots as it will run nodes (a localnet its four), so two tests can never each hold part of what
/// the other waits for; reservations are granted first come, first served. The capacity is
/// `MERIDIAN_TEST_NODE_SLOTS` (default 4: one localnet, or four single-node tests, beside the
/// in-process suites on a 2-core machine).
public final class NodeSlots: Sendable {
    public static let shared = NodeSlots(capacity: ProcessInfo.processInfo.environment["MERIDIAN_TEST_NODE_SLOTS"].flatMap(Int.init) ?? 4)

    private struct Waiter { let id: UInt64; let count: Int; let continuation: CheckedContinuation<Void, any Error> }
    private struct State { var free: Int; var nextID: UInt64 = 0; var waiting: [Waiter] = [] }
    public let capacity: Int
    private let state: Mutex<State>

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        state = Mutex(State(free: max(1, capacity)))
    }

    /// Slots held until `release()` or the reservation's end.
    public final class Reservation: Sendable {
        private let slots: NodeSlots
        private let count: Int
        private let released = Atomic<Bool>(false)
        init(_ slots: NodeSlots, _ count: Int) { self.slots = slots; self.count = count }
        public func release() { if !released.exchange(true, ordering: .acquiringAndReleasing) { slots.give(count) } }
        deinit { release() }
    }

    /// Waits (cancellably: a test's `.timeLimit` ends the wait) until `count` slots are free, then holds them.
    public func reserve(_ count: Int) async throws -> Reservation {
        let count = min(max(1, count), capacity)
        let id: UInt64 = state.withLock { s in defer { s.nextID += 1 }; return s.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                // nil: waiting; the cancellation handler may have run already, so check under the lock.
                let outcome: Bool? = state.withLock { s in
                    if s.waiting.isEmpty && s.free >= count { s.free -= count; return true }
                    if Task.isCancelled { return false }
                    s.waiting.append(Waiter(id: id, count: count, continuation: c))
                    return nil
                }
                switch outcome {
                case true?: c.resume()
                case false?: c.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { s in
                guard let i = s.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiting.remove(at: i)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
        return Reservation(self, count)
    }

    fileprivate func give(_ count: Int) {
        let ready: [Waiter] = state.withLock { s in
            s.free += count
            var out: [Waiter] = []
            while let first = s.waiting.first, first.count <= s.free { s.free -= first.count; out.append(s.waiting.removeFirst()) }
            return out
        }
        for w in ready { w.continuation.resume() }
    }
}
