import DequeModule

/// Statistics of one vital sign over a trailing time window, updated in O(1) amortised per reading
/// (the risk worker scores every batch, so nothing is recomputed from the whole history): last,
/// minimum and maximum (monotonic deques), mean and the least-squares slope per hour (running sums
/// over times relative to a fixed origin, so the sums stay small and exact enough in Double).
/// Readings must arrive in time order; a late one (older than the newest) is ignored here — it is
/// still stored and anchored, only not part of the live trend.
public struct SlidingWindow: Sendable {
    public let lengthMilliseconds: UInt64
    /// Bound on points kept (the oldest go first beyond it).
    public let capacity: Int
    // Each point carries its arrival number, so that the min/max deques know which point leaves.
    private var points: Deque<(t: UInt64, v: Double, k: UInt64)> = []
    private var minima: Deque<(v: Double, k: UInt64)> = []
    private var maxima: Deque<(v: Double, k: UInt64)> = []
    private var arrivals: UInt64 = 0
    private var origin: UInt64?
    private var n = 0.0, sumX = 0.0, sumY = 0.0, sumXY = 0.0, sumXX = 0.0

    public init(lengthMilliseconds: UInt64, capacity: Int = 8192) { self.lengthMilliseconds = lengthMilliseconds; self.capacity = capacity }

    public var count: Int { points.count }
    public var last: Double? { points.last?.v }
    /// The oldest value still in the window.
    public var oldest: Double? { points.first?.v }
    public var minimum: Double? { minima.first?.v }
    public var maximum: Double? { maxima.first?.v }
    public var mean: Double? { n > 0 ? sumY / n : nil }
    /// Least-squares slope in units per hour (nil with fewer than two distinct times).
    public var slopePerHour: Double? {
        guard n >= 2 else { return nil }
        let d = n * sumXX - sumX * sumX
        guard d > 1e-12 else { return nil }
        return (n * sumXY - sumX * sumY) / d
    }

    /// Adds a reading at `t` (milliseconds) and drops what fell out of the window ending at `t`.
    public mutating func add(t: UInt64, value v: Double) {
        if let newest = points.last?.t, t < newest { return }
        if origin == nil { origin = t }
        arrivals += 1
        points.append((t, v, arrivals)); account(t, v, +1)
        while let m = minima.last, m.v >= v { minima.removeLast() }
        minima.append((v, arrivals))
        while let m = maxima.last, m.v <= v { maxima.removeLast() }
        maxima.append((v, arrivals))
        let cutoff = t >= lengthMilliseconds ? t - lengthMilliseconds : 0
        while let first = points.first, first.t < cutoff || points.count > capacity { evict(first) }
        // Re-base the sums when the window has moved far from the origin (keeps precision).
        if let o = origin, let first = points.first?.t, first - o > 4 * lengthMilliseconds { rebase(to: first) }
    }

    private mutating func evict(_ p: (t: UInt64, v: Double, k: UInt64)) {
        points.removeFirst(); account(p.t, p.v, -1)
        if minima.first?.k == p.k { minima.removeFirst() }
        if maxima.first?.k == p.k { maxima.removeFirst() }
    }

    private mutating func account(_ t: UInt64, _ v: Double, _ sign: Double) {
        let x = Double(t - origin!) / 3_600_000   // hours since the origin
        n += sign; sumX += sign * x; sumY += sign * v; sumXY += sign * x * v; sumXX += sign * x * x
    }

    private mutating func rebase(to newOrigin: UInt64) {
        origin = newOrigin
        n = 0; sumX = 0; sumY = 0; sumXY = 0; sumXX = 0
        for p in points { account(p.t, p.v, +1) }
    }
}
