public import MeridianVitals

/// The bounded input queue of the risk worker, in two lanes: batches that may be critical (a
/// NEWS2 parameter at 3 or a value past its critical bound) are always taken before the routine
/// backlog, so an alert never waits behind thousands of ordinary readings. Pure: no clock, no
/// threads (the host wraps it in a lock).
public struct ScoringQueue: Sendable {
    public let capacity: Int
    private var critical: [ReadingBatch] = []
    private var criticalHead = 0
    private var routine: [ReadingBatch] = []
    private var routineHead = 0

    public init(capacity: Int) { self.capacity = capacity }

    public var count: Int { critical.count - criticalHead + routine.count - routineHead }
    public var criticalCount: Int { critical.count - criticalHead }

    /// Adds a batch; false when the queue is full. A critical batch is refused only when the
    /// critical lane alone holds `capacity` (routine ones yield to it: the oldest routine batch is
    /// dropped from the queue, still stored and still anchored, only not scored live).
    public enum Admission: Sendable, Equatable { case queued, queuedDroppingRoutine, full }

    public mutating func push(_ b: ReadingBatch) -> Admission {
        if b.mayBeCritical {
            guard criticalCount < capacity else { return .full }
            var dropped = false
            if count >= capacity, routineHead < routine.count { routineHead += 1; dropped = true }
            critical.append(b)
            return dropped ? .queuedDroppingRoutine : .queued
        }
        guard count < capacity else { return .full }
        routine.append(b)
        return .queued
    }

    /// Takes the next batch: the oldest critical one, else the oldest routine one.
    public mutating func pop() -> ReadingBatch? {
        if criticalHead < critical.count {
            defer { criticalHead += 1; compact() }
            return critical[criticalHead]
        }
        if routineHead < routine.count {
            defer { routineHead += 1; compact() }
            return routine[routineHead]
        }
        return nil
    }

    private mutating func compact() {
        if criticalHead > 1024, criticalHead * 2 > critical.count { critical.removeFirst(criticalHead); criticalHead = 0 }
        if routineHead > 1024, routineHead * 2 > routine.count { routine.removeFirst(routineHead); routineHead = 0 }
        if criticalHead == critical.count { critical.removeAll(keepingCapacity: true); criticalHead = 0 }
        if routineHead == routine.count { routine.removeAll(keepingCapacity: true); routineHead = 0 }
    }
}
