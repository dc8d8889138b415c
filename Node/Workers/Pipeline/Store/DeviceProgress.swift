public import MeridianCore

/// What a node knows of one device's stream: the highest sequence number received (its
/// high-water mark), how many frames arrived, and the sequence numbers still missing below the
/// mark (gaps, as ranges). A gateway that was offline uploads later, out of order and with
/// duplicates: a late frame fills its gap; a duplicate changes nothing.
public struct DeviceProgress: Sendable, Hashable, Canonical {
    public private(set) var highWater: UInt64
    public private(set) var received: UInt64
    /// Missing sequence numbers below `highWater`, ascending and disjoint.
    public private(set) var gaps: [ClosedRange<UInt64>]
    /// Missing numbers forgotten because more than `maxGaps` ranges were open (the oldest merged away).
    public private(set) var forgotten: UInt64
    public static let maxGaps = 256

    public init(first sequence: UInt64) {
        highWater = sequence; received = 1; forgotten = 0
        gaps = sequence > 1 ? [1...(sequence - 1)] : []   // device sequences start at 1
    }

    /// Whether `sequence` is known to have arrived already.
    public func hasReceived(_ sequence: UInt64) -> Bool {
        guard sequence <= highWater else { return false }
        return !gaps.contains { $0.contains(sequence) }
    }

    /// Records a new (not yet received) sequence number.
    public mutating func record(_ sequence: UInt64) {
        received += 1
        if sequence > highWater {
            if sequence > highWater + 1 { gaps.append((highWater + 1)...(sequence - 1)) }
            highWater = sequence
            while gaps.count > Self.maxGaps {
                forgotten += UInt64(gaps[0].count)
                gaps.removeFirst()
            }
            return
        }
        guard let i = gaps.firstIndex(where: { $0.contains(sequence) }) else { return }
        let g = gaps[i]
        var replacement: [ClosedRange<UInt64>] = []
        if g.lowerBound < sequence { replacement.append(g.lowerBound...(sequence - 1)) }
        if sequence < g.upperBound { replacement.append((sequence + 1)...g.upperBound) }
        gaps.replaceSubrange(i...i, with: replacement)
    }

    /// Count of sequence numbers still missing.
    public var missing: UInt64 { gaps.reduce(0) { $0 + UInt64($1.count) } }

    public func encode(to w: inout CanonicalWriter) {
        w.write(highWater); w.write(received); w.write(forgotten)
        w.write(varint: UInt64(gaps.count))
        for g in gaps { w.write(g.lowerBound); w.write(g.upperBound) }
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        highWater = try r.readUInt64("highWater"); received = try r.readUInt64("received"); forgotten = try r.readUInt64("forgotten")
        let n = try r.readLength("gaps", max: Self.maxGaps, minimumElementSize: 2)
        var g: [ClosedRange<UInt64>] = []
        for _ in 0..<n {
            let lo = try r.readUInt64("gap.low"), hi = try r.readUInt64("gap.high")
            guard lo <= hi else { throw CodecError(.notSorted, field: "gaps", offset: r.offset) }
            g.append(lo...hi)
        }
        gaps = g
    }
}
